"""Aurora -> AppSync: a database trigger publishes every stock change of the inventory table.

The Aurora MySQL trigger (``lambda_async``) or the Aurora PostgreSQL trigger function
(``aws_lambda.invoke`` with ``'Event'``) in trigger.sql invokes this function with the changed row as a
JSON object (snake_case keys, see ``FIELDS``). Each invocation carries one change; invocations run
concurrently and in no guaranteed order, so each change carries the row's ``version`` and clients keep
the highest one per (sku, warehouse).

A payload that is not what trigger.sql sends fails loudly (``DeliveryFailedError`` naming the missing
key) rather than being skipped: it means the trigger and this handler disagree, and the event should end
in the on-failure destination where someone looks. A ``lambda_sync`` caller gets the error message.
"""

from __future__ import annotations

from typing import Any

from streambridge import AuroraEvent, Bridge

bridge = Bridge()  # URL from STREAMBRIDGE_APPSYNC_URL, IAM auth from the Lambda role: no I/O here

PUBLISH_INVENTORY = """
mutation PublishInventory($input: InventoryInput!) {
  publishInventory(input: $input) { sku warehouse quantity version updatedAt }
}
"""

# payload key (what trigger.sql builds) -> InventoryInput field
FIELDS = {
    "sku": "sku",
    "warehouse": "warehouse",
    "quantity": "quantity",
    "version": "version",
    "updated_at": "updatedAt",
}
REQUIRED = ("sku", "warehouse", "quantity", "version")


@bridge.aurora(PUBLISH_INVENTORY)
def handler(change: AuroraEvent) -> dict[str, Any]:
    """Publish the new stock level of one inventory row."""
    missing = [key for key in REQUIRED if change.get(key) is None]
    if missing:
        raise ValueError(f"the payload has no {', '.join(missing)}: does trigger.sql match this handler?")
    row = {field: change.get(key) for key, field in FIELDS.items()}
    row["sku"] = str(row["sku"])
    return {"input": row}
