"""EventBridge -> AppSync: shipment status changes, live on the order page.

The shipping service puts ``ShipmentStatusChanged`` events (source ``com.example.shipping``) on the
default event bus; the rule in template.yaml matches them and invokes this function, one event per
invocation. EventBridge delivers at least once and in no guaranteed order, and Lambda retries a failed
event a minute or two later, after newer ones. So the stale guard keeps, per shipment, the time of the
newest change published (a DynamoDB table, ``SHIPMENT_VERSIONS_TABLE``) and skips a change older than it:
an order page never goes back from DELIVERED to IN_TRANSIT. Each change also carries ``eventId`` and
``updatedAt`` (the event's time) for clients to drop duplicates.

An event this handler does not know is skipped; a known event without the fields it needs raises
``DeliveryFailedError`` so that Lambda retries it and then hands it to the on-failure destination.
"""

from __future__ import annotations

import os
from datetime import datetime, timezone
from typing import Any

from streambridge import Bridge, DynamoDBVersionStore, EventBridgeEvent

# URL from STREAMBRIDGE_APPSYNC_URL, IAM auth from the Lambda role; the version table's client is made on
# the first event: no I/O here.
versions = DynamoDBVersionStore(os.environ.get("SHIPMENT_VERSIONS_TABLE", "shipment-versions"))
bridge = Bridge(stale_guard=versions)

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


def shipment(event: EventBridgeEvent) -> str | None:
    """The guard's key: one version per shipment (EventBridge's own key, source and detail-type, is one
    for every shipment). An event without a shipment id is not guarded, and fails in the handler."""
    shipment_id = event.detail.get("shipmentId")
    return shipment_id if isinstance(shipment_id, str) else None


# The version is the event's time (EventBridge's own, in whole seconds): a change stamped earlier than
# the last one published for its shipment is skipped. Two changes within one second both go, in arrival
# order; a producer that numbers its changes would pass version=lambda e: e.detail["revision"].
@bridge.eventbridge(PUBLISH_SHIPMENT, partition_key=shipment)
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
