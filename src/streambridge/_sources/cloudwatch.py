"""CloudWatch alarm state changes, delivered straight by the alarm's Lambda action or through SNS.

The two deliveries carry the same facts under different names; ``AlarmEvent`` reads both:

- Lambda action: ``{"source": "aws.cloudwatch", "alarmArn", "accountId", "time", "region",
  "alarmData": {"alarmName", "state": {"value", "reason", "timestamp"...}, "previousState", ...}}``.
- SNS: ``{"Records": [{"EventSource": "aws:sns", "Sns": {"MessageId", "Message": "<JSON text>"}}]}``
  whose message holds ``AlarmName``, ``NewStateValue``, ``OldStateValue``, ``NewStateReason``,
  ``StateChangeTime``, ``Region`` (a display name such as ``US East (N. Virginia)``), ``AlarmArn``...

A composite alarm's rule is ``alarmData.configuration.alarmRule`` in the Lambda action event and
``AlarmRule`` in the SNS message (which then has no ``Trigger``): ``alarm_rule`` and ``is_composite`` read
either.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from streambridge._errors import EventShapeError, RecordError
from streambridge._sources._base import Source, SourceRecord, cached
from streambridge._sources._common import (
    describe_event,
    field,
    iso_time,
    load_json,
    missing_identifier,
    optional_field,
    time_version,
    wrong_source,
)

__all__ = ["SOURCE", "AlarmEvent", "parse"]

_HANDLER = "cloudwatch_alarm"


class AlarmEvent(SourceRecord):
    """One alarm state change, the same properties whether it came from the Lambda action or SNS."""

    source_title: ClassVar[str] = "CloudWatch alarm"

    def __init__(self, raw: Mapping[str, Any], index: int = 0) -> None:
        super().__init__(raw, index)
        sns = raw.get("Sns")
        if isinstance(sns, Mapping):
            self._delivery: Literal["lambda", "sns"] = "sns"
            message_id = sns.get("MessageId")
            if not isinstance(message_id, str) or not message_id:
                raise missing_identifier(_HANDLER, "Sns.MessageId", raw, index)
            self._identifier = message_id
            return
        arn, time = raw.get("alarmArn"), raw.get("time")
        if not isinstance(raw.get("alarmData"), Mapping) or not isinstance(arn, str) or not arn:
            raise EventShapeError(
                f"{_HANDLER} handler received {describe_event(raw)} without alarmArn and alarmData; "
                "expected a CloudWatch alarm action event or an SNS notification of one"
            )
        self._delivery = "lambda"
        # An alarm can change state several times; its ARN plus the time names one change.
        self._identifier = f"{arn}@{time}" if isinstance(time, str) else arn

    @property
    def item_identifier(self) -> str:
        """``<alarm ARN>@<time>`` for the Lambda action, the SNS ``MessageId`` for SNS."""
        return self._identifier

    @property
    def default_partition_key(self) -> str:
        """The alarm name: changes of one alarm stay in order."""
        return self.alarm_name

    @property
    def delivery(self) -> Literal["lambda", "sns"]:
        """``lambda`` when the alarm invoked the function directly, ``sns`` when SNS did."""
        return self._delivery

    @cached
    def sns_message(self) -> dict[str, Any] | None:
        """The decoded SNS alarm notification (it also holds ``Trigger``); None for the Lambda action."""
        if self._delivery != "sns":
            return None
        text = field(self._raw["Sns"], "Message", str, self, "Sns.Message")
        message = load_json(text, self, "Sns.Message")
        if not isinstance(message, dict) or not isinstance(message.get("AlarmName"), str):
            raise RecordError(
                f"{self.describe()}: the SNS message is not a CloudWatch alarm notification (no AlarmName)"
            )
        return message

    @cached
    def _alarm_data(self) -> dict[str, Any]:
        return field(self._raw, "alarmData", dict, self, "alarmData")

    def _state(self, key: str) -> dict[str, Any]:
        return field(self._alarm_data, key, dict, self, f"alarmData.{key}")

    def _sns(self, key: str) -> str:
        return field(self.sns_message, key, str, self, f"Sns.Message.{key}")

    @property
    def alarm_name(self) -> str:
        """The alarm's name."""
        if self._delivery == "sns":
            return self._sns("AlarmName")
        return field(self._alarm_data, "alarmName", str, self, "alarmData.alarmName")

    @property
    def alarm_arn(self) -> str | None:
        """The alarm's ARN; None only for old SNS notifications that did not include it."""
        if self._delivery == "sns":
            return optional_field(self.sns_message, "AlarmArn", str, self, "Sns.Message.AlarmArn")
        return field(self._raw, "alarmArn", str, self, "alarmArn")

    @property
    def state(self) -> str:
        """The new state: ``ALARM``, ``OK`` or ``INSUFFICIENT_DATA``."""
        if self._delivery == "sns":
            return self._sns("NewStateValue")
        return field(self._state("state"), "value", str, self, "alarmData.state.value")

    @property
    def previous_state(self) -> str:
        """The state before this change."""
        if self._delivery == "sns":
            return self._sns("OldStateValue")
        return field(self._state("previousState"), "value", str, self, "alarmData.previousState.value")

    @property
    def reason(self) -> str:
        """CloudWatch's human-readable reason for the change."""
        if self._delivery == "sns":
            return self._sns("NewStateReason")
        return field(self._state("state"), "reason", str, self, "alarmData.state.reason")

    @cached
    def state_change_time(self) -> datetime:
        """When the alarm changed state (timezone-aware)."""
        if self._delivery == "sns":
            return iso_time(self._sns("StateChangeTime"), self, "Sns.Message.StateChangeTime")
        timestamp = self._state("state").get("timestamp")
        if timestamp is not None:
            return iso_time(timestamp, self, "alarmData.state.timestamp")
        return iso_time(self._raw.get("time"), self, "time")

    def _change_version(self) -> int:
        """The state change time, in microseconds: a later change of an alarm has a later time."""
        return time_version(self.state_change_time)

    @property
    def region(self) -> str:
        """The alarm's region code, e.g. ``us-east-1``.

        SNS notifications carry only a display name (``US East (N. Virginia)``); the code is read from
        the alarm ARN, and the display name is returned only when the notification has no ARN.
        """
        if self._delivery == "sns":
            arn = self.alarm_arn
            parts = arn.split(":") if arn else []
            return parts[3] if len(parts) > 4 and parts[3] else self._sns("Region")
        return field(self._raw, "region", str, self, "region")

    @property
    def account_id(self) -> str:
        """The AWS account that owns the alarm."""
        if self._delivery == "sns":
            return self._sns("AWSAccountId")
        return field(self._raw, "accountId", str, self, "accountId")

    @property
    def alarm_rule(self) -> str | None:
        """A composite alarm's rule, e.g. ``ALARM(HighCpu) OR ALARM(HighMemory)``; None for a metric alarm.

        The Lambda action carries it as ``alarmData.configuration.alarmRule``; SNS notifications as
        ``AlarmRule`` in the message (their ``configuration`` is ``{}``).
        """
        if self._delivery == "sns":
            return optional_field(self.sns_message, "AlarmRule", str, self, "Sns.Message.AlarmRule")
        return optional_field(self.configuration, "alarmRule", str, self, "alarmData.configuration.alarmRule")

    @property
    def is_composite(self) -> bool:
        """True for a composite alarm (its state follows a rule over other alarms); False for a metric one."""
        return self.alarm_rule is not None

    @property
    def configuration(self) -> dict[str, Any]:
        """The alarm's configuration (description, metrics or alarm rule); ``{}`` for SNS delivery.

        SNS notifications describe the metric under ``Trigger`` instead: see ``sns_message``.
        """
        if self._delivery == "sns":
            return {}
        if self._alarm_data.get("configuration") is None:
            return {}
        return field(self._alarm_data, "configuration", dict, self, "alarmData.configuration")


_EVENTBRIDGE_HINT = (
    "; alarm state changes routed by an EventBridge rule are EventBridge events: use the eventbridge "
    "handler (its detail holds alarmName and state)"
)

if TYPE_CHECKING:
    from datetime import datetime


def parse(event: Any) -> list[AlarmEvent]:
    """One record for a Lambda alarm action, one per SNS record for SNS notifications."""
    if isinstance(event, Mapping):
        if "alarmData" in event:
            return [AlarmEvent(event, 0)]
        records = event.get("Records")
        if isinstance(records, list):
            views = []
            for index, raw in enumerate(records):
                if not isinstance(raw, dict) or raw.get("EventSource") != "aws:sns":
                    raise wrong_source(_HANDLER, raw, index, "alarms reach Lambda by an alarm action or SNS")
                views.append(AlarmEvent(raw, index))
            return views
    hint = _EVENTBRIDGE_HINT if isinstance(event, Mapping) and "detail-type" in event else ""
    raise EventShapeError(
        f"{_HANDLER} handler received {describe_event(event)}, not a CloudWatch alarm action event "
        f"or an SNS notification of one{hint}"
    )


SOURCE = Source(name="cloudwatch_alarm", title="CloudWatch alarm", batch=False, parse=parse)
