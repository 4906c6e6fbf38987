"""During an invocation the garbage collector leaves the objects that existed before it alone."""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from streambridge import Bridge, DynamoDBRecord, EventShapeError
from streambridge.testing import events

from .conftest import PUBLISH

EVENT = events.dynamodb([{"new_image": {"id": "a", "status": "NEW"}}])


@pytest.fixture(autouse=True)
def unfrozen() -> Iterator[None]:
    gc.unfreeze()
    yield
    gc.unfreeze()
    gc.enable()


def frozen_while_mapping(bridge: Bridge) -> list[int]:
    """Run one invocation; return how many objects were frozen while the mapping function ran."""
    seen: list[int] = []

    @bridge.dynamodb(PUBLISH)
    def handler(record: DynamoDBRecord) -> dict[str, Any]:
        seen.append(gc.get_freeze_count())
        return {"input": record.new_image}

    assert handler.process(EVENT).published == 1
    return seen


def test_the_event_is_frozen_during_the_invocation_and_released_after(
    make_bridge: Callable[..., Bridge],
) -> None:
    # WHEN an invocation runs
    seen = frozen_while_mapping(make_bridge())

    # THEN the objects alive before it (the event among them) were frozen, and are no longer
    assert seen[0] > 0
    assert gc.get_freeze_count() == 0


def test_an_application_that_freezes_objects_itself_is_left_alone(make_bridge: Callable[..., Bridge]) -> None:
    # GIVEN the application froze its objects at init (a common Lambda tuning)
    gc.freeze()
    before = gc.get_freeze_count()

    # WHEN an invocation runs
    seen = frozen_while_mapping(make_bridge())

    # THEN the bridge neither froze more nor unfroze the application's objects
    assert seen == [before]
    assert gc.get_freeze_count() == before


def test_gc_freeze_can_be_turned_off(make_bridge: Callable[..., Bridge]) -> None:
    assert frozen_while_mapping(make_bridge(gc_freeze=False)) == [0]


def test_a_disabled_collector_stays_disabled_and_nothing_is_frozen(
    make_bridge: Callable[..., Bridge],
) -> None:
    gc.disable()
    assert frozen_while_mapping(make_bridge()) == [0]
    assert not gc.isenabled()


def test_the_objects_are_released_when_the_invocation_raises(bridge: Bridge) -> None:
    handler = bridge.dynamodb(PUBLISH)(lambda record: {"input": record.new_image})
    with pytest.raises(EventShapeError):
        handler.process({"not": "an event"})
    assert gc.get_freeze_count() == 0
