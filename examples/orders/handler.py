"""DynamoDB Streams -> AppSync: every change of an order reaches its subscribers, in order.

Deploy with the stream's event source mapping set to ReportBatchItemFailures. Configuration comes from the
environment: STREAMBRIDGE_APPSYNC_URL, and the Lambda role's credentials for IAM signing.
"""

from __future__ import annotations

from typing import Any

from streambridge import Bridge, DynamoDBRecord

bridge = Bridge()  # URL from STREAMBRIDGE_APPSYNC_URL, IAM auth from the Lambda role: no I/O here

PUBLISH_ORDER = """
mutation PublishOrder($input: OrderInput!) {
  publishOrder(input: $input) { id status customer amount updatedAt seq }
}
"""


@bridge.dynamodb(PUBLISH_ORDER)
def handler(record: DynamoDBRecord) -> dict[str, Any] | None:
    """Publish inserts and updates of an order; deletions are not shown to clients."""
    if record.event_name == "REMOVE":
        return None
    order = record.new_image
    return {
        "input": {
            "id": order["id"],
            "status": order["status"],
            "customer": order.get("customer"),
            "amount": order.get("amount"),
            "updatedAt": order.get("updatedAt"),
            # Lets clients drop a change they already saw when Lambda re-delivers a batch.
            "seq": record.sequence_number,
        }
    }
