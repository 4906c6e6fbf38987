"""CloudWatch alarms -> AppSync: every alarm state change on the ops dashboard, live.

An alarm reaches the function in one of two ways, and ``AlarmEvent`` reads both the same way:
its Lambda alarm action invokes the function directly, or the alarm notifies an SNS topic that the
function subscribes to. Each invocation carries one state change, so nothing orders two changes of
one alarm: invocations run concurrently and a retry comes minutes later, and an OK can arrive before an
older ALARM. Each change therefore carries ``changedAt`` (when CloudWatch changed the state), and the
dashboard keeps the newest one per alarm name, dropping a change that is not newer.

A change that cannot be published raises ``DeliveryFailedError``: Lambda retries the asynchronous
invocation, then hands it to the function's on-failure destination (see template.yaml).
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from streambridge import AlarmEvent, Bridge

bridge = Bridge()  # URL from STREAMBRIDGE_APPSYNC_URL, IAM auth from the Lambda role: no I/O here

PUBLISH_ALARM = """
mutation PublishAlarm($input: AlarmInput!) {
  publishAlarm(input: $input) { name state previousState reason changedAt region accountId delivery }
}
"""


def aws_datetime(moment: datetime) -> str:
    """An AppSync ``AWSDateTime``: ISO 8601 in UTC with milliseconds, ``2026-01-01T00:00:00.000Z``."""
    return moment.astimezone(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@bridge.cloudwatch_alarm(PUBLISH_ALARM)  # one change per invocation: changedAt orders them
def handler(alarm: AlarmEvent) -> dict[str, Any]:
    """Publish one alarm state change."""
    return {
        "input": {
            "name": alarm.alarm_name,
            "state": alarm.state,
            "previousState": alarm.previous_state,
            "reason": alarm.reason,
            "changedAt": aws_datetime(alarm.state_change_time),
            "region": alarm.region,
            "accountId": alarm.account_id,
            "delivery": alarm.delivery,
        }
    }
