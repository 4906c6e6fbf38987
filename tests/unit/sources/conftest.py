"""Fixtures for the source tests: AWS's own sample events (see tests/aws_samples.py)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tests.aws_samples import load_sam_event


@pytest.fixture(scope="session")
def sam_event() -> Callable[[str], dict[str, Any]]:
    """Load an AWS SAM sample event by ``<service>/<file stem>``; each call returns a fresh copy."""
    return load_sam_event
