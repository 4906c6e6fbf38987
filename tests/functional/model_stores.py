"""Store models for the stateful model test (``test_model.py``): boto3-shaped clients of an SQS queue (the
dead-letter queue) and of DynamoDB tables (the idempotency store, the stale guard's version store), each
behaving as its service documents, on the test's clock, with faults the test schedules.

Why our own models and not moto (moto 5.2, checked in its source ``moto/sqs/models.py``, and pinned against
these models by ``test_the_sqs_model_agrees_with_moto_where_moto_models_the_rule``):

- SendMessageBatch, at most 10 entries: moto enforces it (TooManyEntriesInBatchRequest); so do we.
  "the maximum number of entries you can include in a single SendMessageBatch ... is 10"
  (https://docs.aws.amazon.com/botocore/latest/reference/services/sqs/client/exceptions/TooManyEntriesInBatchRequest.html).
- SendMessageBatch, total payload and each message at most 1 MiB (1,048,576 bytes): moto enforces the
  total (BatchRequestTooLong), but counts characters, not bytes; we count UTF-8 bytes. "The maximum allowed
  individual message size and the maximum total payload size (the sum of the individual lengths of all of
  the batched messages) are both 1 MiB" (SendMessageBatch, SQS API reference,
  https://docs.aws.amazon.com/goto/SdkForKotlin/sqs-2012-11-05/SendMessageBatch).
- FIFO deduplication: a message whose MessageDeduplicationId was sent in the last 5 minutes is accepted but
  not delivered, "even after the message has been received and deleted" (SQS developer guide, FIFO queue
  key terms, https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/FIFO-key-terms.html).
  moto dedups only against messages still in its queue, on the wall clock; we keep every id with its time
  on the test's (virtual) clock.
- MessageDeduplicationId / MessageGroupId: at most 128 characters, letters, digits and punctuation
  (``!"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~``; SendMessage/SendMessageBatchRequestEntry in the SQS API reference;
  the same rule as SNS FIFO's, whose page states the character list). moto checks neither. What SQS
  answers for a bad id inside a batch (a failed entry or a failed request) is unknown here: we fail the
  entry (``InvalidParameterValue``, sender fault), which leaves the letter unqueued either way.
- DynamoDB BatchGetItem / BatchWriteItem: when throughput is exceeded they return what they did not do in
  ``UnprocessedKeys`` / ``UnprocessedItems`` (BatchGetItem and BatchWriteItem in the DynamoDB API
  reference); moto never throttles: our model does, on schedule. PutItem with a ``ConditionExpression``
  ``attribute_not_exists(...)`` fails with ``ConditionalCheckFailedException`` when the item exists
  (conditional writes, DynamoDB developer guide); moto models that, and so does this model, for a store
  that writes conditionally.

Faults a test schedules per invocation: ``fault`` ``"unreachable"`` (every call raises an
EndpointConnectionError), ``"throttled"`` (SQS: ``ThrottlingException`` raised; DynamoDB: everything comes
back unprocessed), ``"partial"`` (SQS: the first entry of each batch fails with ``InternalError``);
``delay``: seconds each call takes on the virtual clock (the test's seam around ``Bridge._in_thread``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

from botocore.exceptions import ClientError, EndpointConnectionError

SQS_MAX_BYTES = 1_048_576
SQS_BATCH = 10
DEDUP_SECONDS = 300.0
_SQS_ID = re.compile(r"^[!-~]{1,128}$")
"""Letters, digits and ASCII punctuation: the printable ASCII characters but space."""
_BATCH_ENTRY_ID = re.compile(r"^[A-Za-z0-9_-]{1,80}$")


def _client_error(code: str, message: str, operation: str) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": message}}, operation)


class SQSModel:
    """A boto3 SQS client with the one call the dead-letter queue makes: ``send_message_batch``."""

    def __init__(self, clock: Callable[[], float], *, fifo: bool) -> None:
        self.clock = clock
        self.fifo = fifo
        self.queue: list[dict[str, Any]] = []
        """Messages delivered to the queue (not dropped as duplicates), each the entry as sent plus ``at``."""
        self.dropped: list[dict[str, Any]] = []
        """Entries SQS accepted but did not deliver (a MessageDeduplicationId seen in the window)."""
        self.refused: list[tuple[str, str]] = []
        """``(code, message)`` of every refusal: a whole call or an entry."""
        self._seen: dict[str, float] = {}
        self.fault: str | None = None
        self.delay = 0.0
        self.calls = 0

    def send_message_batch(self, QueueUrl: str, Entries: list[dict[str, Any]]) -> dict[str, Any]:  # noqa: N803, PLR0912
        """Take up to 10 entries of at most 1 MiB in total; FIFO: dedup by id for 5 minutes."""
        self.calls += 1
        if self.fault == "unreachable":
            raise EndpointConnectionError(endpoint_url=QueueUrl)
        if self.fault == "throttled":
            raise _client_error("ThrottlingException", "Rate exceeded", "SendMessageBatch")
        refuse = None
        if not Entries:
            refuse = ("EmptyBatchRequest", "There should be at least one SendMessageBatchRequestEntry")
        elif len(Entries) > SQS_BATCH:
            refuse = (
                "TooManyEntriesInBatchRequest",
                f"Maximum number of entries per request are 10: {len(Entries)}",
            )
        elif len({e["Id"] for e in Entries}) != len(Entries):
            refuse = ("BatchEntryIdsNotDistinct", "Id is repeated")
        elif not all(_BATCH_ENTRY_ID.match(e["Id"]) for e in Entries):
            refuse = (
                "InvalidBatchEntryId",
                "A batch entry id can only contain alphanumeric characters, - or _",
            )
        else:
            total = sum(len(e["MessageBody"].encode()) for e in Entries)
            if total > SQS_MAX_BYTES:
                refuse = (
                    "BatchRequestTooLong",
                    f"Batch requests cannot be longer than {SQS_MAX_BYTES} bytes: {total}",
                )
        if refuse is not None:
            self.refused.append(refuse)
            raise _client_error(*refuse, "SendMessageBatch")
        successful, failed = [], []
        for position, entry in enumerate(Entries):
            problem = self._problem(entry)
            if problem is None and self.fault == "partial" and position == 0:
                failed.append({"Id": entry["Id"], "SenderFault": False, "Code": "InternalError",
                               "Message": "We encountered an internal error. Please try again."})  # fmt: skip
                continue
            if problem is not None:
                self.refused.append(("InvalidParameterValue", problem))
                failed.append({"Id": entry["Id"], "SenderFault": True, "Code": "InvalidParameterValue",
                               "Message": problem})  # fmt: skip
                continue
            now = self.clock()
            message = {**entry, "at": now}
            dedup = entry.get("MessageDeduplicationId")
            if self.fifo and dedup in self._seen and now - self._seen[dedup] < DEDUP_SECONDS:
                self.dropped.append(message)  # accepted, not delivered
            else:
                if self.fifo:
                    self._seen[dedup] = now
                self.queue.append(message)
            successful.append({"Id": entry["Id"], "MessageId": f"msg-{self.calls}-{position}",
                               "MD5OfMessageBody": "-"})  # fmt: skip
        return {"Successful": successful, "Failed": failed}

    def _problem(self, entry: dict[str, Any]) -> str | None:
        if len(entry["MessageBody"].encode()) > SQS_MAX_BYTES:
            return f"Message must be shorter than {SQS_MAX_BYTES} bytes"
        if not self.fifo:
            return None
        for name in ("MessageGroupId", "MessageDeduplicationId"):
            value = entry.get(name)
            if not isinstance(value, str) or not _SQS_ID.match(value):
                return f"Value {value!r} for parameter {name} is invalid"
        return None

    def letters(self) -> list[dict[str, Any]]:
        """The bodies of the delivered messages, decoded."""
        return [json.loads(message["MessageBody"]) for message in self.queue]


class _TableModel:
    """One DynamoDB table of a model store: its items, its fault of the moment, what was written."""

    def __init__(self, table: str) -> None:
        self.table = table
        self.items: dict[str, dict[str, Any]] = {}
        self.fault: str | None = None
        self.delay = 0.0
        self.writes = 0

    def _check(self, operation: str) -> None:
        if self.fault == "unreachable":
            raise EndpointConnectionError(
                endpoint_url=f"https://dynamodb.us-east-1.amazonaws.com ({operation})"
            )

    def _get_request(self, RequestItems: dict[str, Any]) -> dict[str, Any]:  # noqa: N803 - boto3's names
        """This table's part of a BatchGetItem, refused as DynamoDB refuses it (unreachable, > 100 keys)."""
        self._check("BatchGetItem")
        request: dict[str, Any] = RequestItems[self.table]
        if len(request["Keys"]) > 100:
            raise _client_error(
                "ValidationException", "Too many items requested for the BatchGetItem call", "BatchGetItem"
            )
        return request


class DynamoDBModel(_TableModel):
    """A boto3 DynamoDB client with the calls an idempotency store makes, on one table."""

    def __init__(self, table: str) -> None:
        super().__init__(table)
        self.reads: list[tuple[list[str], list[str]]] = []
        """Each BatchGetItem's keys and the keys found, for a failing example's story."""

    def batch_get_item(self, RequestItems: dict[str, Any]) -> dict[str, Any]:  # noqa: N803 - boto3's names
        """Return the items found; throttled: every key comes back unprocessed."""
        request = self._get_request(RequestItems)
        if self.fault == "throttled":
            return {"Responses": {self.table: []}, "UnprocessedKeys": RequestItems}
        name = next(iter(request["Keys"][0]))
        found = [self.items[k[name]["S"]] for k in request["Keys"] if k[name]["S"] in self.items]
        self.reads.append(([k[name]["S"] for k in request["Keys"]], [f[name]["S"] for f in found]))
        return {"Responses": {self.table: found}, "UnprocessedKeys": {}}

    def batch_write_item(self, RequestItems: dict[str, Any]) -> dict[str, Any]:  # noqa: N803 - boto3's names
        """Put the items; throttled: every item comes back unprocessed."""
        self._check("BatchWriteItem")
        requests = RequestItems[self.table]
        if len(requests) > 25:
            raise _client_error(
                "ValidationException", "Too many items in the BatchWriteItem call", "BatchWriteItem"
            )
        if self.fault == "throttled":
            return {"UnprocessedItems": RequestItems}
        for request in requests:
            item = request["PutRequest"]["Item"]
            name = next(iter(item))
            self.items[item[name]["S"]] = item
            self.writes += 1
        return {"UnprocessedItems": {}}

    def put_item(self, **request: Any) -> dict[str, Any]:
        """Put one item; with ``attribute_not_exists(...)``, refuse to overwrite one that exists."""
        self._check("PutItem")
        if self.fault == "throttled":
            raise _client_error("ProvisionedThroughputExceededException", "Rate exceeded", "PutItem")
        item, condition = request["Item"], request.get("ConditionExpression") or ""
        key = next(v["S"] for v in item.values() if "S" in v)
        if "attribute_not_exists" in condition and key in self.items:
            raise _client_error(
                "ConditionalCheckFailedException", "The conditional request failed", "PutItem"
            )
        self.items[key] = item
        self.writes += 1
        return {}

    def get_item(self, TableName: str, Key: dict[str, Any], **_: Any) -> dict[str, Any]:  # noqa: N803
        """The item, if any."""
        self._check("GetItem")
        if self.fault == "throttled":
            raise _client_error("ProvisionedThroughputExceededException", "Rate exceeded", "GetItem")
        key = next(v["S"] for v in Key.values())
        return {"Item": self.items[key]} if key in self.items else {}


class VersionTableModel(_TableModel):
    """A boto3 DynamoDB client with the calls a version store makes (``DynamoDBVersionStore``), on one table.

    BatchGetItem: at most 100 keys (``ValidationException`` beyond), the projection's attributes, and, when
    throttled, every key back in ``UnprocessedKeys`` (BatchGetItem, DynamoDB API reference). UpdateItem with
    the store's one condition, ``attribute_not_exists(#v) OR #v < :v``, compared as DynamoDB compares two
    strings (by their UTF-8 bytes: "Comparison operator and function reference", DynamoDB developer guide);
    a false condition raises ``ConditionalCheckFailedException`` and writes nothing. moto models both (the
    store's own tests run on it: ``test_version_store.py``); this model adds the faults on the test's clock.
    Any other expression is refused, so that a change of the store's expressions cannot pass unmodelled.
    """

    CONDITION = "attribute_not_exists(#v) OR #v < :v"

    def __init__(self, table: str) -> None:
        super().__init__(table)
        self.reads = 0

    def batch_get_item(self, RequestItems: dict[str, Any]) -> dict[str, Any]:  # noqa: N803 - boto3's names
        """The items found, strongly consistent (the model has one copy); throttled: all unprocessed."""
        request = self._get_request(RequestItems)
        assert request.get("ConsistentRead") is True, "a version store must read strongly consistent"
        if self.fault == "throttled":
            return {"Responses": {self.table: []}, "UnprocessedKeys": RequestItems}
        self.reads += 1
        names = request["ExpressionAttributeNames"]
        key_name = next(iter(request["Keys"][0]))
        found = []
        for key in request["Keys"]:
            item = self.items.get(key[key_name]["S"])
            if item is not None:
                found.append({name: item[name] for name in names.values() if name in item})
        return {"Responses": {self.table: found}, "UnprocessedKeys": {}}

    def update_item(self, **request: Any) -> dict[str, Any]:
        """Set the version (and expiry) if the condition holds; throttled: raise as DynamoDB does."""
        self._check("UpdateItem")
        if self.fault == "throttled":
            raise _client_error("ProvisionedThroughputExceededException", "Rate exceeded", "UpdateItem")
        assert request["TableName"] == self.table
        assert request["ConditionExpression"] == self.CONDITION, request["ConditionExpression"]
        names, values = request["ExpressionAttributeNames"], request["ExpressionAttributeValues"]
        ((key_name, key),) = request["Key"].items()
        version_name, new = names["#v"], values[":v"]["S"]
        item = self.items.get(key["S"])
        current = None if item is None else item.get(version_name, {}).get("S")
        if current is not None and not current.encode() < new.encode():
            raise _client_error(
                "ConditionalCheckFailedException", "The conditional request failed", "UpdateItem"
            )
        assert request["UpdateExpression"] in ("SET #v = :v", "SET #v = :v, #t = :t"), request
        updated = {**(item or {}), key_name: key, version_name: values[":v"]}
        if "#t" in names:
            updated[names["#t"]] = values[":t"]
        self.items[key["S"]] = updated
        self.writes += 1
        return {}

    def versions(self) -> dict[str, int]:
        """Each key's stored version, decoded (3 digits of length, then the digits)."""
        return {key: int(item["version"]["S"][3:]) for key, item in self.items.items()}
