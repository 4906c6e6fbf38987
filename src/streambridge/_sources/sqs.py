"""SQS messages, from standard and FIFO queues."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from streambridge._errors import RecordError
from streambridge._sources._base import Source, SourceRecord, cached
from streambridge._sources._common import (
    PIPE_HINT,
    arn_resource,
    batch_records,
    epoch_time,
    field,
    load_json,
    missing_identifier,
    optional_field,
    pipe_batch,
    sequence_version,
    short,
    wrong_source,
)

if TYPE_CHECKING:
    from datetime import datetime

__all__ = ["SOURCE", "SQSRecord", "parse"]

_EVENT_SOURCE = "aws:sqs"
_UNSET: Any = object()


class SQSRecord(SourceRecord):
    """One SQS message. On a FIFO queue, messages of one message group stay in order."""

    source_title: ClassVar[str] = "SQS"

    def __init__(self, raw: Mapping[str, Any], index: int) -> None:
        super().__init__(raw, index)
        message_id = raw.get("messageId")
        if not isinstance(message_id, str) or not message_id:
            raise missing_identifier("sqs", "messageId", raw, index)
        self._message_id = message_id
        self._json: Any = _UNSET

    @property
    def item_identifier(self) -> str:
        """The message id, as Lambda expects it in ``batchItemFailures``."""
        return self._message_id

    @property
    def ordering_group(self) -> str | None:
        """The message group id on a FIFO queue: the ordering key, whatever ``partition_key=`` says.

        Lambda keeps order within a group only, and its FIFO partial-batch contract wants every message
        after a group's first failure reported failed; no other key may split or merge groups.
        """
        group = self.message_group_id
        # Standard queues may carry a group id too (fair queues) without any ordering promise.
        return group if group is not None and self.is_fifo else None

    @property
    def default_partition_key(self) -> str | None:
        """The message group id on a FIFO queue; None (unordered) on a standard queue."""
        return self.ordering_group

    @property
    def message_id(self) -> str:
        """The message id SQS assigned (``messageId``)."""
        return self._message_id

    @property
    def body(self) -> str:
        """The message body as sent."""
        return field(self._raw, "body", str, self, "body")

    def json(self) -> Any:
        """Parse the body as JSON (once: treat the result as read-only)."""
        if self._json is _UNSET:
            self._json = load_json(self.body, self, "body")
        return self._json

    @cached
    def attributes(self) -> dict[str, str]:
        """The system attributes (``ApproximateReceiveCount``, ``SentTimestamp``, ``MessageGroupId``...)."""
        value = self._raw.get("attributes")
        if value is None:
            return {}
        return field(self._raw, "attributes", dict, self, "attributes")

    @cached
    def message_attributes(self) -> dict[str, Any]:
        """The sender's message attributes, as Lambda delivers them (``stringValue``, ``dataType``...)."""
        value = self._raw.get("messageAttributes")
        if value is None:
            return {}
        return field(self._raw, "messageAttributes", dict, self, "messageAttributes")

    @property
    def message_group_id(self) -> str | None:
        """The FIFO message group id; None on a standard queue."""
        return optional_field(self.attributes, "MessageGroupId", str, self, "attributes.MessageGroupId")

    @property
    def message_deduplication_id(self) -> str | None:
        """The FIFO deduplication id; None on a standard queue."""
        return optional_field(
            self.attributes, "MessageDeduplicationId", str, self, "attributes.MessageDeduplicationId"
        )

    @property
    def sequence_number(self) -> str | None:
        """The FIFO sequence number SQS assigned; None on a standard queue."""
        return optional_field(self.attributes, "SequenceNumber", str, self, "attributes.SequenceNumber")

    def _change_version(self) -> int | None:
        """FIFO: the sequence number, which grows within a message group; standard queues: none."""
        sequence = self.sequence_number if self.is_fifo else None
        return None if sequence is None else sequence_version(sequence, self, "attributes.SequenceNumber")

    @property
    def receipt_handle(self) -> str:
        """The receipt handle of this delivery (``receiptHandle``)."""
        return field(self._raw, "receiptHandle", str, self, "receiptHandle")

    @property
    def event_source_arn(self) -> str:
        """The ARN of the queue (``eventSourceARN``)."""
        return field(self._raw, "eventSourceARN", str, self, "eventSourceARN")

    @cached
    def queue_name(self) -> str:
        """The queue's name, read from its ARN."""
        return arn_resource(self.event_source_arn, self, "eventSourceARN")

    @cached
    def is_fifo(self) -> bool:
        """True for a FIFO queue (its name ends in ``.fifo``)."""
        arn = self._raw.get("eventSourceARN")
        if isinstance(arn, str):
            return arn.endswith(".fifo")
        # Without an ARN (hand-built events), SequenceNumber is the attribute only FIFO queues set.
        return "SequenceNumber" in self.attributes

    @cached
    def sent_time(self) -> datetime:
        """When the message was sent, in UTC (``attributes.SentTimestamp``, epoch milliseconds)."""
        value = self.attributes.get("SentTimestamp")
        return epoch_time(value, "milliseconds", self, "attributes.SentTimestamp")

    @cached
    def approximate_receive_count(self) -> int:
        """How many times the message has been received, this delivery included."""
        value = field(
            self.attributes, "ApproximateReceiveCount", (str, int), self, "attributes.ApproximateReceiveCount"
        )
        try:
            return int(value)
        except ValueError:
            raise RecordError(
                f"{self.describe()}: attributes.ApproximateReceiveCount {short(value)} is not a number"
            ) from None


def parse(event: Mapping[str, Any] | Sequence[Any]) -> list[SQSRecord]:
    """Build the record views of an SQS batch (a mapping's or a pipe's); nothing is decoded yet.

    A pipe's SQS record has the same shape and the same identifier (``messageId``) as a mapping's.
    """
    records = batch_records(event, "sqs")
    hint = PIPE_HINT if pipe_batch(event) else "check the event source mapping"
    views = []
    for index, raw in enumerate(records):
        if not isinstance(raw, dict) or raw.get("eventSource") != _EVENT_SOURCE:
            raise wrong_source("sqs", raw, index, hint)
        views.append(SQSRecord(raw, index))
    return views


SOURCE = Source(name="sqs", title="SQS", batch=True, parse=parse)
