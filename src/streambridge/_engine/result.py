"""Typed results: what became of each record, and of the invocation."""

from __future__ import annotations

import enum
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, NamedTuple

from streambridge._errors import HeldBackError, StreambridgeError
from streambridge._sources._base import SourceName, SourceRecord

if TYPE_CHECKING:
    from streambridge._lambda_types import PartialItemFailure, PartialItemFailureResponse


class Status(enum.Enum):
    """Where a record ended. Every record ends in exactly one of these."""

    PUBLISHED = "published"
    SKIPPED = "skipped"
    """Skipped by the mapping function, coalesced, already published, or set aside by ``poison="skip"``."""
    FAILED = "failed"
    DEAD_LETTERED = "dead_lettered"
    """Failed for good and handed to the bridge's dead-letter sink; not reported to Lambda."""


class RecordOutcome(NamedTuple):
    """The end of one record."""

    record: SourceRecord
    status: Status
    error: StreambridgeError | None = None
    """Why it failed; for a skip, None, unless ``poison="skip"`` set aside the record for this error."""
    note: str | None = None
    """Why it was skipped when streambridge decided it (coalesced into a later change, a poison record)."""

    def explain(self) -> str:
        """One line naming the record and what became of it, for logs."""
        name = self.record.describe()
        text = str(self.error) if self.error is not None else (self.note or self.status.value)
        return text if text.startswith(name) else f"{name}: {text}"


class InvocationResult(NamedTuple):
    """The end of one Lambda invocation: every record's outcome plus counters."""

    source: SourceName
    outcomes: tuple[RecordOutcome, ...]
    requests: int
    """HTTP requests sent to AppSync, retries included."""
    retries: int
    """Requests that were retries of an earlier attempt."""
    duration: float
    """Seconds spent in the invocation."""
    throttled: int = 0
    """Answers that said AppSync throttled the request (HTTP 429 or a throttling error in the answer)."""

    def _count(self, status: Status) -> int:
        return sum(1 for o in self.outcomes if o.status is status)

    @property
    def published(self) -> int:
        """Records whose mutations all reached AppSync."""
        return self._count(Status.PUBLISHED)

    @property
    def skipped(self) -> int:
        """Records the mapping function skipped (returned None), coalesced, or ``poison_skipped``."""
        return self._count(Status.SKIPPED)

    @property
    def poison_skipped(self) -> int:
        """Records that failed for good and were skipped by ``Bridge(poison="skip")`` (among ``skipped``)."""
        return len(self.poison_skips)

    @property
    def poison_skips(self) -> tuple[RecordOutcome, ...]:
        """Outcomes of the ``poison_skipped`` records (skipped with the error that made them poison)."""
        return tuple(o for o in self.outcomes if o.status is Status.SKIPPED and o.error is not None)

    @property
    def failed(self) -> int:
        """Records reported failed (including those held back behind a failed record of their key)."""
        return self._count(Status.FAILED)

    @property
    def held_back(self) -> int:
        """Records failed only because an earlier record of their key failed (among ``failed``)."""
        return sum(
            1 for o in self.outcomes if o.status is Status.FAILED and isinstance(o.error, HeldBackError)
        )

    @property
    def dead_lettered(self) -> int:
        """Records handed to the dead-letter sink (only with ``Bridge(dead_letter=...)``)."""
        return self._count(Status.DEAD_LETTERED)

    @property
    def failures(self) -> tuple[RecordOutcome, ...]:
        """Outcomes of the failed records, in source order."""
        return tuple(o for o in self.outcomes if o.status is Status.FAILED)

    @property
    def ok(self) -> bool:
        """True when no record failed."""
        return not self.failures

    def batch_item_failures(self) -> list[PartialItemFailure]:
        """The ``batchItemFailures`` entries Lambda expects, in source order, never empty identifiers."""
        return [{"itemIdentifier": o.record.item_identifier} for o in self.failures]

    def lambda_response(self) -> PartialItemFailureResponse:
        """The answer of a batch-source handler: ``{"batchItemFailures": [...]}``."""
        return {"batchItemFailures": self.batch_item_failures()}

    def summary(self) -> dict[str, Any]:
        """Counters for the structured log line; ``poison_skipped`` and ``throttled`` only if any."""
        summary: dict[str, Any] = {
            "source": self.source,
            "records": len(self.outcomes),
            "published": self.published,
            "skipped": self.skipped,
            "failed": self.failed,
            "dead_lettered": self.dead_lettered,
            "requests": self.requests,
            "retries": self.retries,
            "duration_ms": round(self.duration * 1000, 1),
        }
        poison = self.poison_skipped
        if poison:  # a metric to alarm on; absent otherwise, so the usual line stays as it was
            summary["poison_skipped"] = poison
        if self.throttled:
            summary["throttled"] = self.throttled
        return summary


class Ledger:
    """Records each record's end exactly once; the invariant behind "nothing is lost"."""

    def __init__(self, records: Sequence[SourceRecord], *, skip_poison: bool = False) -> None:
        """``skip_poison``: records set aside for good (``dead_letter``) are skipped, not dead-lettered."""
        self.records = records
        self.skip_poison = skip_poison
        self._outcomes: list[RecordOutcome | None] = [None] * len(records)

    def publish(self, index: int, note: str | None = None) -> None:
        """The record's last mutation succeeded (``note``: something worth knowing, e.g. a null result)."""
        self._settle(index, RecordOutcome(self.records[index], Status.PUBLISHED, note=note))

    def skip(self, index: int, note: str | None = None) -> None:
        """The user skipped the record, or it was coalesced into a later change of its key."""
        self._settle(index, RecordOutcome(self.records[index], Status.SKIPPED, note=note))

    def dead_letter(self, index: int, error: StreambridgeError) -> None:
        """The record failed for good and is now in the dead-letter sink, or skipped (``skip_poison``)."""
        record = self.records[index]
        if self.skip_poison:  # the engine's path to the sink, taken by a sink that keeps nothing
            self._settle(index, RecordOutcome(record, Status.SKIPPED, error, note=str(error)))
        else:
            self._settle(index, RecordOutcome(record, Status.DEAD_LETTERED, error))

    def fail(self, index: int, error: StreambridgeError) -> None:
        """The record failed; a second failure of the same record keeps the first cause."""
        if self._outcomes[index] is None:
            self._outcomes[index] = RecordOutcome(self.records[index], Status.FAILED, error)

    def _settle(self, index: int, outcome: RecordOutcome) -> None:
        if self._outcomes[index] is not None:
            msg = f"internal error: {self.records[index].describe()} settled twice"
            raise RuntimeError(msg)
        self._outcomes[index] = outcome

    def close(self, cause: StreambridgeError) -> tuple[RecordOutcome, ...]:
        """All outcomes; any record still open is failed with ``cause`` so that none is lost."""
        for index, outcome in enumerate(self._outcomes):
            if outcome is None:
                self.fail(index, cause)
        return tuple(o for o in self._outcomes if o is not None)
