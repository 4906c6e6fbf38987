"""Fixtures for the integration tier: the AWS Amplify AppSync simulator and real-time subscribers."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.credentials import Credentials

from streambridge import Bridge, IAMAuth
from tests.integration.simulator import AmplifySimulator, simulator_package_dir
from tests.integration.subscriber import Subscriber, SubscriberFactory


@pytest.fixture(scope="session")
def appsync_simulator() -> Iterator[AmplifySimulator]:
    """One simulator for the whole session (startup is ~0.7 s; each test uses its own ids)."""
    if not simulator_package_dir().is_dir():
        reason = (
            f"AppSync simulator not installed ({simulator_package_dir()} missing): "
            "run `make node` (npm ci at the repository root)"
        )
        if os.environ.get("CI", "").lower() not in ("", "0", "false"):
            pytest.fail(f"{reason}; CI is set, so this is an error, not a skip", pytrace=False)
        pytest.skip(reason)
    with AmplifySimulator() as simulator:
        yield simulator


@pytest.fixture(params=[50, 1], ids=["aliased", "unaliased"])
def bridge(appsync_simulator: AmplifySimulator, request: pytest.FixtureRequest) -> Iterator[Bridge]:
    """A bridge that batches (aliased requests), or sends each mutation as written (``batch_size=1``)."""
    credentials = Credentials("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "session-token")
    bridge = Bridge(
        appsync_simulator.url, IAMAuth(region="us-east-1", credentials=credentials), batch_size=request.param
    )
    yield bridge
    bridge.close()


@pytest.fixture
def subscriber_factory(appsync_simulator: AmplifySimulator) -> Iterator[SubscriberFactory]:
    """``subscriber_factory(document, variables=None)`` -> a started Subscriber, closed after the test."""
    started: list[Subscriber] = []

    def factory(
        document: str, variables: dict[str, Any] | None = None, *, timeout: float = 10.0
    ) -> Subscriber:
        subscriber = Subscriber(
            appsync_simulator.realtime_url,
            host=appsync_simulator.netloc,
            api_key=appsync_simulator.api_key,
            document=document,
            variables=variables,
        )
        started.append(subscriber)
        return subscriber.start(timeout=timeout)

    yield factory
    for subscriber in reversed(started):
        subscriber.close()
