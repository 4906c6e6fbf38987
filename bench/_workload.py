"""What every benchmark publishes: DynamoDB stream events of a given size, and the handlers compared.

The three implementations publish the same mutation for the same records:

- ``streambridge``: a ``Bridge`` with IAM signing and its aiohttp transport (defaults unless a mode says).
- ``per-record`` (a): one kept-alive aiohttp session through gql's ``AIOHTTPTransport`` signed by gql's
  ``AppSyncIAMAuthentication``, one request per record, sequential (that is what ordered means here).
- ``powertools`` (b): Powertools' ``BatchProcessor`` / ``process_partial_response``, whose record handler
  makes one gql call per record on the same kind of kept-alive session as (a).
"""

from __future__ import annotations

import asyncio
import decimal
import json
import os
import re
from collections.abc import Callable
from typing import Any

PUBLISH = "mutation Publish($input: OrderInput!) { publishOrder(input: $input) { id status } }"
REGION = "us-east-1"
# Test credentials, never real ones: the local endpoint does not check signatures, it only needs them.
CREDENTIALS_ENV = {
    "AWS_ACCESS_KEY_ID": "AKIDEXAMPLE",
    "AWS_SECRET_ACCESS_KEY": "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
    "AWS_SESSION_TOKEN": "session-token-example",
    "AWS_REGION": REGION,
    "AWS_DEFAULT_REGION": REGION,
    "AWS_EC2_METADATA_DISABLED": "true",
    "AWS_CONFIG_FILE": "/nonexistent/aws-config",
    "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent/aws-credentials",
}

MODES: dict[str, dict[str, Any]] = {
    "default": {},  # batch_size=50, per_key=1: one pending change per key in a request
    "per_key=10": {"per_key": 10},
    "coalesce": {"coalesce": True},
    "batch_size=1": {"batch_size": 1},
}
"""The batching modes compared in the scaling section: Bridge keyword arguments."""

IMPLEMENTATIONS = ("streambridge", "per-record", "powertools")


def use_test_credentials() -> None:
    """Point botocore's default credential chain at the test credentials, as Lambda's env does."""
    os.environ.update(CREDENTIALS_ENV)


def item(index: int, keys: int, size: str = "1k") -> dict[str, Any]:
    """One order item; ``size`` "1k" is about 1 KB of JSON (a realistic record), "small" about 60 bytes."""
    key = f"order-{index % keys:05d}"
    if size == "small":
        return {"id": key, "status": f"S{index}", "amount": index}
    return {
        "id": key,
        "status": "SHIPPED",
        "amount": 1000 + index,
        "currency": "EUR",
        "customer": {"id": f"c-{index % 977}", "name": "Ada Lovelace", "email": "ada@example.com"},
        "lines": [
            {"sku": f"SKU-{j:04d}", "qty": j + 1, "price": 12.5 + j, "title": "A fine widget of some kind"}
            for j in range(5)
        ],
        "note": "n" * 350,
        "updatedAt": "2024-05-01T12:00:00Z",
        "version": index,
    }


def dynamodb_event(records: int, keys: int, size: str = "1k") -> dict[str, Any]:
    """A DynamoDB Streams event of ``records`` changes spread round-robin over ``keys`` items."""
    from streambridge.testing import events

    return events.dynamodb([{"new_image": item(i, keys, size)} for i in range(records)])


def warm_event() -> dict[str, Any]:
    """A one-record event of a key no benchmark uses: the warm-up invocation."""
    from streambridge.testing import events

    return events.dynamodb([{"new_image": {"id": "warm-up", "status": "up", "amount": 0}}])


def event_bytes(event: dict[str, Any]) -> int:
    """The size of the event as Lambda delivers it (JSON text)."""
    return len(json.dumps(event, separators=(",", ":")))


# -- the three implementations -------------------------------------------------------------------------


def streambridge_handler(
    url: str, **settings: Any
) -> tuple[Callable[[dict[str, Any]], Any], Callable[[], None]]:
    """A decorated streambridge handler (default credential chain, like in Lambda) and its close()."""
    from streambridge import Bridge, IAMAuth

    bridge = Bridge(url, IAMAuth(region=REGION), **settings)

    @bridge.dynamodb(PUBLISH)
    def handler(record: Any) -> dict[str, Any]:
        return {"input": record.new_image}

    return handler, bridge.close


def channels_handler(
    url: str, channel: str = "shared", **settings: Any
) -> tuple[Callable[[dict[str, Any]], Any], Callable[[], None]]:
    """The same job publishing events to AppSync Events channels: one channel for every order
    (``/orders/all``: five events a publish), or a channel per order (``/orders/<id>``: one)."""
    from streambridge import Bridge, IAMAuth

    bridge = Bridge(url.removesuffix("/graphql") + "/event", IAMAuth(region=REGION), **settings)
    route = (lambda _record: "/orders/all") if channel == "shared" else (lambda r: f"/orders/{r.keys['id']}")

    @bridge.dynamodb(channel=route)
    def handler(record: Any) -> Any:
        return record.new_image

    return handler, bridge.close


def _decimal_default(value: Any) -> Any:
    """What a gql user writes so that boto3's Decimal numbers can be sent (Powertools decodes to Decimal)."""
    if isinstance(value, decimal.Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def _dumps(value: Any) -> str:
    return json.dumps(value, default=_decimal_default)


class GqlPublisher:
    """A gql session kept alive across records (and across warm invocations), on its own event loop."""

    def __init__(self, url: str) -> None:
        from gql import Client, gql
        from gql.transport.aiohttp import AIOHTTPTransport
        from gql.transport.appsync_auth import AppSyncIAMAuthentication

        host = re.sub(r"^https?://", "", url).split("/", 1)[0]
        auth = AppSyncIAMAuthentication(host=host, region_name=REGION)  # default botocore chain
        self.transport = AIOHTTPTransport(url=url, auth=auth, json_serialize=_dumps)
        self.client = Client(transport=self.transport, fetch_schema_from_transport=False)
        self.document = gql(PUBLISH)
        self.loop = asyncio.new_event_loop()
        self.session: Any = self.loop.run_until_complete(self.client.connect_async())

    def publish(self, variables: dict[str, Any]) -> Any:
        """One mutation, one request; raises on a GraphQL or transport error."""
        from gql import GraphQLRequest

        request = GraphQLRequest(self.document, variable_values=variables)
        return self.loop.run_until_complete(self.session.execute(request))

    def close(self) -> None:
        self.loop.run_until_complete(self.client.close_async())
        self.loop.close()


def per_record_handler(url: str) -> tuple[Callable[[dict[str, Any]], Any], Callable[[], None]]:
    """(a) Ordered per-record publishing: one signed request per record, sequential, stop at a failure."""
    from boto3.dynamodb.types import TypeDeserializer

    publisher = GqlPublisher(url)
    deserializer = TypeDeserializer()

    def handler(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
        for position, record in enumerate(event["Records"]):
            image = record["dynamodb"]["NewImage"]
            new_image = {name: deserializer.deserialize(value) for name, value in image.items()}
            try:
                publisher.publish({"input": new_image})
            except Exception:  # noqa: BLE001 - report this record and the rest: Lambda re-delivers
                return {
                    "batchItemFailures": [
                        {"itemIdentifier": r["dynamodb"]["SequenceNumber"]}
                        for r in event["Records"][position:]
                    ]
                }
        return {"batchItemFailures": []}

    return handler, publisher.close


def powertools_handler(url: str) -> tuple[Callable[[dict[str, Any]], Any], Callable[[], None]]:
    """(b) Powertools BatchProcessor with a per-record gql call (records processed one after the other)."""
    from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response

    publisher = GqlPublisher(url)
    processor = BatchProcessor(event_type=EventType.DynamoDBStreams)

    def record_handler(record: Any) -> None:
        publisher.publish({"input": record.dynamodb.new_image})

    def handler(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
        return process_partial_response(  # type: ignore[return-value]
            event=event, record_handler=record_handler, processor=processor, context=context
        )

    return handler, publisher.close


def build(implementation: str, url: str, **settings: Any) -> tuple[Callable[..., Any], Callable[[], None]]:
    """The Lambda handler of ``implementation`` publishing to ``url``, and a function that closes it."""
    if implementation == "streambridge":
        handler, close = streambridge_handler(url, **settings)
        return handler, close
    if implementation == "streambridge-channels":
        return channels_handler(url, **settings)
    if settings:
        raise ValueError(f"{implementation} takes no settings")
    if implementation == "per-record":
        return per_record_handler(url)
    if implementation == "powertools":
        return powertools_handler(url)
    raise ValueError(f"unknown implementation {implementation!r}")
