"""Source record views and event parsers."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from streambridge._sources import aurora, cloudwatch, dynamodb, eventbridge, kinesis, sqs
from streambridge._sources._base import Source, SourceName, SourceRecord
from streambridge._sources.aurora import AuroraEvent
from streambridge._sources.cloudwatch import AlarmEvent
from streambridge._sources.dynamodb import DynamoDBRecord
from streambridge._sources.eventbridge import EventBridgeEvent
from streambridge._sources.kinesis import KinesisRecord
from streambridge._sources.sqs import SQSRecord

__all__ = [
    "SOURCES",
    "AlarmEvent",
    "AuroraEvent",
    "DynamoDBRecord",
    "EventBridgeEvent",
    "KinesisRecord",
    "SQSRecord",
    "Source",
    "SourceName",
    "SourceRecord",
]


def _parse_kinesis_dynamodb(event: Any) -> Sequence[SourceRecord]:
    # The module loads with the first event of its source: a function that does not use it never pays.
    from streambridge._sources import kinesis_dynamodb

    return kinesis_dynamodb.parse(event)


def _arrange_kinesis_dynamodb(
    records: Sequence[SourceRecord],
) -> tuple[Sequence[SourceRecord], Sequence[tuple[SourceRecord, str]]]:
    from streambridge._sources import kinesis_dynamodb

    return kinesis_dynamodb.arrange(records)


def _parse_http(event: Any) -> Sequence[SourceRecord]:
    # Loaded with the first request: a function that takes no HTTP request never pays for the module.
    from streambridge._sources import http

    return http.parse(event)


SOURCES: dict[str, Source] = {  # keyed by str: a name a user passes is checked by looking it up here
    source.name: source
    for source in (
        dynamodb.SOURCE,
        kinesis.SOURCE,
        Source(
            name="kinesis_dynamodb",
            title="Kinesis Data Streams for DynamoDB",
            batch=True,
            parse=_parse_kinesis_dynamodb,
            arrange=_arrange_kinesis_dynamodb,
        ),
        sqs.SOURCE,
        aurora.SOURCE,
        cloudwatch.SOURCE,
        eventbridge.SOURCE,
        Source(name="http", title="API Gateway / function URL", batch=True, parse=_parse_http),
    )
}
"""Every source by its decorator name: ``dynamodb``, ``kinesis``, ``kinesis_dynamodb``, ``sqs`` (batch),
``aurora``, ``cloudwatch_alarm``, ``eventbridge`` (single event), ``http`` (a request's items, answered
with an HTTP response)."""
