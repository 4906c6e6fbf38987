"""DynamoDB Streams -> AppSync Events: every chat message reaches the subscribers of its room.

The table holds one item per message (partition key ``roomId``, sort key ``messageId``); its stream
carries both images. Each change becomes one event on the room's channel ``/rooms/{roomId}``:

- ``INSERT``  -> ``{"type": "message", ...}``: a new message.
- ``MODIFY``  -> ``{"type": "edited", ...}``: the message's new text (only when the text changed).
- ``REMOVE``  -> ``{"type": "deleted", "roomId", "messageId"}`` when someone deleted it (a moderator, its
  author): clients must take it off their screens. A deletion by DynamoDB Time to Live (old history
  expiring) is skipped: it is housekeeping, not something that happened in the room.

Every event carries ``seq``, the stream sequence number of its change, so that a client drops an event it
has already applied when Lambda re-delivers a batch (delivery is at least once).

Configuration comes from the environment: STREAMBRIDGE_APPSYNC_URL is the Event API's HTTP endpoint
(``https://<Dns.Http>/event``); the Lambda role's credentials sign the requests (IAM,
``appsync:EventPublish``).
"""

from __future__ import annotations

from typing import Any

from streambridge import Bridge, DynamoDBRecord

__all__ = ["NAMESPACE", "bridge", "channel_of", "handler"]

NAMESPACE = "rooms"  # the template's AWS::AppSync::ChannelNamespace

bridge = Bridge()  # URL from STREAMBRIDGE_APPSYNC_URL, IAM auth from the Lambda role: no I/O here


def channel_of(room_id: str) -> str:
    """The channel of a room: ``/rooms/{roomId}`` (room ids are letters, digits and dashes)."""
    return f"/{NAMESPACE}/{room_id}"


def _room(record: DynamoDBRecord) -> str:
    """The room of any change, REMOVE included (its keys are always in the record)."""
    return str(record.keys["roomId"])


def _channel(record: DynamoDBRecord) -> str:
    return channel_of(_room(record))


# Every change goes to its room's channel (channel=), and one room's changes are published in stream order
# (partition_key=): a room's message is never published before one the stream delivered earlier, and an
# edit or deletion never overtakes its message.
@bridge.dynamodb(channel=_channel, partition_key=_room)
def handler(record: DynamoDBRecord) -> dict[str, Any] | None:
    """The payload of the event for one change of the messages table, or None to publish nothing."""
    room = _room(record)
    message_id = str(record.keys["messageId"])
    seq = record.sequence_number

    if record.event_name == "REMOVE":
        if record.expired_by_ttl:
            return None
        return {"type": "deleted", "roomId": room, "messageId": message_id, "seq": seq}

    message = record.new_image or {}
    if record.event_name == "MODIFY":
        before = record.old_image or {}
        if before.get("text") == message.get("text"):
            return None  # e.g. a reaction counter or a read marker changed: nothing to show
        return _payload("edited", room, message_id, message, seq)
    return _payload("message", room, message_id, message, seq)


def _payload(kind: str, room: str, message_id: str, message: dict[str, Any], seq: str) -> dict[str, Any]:
    """What clients see of a message: never the whole item (it may hold attributes clients must not see)."""
    return {
        "type": kind,
        "roomId": room,
        "messageId": message_id,
        "author": message.get("author"),
        "text": message.get("text"),
        "sentAt": message.get("sentAt"),
        "editedAt": message.get("editedAt"),
        "seq": seq,
    }
