"""An SQS client for SendMessageBatch that keeps SQS's documented rules, where moto does not keep them all.

The rules, from the SQS API reference (botocore's service model carries its text):
- SendMessageBatch: at most 10 entries, each ``Id`` up to 80 characters of letters, digits, ``-`` and ``_``,
  distinct; "the maximum allowed individual message size and the maximum total payload size (the sum of
  the individual lengths of all of the batched messages) are both 1 MiB" (``BatchRequestTooLong``).
- A message's size counts its body and every part of its attributes (name, type, value), UTF-8.
- A queue's ``MaximumMessageSize`` (1 KiB to 1 MiB) refuses a larger message.
- FIFO: ``MessageGroupId`` and ``MessageDeduplicationId`` are required (no content-based deduplication
  here), each at most 128 characters of letters, digits and punctuation ``!"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~``;
  a message whose deduplication id was accepted in the last 5 minutes "is accepted successfully but isn't
  delivered".

moto 5 models the deduplication window and the 1 MiB batch total (counting characters, not bytes), but
not the id lengths and characters: this fake keeps them all. How SQS answers a request that breaks a
per-message rule (the whole batch refused, or the entry in ``Failed``) is not documented; this fake
refuses the whole batch, as moto does.
"""

from __future__ import annotations

import re
import string
from collections.abc import Callable, Mapping
from typing import Any

from botocore.exceptions import ClientError

MIB = 1_048_576
DEDUPLICATION_SECONDS = 300
_ENTRY_ID = re.compile(r"[A-Za-z0-9_-]{1,80}")
_ID_CHARACTERS = frozenset(string.ascii_letters + string.digits + string.punctuation)


def message_bytes(entry: Mapping[str, Any]) -> int:
    """A message's size as SQS counts it: the body and each attribute's name, type and value, UTF-8."""
    size = len(entry["MessageBody"].encode())
    for name, value in entry.get("MessageAttributes", {}).items():
        size += len(name.encode()) + len(value["DataType"].encode())
        size += len(value.get("StringValue", "").encode()) + len(value.get("BinaryValue", b""))
    return size


def _refused(code: str, message: str) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": message}}, "SendMessageBatch")


def _check_fifo_id(name: str, value: Any) -> None:
    if not isinstance(value, str) or not value:
        raise _refused("MissingParameter", f"The request must contain the parameter {name}.")
    if len(value) > 128 or not set(value) <= _ID_CHARACTERS:
        raise _refused("InvalidParameterValue", f"Value {value!r} for parameter {name} is invalid.")


class RuleKeepingSQS:
    """One queue behind a boto3-like ``send_message_batch``; ``delivered`` is what a consumer would get."""

    def __init__(
        self,
        *,
        fifo: bool,
        maximum_message_size: int = MIB,
        clock: Callable[[], float] = lambda: 0.0,
    ) -> None:
        self.fifo = fifo
        self.maximum_message_size = maximum_message_size
        self.clock = clock
        self.delivered: list[dict[str, Any]] = []
        self.requests: list[list[dict[str, Any]]] = []
        self.refuse_entries: Callable[[dict[str, Any]], bool] = lambda _entry: False
        """Entries this returns True for are listed in ``Failed`` (e.g. an SQS internal error)."""
        self.fail_requests: list[Exception] = []
        """Exceptions raised by the next requests, one each, before any rule is checked."""
        self.forget_in_answer: set[str] = set()
        """Entry ids left out of the answer altogether (a malformed answer)."""
        self._deduplication: dict[str, float] = {}

    def send_message_batch(self, *, QueueUrl: str, Entries: list[dict[str, Any]]) -> dict[str, Any]:  # noqa: N803 - boto3's names
        del QueueUrl
        self.requests.append(Entries)
        if self.fail_requests:
            raise self.fail_requests.pop(0)
        self._check_request(Entries)
        successful, failed = [], []
        for entry in Entries:
            if self.refuse_entries(entry):
                failed.append({"Id": entry["Id"], "SenderFault": False, "Code": "InternalError"})
                continue
            self._deliver(entry)
            successful.append({"Id": entry["Id"], "MessageId": f"m-{len(self.delivered)}"})
        answer: dict[str, Any] = {
            "Successful": [s for s in successful if s["Id"] not in self.forget_in_answer],
            "Failed": [f for f in failed if f["Id"] not in self.forget_in_answer],
        }
        return answer

    def _check_request(self, entries: list[dict[str, Any]]) -> None:
        if not entries:
            raise _refused("EmptyBatchRequest", "The batch request doesn't contain any entries.")
        if len(entries) > 10:
            raise _refused("TooManyEntriesInBatchRequest", f"{len(entries)} entries, at most 10")
        ids = [entry["Id"] for entry in entries]
        if not all(_ENTRY_ID.fullmatch(i) for i in ids):
            raise _refused("InvalidBatchEntryId", "A batch entry id can only contain alphanumeric characters")
        if len(set(ids)) != len(ids):
            raise _refused("BatchEntryIdsNotDistinct", "Two or more batch entries have the same Id.")
        total = sum(message_bytes(entry) for entry in entries)
        if total > MIB:
            raise _refused(
                "BatchRequestTooLong", f"Batch requests cannot be longer than {MIB} bytes: {total}"
            )
        for entry in entries:
            size = message_bytes(entry)
            if size > self.maximum_message_size:
                raise _refused(
                    "InvalidParameterValue",
                    f"Message must be shorter than {self.maximum_message_size} bytes: {size}",
                )
            if self.fifo:
                _check_fifo_id("MessageGroupId", entry.get("MessageGroupId"))
                _check_fifo_id("MessageDeduplicationId", entry.get("MessageDeduplicationId"))

    def _deliver(self, entry: dict[str, Any]) -> None:
        if self.fifo:
            now = self.clock()
            key = entry["MessageDeduplicationId"]
            seen = self._deduplication.get(key)
            if seen is not None and now - seen < DEDUPLICATION_SECONDS:
                return  # accepted, not delivered
            self._deduplication[key] = now
        self.delivered.append(entry)
