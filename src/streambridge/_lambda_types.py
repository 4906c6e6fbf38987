"""The shapes Lambda's event source mappings expect back from a batch handler, as typed dicts.

Named as Powertools for AWS Lambda names them (``aws_lambda_powertools.utilities.batch.types``), so that a
handler moving between the two keeps its annotations. At run time they are plain dicts.
"""

from __future__ import annotations

from typing import TypedDict


class PartialItemFailure(TypedDict):
    """One record Lambda must deliver again: its sequence number (streams) or message id (SQS)."""

    itemIdentifier: str


class PartialItemFailureResponse(TypedDict):
    """A partial batch response: ``{"batchItemFailures": [...]}``, empty when every record succeeded.

    Lambda checkpoints a stream at the lowest failed sequence number and re-delivers from there; an empty
    or missing identifier would fail the whole batch.
    """

    batchItemFailures: list[PartialItemFailure]
