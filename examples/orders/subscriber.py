"""Watch order changes live, like a client app: subscribe to ``onOrderChanged`` with the API key.

streambridge delivers at least once: when Lambda re-delivers a stream batch (after a failure or a
timeout), the changes published the first time are published again, in order. Each change carries
``seq``, the DynamoDB stream sequence number of the change, so a client keeps the highest ``seq`` it has
shown for each order and drops any change that is not newer: a duplicate (the same ``seq``) or a stale
one (a lower ``seq``). Sequence numbers are decimal strings of varying length: compare them as numbers.

    python -m examples.orders.subscriber --url https://xxxx.appsync-api.us-east-1.amazonaws.com/graphql \\
        --api-key da2-xxxx [--order-id order-1]

``--url`` is the GraphQL endpoint (the stack's ``GraphQLUrl`` output, or ``streambridge local``'s
``http://127.0.0.1:20002/graphql``); the real-time WebSocket endpoint is derived from it as AppSync
derives it (``realtime_url``). Stop with Ctrl-C.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

# Select only fields that the publishing mutation selects: subscribers receive the mutation's selection.
SUBSCRIBE = """
subscription OnOrderChanged($id: ID) {
  onOrderChanged(id: $id) { id status customer amount updatedAt seq }
}
"""


@dataclass
class OrderFeed:
    """What the client has shown: the highest ``seq`` per order id."""

    latest: dict[str, int] = field(default_factory=dict)

    def receive(self, order: Mapping[str, Any]) -> str:
        """Decide on one change: ``"new"``, ``"duplicate"`` or ``"stale"``; remember the new ones."""
        if order.get("seq") is None:  # published without a sequence number: nothing to compare
            return "new"
        seq = int(order["seq"])
        last = self.latest.get(order["id"])
        if last is not None and seq <= last:
            return "duplicate" if seq == last else "stale"
        self.latest[order["id"]] = seq
        return "new"


def realtime_url(graphql_url: str) -> str:
    """The real-time endpoint of a GraphQL endpoint, as AppSync and Amplify derive it.

    AppSync's own domain: ``https://ID.appsync-api.REGION.amazonaws.com/graphql`` ->
    ``wss://ID.appsync-realtime-api.REGION.amazonaws.com/graphql``. A custom domain: ``wss://DOMAIN/graphql/realtime``
    (https://docs.aws.amazon.com/appsync/latest/devguide/custom-domain-name.html). A local server
    (``streambridge local``): the same, ``http`` -> ``ws``.
    """
    parts = urlsplit(graphql_url)
    scheme = "ws" if parts.scheme == "http" else "wss"
    path = parts.path.rstrip("/")
    if ".appsync-api." in (parts.hostname or ""):
        return f"{scheme}://{parts.netloc.replace('.appsync-api.', '.appsync-realtime-api.', 1)}{path}"
    return f"{scheme}://{parts.netloc}{path}/realtime"


def describe(order: Mapping[str, Any]) -> str:
    """One line for an order change."""
    return (
        f"{order['id']:<14} {order['status']:<10} customer={order.get('customer')} "
        f"amount={order.get('amount')} updatedAt={order.get('updatedAt')} seq={order.get('seq')}"
    )


def show(message: Mapping[str, Any], feed: OrderFeed) -> str:
    """The line printed for one subscription message."""
    order = message["onOrderChanged"]
    verdict = feed.receive(order)
    if verdict == "new":
        return describe(order)
    return f"  (dropped {verdict}: {describe(order)})"


async def watch(
    url: str, api_key: str, order_id: str | None = None, *, out: Callable[[str], None] = print
) -> None:
    """Subscribe and print every change until cancelled."""
    from gql import Client, GraphQLRequest  # only the script needs the WebSocket stack
    from gql.transport.appsync_auth import AppSyncApiKeyAuthentication
    from gql.transport.appsync_websockets import AppSyncWebsocketsTransport

    # AppSync authorizes the handshake for the API's own (HTTP) host; the socket goes to the real-time one.
    auth = AppSyncApiKeyAuthentication(host=urlsplit(url).netloc, api_key=api_key)
    transport = AppSyncWebsocketsTransport(url=realtime_url(url), auth=auth)
    request = GraphQLRequest(SUBSCRIBE, variable_values={"id": order_id} if order_id else None)
    feed = OrderFeed()
    async with Client(transport=transport, fetch_schema_from_transport=False) as session:
        out(f"subscribed to onOrderChanged on {url}" + (f" for {order_id}" if order_id else ""))
        async for message in session.subscribe(request):
            out(show(message, feed))


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """Command-line arguments."""
    parser = argparse.ArgumentParser(
        prog="python -m examples.orders.subscriber",
        description="Print order changes as AppSync pushes them; drop re-delivered duplicates by seq.",
    )
    parser.add_argument(
        "--url",
        required=True,
        help="AppSync GraphQL URL (the stack's GraphQLUrl output, or http://127.0.0.1:20002/graphql locally)",
    )
    parser.add_argument("--api-key", required=True, help="AppSync API key (the stack's ApiKey output)")
    parser.add_argument("--order-id", help="watch one order only (subscription argument id)")
    args = parser.parse_args(argv)
    if urlsplit(args.url).scheme not in ("https", "http"):
        parser.error(
            f"--url must be the AppSync GraphQL URL (https://... or http://... locally), got {args.url!r}"
        )
    return args


def main(argv: Sequence[str] | None = None) -> int:
    """Run until Ctrl-C."""
    args = parse_args(argv)
    try:
        asyncio.run(watch(args.url, args.api_key, args.order_id))
    except KeyboardInterrupt:
        return 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
