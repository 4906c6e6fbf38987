"""Opt-in idempotency: skip records an earlier invocation already published.

Lambda delivers at least once: after a partial failure or a timeout it re-delivers records that were
already published. With a store, each published record's key is remembered (with a time to live) and a
re-delivered record is skipped instead of published twice. A store that cannot be reached never fails a
record: streambridge logs it and falls back to at-least-once.
"""

from __future__ import annotations

import json
import logging
import math
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any, Literal, Protocol

from streambridge._errors import ConfigurationError, StreambridgeError
from streambridge._sources._base import MutationOf, SourceName, SourceRecord

logger = logging.getLogger("streambridge")


def store_client(service: Literal["dynamodb", "sqs"]) -> Any:
    """A boto3 client for a store, made when the store first needs it (boto3's import is paid only then).

    Bounded, like every store call (the bridge also waits only until the deadline): a hung connection must
    not keep the thread busy into the next invocations (botocore's defaults: 60 s timeouts, 5 attempts).
    """
    import boto3
    from botocore.config import Config

    timeouts = Config(connect_timeout=2, read_timeout=5, retries={"mode": "standard", "max_attempts": 3})
    return boto3.client(service, config=timeouts)


_GET_CHUNK = 100  # BatchGetItem's limit
_GET_ATTEMPTS = 5
_WRITE_CHUNK = 25  # BatchWriteItem's limit


def read_items(
    client: Any,
    table: str,
    keys: Iterable[str],
    *,
    key_attribute: str,
    attribute: str,
    backoff: Callable[[float], None] | None = None,
) -> Iterator[tuple[list[dict[str, Any]], int]]:
    """The keys' items (their key and ``attribute``) by consistent BatchGetItem, 100 keys a call.

    Unprocessed keys are asked again, up to 5 tries a call, after ``backoff(0.05 * 2**n)`` seconds when
    given. Yields, for each call, the items found and how many of its keys were still unread after the
    last try: the caller says what that means (at least once, or no version known) and whether to go on.
    """
    for chunk in _chunks(dict.fromkeys(keys), _GET_CHUNK):
        items: list[dict[str, Any]] = []
        request: dict[str, Any] = {
            table: {
                "Keys": [{key_attribute: {"S": key}} for key in chunk],
                "ProjectionExpression": "#k, #a",
                "ExpressionAttributeNames": {"#k": key_attribute, "#a": attribute},
                "ConsistentRead": True,
            }
        }
        for attempt in range(_GET_ATTEMPTS):
            if attempt and backoff is not None:  # DynamoDB asks for a backoff before unprocessed keys
                backoff(0.05 * 2 ** (attempt - 1))
            answer = client.batch_get_item(RequestItems=request)
            items.extend(answer.get("Responses", {}).get(table, []))
            request = answer.get("UnprocessedKeys") or {}
            if not request:
                break
        yield items, len(request.get(table, {}).get("Keys", []))


def idempotency_key(source: SourceName, record: SourceRecord) -> str | None:
    """A key that names the same record on every delivery, unique across streams and shards.

    A source whose records carry no id (Aurora sends the payload alone) is keyed by a digest of the
    payload's canonical JSON: the same payload again is the same record, any other payload is not. Each
    mutation of a single event that maps to several is keyed apart, so that a retry of the event skips the
    ones already published. An HTTP request's items are keyed by the client's Idempotency-Key header, and
    without one are not deduplicated at all: None.
    """
    if source == "http":  # its module is loaded already: it made the record
        from streambridge._sources.http import store_key

        return store_key(record)
    if isinstance(record, MutationOf):  # one of a single event's mutations: the event's key and its place
        return f"{idempotency_key(source, record.event)}#{record.position}"
    raw = record.raw
    if source == "aurora" or not isinstance(raw, Mapping):
        import hashlib

        text = json.dumps(raw, sort_keys=True, separators=(",", ":"), default=_plain)
        return f"{source}||sha256:{hashlib.sha256(text.encode()).hexdigest()}"
    event_id = raw.get("eventID") or raw.get("messageId") or record.item_identifier
    origin = raw.get("eventSourceARN") or raw.get("EventSubscriptionArn") or ""
    if source == "kinesis_dynamodb":
        # Keyed by the change's own eventID ("a globally unique identifier for the event", DynamoDB
        # Streams API reference, Record): the copy arrange() skips as a duplicate (same data, eventID
        # included) shares the published copy's key, so a re-delivery of the skipped copy alone is known.
        change_id = _change_id(record)
        if change_id is not None:
            return f"{source}|{origin}|change:{change_id}"
    return f"{source}|{origin}|{event_id}"


def _change_id(record: SourceRecord) -> str | None:
    """The eventID of a Kinesis Data Streams for DynamoDB record's change; None when it cannot be read."""
    try:
        change_id = getattr(record, "event_id", None)  # the change's, not the Kinesis record's
    except StreambridgeError:  # data that is not a change: the Kinesis record's own id names it
        return None
    kinesis_id = getattr(record, "kinesis_event_id", None)
    return change_id if isinstance(change_id, str) and change_id and change_id != kinesis_id else None


def _plain(value: Any) -> Any:
    """Read-only views as dicts (their keys then sorted like any dict's); anything else as text."""
    return dict(value) if isinstance(value, Mapping) else str(value)


class IdempotencyStore(Protocol):
    """Remembers which records were published."""

    def published(self, keys: Sequence[str]) -> set[str]:
        """The keys among ``keys`` that were published before (and not yet expired)."""
        ...

    def remember(self, keys: Sequence[str]) -> None:
        """Note these keys as published."""
        ...


class DynamoDBIdempotencyStore:
    """An idempotency store in a DynamoDB table with Time to Live.

    The table needs a string partition key (``key_attribute``, default ``id``) and TTL enabled on
    ``ttl_attribute`` (default ``expiresAt``). The function needs ``dynamodb:BatchGetItem`` and
    ``dynamodb:BatchWriteItem`` on it. Keep ``ttl`` longer than the stream's retention (24 h for DynamoDB
    Streams, the retention period for Kinesis, the queue's retention for SQS).
    """

    def __init__(
        self,
        table: str,
        *,
        ttl: float = 2 * 24 * 3600,
        key_attribute: str = "id",
        ttl_attribute: str = "expiresAt",
        client: Any = None,
    ) -> None:
        """Use ``table``; ``client`` is a boto3 DynamoDB client (default: one made on first use)."""
        for setting, name in (
            ("table", table),
            ("key_attribute", key_attribute),
            ("ttl_attribute", ttl_attribute),
        ):
            if not isinstance(name, str) or not name.strip():
                what = "the table name" if setting == "table" else "an attribute name"
                raise ConfigurationError(
                    f"DynamoDBIdempotencyStore({setting}=...) must be {what}, a non-empty str, got {name!r}"
                )
        # A ttl that is not a finite number would make every remember() fail: idempotency silently off.
        if isinstance(ttl, bool) or not isinstance(ttl, (int, float)) or not 0 < ttl < math.inf:
            raise ConfigurationError(
                f"DynamoDBIdempotencyStore(ttl=...) must be a finite number of seconds > 0, got {ttl!r}"
            )
        self.table = table
        self.ttl = ttl
        self.key_attribute = key_attribute
        self.ttl_attribute = ttl_attribute
        self._client = client

    def __repr__(self) -> str:
        return f"DynamoDBIdempotencyStore(table={self.table!r})"

    @property
    def client(self) -> Any:
        """The boto3 client, made on first use (boto3's import cost is paid only by users of the store)."""
        if self._client is None:
            self._client = store_client("dynamodb")
        return self._client

    def published(self, keys: Sequence[str]) -> set[str]:
        """Look the keys up with BatchGetItem, retrying unprocessed keys a few times."""
        now = int(time.time())
        found: set[str] = set()
        reads = read_items(
            self.client, self.table, keys, key_attribute=self.key_attribute, attribute=self.ttl_attribute
        )
        for items, unread in reads:
            for item in items:
                expires = int(item.get(self.ttl_attribute, {}).get("N", now + 1))
                if expires > now:  # TTL deletes lazily: an expired item may still be there
                    found.add(item[self.key_attribute]["S"])
            if unread:
                logger.warning("streambridge: idempotency store left keys unread (throttled): at least once")
        return found

    def remember(self, keys: Sequence[str]) -> None:
        """Write the keys with BatchWriteItem, with their expiry time."""
        expires = str(int(time.time() + self.ttl))
        for chunk in _chunks(dict.fromkeys(keys), _WRITE_CHUNK):
            items = [
                {"PutRequest": {"Item": {self.key_attribute: {"S": key}, self.ttl_attribute: {"N": expires}}}}
                for key in chunk
            ]
            request: dict[str, Any] = {self.table: items}
            for _ in range(5):
                answer = self.client.batch_write_item(RequestItems=request)
                request = answer.get("UnprocessedItems") or {}
                if not request:
                    break
            else:
                left = len(request.get(self.table, []))
                logger.warning("streambridge: idempotency store kept %d keys unwritten (throttled)", left)


def _chunks(keys: Iterable[str], size: int) -> Iterable[list[str]]:
    chunk: list[str] = []
    for key in keys:
        chunk.append(key)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk
