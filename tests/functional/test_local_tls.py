"""The local servers over https/wss, and LocalAppSync's handshake forms (issue 19, items 1 and 2).

Amplify JS opens ``wss://`` for real time whatever the configured scheme, and sends the connection's auth
only as the ``header-<base64url>`` subprotocol (amplify-js ``AWSWebSocketProvider``); gql sends the
``?header=&payload=`` query. Clients here: gql (wss, query form), aiohttp (wss and ws, subprotocol form),
and streambridge's Bridge publishing over https through a transport that trusts the local authority.
"""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from botocore.credentials import Credentials
from gql import Client, gql
from gql.transport.appsync_auth import AppSyncApiKeyAuthentication, AppSyncIAMAuthentication
from gql.transport.appsync_websockets import AppSyncWebsocketsTransport

from streambridge import ApiKeyAuth, Bridge, IAMAuth
from streambridge._io.http import HttpTransport
from streambridge.testing import DEFAULT_CREDENTIALS, events
from streambridge.testing._local import LocalAppSync
from streambridge.testing._local_events import LocalEventApi

KEY_ID, SECRET, _ = DEFAULT_CREDENTIALS[0]
SCHEMA = """
type Order @aws_api_key @aws_iam { id: ID! status: String }
input OrderInput { id: ID! status: String }
type Query { ping: String }
type Mutation @aws_api_key @aws_iam { publishOrder(input: OrderInput!): Order }
type Subscription @aws_api_key @aws_iam {
  onPublishOrder: Order @aws_subscribe(mutations: ["publishOrder"])
}
"""
PUBLISH = "mutation($input: OrderInput!) { publishOrder(input: $input) { id status } }"
ON_PUBLISH = "subscription { onPublishOrder { id status } }"
IDS = ["o-1", "o-2", "o-3"]


def trusting(ssl_context: Any) -> HttpTransport:
    """streambridge's own transport, trusting the local CA (verification stays on)."""
    return HttpTransport(ssl_context=ssl_context)


def iam(region: str) -> IAMAuth:
    return IAMAuth(region=region, credentials=Credentials(KEY_ID, SECRET))


def encoded(headers: dict[str, str]) -> str:
    """The ``header-`` subprotocol's payload as amplify-js builds it: base64url, no padding."""
    return base64.urlsafe_b64encode(json.dumps(headers).encode()).decode().rstrip("=")


@pytest.fixture
def tls_appsync() -> Iterator[LocalAppSync]:
    with LocalAppSync(SCHEMA, tls=True) as started:
        yield started


# --- TLS ----------------------------------------------------------------------------------------------------


def test_a_tls_server_has_https_and_wss_urls_and_hands_out_its_authority(tls_appsync: LocalAppSync) -> None:
    # GIVEN LocalAppSync(tls=True) and a LocalEventApi sharing its authority
    with LocalEventApi(tls=tls_appsync.tls) as api:
        # THEN the URLs are https/wss (the real-time one is the GraphQL URL + /realtime, where Amplify looks)
        assert tls_appsync.url == f"https://127.0.0.1:{tls_appsync.port}/graphql"
        assert tls_appsync.realtime_url == f"wss://127.0.0.1:{tls_appsync.port}/graphql/realtime"
        assert api.url == f"https://127.0.0.1:{api.port}/event"
        assert api.realtime_url == f"wss://127.0.0.1:{api.port}/event/realtime"
        # AND one authority, one PEM to trust for both
        assert api.ca_pem == tls_appsync.ca_pem
        assert tls_appsync.ca_pem.startswith(b"-----BEGIN CERTIFICATE-----")


def test_a_plain_server_says_how_to_get_tls() -> None:
    # GIVEN a server without tls, WHEN a client asks for its trust, THEN it is told to pass tls=True
    appsync = LocalAppSync(SCHEMA)
    assert appsync.tls is None
    with pytest.raises(RuntimeError, match="tls=True"):
        appsync.client_ssl_context()
    with pytest.raises(TypeError, match="tls must be"):
        LocalAppSync(SCHEMA, tls="yes")  # type: ignore[arg-type]


def test_the_authority_file_is_what_a_default_verifying_client_needs(
    tls_appsync: LocalAppSync, tmp_path: Path
) -> None:
    import ssl
    import urllib.error
    import urllib.request

    request = urllib.request.Request(
        tls_appsync.url,
        data=json.dumps({"query": "{ ping }"}).encode(),
        headers={"x-api-key": str(tls_appsync.api_key), "content-type": "application/json"},
    )
    # GIVEN a client that trusts only the system's authorities, THEN it refuses the local certificate
    with pytest.raises(urllib.error.URLError, match="CERTIFICATE_VERIFY_FAILED"):
        urllib.request.urlopen(request, timeout=5)
    # WHEN it trusts the written PEM (what SSL_CERT_FILE / NODE_EXTRA_CA_CERTS point at), THEN it verifies
    pem = tls_appsync.write_ca_pem(tmp_path / "ca.pem")
    context = ssl.create_default_context(cafile=str(pem))
    with urllib.request.urlopen(request, timeout=5, context=context) as answer:
        assert json.loads(answer.read()) == {"data": {"ping": None}}


async def _gql_messages(appsync: LocalAppSync, auth: str, count: int) -> list[dict[str, Any]]:
    """Subscribe with gql over wss (the query handshake form), return the first ``count`` messages."""
    authentication: Any = (
        AppSyncApiKeyAuthentication(host=appsync.host, api_key=str(appsync.api_key))
        if auth == "api_key"
        else AppSyncIAMAuthentication(
            host=appsync.host, region_name=appsync.region, credentials=Credentials(KEY_ID, SECRET)
        )
    )
    transport = AppSyncWebsocketsTransport(
        url=appsync.realtime_url, auth=authentication, ssl=appsync.client_ssl_context()
    )
    received: list[dict[str, Any]] = []
    async with Client(transport=transport) as session:
        async for result in session.subscribe(gql(ON_PUBLISH)):
            received.append(result)
            if len(received) == count:
                break
    return received


@pytest.mark.asyncio
@pytest.mark.parametrize("auth", ["api_key", "iam"])
async def test_a_bridge_publishes_over_https_to_a_gql_subscriber_over_wss(
    tls_appsync: LocalAppSync, auth: str
) -> None:
    # GIVEN a gql subscriber on wss, authorized by API key or SigV4
    subscriber = asyncio.create_task(_gql_messages(tls_appsync, auth, len(IDS)))
    await asyncio.to_thread(tls_appsync.wait_for_subscriptions, 1)
    # AND a Bridge publishing over https with the same mode, trusting the local authority
    credentials = ApiKeyAuth(str(tls_appsync.api_key)) if auth == "api_key" else iam(tls_appsync.region)
    bridge = Bridge(tls_appsync.url, credentials, transport=trusting(tls_appsync.client_ssl_context()))
    handler = bridge.eventbridge(PUBLISH)(
        lambda event: {"input": {"id": event.detail["id"], "status": "new"}}
    )
    try:
        # WHEN three events are handled
        for order_id in IDS:
            await asyncio.to_thread(
                handler, events.eventbridge(source="shop", detail_type="Order", detail={"id": order_id})
            )
    finally:
        await asyncio.to_thread(bridge.close)
    # THEN the subscriber received each, in order
    received = await asyncio.wait_for(subscriber, 10)
    assert [m["onPublishOrder"]["id"] for m in received] == IDS
    assert {m.auth_mode for m in tls_appsync.mutations} == {"API_KEY" if auth == "api_key" else "AWS_IAM"}


@pytest.mark.asyncio
@pytest.mark.parametrize("auth", ["api_key", "iam"])
async def test_a_bridge_publishes_over_https_to_an_event_api_subscriber_over_wss(auth: str) -> None:
    with LocalEventApi(namespaces=("rooms",), tls=True) as api:
        # GIVEN a WebSocket subscriber on wss, its handshake and subscribe authorized by API key or SigV4
        signer = iam(api.region)

        def authorization(payload: bytes) -> dict[str, str]:
            if auth == "api_key":
                return {"host": api.host, "x-api-key": str(api.api_key)}
            return dict(signer.headers(api.url, payload))

        async with aiohttp.ClientSession() as session:
            protocols = ["aws-appsync-event-ws", f"header-{encoded(authorization(b'{}'))}"]
            ws = await session.ws_connect(api.realtime_url, protocols=protocols, ssl=api.client_ssl_context())
            await ws.send_json({"type": "connection_init"})
            assert (await _next(ws))["type"] == "connection_ack"
            subscribe = {"channel": "/rooms/*"}
            signed = authorization(json.dumps(subscribe, separators=(",", ":")).encode())
            await ws.send_json({"type": "subscribe", "id": "s1", **subscribe, "authorization": signed})
            assert (await _next(ws))["type"] == "subscribe_success"
            # AND a Bridge publishing over https with the same mode
            credentials = ApiKeyAuth(str(api.api_key)) if auth == "api_key" else signer
            bridge = Bridge(api.url, credentials, transport=trusting(api.client_ssl_context()))
            handler = bridge.eventbridge(channel=lambda event: f"/rooms/{event.detail['room']}")(
                lambda event: {"id": event.detail["id"]}
            )
            try:
                # WHEN three events are handled
                for order_id in IDS:
                    detail = {"room": "r1", "id": order_id}
                    await asyncio.to_thread(
                        handler, events.eventbridge(source="s", detail_type="t", detail=detail)
                    )
            finally:
                await asyncio.to_thread(bridge.close)
            # THEN the subscriber received each, in order
            received: list[Any] = []
            while len(received) < len(IDS):
                message = await _next(ws)
                if message["type"] == "data":
                    received.append(json.loads(message["event"])["id"])
            await ws.close()
        assert received == IDS


async def _next(ws: aiohttp.ClientWebSocketResponse) -> dict[str, Any]:
    """The next message that is not a keep-alive."""
    while (message := await asyncio.wait_for(ws.receive_json(), 5))["type"] == "ka":
        pass
    return dict(message)


# --- LocalAppSync's handshake forms -------------------------------------------------------------------------


async def _handshake(appsync: LocalAppSync, protocols: list[str], url: str | None = None) -> tuple[str, Any]:
    """Connect with ``protocols``, send connection_init; return the chosen protocol and the first answer."""
    async with aiohttp.ClientSession() as session:
        ws = await session.ws_connect(url or appsync.realtime_url, protocols=protocols)
        await ws.send_json({"type": "connection_init"})
        answer = await asyncio.wait_for(ws.receive_json(), 5)
        await ws.close()
        return str(ws.protocol), answer


@pytest.mark.asyncio
async def test_localappsync_accepts_the_auth_in_the_header_subprotocol_as_amplify_sends_it() -> None:
    with LocalAppSync(SCHEMA) as appsync:
        # GIVEN the API key in the header- subprotocol beside graphql-ws, and no query (amplify-js)
        key = {"host": appsync.host, "x-api-key": str(appsync.api_key)}
        protocol, answer = await _handshake(appsync, ["graphql-ws", f"header-{encoded(key)}"])
        # THEN the connection is acknowledged, and only graphql-ws is chosen
        assert protocol == "graphql-ws"
        assert answer == {"type": "connection_ack", "payload": {"connectionTimeoutMs": 300_000}}
        # AND a SigV4 signature over POST <url>/connect with body {} (amplify-js) verifies
        signed = dict(iam(appsync.region).headers(f"{appsync.url}/connect", b"{}"))
        _, answer = await _handshake(appsync, ["graphql-ws", f"header-{encoded(signed)}"])
        assert answer["type"] == "connection_ack"


@pytest.mark.asyncio
async def test_localappsync_refuses_a_bad_subprotocol_auth_as_appsync_does() -> None:
    with LocalAppSync(SCHEMA) as appsync:
        # GIVEN a wrong key in the subprotocol, though the query holds a good one
        good = base64.b64encode(
            json.dumps({"host": appsync.host, "x-api-key": str(appsync.api_key)}).encode()
        )
        bad = {"host": appsync.host, "x-api-key": "da2-wrong"}
        url = f"{appsync.realtime_url}?header={good.decode()}&payload=e30="
        # WHEN it connects, THEN the subprotocol decides: connection_error, UnauthorizedException, 401
        _, answer = await _handshake(appsync, ["graphql-ws", f"header-{encoded(bad)}"], url)
        assert answer["type"] == "connection_error"
        [error] = answer["payload"]["errors"]
        assert (error["errorType"], error["errorCode"]) == ("UnauthorizedException", 401)
        # AND a subprotocol that is not base64url of JSON is refused too
        _, answer = await _handshake(appsync, ["graphql-ws", "header-!!"])
        assert answer["type"] == "connection_error"
