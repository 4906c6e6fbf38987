"""AWS's own sample events, as shipped in the aws-sam-cli wheel (`make test` downloads it), for the tests.

The files carry mustache placeholders (``{{{partition_key}}}``) whose defaults, and encodings, live in
``event-mapping.json``; ``sam local generate-event`` renders them the same way.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import json
import os
import re
from pathlib import Path
from typing import Any

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
_PLACEHOLDER = re.compile(r"\{\{\{\s*([\w-]+)\s*\}\}\}")


def sam_events_dir() -> Path:
    """SAM_EVENTS_DIR, relative to the repository root unless absolute."""
    path = Path(os.environ.get("SAM_EVENTS_DIR", ".cache/sam-events"))
    return path if path.is_absolute() else REPO_ROOT / path


@functools.cache
def _event_mapping() -> dict[str, Any]:
    path = sam_events_dir() / "event-mapping.json"
    if not path.is_file():
        pytest.fail(f"AWS SAM sample events not found at {path}; run `make .cache/sam-events/.stamp`")
    result: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return result


def _transform(properties: dict[str, Any], value: str) -> str:
    # Same steps as samcli.lib.generated_sample_events.events.Events.transform_val
    if properties.get("encoding") == "base64":
        value = base64.b64encode(value.encode()).decode()
    if properties.get("hashing") == "md5":
        value = hashlib.md5(value.encode(), usedforsecurity=False).hexdigest()
    return value


def _defaults(service: str, filename: str) -> dict[str, str]:
    for entry in _event_mapping().get(service, {}).values():
        if entry["filename"] != filename:
            continue
        values: dict[str, str] = {}
        for tag, properties in entry["tags"].items():
            default = str(properties.get("default", ""))
            # Tags are spelled partition-key in the mapping and partition_key in the templates.
            values[tag.replace("-", "_")] = _transform(properties, default)
            for child, child_properties in properties.get("children", {}).items():
                values[child.replace("-", "_")] = _transform(child_properties, default)
        return values
    return {}


def load_sam_event(name: str) -> dict[str, Any]:
    """``dynamodb/DynamoDBUpdate`` -> that sample event, placeholders rendered with their defaults."""
    service, _, filename = name.partition("/")
    path = sam_events_dir() / "events" / service / f"{filename}.json"
    if not path.is_file():
        pytest.fail(f"no AWS SAM sample event {path}; run `make .cache/sam-events/.stamp`")
    values = _defaults(service, filename)
    # Unknown placeholders render empty, as mustache does; values are escaped for their JSON string.
    text = _PLACEHOLDER.sub(
        lambda m: json.dumps(values.get(m.group(1), ""))[1:-1], path.read_text(encoding="utf-8")
    )
    event: dict[str, Any] = json.loads(text)
    return event


# The event a metric alarm's Lambda action sends, from the CloudWatch User Guide, "Invoke a Lambda
# function from an alarm" (https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/alarms-and-actions-Lambda.html).
METRIC_ALARM_EVENT: dict[str, Any] = {
    "source": "aws.cloudwatch",
    "alarmArn": "arn:aws:cloudwatch:us-east-1:444455556666:alarm:lambda-demo-metric-alarm",
    "accountId": "444455556666",
    "time": "2023-08-04T12:36:15.490+0000",
    "region": "us-east-1",
    "alarmData": {
        "alarmName": "lambda-demo-metric-alarm",
        "state": {"value": "ALARM", "reason": "test", "timestamp": "2023-08-04T12:36:15.490+0000"},
        "previousState": {
            "value": "INSUFFICIENT_DATA",
            "reason": "Insufficient Data: 5 datapoints were unknown.",
            "reasonData": '{"version":"1.0","queryDate":"2023-08-04T12:31:29.591+0000","statistic":"Average",'
            '"period":60,"recentDatapoints":[],"threshold":5.0,"evaluatedDatapoints":'
            '[{"timestamp":"2023-08-04T12:30:00.000+0000"}]}',
            "timestamp": "2023-08-04T12:31:29.595+0000",
        },
        "configuration": {
            "description": "Metric Alarm to test Lambda actions",
            "metrics": [
                {
                    "id": "1234e046-06f0-a3da-9534-EXAMPLEe4c",
                    "metricStat": {
                        "metric": {
                            "namespace": "AWS/Logs",
                            "name": "CallCount",
                            "dimensions": {"InstanceId": "i-12345678"},
                        },
                        "period": 60,
                        "stat": "Average",
                        "unit": "Percent",
                    },
                    "returnData": True,
                }
            ],
        },
    },
}
