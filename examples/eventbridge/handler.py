"""EventBridge -> AppSync: shipment status changes, live on the order page.

The shipping service puts ``ShipmentStatusChanged`` events (source ``com.example.shipping``) on the
default event bus; the rule in template.yaml matches them and invokes this function, one event per
invocation. EventBridge delivers at least once and in no guaranteed order, so each change carries
``eventId`` and ``updatedAt`` (the event's time) for clients to drop duplicates and stale changes.

An event this handler does not know is skipped; a known event without the fields it needs raises
``DeliveryFailedError`` so that Lambda retries it and then hands it to the on-failure destination.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from streambridge import Bridge, EventBridgeEvent

bridge = Bridge()  # URL from STREAMBRIDGE_APPSYNC_URL, IAM auth from the Lambda role: no I/O here

SOURCE = "com.example.shipping"  # the rule's event pattern matches these two (template.yaml)
DETAIL_TYPE = "ShipmentStatusChanged"

PUBLISH_SHIPMENT = """
mutation PublishShipment($input: ShipmentInput!) {
  publishShipment(input: $input) { id orderId status carrier trackingNumber eta updatedAt eventId }
}
"""


def aws_datetime(moment: datetime) -> str:
    """An AppSync ``AWSDateTime``: ISO 8601 in UTC, ``2026-01-01T00:00:00Z``."""
    return moment.astimezone(timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")


@bridge.eventbridge(PUBLISH_SHIPMENT)
def handler(event: EventBridgeEvent) -> dict[str, Any] | None:
    """Publish one shipment status change."""
    if event.source != SOURCE or event.detail_type != DETAIL_TYPE:
        return None  # not ours: the rule should not have sent it
    shipment = event.detail
    return {
        "input": {
            "id": shipment["shipmentId"],
            "orderId": shipment["orderId"],
            "status": shipment["status"],
            "carrier": shipment.get("carrier"),
            "trackingNumber": shipment.get("trackingNumber"),
            "eta": shipment.get("eta"),
            "updatedAt": aws_datetime(event.time),
            "eventId": event.id,
        }
    }
