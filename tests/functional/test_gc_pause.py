"""The garbage collector stays out of invocations: their objects are freed by reference counting anyway."""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from streambridge import Bridge, DeliveryFailedError, DynamoDBRecord, EventShapeError
from streambridge.testing import FakeAppSync, FieldError, events

from .conftest import PUBLISH

EVENT = events.dynamodb([{"new_image": {"id": "a", "status": "NEW"}}])


@pytest.fixture(autouse=True)
def collector_restored() -> Iterator[None]:
    gc.unfreeze()
    gc.enable()
    yield
    gc.unfreeze()
    gc.enable()


def collector_while_mapping(bridge: Bridge, *, entry_point: bool) -> tuple[bool, int]:
    """Run one invocation; return (collector enabled, objects frozen) as the mapping function saw them."""
    seen: list[tuple[bool, int]] = []

    @bridge.dynamodb(PUBLISH)
    def handler(record: DynamoDBRecord) -> dict[str, Any]:
        seen.append((gc.isenabled(), gc.get_freeze_count()))
        return {"input": record.new_image}

    if entry_point:
        assert handler(EVENT) == {"batchItemFailures": []}
    else:
        assert handler.process(EVENT).published == 1
    return seen[0]


def test_the_lambda_entry_point_pauses_the_collector_and_resumes_it_after(
    make_bridge: Callable[..., Bridge],
) -> None:
    enabled, _ = collector_while_mapping(make_bridge(), entry_point=True)
    assert not enabled
    assert gc.isenabled()


def rejecting(_field: str, _arguments: dict[str, Any]) -> object:
    raise FieldError("rejected", "ValidationError")


def test_the_collector_resumes_when_the_invocation_fails(make_bridge: Callable[..., Bridge]) -> None:
    appsync = FakeAppSync(rejecting)
    handler = make_bridge(transport=appsync).eventbridge(PUBLISH)(lambda event: {"input": {"id": "x"}})
    with pytest.raises(DeliveryFailedError):
        handler(events.eventbridge(detail={"id": "x"}))
    assert gc.isenabled()


def test_process_freezes_what_existed_before_and_releases_it_after(
    make_bridge: Callable[..., Bridge],
) -> None:
    # WHEN an invocation runs through process() (tests, custom entry points, async services)
    enabled, frozen = collector_while_mapping(make_bridge(), entry_point=False)

    # THEN the collector kept running, but not over the objects alive before it (the event among them)
    assert enabled
    assert frozen > 0
    assert gc.get_freeze_count() == 0


def test_an_application_that_freezes_objects_itself_is_left_alone(make_bridge: Callable[..., Bridge]) -> None:
    # GIVEN the application froze its objects at init (a common Lambda tuning)
    gc.freeze()
    before = gc.get_freeze_count()

    # WHEN an invocation runs
    _, frozen = collector_while_mapping(make_bridge(), entry_point=False)

    # THEN the bridge neither froze more nor unfroze the application's objects (a frozen object that
    # reference counting frees meanwhile leaves the count a little lower: the other tests' leftovers)
    assert before - 100 <= frozen <= before
    assert before - 100 <= gc.get_freeze_count() <= before


@pytest.mark.parametrize("entry_point", [True, False])
def test_an_application_that_disabled_the_collector_keeps_it_disabled(
    make_bridge: Callable[..., Bridge], entry_point: bool
) -> None:
    gc.disable()
    assert collector_while_mapping(make_bridge(), entry_point=entry_point) == (False, 0)
    assert not gc.isenabled()


@pytest.mark.parametrize("entry_point", [True, False])
def test_pause_gc_can_be_turned_off(make_bridge: Callable[..., Bridge], entry_point: bool) -> None:
    assert collector_while_mapping(make_bridge(pause_gc=False), entry_point=entry_point) == (True, 0)


def test_the_objects_are_released_when_the_invocation_raises(bridge: Bridge) -> None:
    handler = bridge.dynamodb(PUBLISH)(lambda record: {"input": record.new_image})
    with pytest.raises(EventShapeError):
        handler({"not": "an event"})
    assert gc.isenabled()
    with pytest.raises(EventShapeError):
        handler.process({"not": "an event"})
    assert gc.get_freeze_count() == 0
