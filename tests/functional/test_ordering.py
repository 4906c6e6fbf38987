"""The whole handler against a fake AppSync: ordering, failures, skips, batching modes."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from streambridge import Bridge, DynamoDBRecord, HeldBackError, MappingError, Mutation, Status
from streambridge.testing import FakeAppSync, events

from .conftest import PUBLISH


def orders(*changes: tuple[str, str]) -> dict:
    return events.dynamodb([{"new_image": {"id": key, "status": status}} for key, status in changes])


def published(appsync: FakeAppSync) -> list[tuple[str, str]]:
    return [(p.result["id"], p.result["status"]) for p in appsync.published]


def per_key(pairs: list[tuple[str, str]]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for key, status in pairs:
        out.setdefault(key, []).append(status)
    return out


def test_a_poison_record_holds_back_only_its_own_key(bridge: Bridge, appsync: FakeAppSync) -> None:
    # GIVEN changes of three orders, where b's second change is poison
    event = orders(
        ("a", "NEW"),
        ("b", "NEW"),
        ("a", "PAID"),
        ("b", "POISON"),
        ("a", "SHIPPED"),
        ("b", "SHIPPED"),
        ("c", "NEW"),
    )

    @bridge.dynamodb(PUBLISH)
    def handler(record: DynamoDBRecord) -> dict:
        return {"input": record.new_image}

    # WHEN the handler runs
    response = handler(event)

    # THEN a and c are published in source order, b stops at the poison record
    assert per_key(published(appsync)) == {"a": ["NEW", "PAID", "SHIPPED"], "b": ["NEW"], "c": ["NEW"]}
    # AND Lambda is told exactly the poison record and the later record of its key
    sequence = [r["dynamodb"]["SequenceNumber"] for r in event["Records"]]
    assert response == {
        "batchItemFailures": [{"itemIdentifier": sequence[3]}, {"itemIdentifier": sequence[5]}]
    }
    result = handler.process(event)
    assert isinstance(result.failures[1].error, HeldBackError)


def test_default_mode_sends_at_most_one_pending_mutation_per_key_per_request(
    bridge: Bridge, appsync: FakeAppSync
) -> None:
    # GIVEN 40 changes over 4 keys
    event = orders(*[(f"k{i % 4}", f"S{i}") for i in range(40)])

    @bridge.dynamodb(PUBLISH)
    def handler(record: DynamoDBRecord) -> dict:
        return {"input": record.new_image}

    # WHEN published
    assert handler(event) == {"batchItemFailures": []}

    # THEN no request carries two mutations of one key, and each key's order is the source order
    for request in appsync.requests:
        keys = list(request.aliases)
        assert len(keys) <= 4
    ids_per_request = []
    position = 0
    for request in appsync.requests:
        ids_per_request.append(
            [p.result["id"] for p in appsync.published[position : position + len(request.aliases)]]
        )
        position += len(request.aliases)
    assert all(len(ids) == len(set(ids)) for ids in ids_per_request)
    assert per_key(published(appsync)) == {f"k{k}": [f"S{i}" for i in range(k, 40, 4)] for k in range(4)}


def test_batching_sends_far_fewer_requests_than_records(bridge: Bridge, appsync: FakeAppSync) -> None:
    # GIVEN 1,000 changes over 100 keys
    event = orders(*[(f"k{i % 100}", f"S{i}") for i in range(1000)])

    @bridge.dynamodb(PUBLISH)
    def handler(record: DynamoDBRecord) -> dict:
        return {"input": record.new_image}

    # WHEN published
    result = handler.process(event)

    # THEN all are published with about one request per 50 mutations
    assert result.published == 1000
    assert result.requests <= 1000 / 50 + 10
    assert len(appsync.published) == 1000


def test_skip_counts_as_success(bridge: Bridge, appsync: FakeAppSync) -> None:
    # GIVEN an insert and a removal
    event = events.dynamodb(
        [{"new_image": {"id": "a", "status": "NEW"}}, {"old_image": {"id": "a", "status": "NEW"}}]
    )

    @bridge.dynamodb(PUBLISH)
    def handler(record: DynamoDBRecord) -> dict | None:
        if record.event_name == "REMOVE":
            return None
        return {"input": record.new_image}

    # WHEN the handler skips the removal
    result = handler.process(event)

    # THEN one is published and one skipped, and nothing is reported failed
    assert [o.status for o in result.outcomes] == [Status.PUBLISHED, Status.SKIPPED]
    assert result.lambda_response() == {"batchItemFailures": []}


def test_a_user_exception_fails_its_record_and_holds_back_its_key(
    bridge: Bridge, appsync: FakeAppSync
) -> None:
    # GIVEN a mapping function that raises on one record
    event = orders(("a", "NEW"), ("a", "BAD"), ("b", "NEW"), ("a", "PAID"))

    @bridge.dynamodb(PUBLISH)
    def handler(record: DynamoDBRecord) -> dict:
        if record.new_image["status"] == "BAD":
            raise ValueError("cannot map this order")
        return {"input": record.new_image}

    # WHEN the handler runs
    result = handler.process(event)

    # THEN the failing record names the cause, the later record of its key is held back, b goes through
    assert [o.status for o in result.outcomes] == [
        Status.PUBLISHED,
        Status.FAILED,
        Status.PUBLISHED,
        Status.FAILED,
    ]
    error = result.outcomes[1].error
    assert isinstance(error, MappingError)
    assert "record #1" in str(error)
    assert "ValueError: cannot map this order" in str(error)
    assert isinstance(result.outcomes[3].error, HeldBackError)
    assert published(appsync) == [("a", "NEW"), ("b", "NEW")]


@pytest.mark.parametrize(
    ("returned", "message"),
    [
        (42, "returned int; expected None"),
        ({"inptu": {}}, "not defined by the mutation"),
        ({}, "required mutation variables missing"),
        ({"input": object()}, "cannot be sent as JSON"),
        (Mutation("query { a }"), "expected a mutation, found a query"),
    ],
)
def test_wrong_mapping_results_fail_the_record_clearly(
    bridge: Bridge, appsync: FakeAppSync, returned: object, message: str
) -> None:
    @bridge.dynamodb(PUBLISH)
    def handler(_record: DynamoDBRecord) -> object:
        return returned

    result = handler.process(orders(("a", "NEW")))

    assert result.failed == 1
    assert message in str(result.failures[0].error)
    assert "DynamoDB" in str(result.failures[0].error)
    assert appsync.requests == []


def test_several_mutations_per_record_publish_in_order(bridge: Bridge, appsync: FakeAppSync) -> None:
    # GIVEN a mapping that publishes an order change and an audit entry
    @bridge.dynamodb()
    def handler(record: DynamoDBRecord) -> list[Mutation]:
        order = record.new_image
        return [
            Mutation(PUBLISH, {"input": order}),
            Mutation(PUBLISH, {"input": {"id": order["id"] + "-audit", "status": "AUDIT"}}),
        ]

    result = handler.process(orders(("a", "NEW"), ("a", "PAID")))

    assert result.published == 2
    assert published(appsync) == [("a", "NEW"), ("a-audit", "AUDIT"), ("a", "PAID"), ("a-audit", "AUDIT")]


def test_packing_several_changes_of_a_key_in_one_request(
    make_bridge: Callable[..., Bridge], appsync: FakeAppSync
) -> None:
    # GIVEN a bridge that packs up to 10 changes of a key per request
    bridge = make_bridge(per_key=10)

    @bridge.dynamodb(PUBLISH)
    def handler(record: DynamoDBRecord) -> dict:
        return {"input": record.new_image}

    # WHEN 30 changes of one hot key are published
    result = handler.process(orders(*[("hot", f"S{i}") for i in range(30)]))

    # THEN they go in 3 requests, in order
    assert result.requests == 3
    assert [s for _, s in published(appsync)] == [f"S{i}" for i in range(30)]


def test_packing_reports_later_changes_of_a_failed_key_even_if_executed(
    make_bridge: Callable[..., Bridge], appsync: FakeAppSync
) -> None:
    bridge = make_bridge(per_key=10)

    @bridge.dynamodb(PUBLISH)
    def handler(record: DynamoDBRecord) -> dict:
        return {"input": record.new_image}

    result = handler.process(orders(("hot", "S0"), ("hot", "POISON"), ("hot", "S2")))

    # AppSync ran S2 after the poison (the documented trade-off) but it is reported failed so that
    # Lambda re-delivers it after the poison record: the final state on screens stays right
    assert [o.status for o in result.outcomes] == [Status.PUBLISHED, Status.FAILED, Status.FAILED]
    assert published(appsync) == [("hot", "S0"), ("hot", "S2")]


def test_coalescing_publishes_only_the_latest_change_per_key(
    make_bridge: Callable[..., Bridge], appsync: FakeAppSync
) -> None:
    bridge = make_bridge(coalesce=True)

    @bridge.dynamodb(PUBLISH)
    def handler(record: DynamoDBRecord) -> dict:
        return {"input": record.new_image}

    result = handler.process(orders(("a", "NEW"), ("b", "NEW"), ("a", "PAID"), ("a", "SHIPPED")))

    assert sorted(published(appsync)) == [("a", "SHIPPED"), ("b", "NEW")]
    assert [o.status for o in result.outcomes] == [
        Status.SKIPPED,
        Status.PUBLISHED,
        Status.SKIPPED,
        Status.PUBLISHED,
    ]
    assert "coalesced into" in (result.outcomes[0].note or "")


def test_custom_partition_key(bridge: Bridge, appsync: FakeAppSync) -> None:
    # GIVEN ordering by customer instead of by order id
    event = events.dynamodb(
        [
            {"new_image": {"id": f"o{i}", "customer": "c1", "status": "POISON" if i == 1 else "NEW"}}
            for i in range(3)
        ]
    )

    @bridge.dynamodb(PUBLISH, partition_key=lambda r: r.new_image["customer"])
    def handler(record: DynamoDBRecord) -> dict:
        return {"input": record.new_image}

    result = handler.process(event)

    # THEN the failure of o1 holds back o2: same customer
    assert [o.status for o in result.outcomes] == [Status.PUBLISHED, Status.FAILED, Status.FAILED]


def test_concurrency_is_bounded(make_bridge: Callable[..., Bridge], appsync: FakeAppSync) -> None:
    appsync.latency = 0.01
    bridge = make_bridge(concurrency=3, batch_size=2)

    @bridge.dynamodb(PUBLISH)
    def handler(record: DynamoDBRecord) -> dict:
        return {"input": record.new_image}

    result = handler.process(orders(*[(f"k{i}", "NEW") for i in range(40)]))

    assert result.published == 40
    assert appsync.max_in_flight == 3


def test_a_partition_key_no_json_can_write_fails_its_record_not_the_invocation(
    bridge: Bridge, appsync: FakeAppSync
) -> None:
    # GIVEN a partition key function that returns a dict whose keys cannot be sorted (mixed types) for one
    event = events.dynamodb([{"new_image": {"id": f"o{i}", "status": "NEW"}} for i in range(2)])

    @bridge.dynamodb(
        PUBLISH, partition_key=lambda r: {1: "a", "b": 2} if r.new_image["id"] == "o0" else {"c": r.index}
    )
    def handler(record: DynamoDBRecord) -> dict:
        return {"input": record.new_image}

    # WHEN the handler runs
    result = handler.process(event)

    # THEN that record fails with a MappingError naming the key function; the other one is published
    assert [o.status for o in result.outcomes] == [Status.FAILED, Status.PUBLISHED]
    assert isinstance(result.outcomes[0].error, MappingError)
    assert "partition_key" in str(result.outcomes[0].error)


def test_the_partition_key_function_runs_once_per_record_whatever_reads_the_key(
    make_bridge: Callable[..., Bridge], appsync: FakeAppSync
) -> None:
    # GIVEN a partition key function that counts its calls, and an idempotency store that also reads keys
    from tests.memory_store import MemoryStore

    calls: list[str] = []

    def customer(record: DynamoDBRecord) -> str:
        calls.append(record.new_image["id"])
        return str(record.new_image["customer"])

    bridge = make_bridge(idempotency=MemoryStore())
    event = events.dynamodb(
        [{"new_image": {"id": f"o{i}", "customer": "c1", "status": "NEW"}} for i in range(3)]
    )

    @bridge.dynamodb(PUBLISH, partition_key=customer)
    def handler(record: DynamoDBRecord) -> dict:
        return {"input": record.new_image}

    # WHEN the handler publishes the batch (the store reads each key before planning and after publishing)
    assert handler.process(event).published == 3

    # THEN the function ran once per record: every stage sees the same key, and a costly one costs once
    assert sorted(calls) == ["o0", "o1", "o2"]
