"""API Gateway (HTTP API) -> AppSync: order status changes POSTed by the shop's backend, live on order pages.

The backend POSTs to ``/orders/status`` one change, or an array of them in the order they happened::

    [{"orderId": "o-1", "status": "PAID", "amount": 42.5, "at": "2026-01-01T10:00:00Z"},
     {"orderId": "o-1", "status": "SHIPPED"}]

Each item becomes one ``publishOrderStatus`` mutation, which order pages receive through
``onOrderStatus(orderId)``. An order's changes reach AppSync in the order of the body; different orders
go at the same time (``partition_key``). The answer tells the backend what to do: 200 (all published),
422 with the items that cannot be published as they are (this function's checks below, AppSync's
resolver), 503 with Retry-After (AppSync throttling or down: send the same request again). Sent again
under the same ``Idempotency-Key`` header, a request publishes only what it had not published yet
(the stack's DynamoDB table remembers; without the table, at least once).
"""

from __future__ import annotations

import os
from datetime import datetime, timezone
from typing import Any

from streambridge import Bridge, DynamoDBIdempotencyStore, HttpItem

# URL from STREAMBRIDGE_APPSYNC_URL, IAM auth from the Lambda role: no I/O here (cold start)
_TABLE = os.environ.get("IDEMPOTENCY_TABLE")
bridge = Bridge(idempotency=DynamoDBIdempotencyStore(_TABLE, ttl=24 * 3600) if _TABLE else None)

STATUSES = frozenset(("CREATED", "PAID", "SHIPPED", "DELIVERED", "CANCELLED"))

PUBLISH_ORDER_STATUS = """
mutation PublishOrderStatus($input: OrderStatusInput!) {
  publishOrderStatus(input: $input) { orderId status amount at sender }
}
"""


def aws_datetime(moment: datetime) -> str:
    """An AppSync ``AWSDateTime``: ISO 8601 in UTC, ``2026-01-01T00:00:00Z``."""
    return moment.astimezone(timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")


@bridge.http(PUBLISH_ORDER_STATUS, partition_key=lambda item: item.get("orderId"))
def handler(item: HttpItem) -> dict[str, Any]:
    """Publish one order status change; a change this API does not take fails its item (422)."""
    order_id, status, amount = item.get("orderId"), item.get("status"), item.get("amount")
    if not isinstance(order_id, str) or not order_id:
        raise ValueError("orderId must be a non-empty string")
    if status not in STATUSES:
        raise ValueError(f"status must be one of {', '.join(sorted(STATUSES))}")
    if amount is not None and (isinstance(amount, bool) or not isinstance(amount, (int, float))):
        raise ValueError("amount must be a number")
    caller = item.request.authorizer.get("iam") or {}
    return {
        "input": {
            "orderId": order_id,
            "status": status,
            "amount": amount,
            "at": item.get("at") or aws_datetime(item.request.time),  # AppSync checks it is an AWSDateTime
            "sender": caller.get("userArn"),
        }
    }
