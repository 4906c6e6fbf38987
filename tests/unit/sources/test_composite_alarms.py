"""Composite alarms: ``is_composite`` and ``alarm_rule`` on both deliveries, and the builder that makes them.

Shapes: the Lambda alarm action event of a composite alarm is the CloudWatch user guide's example ("Invoke
a Lambda function from an alarm", https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/AlarmThatSendsEmail.html);
its ``configuration`` holds ``alarmRule``. Through SNS the rule is the message's ``AlarmRule`` (the name of
the ``CompositeAlarm`` field, https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_CompositeAlarm.html)
and ``configuration`` is ``{}``.
"""

from __future__ import annotations

import json
from typing import Any

from streambridge import AlarmEvent
from streambridge._sources import SOURCES
from streambridge.testing import events
from tests.unit.sources.test_source_cloudwatch_alarm import COMPOSITE_ALARM_EVENT, SNS_ALARM_MESSAGE

parse = SOURCES["cloudwatch_alarm"].parse
RULE = "ALARM(CompositeDemo.FirstChild) OR ALARM(CompositeDemo.SecondChild)"


def _sns(message: dict[str, Any]) -> dict[str, Any]:
    event = events.cloudwatch_alarm(via="sns")
    event["Records"][0]["Sns"]["Message"] = json.dumps(message)
    return event


def test_the_lambda_action_of_a_composite_alarm_has_its_rule() -> None:
    (alarm,) = parse(COMPOSITE_ALARM_EVENT)
    assert alarm.is_composite
    assert alarm.alarm_rule == RULE


def test_an_sns_notification_of_a_composite_alarm_has_its_rule() -> None:
    # GIVEN the SNS message of a composite alarm: AlarmRule instead of Trigger
    message = {k: v for k, v in SNS_ALARM_MESSAGE.items() if k != "Trigger"} | {"AlarmRule": RULE}
    (alarm,) = parse(_sns(message))
    assert alarm.delivery == "sns"
    assert alarm.is_composite
    assert alarm.alarm_rule == RULE
    assert alarm.configuration == {}


def test_a_metric_alarm_is_not_composite_on_either_delivery() -> None:
    for via in ("lambda", "sns"):
        (alarm,) = parse(events.cloudwatch_alarm(via=via))  # type: ignore[arg-type]
        assert not alarm.is_composite
        assert alarm.alarm_rule is None
    (alarm,) = parse(_sns(SNS_ALARM_MESSAGE))
    assert not alarm.is_composite


def test_the_builder_makes_a_composite_alarm_for_the_lambda_action() -> None:
    event = events.cloudwatch_alarm("Checkout", alarm_rule='ALARM("HighErrors") OR ALARM(HighLatency)')
    configuration = event["alarmData"]["configuration"]
    assert configuration["alarmRule"] == 'ALARM("HighErrors") OR ALARM(HighLatency)'
    assert "metrics" not in configuration
    reason = json.loads(event["alarmData"]["state"]["reasonData"])
    assert (
        reason["triggeringAlarms"][0]["arn"] == "arn:aws:cloudwatch:us-east-1:123456789012:alarm:HighErrors"
    )
    assert event["alarmData"]["state"]["reason"].startswith(
        "arn:aws:cloudwatch:us-east-1:123456789012:alarm:HighErrors transitioned to ALARM at "
    )
    (alarm,) = parse(event)
    assert isinstance(alarm, AlarmEvent)
    assert (alarm.alarm_name, alarm.is_composite, alarm.state) == ("Checkout", True, "ALARM")


def test_the_builder_makes_a_composite_alarm_through_sns() -> None:
    event = events.cloudwatch_alarm(
        "Checkout", state="OK", previous_state="ALARM", via="sns", alarm_rule=RULE
    )
    message = json.loads(event["Records"][0]["Sns"]["Message"])
    assert message["AlarmRule"] == RULE
    assert "Trigger" not in message
    (alarm,) = parse(event)
    assert (alarm.is_composite, alarm.alarm_rule, alarm.state, alarm.configuration) == (True, RULE, "OK", {})


def test_the_builder_refuses_an_empty_rule() -> None:
    import pytest

    with pytest.raises(ValueError, match="alarm_rule"):
        events.cloudwatch_alarm(alarm_rule=" ")
