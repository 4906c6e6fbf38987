"""CloudWatch alarm state changes: the Lambda alarm action event and the SNS-wrapped notification."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any

import pytest

from streambridge import AlarmEvent
from streambridge._errors import EventShapeError, RecordError
from streambridge._sources import SOURCES
from tests.aws_samples import METRIC_ALARM_EVENT

SamEvent = Callable[[str], dict[str, Any]]
parse = SOURCES["cloudwatch_alarm"].parse

# The composite-alarm event from the same page (abridged reasonData).
COMPOSITE_ALARM_EVENT: dict[str, Any] = {
    "source": "aws.cloudwatch",
    "alarmArn": "arn:aws:cloudwatch:us-east-1:111122223333:alarm:SuppressionDemo.Main",
    "accountId": "111122223333",
    "time": "2023-08-04T12:56:46.138+0000",
    "region": "us-east-1",
    "alarmData": {
        "alarmName": "CompositeDemo.Main",
        "state": {
            "value": "ALARM",
            "reason": "arn:aws:cloudwatch:us-east-1:111122223333:alarm:CompositeDemo.FirstChild "
            "transitioned to ALARM at Friday 04 August, 2023 12:54:46 UTC",
            "reasonData": '{"triggeringAlarms":[]}',
            "timestamp": "2023-08-04T12:56:46.138+0000",
        },
        "previousState": {
            "value": "ALARM",
            "reason": "arn:aws:cloudwatch:us-east-1:111122223333:alarm:CompositeDemo.FirstChild "
            "transitioned to ALARM at Friday 04 August, 2023 12:54:46 UTC",
            "reasonData": '{"triggeringAlarms":[]}',
            "timestamp": "2023-08-04T12:54:46.138+0000",
            "actionsSuppressedBy": "WaitPeriod",
            "actionsSuppressedReason": "Actions suppressed by WaitPeriod",
        },
        "configuration": {
            "alarmRule": "ALARM(CompositeDemo.FirstChild) OR ALARM(CompositeDemo.SecondChild)",
            "actionsSuppressor": "CompositeDemo.ActionsSuppressor",
            "actionsSuppressorWaitPeriod": 120,
            "actionsSuppressorExtensionPeriod": 180,
        },
    },
}

# The message CloudWatch publishes to an SNS topic for an alarm action (field names as CloudWatch
# writes them; "Region" is a display name, not a code). See the CloudWatch User Guide, "Notifying users
# on alarm changes" (https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/Notify_Users_Alarm_Changes.html).
SNS_ALARM_MESSAGE: dict[str, Any] = {
    "AlarmName": "eng-1332",
    "AlarmDescription": None,
    "AWSAccountId": "123456789012",
    "NewStateValue": "ALARM",
    "NewStateReason": "Threshold Crossed: 1 out of the last 1 datapoints [424.2 (14/10/20 14:13:00)] was "
    "greater than the threshold (1.0) (minimum 1 datapoint for OK -> ALARM transition).",
    "StateChangeTime": "2020-10-15T14:13:14.090+0000",
    "Region": "US East (N. Virginia)",
    "AlarmArn": "arn:aws:cloudwatch:us-east-1:123456789012:alarm:eng-1332",
    "OldStateValue": "INSUFFICIENT_DATA",
    "Trigger": {
        "MetricName": "EstimatedCharges",
        "Namespace": "AWS/Billing",
        "StatisticType": "Statistic",
        "Statistic": "MAXIMUM",
        "Unit": None,
        "Dimensions": [{"value": "USD", "name": "Currency"}],
        "Period": 86400,
        "EvaluationPeriods": 1,
        "ComparisonOperator": "GreaterThanThreshold",
        "Threshold": 1.0,
    },
}


def _sns_event(sam_event: SamEvent, *messages: dict[str, Any]) -> dict[str, Any]:
    """AWS's sample SNS event (the wrapper Lambda receives), one record per alarm message."""
    template = sam_event("sns/Sns")["Records"][0]
    records = []
    for number, message in enumerate(messages):
        record = copy.deepcopy(template)
        record["Sns"]["Message"] = json.dumps(message)
        record["Sns"]["MessageId"] = f"95df01b4-ee98-5cb9-9903-4c221d41eb5{number}"
        records.append(record)
    return {"Records": records}


def _alarms(event: Any) -> list[AlarmEvent]:
    records = parse(event)
    assert all(isinstance(r, AlarmEvent) for r in records)
    return records  # type: ignore[return-value]


def test_lambda_action_metric_alarm() -> None:
    # GIVEN the metric alarm event a Lambda alarm action sends
    event = copy.deepcopy(METRIC_ALARM_EVENT)

    # WHEN parsed
    (alarm,) = _alarms(event)

    # THEN the normalized properties read
    assert alarm.delivery == "lambda"
    assert alarm.alarm_name == "lambda-demo-metric-alarm"
    assert alarm.default_partition_key == "lambda-demo-metric-alarm"
    assert alarm.alarm_arn == "arn:aws:cloudwatch:us-east-1:444455556666:alarm:lambda-demo-metric-alarm"
    assert alarm.state == "ALARM"
    assert alarm.previous_state == "INSUFFICIENT_DATA"
    assert alarm.reason == "test"
    assert alarm.state_change_time == datetime(2023, 8, 4, 12, 36, 15, 490000, tzinfo=timezone.utc)
    assert alarm.region == "us-east-1"
    assert alarm.account_id == "444455556666"
    assert alarm.configuration["description"] == "Metric Alarm to test Lambda actions"
    assert alarm.sns_message is None
    assert alarm.item_identifier == (
        "arn:aws:cloudwatch:us-east-1:444455556666:alarm:lambda-demo-metric-alarm@2023-08-04T12:36:15.490+0000"
    )


def test_lambda_action_composite_alarm() -> None:
    # GIVEN the composite alarm event / WHEN parsed
    (alarm,) = _alarms(copy.deepcopy(COMPOSITE_ALARM_EVENT))

    # THEN the rule is in configuration and the state is read from alarmData
    assert alarm.alarm_name == "CompositeDemo.Main"
    assert alarm.state == alarm.previous_state == "ALARM"
    assert alarm.configuration["alarmRule"].startswith("ALARM(CompositeDemo.FirstChild)")
    assert alarm.state_change_time == datetime(2023, 8, 4, 12, 56, 46, 138000, tzinfo=timezone.utc)


def test_sns_notification_reads_the_same_properties(sam_event: SamEvent) -> None:
    # GIVEN AWS's sample SNS event carrying a CloudWatch alarm notification
    event = _sns_event(sam_event, SNS_ALARM_MESSAGE)

    # WHEN parsed
    (alarm,) = _alarms(event)

    # THEN the same normalized properties read from the message
    assert alarm.delivery == "sns"
    assert alarm.item_identifier == "95df01b4-ee98-5cb9-9903-4c221d41eb50"
    assert alarm.alarm_name == "eng-1332"
    assert alarm.default_partition_key == "eng-1332"
    assert alarm.alarm_arn == "arn:aws:cloudwatch:us-east-1:123456789012:alarm:eng-1332"
    assert alarm.state == "ALARM"
    assert alarm.previous_state == "INSUFFICIENT_DATA"
    assert alarm.reason.startswith("Threshold Crossed")
    assert alarm.state_change_time == datetime(2020, 10, 15, 14, 13, 14, 90000, tzinfo=timezone.utc)
    assert alarm.region == "us-east-1"  # the code from the ARN, not "US East (N. Virginia)"
    assert alarm.account_id == "123456789012"
    assert alarm.configuration == {}
    assert alarm.sns_message is not None
    assert alarm.sns_message["Trigger"]["MetricName"] == "EstimatedCharges"


def test_old_sns_notification_without_arn_keeps_display_region(sam_event: SamEvent) -> None:
    # GIVEN an older notification that has no AlarmArn
    message = {k: v for k, v in SNS_ALARM_MESSAGE.items() if k != "AlarmArn"}

    # WHEN parsed
    (alarm,) = _alarms(_sns_event(sam_event, message))

    # THEN alarm_arn is None and region falls back on the display name
    assert alarm.alarm_arn is None
    assert alarm.region == "US East (N. Virginia)"


def test_one_alarm_per_sns_record(sam_event: SamEvent) -> None:
    # GIVEN two SNS records / WHEN parsed / THEN two alarms, indexed in order
    second = {**SNS_ALARM_MESSAGE, "AlarmName": "other", "NewStateValue": "OK"}
    alarms = _alarms(_sns_event(sam_event, SNS_ALARM_MESSAGE, second))
    assert [(a.index, a.alarm_name, a.state) for a in alarms] == [
        (0, "eng-1332", "ALARM"),
        (1, "other", "OK"),
    ]


def test_sns_message_that_is_not_an_alarm_is_a_record_error(sam_event: SamEvent) -> None:
    # GIVEN AWS's sample SNS event as is (its message is "example message")
    (alarm,) = _alarms(sam_event("sns/Sns"))

    # WHEN an alarm property is read / THEN RecordError naming the record
    with pytest.raises(
        RecordError, match=r"^CloudWatch alarm record #0 \(95df01b4-.*\): Sns\.Message is not valid JSON"
    ):
        _ = alarm.alarm_name


def test_sns_json_message_without_alarm_fields(sam_event: SamEvent) -> None:
    # GIVEN an SNS message that is JSON but not an alarm / WHEN read / THEN RecordError
    (alarm,) = _alarms(_sns_event(sam_event, {"hello": "world"}))
    with pytest.raises(RecordError, match="not a CloudWatch alarm notification"):
        _ = alarm.state


def test_missing_field_in_sns_alarm_is_a_record_error(sam_event: SamEvent) -> None:
    # GIVEN an alarm notification without StateChangeTime / WHEN read / THEN RecordError with the path
    message = {k: v for k, v in SNS_ALARM_MESSAGE.items() if k != "StateChangeTime"}
    (alarm,) = _alarms(_sns_event(sam_event, message))
    with pytest.raises(RecordError, match=r"Sns\.Message\.StateChangeTime is missing"):
        _ = alarm.state_change_time


def test_sns_record_without_message_id_is_an_event_shape_error(sam_event: SamEvent) -> None:
    # GIVEN an SNS record without MessageId / WHEN parsed / THEN EventShapeError
    event = _sns_event(sam_event, SNS_ALARM_MESSAGE)
    del event["Records"][0]["Sns"]["MessageId"]
    with pytest.raises(EventShapeError, match=r"without Sns\.MessageId \(record #0"):
        parse(event)


def test_eventbridge_alarm_state_change_points_to_eventbridge_handler() -> None:
    # GIVEN an alarm state change as an EventBridge rule delivers it
    # (https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/cloudwatch-and-eventbridge.html)
    event = {
        "version": "0",
        "id": "c4c1c1c9-6542-e61b-6ef0-8c4d36933a92",
        "detail-type": "CloudWatch Alarm State Change",
        "source": "aws.cloudwatch",
        "account": "123456789012",
        "time": "2019-10-02T17:04:40Z",
        "region": "us-east-1",
        "resources": ["arn:aws:cloudwatch:us-east-1:123456789012:alarm:ServerCpuTooHigh"],
        "detail": {"alarmName": "ServerCpuTooHigh", "state": {"value": "ALARM"}},
    }

    # WHEN the alarm handler parses it / THEN the error says to use the eventbridge handler
    with pytest.raises(EventShapeError, match="use the eventbridge handler"):
        parse(event)


@pytest.mark.parametrize(
    ("name", "what"),
    [
        ("dynamodb/DynamoDBUpdate", "an aws:dynamodb record (record #0, eventID c4ca4238"),
        ("sqs/Sqs", "an aws:sqs record (record #0, messageId 19dd0b57"),
    ],
)
def test_other_batch_events_are_refused(sam_event: SamEvent, name: str, what: str) -> None:
    # GIVEN a batch from another source / WHEN the alarm handler parses it / THEN EventShapeError
    with pytest.raises(EventShapeError) as caught:
        parse(sam_event(name))
    assert str(caught.value).startswith(f"cloudwatch_alarm handler received {what}")


@pytest.mark.parametrize("event", [[], "alarm", None, {}, {"source": "aws.cloudwatch"}])
def test_garbage_is_an_event_shape_error(event: Any) -> None:
    # GIVEN something that is no alarm at all / WHEN parsed / THEN EventShapeError
    with pytest.raises(EventShapeError, match=r"^cloudwatch_alarm handler received "):
        parse(event)


def test_alarm_action_without_arn_is_an_event_shape_error() -> None:
    # GIVEN an alarm action event missing alarmArn / WHEN parsed / THEN EventShapeError (no identifier)
    event = copy.deepcopy(METRIC_ALARM_EVENT)
    del event["alarmArn"]
    with pytest.raises(EventShapeError, match="without alarmArn and alarmData"):
        parse(event)


def test_malformed_alarm_data_fails_lazily() -> None:
    # GIVEN an alarm action with a broken state and an unreadable timestamp
    event = copy.deepcopy(METRIC_ALARM_EVENT)
    event["alarmData"]["state"] = {"value": "ALARM", "timestamp": "04/08/2023"}
    event["alarmData"]["previousState"] = "OK"
    (alarm,) = _alarms(event)

    # WHEN read / THEN RecordErrors with the path; what is fine still reads
    assert alarm.state == "ALARM"
    with pytest.raises(RecordError, match=r"alarmData\.state\.reason is missing"):
        _ = alarm.reason
    with pytest.raises(RecordError, match=r"alarmData\.previousState is 'OK', expected dict"):
        _ = alarm.previous_state
    with pytest.raises(RecordError, match=r"alarmData\.state\.timestamp '04/08/2023' is not an ISO 8601"):
        _ = alarm.state_change_time
