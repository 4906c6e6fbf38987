"""Kinesis Data Streams -> AppSync: live device readings, in order per device.

Devices put readings on the stream with their device id as the partition key, so Kinesis keeps each
device's readings in order within a shard, and streambridge keeps them in order per partition key (its
default ordering key for Kinesis) while publishing different devices concurrently.

A malformed reading (not JSON, a missing field, a value that is not a finite number) is skipped here with
a warning naming the record, not failed: it cannot get better on retry, and a failed record makes Lambda
re-deliver the shard from that record on, holding back every later reading of the device until the
retries run out. Everything else follows the bridge's poison setting, the default ``"report"``: a reading
AppSync rejects is reported failed, and failures that can heal (throttling, a network error, the deadline)
fail the record so that Lambda retries them. ``Bridge(poison="skip")`` would skip AppSync's rejections too.
"""

from __future__ import annotations

import logging
import math
from datetime import datetime
from typing import Any

from streambridge import Bridge, KinesisRecord, RecordError

logger = logging.getLogger(__name__)

# URL from STREAMBRIDGE_APPSYNC_URL, IAM auth from the Lambda role: no I/O here. poison="report" (the
# default) is spelled out: a reading AppSync rejects is reported failed, for the on-failure destination.
bridge = Bridge(poison="report")

PUBLISH_READING = """
mutation PublishReading($input: ReadingInput!) {
  publishReading(input: $input) { deviceId metric value unit recordedAt seq }
}
"""


class MalformedReadingError(ValueError):
    """A reading that can never be published: skipped, not retried."""


def _text(reading: dict[str, Any], key: str) -> str:
    value = reading.get(key)
    if not isinstance(value, str) or not value:
        raise MalformedReadingError(f"{key} must be a non-empty string, got {value!r}")
    return value


def parse_reading(record: KinesisRecord) -> dict[str, Any]:
    """The ReadingInput of one record; MalformedReadingError or RecordError if it has none."""
    reading = record.json()
    if not isinstance(reading, dict):
        raise MalformedReadingError(f"expected a JSON object, got a JSON {type(reading).__name__}")
    value = reading.get("value")
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise MalformedReadingError(f"value must be a finite number, got {value!r}")
    recorded_at = _text(reading, "recordedAt")
    try:
        moment = datetime.fromisoformat(recorded_at.replace("Z", "+00:00"))
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None:
        raise MalformedReadingError(f"recordedAt must be an ISO 8601 time with a zone, got {recorded_at!r}")
    unit = reading.get("unit")
    return {
        "deviceId": _text(reading, "deviceId"),
        "metric": _text(reading, "metric"),
        "value": float(value),
        "unit": unit if isinstance(unit, str) else None,
        "recordedAt": recorded_at,
    }


@bridge.kinesis(PUBLISH_READING)  # ordered by the record's partition key: the device id
def handler(record: KinesisRecord) -> dict[str, Any] | None:
    """Publish one reading; skip (with a warning) a reading that can never be published."""
    try:
        reading = parse_reading(record)
    except (MalformedReadingError, RecordError) as error:
        reason = str(error).removeprefix(f"{record.describe()}: ")  # RecordError names the record too
        logger.warning("skipping malformed reading %s: %s", record.describe(), reason)
        return None
    # seq lets dashboards drop a reading they already showed when Lambda re-delivers a batch.
    return {"input": {**reading, "seq": record.sequence_number}}
