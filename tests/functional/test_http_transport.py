"""Functional tests of HttpTransport with IAMAuth against local servers on 127.0.0.1.

The main server recomputes the SigV4 signature of every request from the raw bytes and headers it
received, with botocore and the known test credentials, the way AppSync does; the AppSync simulator does
not check signatures, so this is where "what we sign is what we send" is proven.
"""

from __future__ import annotations

import asyncio
import gc
import hmac
import http.server
import json
import re
import socket
import struct
import subprocess
import sys
import threading
import time
import warnings
from collections.abc import AsyncIterator, Iterator
from datetime import datetime, timezone
from typing import Any

import pytest
import pytest_asyncio
from aiohttp import web
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from streambridge._errors import ConfigurationError, ConnectionFailedError, RequestTimeoutError
from streambridge._io.auth import ApiKeyAuth, IAMAuth
from streambridge._io.http import HttpTransport
from streambridge._io.transport import HttpResponse

ACCESS_KEY = "AKIDEXAMPLE"
SECRET_KEY = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
SESSION_TOKEN = "IQoJb3JpZ2luX2VjEXAMPLE-session-token"
REGION = "eu-west-1"
BODY = json.dumps(
    {
        "query": "mutation P($i: OrderInput!) { publishOrder(input: $i) { id status } }",
        "variables": {"i": {}},
    },
).encode()

AUTH_RE = re.compile(
    r"AWS4-HMAC-SHA256 Credential=(?P<key>[^/]+)/(?P<date>\d{8})/(?P<region>[^/]+)/(?P<service>[^/]+)"
    r"/aws4_request, SignedHeaders=(?P<signed>[a-z0-9;-]+), Signature=(?P<signature>[0-9a-f]{64})",
)


def is_fresh(amz_date: str) -> bool:
    try:
        signed_at = datetime.strptime(amz_date, "%Y%m%dT%H%M%SZ").replace(tzinfo=timezone.utc)
    except ValueError:
        return False
    return abs((datetime.now(timezone.utc) - signed_at).total_seconds()) <= 300


def signature_problem(request: web.Request, body: bytes, credentials: Credentials) -> str | None:
    """Verify SigV4 like AppSync: recompute it from what was received. Return None if valid, else why not."""
    match = AUTH_RE.fullmatch(request.headers.get("Authorization", ""))
    if match is None:
        return "malformed Authorization header"
    fields = match.groupdict()
    amz_date = request.headers.get("X-Amz-Date", "")
    signed = fields["signed"].split(";")
    required = {"content-type", "host", "x-amz-date"} | (
        {"x-amz-security-token"} if credentials.token else set()
    )
    checks = [
        (
            (fields["key"], fields["region"], fields["service"])
            == (credentials.access_key, REGION, "appsync"),
            "wrong credential scope",
        ),
        (amz_date.startswith(fields["date"]), "X-Amz-Date does not match the credential scope"),
        (is_fresh(amz_date), "signature expired"),
        (required <= set(signed), f"required headers not signed: {sorted(required - set(signed))}"),
        (request.headers.get("X-Amz-Security-Token") == credentials.token, "wrong security token"),
        (all(name in request.headers for name in signed), "a signed header was not received"),
    ]
    for ok, reason in checks:
        if not ok:
            return reason
    received = AWSRequest(
        method=request.method,
        url=f"http://{request.headers['Host']}{request.path_qs}",
        data=body,
        headers={name: request.headers[name] for name in signed},
    )
    received.context["timestamp"] = amz_date
    signer = SigV4Auth(credentials, "appsync", REGION)
    expected = signer.signature(signer.string_to_sign(received, signer.canonical_request(received)), received)
    return None if hmac.compare_digest(expected, fields["signature"]) else "signature mismatch"


class SigV4CheckingServer:
    """An aiohttp server that checks signatures and records what it received."""

    def __init__(self, credentials: Credentials) -> None:
        self.credentials = credentials
        self.received: list[tuple[web.Request, bytes]] = []
        self.peers: list[Any] = []
        self.base = ""

    def _record(self, request: web.Request, body: bytes) -> None:
        self.received.append((request, body))
        assert request.transport is not None
        self.peers.append(request.transport.get_extra_info("peername"))

    async def graphql(self, request: web.Request) -> web.Response:
        body = await request.read()
        self._record(request, body)
        if request.content_type != "application/json":
            return web.json_response({"errors": [{"errorType": "BadContentType"}]}, status=400)
        problem = signature_problem(request, body, self.credentials)
        if problem is not None:
            errors = [{"errorType": "InvalidSignatureException", "message": problem}]
            return web.json_response({"errors": errors}, status=403)
        return web.json_response({"data": {"publishOrder": {"id": "1", "status": "NEW"}}})

    async def open(self, request: web.Request) -> web.Response:
        body = await request.read()
        self._record(request, body)
        await asyncio.sleep(float(request.query.get("delay", "0")))
        return web.json_response({"data": {}})

    async def fail(self, request: web.Request) -> web.Response:
        self._record(request, await request.read())
        return web.json_response(
            {"errors": [{"errorType": "InternalFailure"}]},
            status=500,
            headers={"Retry-After": "3"},
        )

    async def redirect(self, request: web.Request) -> web.Response:
        self._record(request, await request.read())
        return web.Response(status=307, headers={"Location": "https://elsewhere.example/graphql"})


async def start_sigv4_server(credentials: Credentials) -> tuple[SigV4CheckingServer, web.AppRunner]:
    fake = SigV4CheckingServer(credentials)
    app = web.Application()
    app.router.add_post("/graphql", fake.graphql)
    app.router.add_post("/open", fake.open)
    app.router.add_post("/fail", fake.fail)
    app.router.add_post("/redirect", fake.redirect)
    runner = web.AppRunner(app, shutdown_timeout=1.0)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    port = runner.addresses[0][1]
    fake.base = f"http://127.0.0.1:{port}"
    return fake, runner


@pytest_asyncio.fixture
async def sigv4_server() -> AsyncIterator[SigV4CheckingServer]:
    fake, runner = await start_sigv4_server(Credentials(ACCESS_KEY, SECRET_KEY))
    yield fake
    await runner.cleanup()


@pytest_asyncio.fixture
async def sigv4_server_with_token() -> AsyncIterator[SigV4CheckingServer]:
    fake, runner = await start_sigv4_server(Credentials(ACCESS_KEY, SECRET_KEY, SESSION_TOKEN))
    yield fake
    await runner.cleanup()


@pytest_asyncio.fixture
async def transport() -> AsyncIterator[HttpTransport]:
    transport = HttpTransport(max_connections=4)
    yield transport
    await transport.close()


async def start_raw_server(
    handler: Any,
) -> tuple[asyncio.Server, str]:
    server = await asyncio.start_server(handler, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    return server, f"http://127.0.0.1:{port}/graphql"


def iam(credentials: Credentials | None = None) -> IAMAuth:
    return IAMAuth(REGION, credentials=credentials or Credentials(ACCESS_KEY, SECRET_KEY))


# --- signatures survive the trip -------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_server_recomputes_and_accepts_the_signature(
    sigv4_server: SigV4CheckingServer,
    transport: HttpTransport,
) -> None:
    # GIVEN an IAMAuth with known credentials and an endpoint on a non-default port
    url = f"{sigv4_server.base}/graphql"
    auth = iam()
    auth.validate(url)
    # WHEN posting a signed body
    response = await transport.post(url, BODY, auth.headers(url, BODY), timeout=5)
    # THEN the server's own SigV4 computation over the received bytes and headers agrees
    assert response.status == 200, response.body
    assert json.loads(response.body) == {"data": {"publishOrder": {"id": "1", "status": "NEW"}}}
    request, received_body = sigv4_server.received[0]
    assert received_body == BODY
    # AND the Host and Content-Type sent are exactly the signed ones
    assert request.headers["Host"] == sigv4_server.base.removeprefix("http://")
    assert request.headers["Content-Type"] == "application/json"


@pytest.mark.asyncio
async def test_session_token_arrives_and_is_verified(
    sigv4_server_with_token: SigV4CheckingServer,
    transport: HttpTransport,
) -> None:
    # GIVEN temporary credentials, as a Lambda execution role has
    url = f"{sigv4_server_with_token.base}/graphql"
    auth = iam(Credentials(ACCESS_KEY, SECRET_KEY, SESSION_TOKEN))
    # WHEN posting
    response = await transport.post(url, BODY, auth.headers(url, BODY), timeout=5)
    # THEN the server finds the token in X-Amz-Security-Token, signed, and accepts the request
    assert response.status == 200, response.body
    assert sigv4_server_with_token.received[0][0].headers["X-Amz-Security-Token"] == SESSION_TOKEN


@pytest.mark.asyncio
async def test_a_tampered_body_is_rejected(
    sigv4_server: SigV4CheckingServer, transport: HttpTransport
) -> None:
    # GIVEN headers signed for one body
    url = f"{sigv4_server.base}/graphql"
    headers = iam().headers(url, BODY)
    tampered = BODY.replace(b'"i": {}', b'"i": {"id": "x"}')
    assert tampered != BODY
    # WHEN another body is sent with them
    response = await transport.post(url, tampered, headers, timeout=5)
    # THEN the server's recomputed signature differs and it rejects the request (a response, not a raise)
    assert response.status == 403
    assert json.loads(response.body)["errors"][0]["message"] == "signature mismatch"


@pytest.mark.asyncio
async def test_a_signature_for_another_host_is_rejected(
    sigv4_server: SigV4CheckingServer, transport: HttpTransport
) -> None:
    # GIVEN headers signed for the same server on another port
    url = f"{sigv4_server.base}/graphql"
    port = int(sigv4_server.base.rsplit(":", 1)[1])
    headers = dict(iam().headers(f"http://127.0.0.1:{port + 1}/graphql", BODY))
    del headers["host"]  # let the HTTP client derive Host from the URL, as it would if we did not send it
    # WHEN sent to this server
    response = await transport.post(url, BODY, headers, timeout=5)
    # THEN the host is part of the signature and the request is rejected
    assert response.status == 403
    assert json.loads(response.body)["errors"][0]["message"] == "signature mismatch"


@pytest.mark.asyncio
async def test_content_type_defaults_to_json_and_is_kept_when_given(
    sigv4_server: SigV4CheckingServer,
    transport: HttpTransport,
) -> None:
    # GIVEN an auth that adds no content type (API key)
    url = f"{sigv4_server.base}/open"
    headers = ApiKeyAuth("da2-test").headers(url, BODY)
    # WHEN posting with it, then with an explicit content type
    await transport.post(url, BODY, headers, timeout=5)
    await transport.post(url, BODY, {**headers, "Content-Type": "application/graphql"}, timeout=5)
    # THEN the first goes as application/json and the second as given
    first, second = (request for request, _ in sigv4_server.received)
    assert first.headers.getall("Content-Type") == ["application/json"]
    assert first.headers["x-api-key"] == "da2-test"
    assert second.headers.getall("Content-Type") == ["application/graphql"]


# --- HTTP statuses are answers -----------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_http_500_comes_back_as_a_response(
    sigv4_server: SigV4CheckingServer, transport: HttpTransport
) -> None:
    # GIVEN an endpoint answering 500
    # WHEN posting
    response = await transport.post(f"{sigv4_server.base}/fail", BODY, {}, timeout=5)
    # THEN it is returned, with its body and case-insensitive headers, not raised
    assert isinstance(response, HttpResponse)
    assert response.status == 500
    assert json.loads(response.body) == {"errors": [{"errorType": "InternalFailure"}]}
    assert response.headers["retry-after"] == "3"
    assert response.headers["Retry-After"] == "3"


@pytest.mark.asyncio
async def test_redirects_are_returned_not_followed(
    sigv4_server: SigV4CheckingServer, transport: HttpTransport
) -> None:
    # GIVEN an endpoint redirecting elsewhere
    # WHEN posting with credentials
    response = await transport.post(f"{sigv4_server.base}/redirect", BODY, {"x-api-key": "k"}, timeout=5)
    # THEN the redirect is the answer (credentials never travel to another host)
    assert response.status == 307
    assert response.headers["Location"] == "https://elsewhere.example/graphql"


# --- connection reuse --------------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_the_session_and_connection_are_reused(
    sigv4_server: SigV4CheckingServer, transport: HttpTransport
) -> None:
    # GIVEN one transport
    url = f"{sigv4_server.base}/graphql"
    auth = iam()
    # WHEN posting twice in a row
    for _ in range(2):
        response = await transport.post(url, BODY, auth.headers(url, BODY), timeout=5)
        assert response.status == 200
    # THEN both requests travelled over the same keep-alive connection
    assert len(sigv4_server.peers) == 2
    assert len(set(sigv4_server.peers)) == 1


@pytest.mark.asyncio
async def test_close_then_post_opens_a_new_connection(
    sigv4_server: SigV4CheckingServer, transport: HttpTransport
) -> None:
    # GIVEN a transport that posted once and was closed
    url = f"{sigv4_server.base}/open"
    await transport.post(url, BODY, {}, timeout=5)
    await transport.close()
    # WHEN posting again
    response = await transport.post(url, BODY, {}, timeout=5)
    # THEN it works, over a new connection
    assert response.status == 200
    assert len(set(sigv4_server.peers)) == 2


@pytest.mark.asyncio
async def test_the_pool_is_bounded_by_max_connections(sigv4_server: SigV4CheckingServer) -> None:
    # GIVEN a transport with at most two connections
    transport = HttpTransport(max_connections=2)
    try:
        # WHEN six slow requests are posted at once
        url = f"{sigv4_server.base}/open?delay=0.05"
        responses = await asyncio.gather(*(transport.post(url, BODY, {}, timeout=5) for _ in range(6)))
    finally:
        await transport.close()
    # THEN all succeed over no more than two connections
    assert [r.status for r in responses] == [200] * 6
    assert len(set(sigv4_server.peers)) <= 2


# --- failures map to streambridge errors -------------------------------------------------------------------


@pytest.mark.asyncio
async def test_connection_reset_is_a_connection_failure(transport: HttpTransport) -> None:
    # GIVEN a server that resets the connection (TCP RST) after reading the request head
    async def reset(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.get_extra_info("socket").setsockopt(
            socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)
        )
        writer.transport.abort()

    server, url = await start_raw_server(reset)
    async with server:
        # WHEN posting
        with pytest.raises(ConnectionFailedError) as caught:
            await transport.post(url, BODY, {}, timeout=5)
    # THEN the error is retryable and chained to the OS error
    assert caught.value.retryable
    assert isinstance(caught.value.__cause__, OSError)
    assert "127.0.0.1" in str(caught.value)


@pytest.mark.asyncio
async def test_connection_refused_is_a_connection_failure(transport: HttpTransport) -> None:
    # GIVEN a port nobody listens on
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    # WHEN posting THEN ConnectionFailedError, chained
    with pytest.raises(ConnectionFailedError) as caught:
        await transport.post(f"http://127.0.0.1:{port}/graphql", BODY, {}, timeout=5)
    assert isinstance(caught.value.__cause__, ConnectionRefusedError)


@pytest.mark.asyncio
async def test_no_answer_in_time_is_a_request_timeout(
    sigv4_server: SigV4CheckingServer, transport: HttpTransport
) -> None:
    # GIVEN a server that reads the request and never answers
    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read()  # until the client gives up and closes
        writer.close()

    server, url = await start_raw_server(silent)
    async with server:
        # WHEN posting with a short timeout
        started = time.monotonic()
        with pytest.raises(RequestTimeoutError) as caught:
            await transport.post(url, BODY, {}, timeout=0.3)
        elapsed = time.monotonic() - started
    # THEN RequestTimeoutError comes out on time, retryable and chained to the timeout
    assert 0.25 <= elapsed < 2
    assert caught.value.retryable
    assert isinstance(caught.value.__cause__, asyncio.TimeoutError)
    # AND the transport still works afterwards
    assert (await transport.post(f"{sigv4_server.base}/open", BODY, {}, timeout=5)).status == 200


@pytest.mark.asyncio
async def test_no_time_left_times_out_without_sending(transport: HttpTransport) -> None:
    # GIVEN / WHEN a post with no time left THEN it times out at once
    with pytest.raises(RequestTimeoutError, match="no time left"):
        await transport.post("http://127.0.0.1:9/graphql", BODY, {}, timeout=0)


@pytest.mark.asyncio
async def test_an_unusable_url_is_a_configuration_error(transport: HttpTransport) -> None:
    # GIVEN / WHEN a URL without a host THEN a ConfigurationError (not retryable)
    with pytest.raises(ConfigurationError):
        await transport.post("http:///graphql", BODY, {}, timeout=5)


@pytest.mark.parametrize("size", [0, -1, 1.5, True])
def test_max_connections_must_be_a_positive_int(size: Any) -> None:
    # GIVEN / WHEN / THEN
    with pytest.raises(ConfigurationError, match="max_connections"):
        HttpTransport(max_connections=size)


# --- event loops -------------------------------------------------------------------------------------------


class _KeepAliveHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    peers: list[Any]

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers["Content-Length"]))
        self.peers.append(self.client_address)
        payload = b'{"data":{}}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *_args: Any) -> None:
        pass


@pytest.fixture
def threaded_server() -> Iterator[tuple[str, list[Any]]]:
    peers: list[Any] = []
    handler = type("Handler", (_KeepAliveHandler,), {"peers": peers})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/graphql", peers
    server.shutdown()
    server.server_close()
    thread.join()


def test_a_new_event_loop_gets_a_new_session_and_nothing_leaks(
    threaded_server: tuple[str, list[Any]],
) -> None:
    # GIVEN one transport used from two successive event loops (asyncio.run per Lambda invocation)
    url, peers = threaded_server
    transport = HttpTransport()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        # WHEN each loop posts, and the loops end without closing the transport
        first = asyncio.run(transport.post(url, BODY, {}, timeout=5))
        second = asyncio.run(transport.post(url, BODY, {}, timeout=5))
        gc.collect()
    # THEN both posts succeed, each loop had its own connection
    assert (first.status, second.status) == (200, 200)
    assert len(set(peers)) == 2
    # AND each loop's shutdown closed its session: no unclosed session / connector / socket warning
    assert [str(w.message) for w in caught if issubclass(w.category, ResourceWarning)] == []


@pytest.mark.asyncio
async def test_the_session_is_kept_while_the_loop_is_the_same(sigv4_server: SigV4CheckingServer) -> None:
    # GIVEN a transport kept across two "invocations" on one loop (the bridge keeps its loop warm)
    transport = HttpTransport()
    try:
        await transport.post(f"{sigv4_server.base}/open", BODY, {}, timeout=5)
        await asyncio.sleep(0.01)  # the gap between invocations
        # WHEN the next invocation posts
        await transport.post(f"{sigv4_server.base}/open", BODY, {}, timeout=5)
    finally:
        await transport.close()
    # THEN it reused the connection
    assert len(set(sigv4_server.peers)) == 1


def test_repr_shows_settings() -> None:
    # GIVEN / WHEN / THEN
    assert repr(HttpTransport(max_connections=8)) == "HttpTransport(max_connections=8, verify_tls=True)"


def test_importing_the_module_does_not_import_its_dependencies() -> None:
    # GIVEN a fresh interpreter
    code = (
        "import sys, streambridge._io.http\n"
        "print(','.join(m for m in ('h11', 'asyncio', 'ssl', 'aiohttp', 'botocore') if m in sys.modules))\n"
    )
    # WHEN it imports streambridge._io.http
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    # THEN none is loaded (they are imported on first post)
    assert result.stdout.strip() == ""
