"""``Bridge(poison=...)``: what becomes of a record that no retry can cure.

"report" (the default without a sink) fails it to Lambda; "dead-letter" (the default with a sink) hands it
to the sink; "skip" skips it with a warning naming it, and its key goes on.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import pytest

from streambridge import Bridge, ConfigurationError, HttpResponse, Status
from streambridge.testing import FakeAppSync, events

from .conftest import PUBLISH, ListSink


def order(status: str, key: str = "a") -> dict[str, Any]:
    return {"data": {"id": key, "status": status}, "partition_key": key}


# a: NEW, then a record that is not JSON, a mapping error, a resolver rejection, then PAID; b: NEW
EVENT = events.kinesis(
    [order("NEW"), {"data": b"{not json", "partition_key": "a"}, order("UNMAPPABLE"), order("POISON"),
     order("PAID"), order("NEW", "b")]
)  # fmt: skip


def mapper(record: Any) -> dict[str, Any]:
    value = record.json()  # RecordError for the record that is not JSON
    if value["status"] == "UNMAPPABLE":
        raise ValueError("no mapping for this status")
    return {"input": value}


def handler_on(bridge: Bridge) -> Any:
    return bridge.kinesis(PUBLISH)(mapper)


def statuses(result: Any) -> list[Status]:
    return [o.status for o in result.outcomes]


def test_report_is_the_default_without_a_sink(
    make_bridge: Callable[..., Bridge], appsync: FakeAppSync
) -> None:
    # GIVEN a bridge without a sink and without a policy
    bridge = make_bridge()
    assert bridge.poison == "report"
    # WHEN the batch has poison records
    result = handler_on(bridge).process(EVENT)
    # THEN the first one fails, and holds back its key so that Lambda re-delivers from it; b goes on
    assert statuses(result) == [Status.PUBLISHED] + [Status.FAILED] * 4 + [Status.PUBLISHED]
    assert result.lambda_response()["batchItemFailures"][0]["itemIdentifier"] == (
        result.outcomes[1].record.item_identifier
    )
    assert sorted(appsync.published_values()) == ["a", "b"]


def test_report_with_a_sink_leaves_the_sink_alone(make_bridge: Callable[..., Bridge]) -> None:
    sink = ListSink()
    result = handler_on(make_bridge(dead_letter=sink, poison="report")).process(EVENT)
    assert statuses(result) == [Status.PUBLISHED] + [Status.FAILED] * 4 + [Status.PUBLISHED]
    assert sink.letters == []


@pytest.mark.parametrize("poison", [None, "dead-letter"])
def test_dead_letter_is_the_default_with_a_sink(
    make_bridge: Callable[..., Bridge], appsync: FakeAppSync, poison: str | None
) -> None:
    # GIVEN a bridge with a sink (and no policy, or "dead-letter")
    sink = ListSink()
    bridge = make_bridge(dead_letter=sink, **({"poison": poison} if poison else {}))
    assert bridge.poison == "dead-letter"
    # WHEN the batch has poison records
    result = handler_on(bridge).process(EVENT)
    # THEN each is in the sink with its error, and key a goes on to PAID
    assert statuses(result) == [Status.PUBLISHED] + [Status.DEAD_LETTERED] * 3 + [Status.PUBLISHED] * 2
    assert [type(letter.error).__name__ for letter in sink.letters] == [
        "RecordError", "MappingError", "GraphQLError"]  # fmt: skip
    assert result.lambda_response() == {"batchItemFailures": []}
    assert sorted(appsync.published_values()) == ["a", "a", "b"]


def test_skip_skips_each_poison_record_with_a_warning_and_its_key_goes_on(
    make_bridge: Callable[..., Bridge], appsync: FakeAppSync, caplog: pytest.LogCaptureFixture
) -> None:
    # GIVEN a bridge that skips poison records
    bridge = make_bridge(poison="skip")
    # WHEN the batch has a record that is not JSON, one the mapping cannot map and one AppSync rejects
    with caplog.at_level(logging.WARNING, logger="streambridge"):
        result = handler_on(bridge).process(EVENT)
    # THEN each is skipped with its error as the note, a's later change and b are published
    assert statuses(result) == [Status.PUBLISHED] + [Status.SKIPPED] * 3 + [Status.PUBLISHED] * 2
    skipped = result.outcomes[1:4]
    assert [type(o.error).__name__ for o in skipped] == ["RecordError", "MappingError", "GraphQLError"]
    assert all(o.note == str(o.error) for o in skipped)
    assert "no mapping for this status" in str(skipped[1].note)
    assert [p.result["status"] for p in appsync.published] == ["NEW", "NEW", "PAID"]
    # nothing for Lambda to retry; the summary counts them
    assert result.lambda_response() == {"batchItemFailures": []}
    assert result.skipped == 3
    assert result.poison_skipped == 3
    assert result.summary()["poison_skipped"] == 3
    # a warning names each record and its error
    warnings = [r.getMessage() for r in caplog.records if "skipped poison record" in r.getMessage()]
    assert len(warnings) == 3
    for outcome, warning in zip(skipped, warnings, strict=True):
        assert outcome.record.describe() in warning
    assert "PoisonError" in warnings[2]


def test_skip_never_skips_a_failure_a_retry_may_cure(
    make_bridge: Callable[..., Bridge], appsync: FakeAppSync
) -> None:
    # GIVEN AppSync down for longer than the retries
    appsync.fail_next(*[HttpResponse(503, {}, b"down")] * 3)
    bridge = make_bridge(poison="skip")
    # WHEN a record is published
    result = bridge.kinesis(PUBLISH)(mapper).process(events.kinesis([order("NEW")]))
    # THEN it fails for Lambda to retry
    assert statuses(result) == [Status.FAILED]
    assert result.poison_skipped == 0


def test_skip_on_a_single_event_source_returns_normally(make_bridge: Callable[..., Bridge]) -> None:
    bridge = make_bridge(poison="skip")

    @bridge.eventbridge(PUBLISH)
    def handler(event: Any) -> dict[str, Any]:
        return {"input": event.detail}

    assert handler(events.eventbridge({"id": "s1", "status": "POISON"})) == {"published": 0, "skipped": 1}


def test_dead_letter_without_a_sink_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError, match="dead_letter="):
        Bridge("https://example.appsync-api.us-east-1.amazonaws.com/graphql", poison="dead-letter")


def test_an_unknown_policy_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError, match="poison must be one of"):
        Bridge("https://example.appsync-api.us-east-1.amazonaws.com/graphql", poison="ignore")  # type: ignore[arg-type]
