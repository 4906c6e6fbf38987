"""A single event whose mapping returns several mutations (an Aurora list payload): its outcome counts them.

Lambda retries a single event whole (asynchronous invocations: twice, after about one and two minutes), so
the result and the raised error must say which of its mutations were published and which were not.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any

import pytest

from streambridge import AuroraEvent, Bridge, DeliveryFailedError, Mutation, Status
from streambridge.testing import FakeAppSync, FieldError, events
from tests.memory_store import MemoryStore

from .conftest import PUBLISH

PAYLOAD = [{"id": "o-1", "status": "NEW"}, {"id": "o-2", "status": "POISON"}, {"id": "o-3", "status": "NEW"}]


def handler_on(bridge: Bridge) -> Any:
    @bridge.aurora()
    def handler(event: AuroraEvent) -> list[Mutation]:
        return [Mutation(PUBLISH, {"input": row}) for row in event.payload]

    return handler


def test_a_list_payload_counts_its_mutations(
    make_bridge: Callable[..., Bridge], appsync: FakeAppSync
) -> None:
    # GIVEN an Aurora list payload whose second row AppSync rejects
    handler = handler_on(make_bridge())
    # WHEN it is published
    result = handler.process(events.aurora(PAYLOAD))
    # THEN each mutation has its outcome: the first published, the second failed, the third not sent
    assert [o.status for o in result.outcomes] == [Status.PUBLISHED, Status.FAILED, Status.FAILED]
    assert (result.published, result.failed) == (1, 2)
    assert result.outcomes[1].explain().startswith("Aurora record #0 (aurora-event), mutation 2 of 3: ")
    assert appsync.published_values() == ["o-1"]


def test_the_raised_error_says_which_mutations_were_published(
    make_bridge: Callable[..., Bridge], appsync: FakeAppSync
) -> None:
    handler = handler_on(make_bridge())
    with pytest.raises(DeliveryFailedError) as raised:
        handler(events.aurora(PAYLOAD))
    message = str(raised.value)
    assert "1 of 3 mutations published (mutation 1)" in message
    assert "mutation 2, 3 not published" in message
    assert "PoisonError" in message
    assert raised.value.result.published == 1


def test_a_list_payload_that_publishes_returns_its_mutation_count(
    make_bridge: Callable[..., Bridge], appsync: FakeAppSync
) -> None:
    handler = handler_on(make_bridge())
    rows = [{"id": "o-1", "status": "NEW"}, {"id": "o-2", "status": "PAID"}]
    assert handler(events.aurora(rows)) == {"published": 2, "skipped": 0}
    assert appsync.published_values() == ["o-1", "o-2"]  # in the payload's order


def test_a_retry_of_the_event_with_a_store_publishes_only_what_did_not_run(
    make_bridge: Callable[..., Bridge],
) -> None:
    # GIVEN an idempotency store, and a first invocation whose second row AppSync rejected
    fixed: list[bool] = []

    def resolver(_field: str, arguments: dict[str, Any]) -> Any:
        if arguments["input"]["status"] == "POISON" and not fixed:
            raise FieldError("poison record", "PoisonError")
        return arguments["input"]

    appsync = FakeAppSync(resolver)
    handler = handler_on(make_bridge(transport=appsync, idempotency=MemoryStore()))
    assert handler.process(events.aurora(PAYLOAD)).published == 1
    # WHEN Lambda retries the same event, once the resolver takes it
    fixed.append(True)
    retried = handler.process(events.aurora(PAYLOAD))
    # THEN the first row is not published twice; the other two are published now
    assert appsync.published_values() == ["o-1", "o-2", "o-3"]
    assert [o.status for o in retried.outcomes] == [Status.SKIPPED, Status.PUBLISHED, Status.PUBLISHED]
    assert retried.outcomes[0].note == "already published (idempotency store)"


def test_a_single_mutation_event_is_one_outcome(
    make_bridge: Callable[..., Bridge], appsync: FakeAppSync
) -> None:
    bridge = make_bridge()

    @bridge.aurora(PUBLISH)
    def handler(event: AuroraEvent) -> dict[str, Any]:
        return {"input": event.payload}

    result = handler.process(events.aurora({"id": "o-1", "status": "NEW"}))
    assert [o.status for o in result.outcomes] == [Status.PUBLISHED]
    assert result.outcomes[0].record.describe() == "Aurora record #0 (aurora-event)"


def test_a_mapping_that_raises_is_called_once_and_fails_the_event(
    make_bridge: Callable[..., Bridge], appsync: FakeAppSync
) -> None:
    calls: list[Any] = []
    bridge = make_bridge()

    @bridge.aurora(PUBLISH)
    def handler(event: AuroraEvent) -> dict[str, Any]:
        calls.append(event)
        raise ValueError("bad payload")

    result = handler.process(events.aurora({"id": "o-1"}))
    assert len(calls) == 1
    assert [o.status for o in result.outcomes] == [Status.FAILED]
    assert "ValueError: bad payload" in str(result.outcomes[0].error)


def test_a_list_payload_mutation_can_be_dead_lettered(make_bridge: Callable[..., Bridge]) -> None:
    letters: list[Any] = []

    class Sink:
        def send(self, sent: Sequence[Any]) -> set[int]:
            letters.extend(sent)
            return set()

    result = handler_on(make_bridge(dead_letter=Sink())).process(events.aurora(PAYLOAD))
    assert [o.status for o in result.outcomes] == [Status.PUBLISHED, Status.DEAD_LETTERED, Status.PUBLISHED]
    (letter,) = letters
    assert json.loads(letter.message())["record"] == PAYLOAD  # the payload as delivered, a JSON array
