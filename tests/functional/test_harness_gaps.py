"""Harness gaps a new user met (issue 19, section 5): local_handler on channels, FakeEventApi namespaces."""

from __future__ import annotations

from typing import Any

import pytest

from streambridge import ApiKeyAuth, Bridge
from streambridge.testing import events, lambda_context

URL = "https://abc.appsync-api.us-east-1.amazonaws.com/event"

bridge = Bridge(URL, ApiKeyAuth("da2-test"), batch_size=1)


@bridge.sqs(channel=lambda record: f"/rooms/{record.json()['room']}")
def room_handler(record: Any) -> Any:
    return {"text": record.json()["text"]}


@pytest.fixture
def streambridge_event_namespaces() -> tuple[str, ...]:
    return ("rooms",)


@pytest.mark.parametrize("auth", ["iam", "api_key"])
def test_local_handler_publishes_to_the_local_event_api(local_event_api, local_handler, auth: str) -> None:
    # GIVEN a channel handler bound to the local_event_api fixture, signing as told
    handler = local_handler(room_handler, local_event_api, auth=auth)
    # WHEN it handles a message
    response = handler(events.sqs([{"room": "r-1", "text": "hi"}]), lambda_context())
    # THEN the message reached its room's channel
    assert response == {"batchItemFailures": []}
    assert local_event_api.values("/rooms/r-1") == [{"text": "hi"}]
