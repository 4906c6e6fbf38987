"""Opt-in dead-letter sink: hand a record that can never publish to a queue and move on.

By default a bad record is reported failed, and Lambda re-delivers it (and, for streams, everything after
it in the shard) until it expires: one poison record can block a shard for days. With a sink, a record that
fails for good (a mapping error, a malformed record, a payload too large, a GraphQL error from AppSync) is
sent to the sink with its error, counts as dead-lettered, and the later records of its key go on. Transient
failures, the deadline and refused credentials are never dead-lettered: they are reported as usual.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple, Protocol

from streambridge._errors import (
    ConfigurationError,
    StreambridgeError,
)
from streambridge._sources._base import MutationOf, SourceName, SourceRecord
from streambridge._stores.idempotency import idempotency_key, store_client

logger = logging.getLogger("streambridge")

# SQS's limits (API reference, SendMessageBatch): at most 10 messages per request, and "the maximum allowed
# individual message size and the maximum total payload size (the sum of the individual lengths of all of
# the batched messages) are both 1 MiB". A queue's MaximumMessageSize can be as low as 1 KiB.
_SQS_BATCH = 10
_SQS_BATCH_BYTES = 1_048_576
_SQS_MAX_MESSAGE_BYTES = 1_048_576
_SQS_MIN_MESSAGE_BYTES = 1024
DEFAULT_MESSAGE_BYTES = 256 * 1024
"""A letter's size by default: what every queue took until 2025, so it fits any queue's MaximumMessageSize
left at an old default; ``max_message_bytes=`` raises it up to 1 MiB."""
_ERROR_CHARS = 4096
"""An error message longer than this is cut in the letter: the record matters more than the tail of it."""


class DeadLetter(NamedTuple):
    """A record that failed for good, with why."""

    source: SourceName
    record: SourceRecord
    error: StreambridgeError
    request_id: str | None = None
    """The Lambda request id of the invocation that dead-lettered it, when known."""

    def message(self, max_bytes: int = DEFAULT_MESSAGE_BYTES) -> str:
        """The JSON message: the record as delivered, the error, and where it came from.

        Within ``max_bytes`` (UTF-8) if it can be: an error message is cut to its first 4,096 characters,
        and a record too large is left out (``recordTruncated``), keeping what is needed to find it. The
        message can still be larger (an identifier that long); the sink checks.
        """
        raw = self.record.raw
        error = str(self.error)
        body: dict[str, Any] = {
            "source": self.source,
            "itemIdentifier": self.record.item_identifier,
            "record": dict(raw) if isinstance(raw, Mapping) else raw,  # Aurora: any JSON value
            "error": {"type": type(self.error).__name__, "message": error[:_ERROR_CHARS]},
            "deadLetteredAt": int(time.time()),
        }
        if len(error) > _ERROR_CHARS:
            body["error"]["message"] += f"... ({len(error) - _ERROR_CHARS} more characters)"
            body["errorTruncated"] = True
        if isinstance(self.record, MutationOf):  # one of a single event's mutations: which one
            body["mutation"] = {"number": self.record.position + 1, "count": self.record.count}
        if self.request_id is not None:
            body["requestId"] = self.request_id
        text = json.dumps(body, default=str)
        if len(text.encode()) > max_bytes:  # e.g. the oversized record itself: keep how to find it
            body["record"] = None
            body["recordTruncated"] = True
            text = json.dumps(body, default=str)
        return text

    def deduplication_id(self) -> str:
        """Names the letter for a FIFO queue: the same each time this letter is sent again, and no other's.

        A digest of what names the record on every delivery (``idempotency_key``: the stream and event id,
        the message id, the alarm ARN and time...; for one of a single event's mutations, also its
        position). Aurora sends no id, so an Aurora event is named by its payload and the invocation's
        request id: a retry of the invocation is the same letter, the same payload in another invocation
        is another. The hex digest keeps within SQS's 128 characters of letters, digits and punctuation.
        """
        import hashlib

        name = idempotency_key(self.source, self.record)
        # An HTTP item without an Idempotency-Key has no name of its own beyond its position in the body.
        no_identifier = name is None or self.source == "aurora" or not isinstance(self.record.raw, Mapping)
        if name is None:
            name = f"{self.source}|{self.record.item_identifier}"
        if self.request_id is not None and no_identifier:
            name = f"{name}|request:{self.request_id}"
        return f"{self.source}-{hashlib.sha256(name.encode()).hexdigest()}"


class DeadLetterSink(Protocol):
    """Where records that fail for good go."""

    def send(self, letters: Sequence[DeadLetter]) -> set[int]:
        """Send the letters; return the positions of those that could NOT be sent."""
        ...


class SQSDeadLetterQueue:
    """A dead-letter sink on an SQS queue, standard or FIFO.

    On a FIFO queue every letter of a source goes to one message group, the source's name (``dynamodb``,
    ``sqs``...), so a source's letters keep the order they failed in; each letter has a deduplication id of
    its own (``DeadLetter.deduplication_id``), so SQS drops only the same letter sent again within its
    5 minutes. Letters go in SendMessageBatch requests of at most 10 and 1 MiB; a letter is at most
    ``max_message_bytes``. The function needs ``sqs:SendMessage`` on the queue.
    """

    def __init__(
        self, queue_url: str, *, client: Any = None, max_message_bytes: int = DEFAULT_MESSAGE_BYTES
    ) -> None:
        """Send to ``queue_url``; ``client`` is a boto3 SQS client (default: one made on first use).

        ``max_message_bytes``: the largest letter, at most the queue's MaximumMessageSize (1 KiB to 1 MiB;
        256 KiB by default). A record that would make its letter larger is left out of it.
        """
        if not isinstance(queue_url, str) or not queue_url.startswith(("https://", "http://")):
            raise ConfigurationError(f"SQSDeadLetterQueue needs a queue URL, got {queue_url!r}")
        if (
            not isinstance(max_message_bytes, int)
            or isinstance(max_message_bytes, bool)
            or not _SQS_MIN_MESSAGE_BYTES <= max_message_bytes <= _SQS_MAX_MESSAGE_BYTES
        ):
            raise ConfigurationError(
                f"SQSDeadLetterQueue max_message_bytes must be an int from {_SQS_MIN_MESSAGE_BYTES} to "
                f"{_SQS_MAX_MESSAGE_BYTES} (SQS's message sizes), got {max_message_bytes!r}"
            )
        self.queue_url = queue_url
        self.fifo = queue_url.endswith(".fifo")
        self.max_message_bytes = max_message_bytes
        self._client = client

    def __repr__(self) -> str:
        return f"SQSDeadLetterQueue({self.queue_url!r})"

    @property
    def client(self) -> Any:
        """The boto3 client, made on first use."""
        if self._client is None:
            self._client = store_client("sqs")
        return self._client

    def send(self, letters: Sequence[DeadLetter]) -> set[int]:
        """SendMessageBatch in batches within SQS's limits; a letter counts as sent only if SQS took it."""
        unsent: set[int] = set()
        entries: list[tuple[dict[str, Any], int]] = []
        for position, letter in enumerate(letters):
            entry = self._entry(position, letter)
            size = _message_bytes(entry)
            if size > self.max_message_bytes:  # even without its record: its record fails, not lost
                logger.error(
                    "streambridge: the dead letter of %s is %d bytes without the record, too large for the "
                    "dead-letter queue (max_message_bytes=%d); reporting the record failed",
                    letter.record.describe(),
                    size,
                    self.max_message_bytes,
                )
                unsent.add(position)
            else:
                entries.append((entry, size))
        for batch in _batches(entries):
            unsent.update(self._send_batch(batch))
        return unsent

    def _entry(self, position: int, letter: DeadLetter) -> dict[str, Any]:
        entry: dict[str, Any] = {"Id": str(position), "MessageBody": letter.message(self.max_message_bytes)}
        if self.fifo:
            entry["MessageGroupId"] = letter.source  # a source's name: letters, digits and "_"
            entry["MessageDeduplicationId"] = letter.deduplication_id()
        return entry

    def _send_batch(self, batch: list[dict[str, Any]]) -> set[int]:
        """One SendMessageBatch; the positions of the letters SQS did not say it accepted."""
        try:
            answer = self.client.send_message_batch(QueueUrl=self.queue_url, Entries=batch)
        except Exception:  # the sink's trouble must not lose the records: they are reported instead
            logger.exception("streambridge: dead-letter queue unreachable; reporting the records failed")
            return {int(entry["Id"]) for entry in batch}
        for refused in answer.get("Failed", []):
            logger.error(
                "streambridge: the dead-letter queue refused a letter (%s: %s); reporting its record failed",
                refused.get("Code"),
                refused.get("Message"),
            )
        accepted = {taken.get("Id") for taken in answer.get("Successful", [])}
        return {int(entry["Id"]) for entry in batch if entry["Id"] not in accepted}


def _message_bytes(entry: Mapping[str, Any]) -> int:
    """A message's size as SQS counts it: the body and every part of its attributes, in UTF-8."""
    size = len(entry["MessageBody"].encode())
    for name, value in entry.get("MessageAttributes", {}).items():
        size += len(name.encode()) + len(value["DataType"].encode())
        size += len(value.get("StringValue", "").encode()) + len(value.get("BinaryValue", b""))
    return size


def _batches(entries: list[tuple[dict[str, Any], int]]) -> list[list[dict[str, Any]]]:
    """Consecutive entries (in order, for FIFO) in batches of at most 10 and 1 MiB together."""
    batches: list[list[dict[str, Any]]] = []
    batch: list[dict[str, Any]] = []
    total = 0
    for entry, size in entries:
        if batch and (len(batch) == _SQS_BATCH or total + size > _SQS_BATCH_BYTES):
            batches.append(batch)
            batch, total = [], 0
        batch.append(entry)
        total += size
    if batch:
        batches.append(batch)
    return batches
