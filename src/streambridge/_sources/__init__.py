"""Source record views and event parsers."""

from __future__ import annotations

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

SOURCES: dict[str, Source] = {  # keyed by str: a name a user passes is checked by looking it up here
    source.name: source
    for source in (
        dynamodb.SOURCE,
        kinesis.SOURCE,
        sqs.SOURCE,
        aurora.SOURCE,
        cloudwatch.SOURCE,
        eventbridge.SOURCE,
    )
}
"""Every source by its decorator name: ``dynamodb``, ``kinesis``, ``sqs`` (batch), ``aurora``,
``cloudwatch_alarm``, ``eventbridge`` (single event)."""
