"""Kinesis Data Streams for DynamoDB -> AppSync: every change of an order reaches its subscribers, in order.

The Orders table streams its changes to a Kinesis data stream. Unlike DynamoDB Streams, Kinesis may deliver
an order's changes out of order and more than once (DynamoDB developer guide, "Using Kinesis Data Streams to
capture changes to DynamoDB"). ``@bridge.kinesis_dynamodb`` orders each order's changes of a batch by their
creation time and publishes a change delivered twice once; each change carries ``changedAt`` (its creation
time, to the microsecond) so that a client can drop a change older than one it already shows, the one case a
batch cannot see: an older change arriving in a later batch.

Deletions by Time to Live are not shown to clients; an order deleted by the application is published with
status ``DELETED``. Configuration comes from the environment: STREAMBRIDGE_APPSYNC_URL, and the Lambda
role's credentials for IAM signing.
"""

from __future__ import annotations

from typing import Any

from streambridge import Bridge, KinesisDynamoDBRecord

bridge = Bridge()  # URL from STREAMBRIDGE_APPSYNC_URL, IAM auth from the Lambda role: no I/O here

PUBLISH_ORDER = """
mutation PublishOrder($input: OrderInput!) {
  publishOrder(input: $input) { id status customer amount changedAt }
}
"""


@bridge.kinesis_dynamodb(PUBLISH_ORDER)  # ordered by the order's key, not Kinesis's partition key
def handler(record: KinesisDynamoDBRecord) -> dict[str, Any] | None:
    """Publish an order's inserts, updates and deletions; expirations by Time to Live are not shown."""
    if record.expired_by_ttl:
        return None
    if record.event_name == "REMOVE":
        order, status = record.old_image or record.keys, "DELETED"
    else:
        order = record.new_image or record.keys
        status = order["status"]
    return {
        "input": {
            "id": order["id"],
            "status": status,
            "customer": order.get("customer"),
            "amount": order.get("amount"),
            # AWSDateTime to the microsecond, fixed width so that the text sorts like the time: a client
            # drops a change older than the one it shows
            "changedAt": record.approximate_creation_time.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        }
    }
