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
from streambridge._sources._base import SourceName, SourceRecord
from streambridge._stores.idempotency import CLIENT_TIMEOUTS

logger = logging.getLogger("streambridge")

_SQS_BATCH = 10  # SendMessageBatch's limit
_SQS_MAX_BYTES = 256 * 1024


class DeadLetter(NamedTuple):
    """A record that failed for good, with why."""

    source: SourceName
    record: SourceRecord
    error: StreambridgeError

    def message(self, max_bytes: int = _SQS_MAX_BYTES) -> str:
        """The JSON message: the record as delivered, the error, and where it came from."""
        raw = self.record.raw
        body: dict[str, Any] = {
            "source": self.source,
            "itemIdentifier": self.record.item_identifier,
            "record": dict(raw) if isinstance(raw, Mapping) else raw,  # Aurora: any JSON value
            "error": {"type": type(self.error).__name__, "message": str(self.error)},
            "deadLetteredAt": int(time.time()),
        }
        text = json.dumps(body, default=str)
        if len(text.encode()) > max_bytes:  # e.g. the oversized record itself: keep how to find it
            body["record"] = None
            body["recordTruncated"] = True
            text = json.dumps(body, default=str)
        return text


class DeadLetterSink(Protocol):
    """Where records that fail for good go."""

    def send(self, letters: Sequence[DeadLetter]) -> set[int]:
        """Send the letters; return the positions of those that could NOT be sent."""
        ...


class SQSDeadLetterQueue:
    """A dead-letter sink on an SQS queue, standard or FIFO.

    On a FIFO queue every letter of a source goes to one message group, the source's name (``dynamodb``,
    ``sqs``...), so a source's letters keep the order they failed in; each is deduplicated by the source
    and the record's item identifier. The function needs ``sqs:SendMessage`` on the queue.
    """

    def __init__(self, queue_url: str, *, client: Any = None) -> None:
        """Send to ``queue_url``; ``client`` is a boto3 SQS client (default: one made on first use)."""
        if not queue_url.startswith(("https://", "http://")):
            raise ConfigurationError(f"SQSDeadLetterQueue needs a queue URL, got {queue_url!r}")
        self.queue_url = queue_url
        self.fifo = queue_url.endswith(".fifo")
        self._client = client

    def __repr__(self) -> str:
        return f"SQSDeadLetterQueue({self.queue_url!r})"

    @property
    def client(self) -> Any:
        """The boto3 client, made on first use."""
        if self._client is None:
            import boto3
            from botocore.config import Config

            # Bounded, like every store call (the bridge also waits only until the deadline): a hung
            # connection must not keep the thread busy into the next invocations.
            self._client = boto3.client("sqs", config=Config(**CLIENT_TIMEOUTS))
        return self._client

    def send(self, letters: Sequence[DeadLetter]) -> set[int]:
        """SendMessageBatch in chunks of 10; a chunk that raises counts as not sent."""
        unsent: set[int] = set()
        for start in range(0, len(letters), _SQS_BATCH):
            chunk = letters[start : start + _SQS_BATCH]
            entries = []
            for offset, letter in enumerate(chunk):
                entry: dict[str, Any] = {"Id": str(start + offset), "MessageBody": letter.message()}
                if self.fifo:
                    entry["MessageGroupId"] = letter.source
                    entry["MessageDeduplicationId"] = f"{letter.source}-{letter.record.item_identifier}"[:128]
                entries.append(entry)
            try:
                answer = self.client.send_message_batch(QueueUrl=self.queue_url, Entries=entries)
            except Exception:  # the sink's trouble must not lose the record: it is reported instead
                logger.exception("streambridge: dead-letter queue unreachable; reporting the records failed")
                unsent.update(range(start, start + len(chunk)))
                continue
            unsent.update(int(failed["Id"]) for failed in answer.get("Failed", []))
        return unsent
