"""FakeEventApi: the Event API's publish answer in memory, with FakeAppSync's faults."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from streambridge._errors import ConnectionFailedError
from streambridge.testing import EventRejectedError, FakeEventApi, conditions


def publish(fake: FakeEventApi, channel: str, *values: Any) -> tuple[int, Any]:
    body = json.dumps({"channel": channel, "events": [json.dumps(v) for v in values]}).encode()
    response = asyncio.run(fake.post("http://fake/event", body, {}, 1.0))
    return response.status, json.loads(response.body)


def test_answers_each_event_by_index_and_records_the_values() -> None:
    fake = FakeEventApi(namespaces=("rooms",))
    status, answer = publish(fake, "rooms/r-1", {"a": 1}, 2)
    assert status == 200
    assert [e["index"] for e in answer["successful"]] == [0, 1]
    assert answer["failed"] == []
    assert fake.values("/rooms/r-1") == [{"a": 1}, 2]


def test_same_rules_as_the_local_endpoint() -> None:
    fake = FakeEventApi(namespaces=("default",))
    status, answer = publish(fake, "/default/a", *range(6))
    assert (status, answer["errors"][0]["errorType"]) == (400, "BadRequestException")
    assert publish(fake, "/other/a", 1)[0] == 400
    _, answer = publish(fake, "/default/a", "x" * 240_000, 1)
    assert [(e["index"], e["errorCode"]) for e in answer["failed"]] == [(0, 400)]
    assert fake.values() == [1]


def test_on_publish_fails_single_events() -> None:
    def reject_odd(_channel: str, value: Any) -> None:
        if value % 2:
            raise EventRejectedError("odd", code=409)

    fake = FakeEventApi(on_publish=reject_odd)
    _, answer = publish(fake, "/default/a", 1, 2, 3)
    assert [e["index"] for e in answer["failed"]] == [0, 2]
    assert fake.values() == [2]


def test_fail_next_and_conditions_are_fake_appsyncs() -> None:
    fake = FakeEventApi(conditions=conditions.Down())
    fake.fail_next(ConnectionResetError("reset"))
    with pytest.raises(ConnectionFailedError):
        publish(fake, "/default/a", 1)
    response = asyncio.run(fake.post("http://fake/event", b"{}", {}, 1.0))
    assert response.status == 503
    assert len(fake.requests) == 2
    assert fake.published == []
