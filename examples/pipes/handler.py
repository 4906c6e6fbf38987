"""DynamoDB Streams -> EventBridge Pipes -> AppSync: every change of a parcel reaches its tracking page.

A pipe reads the Parcels table's stream, drops deletions with its filter, and invokes this function with a
JSON array of stream records (a pipe sends no ``Records`` wrapper, even for one record). The decorator
reads that array as it reads an event source mapping's batch: the same record view, the same order per
parcel, the same hold-back after a failure. It answers ``batchItemFailures`` naming each failed record by
its ``eventID``, as a pipe expects (docs/sources/pipes.md).
"""

from __future__ import annotations

from typing import Any

from streambridge import Bridge, DynamoDBRecord

bridge = Bridge()  # URL from STREAMBRIDGE_APPSYNC_URL, IAM auth from the Lambda role: no I/O here

PUBLISH_PARCEL = """
mutation PublishParcel($input: ParcelInput!) {
  publishParcel(input: $input) { id status location updatedAt seq }
}
"""


@bridge.dynamodb(PUBLISH_PARCEL)  # ordered by the item's key: one parcel's changes one after the other
def handler(record: DynamoDBRecord) -> dict[str, Any] | None:
    """Publish a parcel's new state; a deletion (should the pipe's filter let one through) shows nothing."""
    parcel = record.new_image
    if parcel is None:
        return None
    return {
        "input": {
            "id": parcel["id"],
            "status": parcel["status"],
            "location": parcel.get("location"),
            "updatedAt": parcel.get("updatedAt"),
            # Lets a page drop a change it already showed when the pipe delivers a batch again.
            "seq": record.sequence_number,
        }
    }
