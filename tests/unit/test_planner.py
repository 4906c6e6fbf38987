"""The pure core on JSON events only: records -> lanes -> bounded, aliased requests. No I/O."""

from __future__ import annotations

import json
from collections import deque
from decimal import Decimal
from typing import Any

import pytest

from streambridge import (
    DeliveryFailedError,
    GraphQLError,
    HeldBackError,
    MappingError,
    Mutation,
    PayloadTooLargeError,
    Status,
)
from streambridge._engine.batch import Limits, render, take_batch
from streambridge._engine.plan import Planner, Planning
from streambridge._engine.result import Ledger
from streambridge._sources import SOURCES
from streambridge._targets.graphql.target import GraphQLTarget
from streambridge.testing import events

PUBLISH = "mutation Publish($input: OrderInput!) { publishOrder(input: $input) { id status } }"


def planned(changes: list[tuple[str, str]], mapper: Any = None, **planning: Any) -> tuple[Any, Ledger]:
    event = events.dynamodb([{"new_image": {"id": k, "status": s}} for k, s in changes])
    records = SOURCES["dynamodb"].parse(event)
    ledger = Ledger(records)
    mapper = mapper or (lambda r: {"input": r.new_image})
    return Planner(records, mapper, Planning(GraphQLTarget(PUBLISH), **planning), ledger).plan(), ledger


def test_lanes_follow_keys_in_first_appearance_and_source_order() -> None:
    lanes, _ = planned([("a", "1"), ("b", "1"), ("a", "2"), ("c", "1"), ("b", "2")])
    assert [[s.record for s in lane.steps] for lane in lanes] == [[0, 2], [1, 4], [3]]


def test_a_batch_takes_one_head_per_key_by_default() -> None:
    lanes, ledger = planned([("a", "1"), ("a", "2"), ("b", "1"), ("b", "2"), ("c", "1")])
    batch = take_batch(deque(lanes), ledger, Limits())
    assert [[s.record for s in steps] for _, steps in batch] == [[0], [2], [4]]


def test_a_batch_is_bounded_by_count_and_bytes() -> None:
    lanes, ledger = planned([(f"k{i}", "x" * 100) for i in range(10)])
    size = lanes[0].steps[0].item.size  # type: ignore[union-attr]
    ready = deque(lanes)
    assert len(take_batch(ready, ledger, Limits(max_mutations=4))) == 4
    assert len(take_batch(ready, ledger, Limits(max_bytes=64 + 2 * size))) == 2
    assert len(ready) == 4


def test_packing_takes_consecutive_changes_of_a_key() -> None:
    lanes, ledger = planned([("a", "1"), ("a", "2"), ("a", "3"), ("b", "1")])
    batch = take_batch(deque(lanes), ledger, Limits(per_key=2))
    assert [[s.record for s in steps] for _, steps in batch] == [[0, 1], [3]]


def test_the_rendered_request_aliases_fields_and_prefixes_variables() -> None:
    lanes, ledger = planned([("a", "NEW"), ("b", "PAID")])
    batch = take_batch(deque(lanes), ledger, Limits())
    request = render(GraphQLTarget(), [(lane, step) for lane, steps in batch for step in steps])
    body = json.loads(request.body)
    assert body["query"] == (
        "mutation Publish($m0_input:OrderInput!, $m1_input:OrderInput!)"
        "{m0: publishOrder(input:$m0_input){id status} m1: publishOrder(input:$m1_input){id status}}"
    )
    assert body["variables"] == {
        "m0_input": {"id": "a", "status": "NEW"},
        "m1_input": {"id": "b", "status": "PAID"},
    }
    assert request.keys == {"m0": 0, "m1": 1}


def test_a_mapping_failure_fails_the_record_and_holds_back_its_key() -> None:
    def mapper(record: Any) -> Any:
        if record.new_image["status"] == "BAD":
            raise KeyError("customer")
        return {"input": record.new_image}

    lanes, ledger = planned([("a", "1"), ("a", "BAD"), ("b", "1"), ("a", "3")], mapper)
    outcomes = ledger.close(MappingError("unused"))
    assert [[s.record for s in lane.steps] for lane in lanes] == [[0], [2]]
    assert isinstance(outcomes[1].error, MappingError)
    assert isinstance(outcomes[3].error, HeldBackError)


def test_coalescing_keeps_only_the_latest_change_of_each_key() -> None:
    lanes, ledger = planned([("a", "1"), ("b", "1"), ("a", "2"), ("a", "3")], coalesce=True)
    assert [[s.record for s in lane.steps] for lane in lanes] == [[3], [1]]
    outcomes = ledger.close(MappingError("unused"))
    assert [outcomes[i].status for i in (0, 2)] == [Status.SKIPPED, Status.SKIPPED]
    assert "coalesced into" in (outcomes[0].note or "")


def test_skips_settle_when_they_reach_the_head_of_their_lane() -> None:
    def mapper(record: Any) -> Any:
        return None if record.new_image["status"] == "SKIP" else {"input": record.new_image}

    lanes, ledger = planned([("a", "SKIP"), ("a", "1")], mapper)
    batch = take_batch(deque(lanes), ledger, Limits())
    assert [[s.record for s in steps] for _, steps in batch] == [[1]]
    assert ledger.close(MappingError("unused"))[0].status is Status.SKIPPED


def test_several_mutations_of_a_record_stay_in_its_lane_in_order() -> None:
    lanes, _ = planned([("a", "1")], lambda r: [Mutation(PUBLISH, {"input": r.new_image})] * 3)
    assert [(s.record, s.last) for s in lanes[0].steps] == [(0, False), (0, False), (0, True)]


def test_one_mutation_a_list_and_a_tuple_of_mutations_all_plan() -> None:
    # GIVEN mapping functions returning one Mutation (itself a tuple), a list, and a tuple of them
    def twice(record: Any) -> Any:
        return Mutation(PUBLISH, {"input": {**record.new_image, "status": "AUDIT"}})

    one, _ = planned([("a", "1")], lambda r: Mutation(PUBLISH, {"input": r.new_image}))
    listed, _ = planned([("a", "1")], lambda r: [Mutation(PUBLISH, {"input": r.new_image}), twice(r)])
    tupled, _ = planned([("a", "1")], lambda r: (Mutation(PUBLISH, {"input": r.new_image}), twice(r)))
    # THEN a single Mutation is one mutation, never unpacked into its document and variables
    assert [dict(s.item.variables) for s in one[0].steps] == [  # type: ignore[union-attr]
        {"input": '{"id":"a","status":"1"}'}
    ]
    # AND a list or a tuple gives one step per Mutation, in order
    for lanes in (listed, tupled):
        variables = [dict(s.item.variables)["input"] for s in lanes[0].steps]  # type: ignore[union-attr]
        assert variables == ['{"id":"a","status":"1"}', '{"id":"a","status":"AUDIT"}']
        assert [s.last for s in lanes[0].steps] == [False, True]


def test_a_mutation_without_variables_has_an_empty_read_only_mapping() -> None:
    # GIVEN Mutations built without variables, positionally and by keyword
    ping = "mutation Ping { ping }"
    mutation = Mutation(ping)
    # THEN variables is an empty mapping that no one can change for the next Mutation
    assert mutation.variables == {}
    assert mutation == Mutation(document=ping) == Mutation(ping, {})
    with pytest.raises(TypeError):
        mutation.variables["x"] = 1  # type: ignore[index]
    assert Mutation(ping).variables == {}
    # AND it plans as a mutation with no variables
    lanes, _ = planned([("a", "1")], lambda r: mutation)
    assert [s.item.variables for s in lanes[0].steps] == [()]  # type: ignore[union-attr]


@pytest.mark.parametrize(("blob", "fails"), [(239_900, False), (240_100, True)])
def test_variables_over_240_000_bytes_are_failed_before_sending(blob: int, fails: bool) -> None:
    # GIVEN AppSync's quota of 240 kB per subscription message, whose kB (1,000 or 1,024 bytes) is unknown
    # WHEN a record's variables come just under or just over 240,000 bytes
    lanes, ledger = planned([("a", "x" * blob)])
    outcomes = ledger.close(MappingError("unused"))
    # THEN the stricter reading decides: over 240,000 bytes the record fails up front, never sent
    assert isinstance(outcomes[0].error, PayloadTooLargeError) is fails
    assert bool(lanes) is not fails


def test_an_error_raised_by_the_mapping_function_keeps_its_fields_and_names_the_record() -> None:
    # GIVEN a mapping function that raises one of streambridge's own errors, with fields of its own
    def mapper(record: Any) -> Any:
        raise GraphQLError("the order is archived", error_type="Custom", path=("publishOrder",))

    # WHEN a record is planned
    _, ledger = planned([("a", "1")], mapper)
    error = ledger.close(MappingError("unused"))[0].error
    # THEN the same error reports the record, its fields intact
    assert isinstance(error, GraphQLError)
    assert error.error_type == "Custom"
    assert error.path == ("publishOrder",)
    assert str(error).startswith("DynamoDB Streams record #0")
    assert str(error).endswith("the order is archived")


def test_an_error_whose_constructor_takes_more_than_a_message_fails_only_its_record() -> None:
    # GIVEN a mapping function raising DeliveryFailedError (its constructor takes a result too)
    def mapper(record: Any) -> Any:
        if record.new_image["status"] == "BAD":
            raise DeliveryFailedError("not now", result=None)
        return {"input": record.new_image}

    # WHEN two records are planned
    lanes, ledger = planned([("a", "BAD"), ("b", "1")], mapper)
    outcomes = ledger.close(MappingError("unused"))
    # THEN the bad record fails with that error, the other is planned: no TypeError escapes
    assert isinstance(outcomes[0].error, DeliveryFailedError)
    assert "not now" in str(outcomes[0].error)
    assert [[s.record for s in lane.steps] for lane in lanes] == [[1]]


@pytest.mark.parametrize(
    "result",
    [
        {"input": {"id": "a", "amount": Decimal("Infinity")}},
        {"input": {"id": "a", "amount": Decimal("sNaN")}},
        Mutation(None, {}),  # type: ignore[arg-type]
        Mutation(PUBLISH, {1: "x", "z": 2}),
    ],
    ids=["decimal-infinity", "decimal-snan", "no-document", "non-str-variable-name"],
)
def test_a_result_that_cannot_be_prepared_fails_its_record_only(result: Any) -> None:
    # GIVEN a mapping result that breaks while it is prepared (serialised, compiled, validated)
    def mapper(record: Any) -> Any:
        return result if record.new_image["id"] == "a" else {"input": record.new_image}

    # WHEN two records are planned
    lanes, ledger = planned([("a", "1"), ("b", "1")], mapper)
    outcomes = ledger.close(PayloadTooLargeError("unused"))
    # THEN that record fails with a reason naming it; the other is planned: the invocation goes on
    assert isinstance(outcomes[0].error, MappingError)
    assert str(outcomes[0].error).startswith("DynamoDB Streams record #0")
    assert [[s.record for s in lane.steps] for lane in lanes if lane.steps] == [[1]]


def test_coalescing_replaces_a_change_only_by_a_later_change_that_publishes() -> None:
    # GIVEN a key's change to PAID, then a later record of the key that the mapping function skips
    def mapper(record: Any) -> Any:
        return None if record.new_image["status"] == "SKIP" else {"input": record.new_image}

    # WHEN planned with coalescing
    lanes, _ = planned([("a", "PAID"), ("a", "SKIP")], mapper, coalesce=True)
    # THEN PAID is still published (the skip replaces nothing), and the skip settles behind it
    assert [[s.record for s in lane.steps] for lane in lanes] == [[0, 1]]


def test_an_error_that_names_its_record_already_names_it_once() -> None:
    # GIVEN a mapping result the target refuses with a message that names the record
    _, ledger = planned([("a", "1")], lambda record: {"input": record.new_image, "extra": 1})
    # WHEN the record's outcome is read
    error = ledger.close(PayloadTooLargeError("unused"))[0].error
    # THEN the record is named once
    assert str(error).count("DynamoDB Streams record #0") == 1


def test_a_partition_key_function_that_raises_names_the_records_event() -> None:
    # GIVEN a partition key read from the new image, and a REMOVE record (it has none)
    event = events.dynamodb([{"event_name": "REMOVE", "keys": {"id": "a"}, "old_image": {"id": "a"}}])
    records = SOURCES["dynamodb"].parse(event)
    ledger = Ledger(records)
    planning = Planning(GraphQLTarget(PUBLISH), partition_key=lambda r: r.new_image["customer"])
    # WHEN it is planned
    Planner(records, lambda r: None, planning, ledger).plan()
    # THEN the record fails, and the reason says it was a REMOVE
    error = ledger.close(PayloadTooLargeError("unused"))[0].error
    assert isinstance(error, MappingError)
    assert "REMOVE" in str(error)
    assert "partition_key function raised TypeError" in str(error)
