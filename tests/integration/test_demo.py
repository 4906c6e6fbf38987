"""`make demo` end to end: the orders example against the simulator, in a fresh interpreter."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.integration.simulator import simulator_package_dir

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]


def test_demo_runs_and_reports_the_bad_order() -> None:
    if not simulator_package_dir().is_dir() and not os.environ.get("CI"):
        pytest.skip("AppSync simulator not installed: run `make node`")
    # WHEN the demo runs as `make demo` runs it
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "STREAMBRIDGE_"))}
    done = subprocess.run(
        [sys.executable, "-m", "examples.demo"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    # THEN it succeeds, the subscriber saw the orders, and the bad order is reported with the held-back one
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.count("SHIPPED") >= 11
    assert '"published": 34' in done.stdout
    assert "amount must not be negative" in done.stdout
    assert "not sent because DynamoDB Streams record #18" in done.stdout
