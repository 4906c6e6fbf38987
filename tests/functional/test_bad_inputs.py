"""A catalog of bad inputs through the whole handler: each gets a clear error naming the record and the
cause, and the batch result stays right (the other records still publish, nothing is lost)."""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from streambridge import (
    Bridge,
    DocumentError,
    EventShapeError,
    MappingError,
    Mutation,
    PayloadTooLargeError,
    RecordError,
    Status,
    StreambridgeError,
)
from streambridge.testing import FakeAppSync, events

from .conftest import PUBLISH

GOOD = [{"new_image": {"id": "a", "status": "NEW"}}, {"new_image": {"id": "b", "status": "NEW"}}]


def ddb(mutate: Callable[[dict[str, Any]], None] | None = None) -> dict[str, Any]:
    """A two-record DynamoDB event; ``mutate`` damages the first record."""
    event = events.dynamodb(copy.deepcopy(GOOD))
    if mutate:
        mutate(event["Records"][0])
    return event


def kinesis(
    first: Any = b'{"id": "a", "status": "NEW"}', mutate: Callable[[dict[str, Any]], None] | None = None
) -> dict:
    event = events.kinesis(
        [{"data": first, "partition_key": "a"}, {"data": {"id": "b", "status": "NEW"}, "partition_key": "b"}]
    )
    if mutate:
        mutate(event["Records"][0])
    return event


def sqs(
    first: Any = '{"id": "a", "status": "NEW"}', mutate: Callable[[dict[str, Any]], None] | None = None
) -> dict:
    event = events.sqs([first, {"id": "b", "status": "NEW"}])
    if mutate:
        mutate(event["Records"][0])
    return event


def image(record: Any) -> Any:
    return {"input": record.new_image}


def kinesis_json(record: Any) -> Any:
    return {"input": record.json()}


def sqs_json(record: Any) -> Any:
    return {"input": record.json()}


@dataclass(frozen=True)
class Case:
    """A bad input: either the whole event is refused, or record #0 fails and record #1 publishes."""

    source: str
    event: Callable[[], Any]
    mapper: Callable[[Any], Any]
    error: type[StreambridgeError]
    says: tuple[str, ...]
    whole_event: bool = False
    document: str | None = PUBLISH


def set_path(path: tuple[str, ...], value: Any) -> Callable[[dict[str, Any]], None]:
    def mutate(record: dict[str, Any]) -> None:
        target = record
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value

    return mutate


def drop(*path: str) -> Callable[[dict[str, Any]], None]:
    def mutate(record: dict[str, Any]) -> None:
        target = record
        for key in path[:-1]:
            target = target[key]
        del target[path[-1]]

    return mutate


CATALOG = {
    # the whole event is wrong: no record can be identified, the invocation raises
    "kinesis event to dynamodb": Case("dynamodb", lambda: events.kinesis([b"x"]), image, EventShapeError, ("aws:kinesis",), True),
    "sqs event to kinesis": Case("kinesis", lambda: events.sqs(["x"]), kinesis_json, EventShapeError, ("aws:sqs",), True),
    "dynamodb event to sqs": Case("sqs", lambda: events.dynamodb(GOOD), sqs_json, EventShapeError, ("aws:dynamodb",), True),
    "eventbridge event to dynamodb": Case("dynamodb", lambda: events.eventbridge({}), image, EventShapeError, ("EventBridge",), True),
    "dynamodb event to eventbridge": Case("eventbridge", lambda: events.dynamodb(GOOD), image, EventShapeError, ("dynamodb",), True),
    "dynamodb event to alarm": Case("cloudwatch_alarm", lambda: events.dynamodb(GOOD), image, EventShapeError, ("dynamodb",), True),
    "not a dict": Case("dynamodb", lambda: ["not", "an", "event"], image, EventShapeError, ("JSON str, not an object", "pipe"), True),
    "Records not a list": Case("dynamodb", lambda: {"Records": "nope"}, image, EventShapeError, ("Records",), True),
    "missing sequence number": Case("dynamodb", lambda: ddb(drop("dynamodb", "SequenceNumber")), image, EventShapeError, ("SequenceNumber",), True),
    "missing kinesis sequence number": Case("kinesis", lambda: kinesis(mutate=drop("kinesis", "sequenceNumber")), kinesis_json, EventShapeError, ("sequenceNumber",), True),
    "missing messageId": Case("sqs", lambda: sqs(mutate=drop("messageId")), sqs_json, EventShapeError, ("messageId",), True),
    "empty messageId": Case("sqs", lambda: sqs(mutate=set_path(("messageId",), "")), sqs_json, EventShapeError, ("messageId",), True),
    "eventbridge without detail-type": Case("eventbridge", lambda: {k: v for k, v in events.eventbridge({}).items() if k != "detail-type"}, image, EventShapeError, ("detail-type",), True),
    # one record is bad: it fails with a message naming it, the other publishes
    "dynamodb Keys missing": Case("dynamodb", lambda: ddb(drop("dynamodb", "Keys")), image, RecordError, ("record #0", "Keys")),
    "dynamodb malformed attribute": Case("dynamodb", lambda: ddb(set_path(("dynamodb", "NewImage", "status"), {"Q": "?"})), image, RecordError, ("record #0", "status")),
    "dynamodb N not a number": Case("dynamodb", lambda: ddb(set_path(("dynamodb", "NewImage", "status"), {"N": "abc"})), image, RecordError, ("record #0", "status")),
    "dynamodb bad binary": Case("dynamodb", lambda: ddb(set_path(("dynamodb", "NewImage", "status"), {"B": "%%%"})), image, RecordError, ("record #0", "status")),
    "dynamodb NewImage not a map": Case("dynamodb", lambda: ddb(set_path(("dynamodb", "NewImage"), "text")), image, RecordError, ("record #0", "NewImage")),
    "kinesis bad base64": Case("kinesis", lambda: kinesis(mutate=set_path(("kinesis", "data"), "@@not base64@@")), kinesis_json, RecordError, ("record #0", "base64")),
    "kinesis non-JSON data": Case("kinesis", lambda: kinesis(b"\x00\x01binary"), kinesis_json, RecordError, ("record #0", "JSON")),
    "kinesis JSON truncated": Case("kinesis", lambda: kinesis(b'{"id": "a", '), kinesis_json, RecordError, ("record #0", "JSON")),
    "sqs non-JSON body": Case("sqs", lambda: sqs("plain text"), sqs_json, RecordError, ("#0", "JSON")),
    "sqs body missing": Case("sqs", lambda: sqs(mutate=drop("body")), sqs_json, RecordError, ("#0", "body")),
    "mapper returns a string": Case("dynamodb", ddb, lambda r: "publish me" if r.index == 0 else image(r), MappingError, ("record #0", "returned str")),
    "mapper returns a number": Case("dynamodb", ddb, lambda r: 7 if r.index == 0 else image(r), MappingError, ("record #0", "returned int")),
    "mapper returns a (document, variables) tuple": Case("dynamodb", ddb, lambda r: (PUBLISH, image(r)) if r.index == 0 else image(r), MappingError, ("record #0", "returned a tuple whose item 0 is str", "Mutation(document, variables)")),
    "mapper returns a list holding a number": Case("dynamodb", ddb, lambda r: [image(r), 7] if r.index == 0 else image(r), MappingError, ("record #0", "returned a list whose item 1 is int")),
    "mapper returns a set": Case("dynamodb", ddb, lambda r: {"x"} if r.index == 0 else image(r), MappingError, ("record #0", "returned set")),
    "mapper raises": Case("dynamodb", ddb, lambda r: 1 / r.index if r.index == 0 else image(r), MappingError, ("record #0", "ZeroDivisionError")),
    "mapper raises KeyError": Case("dynamodb", ddb, lambda r: {"input": r.new_image["missing"]} if r.index == 0 else image(r), MappingError, ("record #0", "KeyError", "missing")),
    "dict without a decorator document": Case("dynamodb", ddb, lambda r: image(r) if r.index == 0 else Mutation(PUBLISH, image(r)), MappingError, ("record #0", "no mutation document"), document=None),
    "unknown variable": Case("dynamodb", ddb, lambda r: {"inptu": r.new_image} if r.index == 0 else image(r), MappingError, ("record #0", "inptu")),
    "required variable missing": Case("dynamodb", ddb, lambda r: {} if r.index == 0 else image(r), MappingError, ("record #0", "required")),
    "variable not JSON": Case("dynamodb", ddb, lambda r: {"input": object()} if r.index == 0 else image(r), MappingError, ("record #0", "JSON")),
    "NaN in variables": Case("dynamodb", ddb, lambda r: {"input": {"amount": float("nan")}} if r.index == 0 else image(r), MappingError, ("record #0", "JSON")),
    "document does not parse": Case("dynamodb", ddb, lambda r: Mutation("mutation { publish(") if r.index == 0 else image(r), DocumentError, ("record #0", "does not parse")),
    "document is a query": Case("dynamodb", ddb, lambda r: Mutation("query { orders { id } }") if r.index == 0 else image(r), DocumentError, ("record #0", "found a query")),
    "document is a subscription": Case("dynamodb", ddb, lambda r: Mutation("subscription { s { id } }") if r.index == 0 else image(r), DocumentError, ("record #0", "subscription")),
    "document with two operations": Case("dynamodb", ddb, lambda r: Mutation("mutation A { a } mutation B { b }") if r.index == 0 else image(r), DocumentError, ("record #0", "exactly one")),
    "oversized record": Case("dynamodb", ddb, lambda r: {"input": {"id": "a", "blob": "x" * 300_000}} if r.index == 0 else image(r), PayloadTooLargeError, ("record #0", "bytes")),
    "partition key function raises": Case("dynamodb", ddb, image, MappingError, ("record #0", "partition_key")),
}  # fmt: skip

PARTITION_KEY_RAISES = {"partition key function raises"}


def test_the_catalog_is_large_enough() -> None:
    assert len(CATALOG) >= 30


@pytest.mark.parametrize("name", list(CATALOG))
def test_bad_input(name: str, make_bridge: Callable[..., Bridge], appsync: FakeAppSync) -> None:
    case = CATALOG[name]
    bridge = make_bridge()
    partition_key = (
        (lambda r: r.new_image["nope"] if r.index == 0 else "ok") if name in PARTITION_KEY_RAISES else None
    )
    handler = bridge.handler(case.source, case.document, partition_key=partition_key)(case.mapper)
    event = case.event()
    if case.whole_event:
        # THEN the invocation raises a clear error and nothing is sent
        with pytest.raises(case.error) as raised:
            handler.process(event)
        assert appsync.requests == []
    else:
        # THEN record #0 fails with a clear error, record #1 is published
        result = handler.process(event)
        assert [o.status for o in result.outcomes] == [Status.FAILED, Status.PUBLISHED], result.summary()
        assert isinstance(result.outcomes[0].error, case.error), repr(result.outcomes[0].error)
        assert result.batch_item_failures() == [{"itemIdentifier": result.outcomes[0].record.item_identifier}]
        raised_error = result.outcomes[0].error
        assert raised_error is not None
        message = str(raised_error)
        for fragment in case.says:
            assert fragment in message, message
        return
    message = str(raised.value)
    for fragment in case.says:
        assert fragment in message, message
