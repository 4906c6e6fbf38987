"""`streambridge subscribe` as a user runs it (a subprocess) against LocalAppSync and LocalEventApi started
in-process, while a decorated handler publishes; and the examples' subscribers against the same local URLs."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import selectors
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from streambridge import ApiKeyAuth, Bridge, DynamoDBRecord, IAMAuth
from streambridge._io.transport import Auth
from streambridge._tools.verbs.subscribe import realtime_url
from streambridge.testing import DEFAULT_CREDENTIALS, LocalAppSync, LocalEventApi
from streambridge.testing import events as sample_events
from streambridge.testing.events import lambda_context

ROOT = Path(__file__).parents[2]
SCHEMA = ROOT / "examples" / "orders" / "schema.graphql"
KEY_ID, SECRET, _ = DEFAULT_CREDENTIALS[0]
ON_ORDER_CHANGED = "subscription { onOrderChanged { id status } }"
PUBLISH = "mutation P($input: OrderInput!) { publishOrder(input: $input) { id status } }"


class Subscribe:
    """A `streambridge subscribe` process, started and read up to its 'subscribed to' status line."""

    def __init__(self, *argv: str, wait: bool = True) -> None:
        env = {
            **os.environ,
            "AWS_ACCESS_KEY_ID": KEY_ID,
            "AWS_SECRET_ACCESS_KEY": SECRET,
            "AWS_REGION": "us-east-1",
        }
        for name in ("AWS_SESSION_TOKEN", "AWS_PROFILE", "STREAMBRIDGE_APPSYNC_URL"):
            env.pop(name, None)
        self.process = subprocess.Popen(
            [sys.executable, "-m", "streambridge._tools.cli", "subscribe", *argv],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=ROOT,
            env=env,
        )
        self.status = self._status_line() if wait else ""

    def _status_line(self, timeout: float = 20.0) -> str:
        assert self.process.stderr is not None
        with selectors.DefaultSelector() as selector:
            selector.register(self.process.stderr, selectors.EVENT_READ)
            assert selector.select(timeout), "no status line from subscribe"
        line = self.process.stderr.readline()
        assert line.startswith("streambridge subscribe: subscribed to "), line + self.process.stderr.read()
        return line

    def finish(self, timeout: float = 20.0) -> tuple[int, list[Any], str]:
        """Wait for the exit: (status, the JSON lines it printed, the rest of stderr)."""
        out, err = self.process.communicate(timeout=timeout)
        return self.process.returncode, [json.loads(line) for line in out.splitlines()], err

    def stop(self, signum: int) -> tuple[int, list[Any], str]:
        self.process.send_signal(signum)
        return self.finish()


@pytest.fixture
def processes() -> Iterator[list[Subscribe]]:
    started: list[Subscribe] = []
    yield started
    for subscribe in started:
        if subscribe.process.poll() is None:
            subscribe.process.kill()
            subscribe.process.communicate()


@pytest.fixture
def appsync() -> Iterator[LocalAppSync]:
    with LocalAppSync(SCHEMA) as started:
        yield started


@pytest.fixture
def event_api() -> Iterator[LocalEventApi]:
    with LocalEventApi(namespaces=("rooms",)) as started:
        yield started


def publish_orders(url: str, auth: Auth, changes: list[tuple[str, str]]) -> None:
    """A decorated DynamoDB handler publishes one mutation per (id, status) change, one key's in order."""
    bridge = Bridge(url=url, auth=auth)

    @bridge.dynamodb(PUBLISH)
    def handler(record: DynamoDBRecord) -> dict[str, Any]:
        return {"input": {"id": record.new_image["id"], "status": record.new_image["status"]}}

    event = sample_events.dynamodb([{"new_image": {"id": i, "status": s}} for i, s in changes])
    try:
        assert handler(event, lambda_context()) == {"batchItemFailures": []}
    finally:
        bridge.close()


def publish_messages(url: str, auth: Auth, texts: list[str]) -> None:
    """A channel handler publishes each change of one room to /rooms/<room>, in stream order."""
    bridge = Bridge(url=url, auth=auth)

    @bridge.dynamodb(channel=lambda r: f"/rooms/{r.new_image['room']}", partition_key=lambda r: "one room")
    def handler(record: DynamoDBRecord) -> dict[str, Any]:
        return {"text": record.new_image["text"]}

    changes = [{"new_image": {"id": str(n), "room": "lobby", "text": t}} for n, t in enumerate(texts)]
    try:
        assert handler(sample_events.dynamodb(changes), lambda_context()) == {"batchItemFailures": []}
    finally:
        bridge.close()


class Lines(list[str]):
    """What an example subscriber printed; ``await lines.wait(n)``: until it printed n lines (5 s at most)."""

    def __init__(self) -> None:
        super().__init__()
        self.grew = asyncio.Event()

    def append(self, line: str) -> None:
        super().append(line)
        self.grew.set()

    async def wait(self, count: int) -> None:
        deadline = time.monotonic() + 5
        while len(self) < count and time.monotonic() < deadline:
            self.grew.clear()
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self.grew.wait(), deadline - time.monotonic())


def iam() -> IAMAuth:
    from botocore.credentials import Credentials

    return IAMAuth(region="us-east-1", credentials=Credentials(KEY_ID, SECRET))


# --------------------------------------------------------------------------------------------------
# The real-time URL


@pytest.mark.parametrize(
    ("http_url", "expected"),
    [
        (
            "https://abc.appsync-api.eu-west-1.amazonaws.com/graphql",
            "wss://abc.appsync-realtime-api.eu-west-1.amazonaws.com/graphql",
        ),
        (
            "https://abc.appsync-api.eu-west-1.amazonaws.com/event",
            "wss://abc.appsync-realtime-api.eu-west-1.amazonaws.com/event/realtime",
        ),
        ("https://api.example.com/graphql", "wss://api.example.com/graphql/realtime"),
        ("https://api.example.com/event", "wss://api.example.com/event/realtime"),
        ("http://127.0.0.1:20002/graphql", "ws://127.0.0.1:20002/graphql/realtime"),
        ("http://127.0.0.1:20003/event", "ws://127.0.0.1:20003/event/realtime"),
        ("https://127.0.0.1:20002/graphql", "wss://127.0.0.1:20002/graphql/realtime"),
    ],
)
def test_the_realtime_url_is_derived_as_appsync_derives_it(http_url: str, expected: str) -> None:
    # GIVEN an API's HTTP endpoint: AppSync's own domain, a custom domain, a local server
    # WHEN the subscriber and the examples' subscribers derive the real-time endpoint
    from examples.chat_rooms.subscriber import realtime_url as chat_rooms_realtime_url
    from examples.orders.subscriber import realtime_url as orders_realtime_url

    # THEN it is AppSync's: the realtime host, or the same host with /realtime; http -> ws
    assert realtime_url(http_url) == expected
    example = chat_rooms_realtime_url if http_url.endswith("/event") else orders_realtime_url
    assert example(http_url) == expected


# --------------------------------------------------------------------------------------------------
# GraphQL


def test_graphql_with_an_api_key_prints_each_message_in_order(
    appsync: LocalAppSync, processes: list[Subscribe]
) -> None:
    # GIVEN `subscribe --query` on a LocalAppSync's HTTP URL with its API key, waiting for 3 messages
    subscribe = Subscribe(
        "--url", appsync.url, "--api-key", str(appsync.api_key), "--query", ON_ORDER_CHANGED, "--count", "3"
    )
    processes.append(subscribe)
    assert appsync.realtime_url in subscribe.status
    # WHEN a handler publishes three changes of one order (the schema's Mutation is @aws_iam: sign)
    publish_orders(appsync.url, iam(), [("o-1", "NEW"), ("o-1", "PAID"), ("o-1", "SHIPPED")])
    # THEN it prints each message's data as one JSON line, in order, and exits 0 after the third
    status, lines, err = subscribe.finish()
    assert status == 0, err
    assert lines == [{"onOrderChanged": {"id": "o-1", "status": s}} for s in ("NEW", "PAID", "SHIPPED")]


def test_graphql_with_iam_signs_the_handshake_and_filters_with_variables(
    appsync: LocalAppSync, processes: list[Subscribe]
) -> None:
    # GIVEN `subscribe --iam` (the credentials from the environment) filtered on one order
    document = "subscription S($id: ID) { onOrderChanged(id: $id) { id status } }"
    subscribe = Subscribe(
        *("--url", appsync.url, "--iam", "--query", document, "--variables", '{"id": "o-2"}', "--count", "2")
    )
    processes.append(subscribe)
    # WHEN a handler publishes changes of two orders
    publish_orders(appsync.url, iam(), [("o-1", "NEW"), ("o-2", "NEW"), ("o-1", "PAID"), ("o-2", "PAID")])
    # THEN only the filtered order's messages arrive, in order, and the connection was signed (AWS_IAM)
    status, lines, err = subscribe.finish()
    assert status == 0, err
    assert lines == [{"onOrderChanged": {"id": "o-2", "status": s}} for s in ("NEW", "PAID")]


def test_sigterm_ends_the_subscription_with_status_0(
    appsync: LocalAppSync, processes: list[Subscribe]
) -> None:
    # GIVEN a subscription without --count that received one message
    subscribe = Subscribe(
        "--url", appsync.url, "--api-key", str(appsync.api_key), "--query", ON_ORDER_CHANGED
    )
    processes.append(subscribe)
    publish_orders(appsync.url, iam(), [("o-1", "NEW")])
    time.sleep(0.5)
    # WHEN it gets SIGTERM (then another one gets Ctrl-C)
    status, lines, err = subscribe.stop(signal.SIGTERM)
    # THEN it printed the message and stops cleanly, exit status 0
    assert (status, lines) == (0, [{"onOrderChanged": {"id": "o-1", "status": "NEW"}}]), err
    interrupted = Subscribe(
        "--url", appsync.url, "--api-key", str(appsync.api_key), "--query", ON_ORDER_CHANGED
    )
    processes.append(interrupted)
    assert interrupted.stop(signal.SIGINT)[0] == 0


def test_a_refused_subscription_names_the_url_and_appsyncs_reason(
    appsync: LocalAppSync, processes: list[Subscribe]
) -> None:
    # GIVEN a wrong API key, then a field the schema does not have
    wrong_key = Subscribe(
        "--url", appsync.url, "--api-key", "da2-wrong", "--query", ON_ORDER_CHANGED, wait=False
    )
    no_field = Subscribe(
        *("--url", appsync.url, "--api-key", str(appsync.api_key), "--query", "subscription { nope }"),
        wait=False,
    )
    processes += [wrong_key, no_field]
    # WHEN they run THEN each stops with exit status 2, the real-time URL and the refusal, no traceback
    status, lines, err = wrong_key.finish()
    assert (status, lines) == (2, [])
    assert err == (
        f"streambridge subscribe: error: {appsync.realtime_url} refused the subscription: "
        "UnauthorizedException: Invalid API key\n"
    )
    status, _, err = no_field.finish()
    assert status == 2
    assert f"{appsync.realtime_url} refused the subscription: " in err
    assert "Cannot query field 'nope'" in err
    assert "Traceback" not in err
    assert "da2-wrong" not in err


def test_nothing_listening_says_it_cannot_connect(processes: list[Subscribe]) -> None:
    import socket

    # GIVEN a port nothing listens on
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    # WHEN subscribe targets it THEN it says it cannot connect to the real-time URL, exit status 2
    subscribe = Subscribe(
        *("--url", f"http://127.0.0.1:{port}/graphql", "--api-key", "k", "--query", ON_ORDER_CHANGED),
        wait=False,
    )
    processes.append(subscribe)
    status, _, err = subscribe.finish()
    assert status == 2
    assert err.startswith(
        f"streambridge subscribe: error: cannot connect to ws://127.0.0.1:{port}/graphql/realtime: "
    )
    assert "refused" in err.lower()


def test_timeout_before_count_exits_1(appsync: LocalAppSync, processes: list[Subscribe]) -> None:
    # GIVEN --count 2 --timeout 1 and one message only
    subscribe = Subscribe(
        *("--url", appsync.url, "--api-key", str(appsync.api_key), "--query", ON_ORDER_CHANGED),
        *("--count", "2", "--timeout", "1"),
    )
    processes.append(subscribe)
    publish_orders(appsync.url, iam(), [("o-1", "NEW")])
    # WHEN the time is up THEN it printed what arrived, says how many were missing, exit status 1
    status, lines, err = subscribe.finish()
    assert (status, len(lines)) == (1, 1)
    assert "timeout: 1 of 2 message(s) in 1 s" in err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (
            ["--url", "http://127.0.0.1:1/graphql", "--channel", "/rooms/*"],
            "--channel subscribes on an Event API",
        ),
        (
            ["--url", "http://127.0.0.1:1/event", "--query", ON_ORDER_CHANGED],
            "--query subscribes on a GraphQL API",
        ),
        (
            ["--url", "wss://abc.appsync-realtime-api.eu-west-1.amazonaws.com/graphql", "--query", "x"],
            "pass the API's HTTP endpoint, https://abc.appsync-api.eu-west-1.amazonaws.com/graphql",
        ),
        (["--query", ON_ORDER_CHANGED], "no API URL: pass --url URL or set STREAMBRIDGE_APPSYNC_URL"),
        (["--url", "http://127.0.0.1:1/event", "--channel", "rooms"], "--channel must start with /namespace"),
    ],
)
def test_arguments_that_cannot_work_are_refused_before_connecting(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from streambridge._tools.cli import main

    monkeypatch.delenv("STREAMBRIDGE_APPSYNC_URL", raising=False)
    # WHEN subscribe gets a URL of the other kind of API, a real-time URL, no URL, a bad channel
    status = main(["subscribe", "--api-key", "k", *argv])
    # THEN it says why, exit status 2
    assert status == 2
    assert message in capsys.readouterr().err


# --------------------------------------------------------------------------------------------------
# Event API channels


@pytest.mark.parametrize("auth", ["api key", "iam"])
def test_a_channel_prints_each_event_in_order(
    auth: str, event_api: LocalEventApi, processes: list[Subscribe]
) -> None:
    # GIVEN `subscribe --channel /rooms/*` on a LocalEventApi's HTTP URL, with the API key or IAM
    credentials = ["--api-key", str(event_api.api_key)] if auth == "api key" else ["--iam"]
    subscribe = Subscribe("--url", event_api.url, *credentials, "--channel", "/rooms/*", "--count", "3")
    processes.append(subscribe)
    assert event_api.realtime_url in subscribe.status
    # WHEN a channel handler publishes three messages to /rooms/lobby
    publisher: Auth = ApiKeyAuth(str(event_api.api_key)) if auth == "api key" else iam()
    publish_messages(event_api.url, publisher, ["hi", "how are you", "bye"])
    # THEN each event is one JSON line, in publish order, and it exits 0 after the third
    status, lines, err = subscribe.finish()
    assert status == 0, err
    assert lines == [{"text": "hi"}, {"text": "how are you"}, {"text": "bye"}]


def test_a_channel_refusal_names_the_url_and_the_reason(
    event_api: LocalEventApi, processes: list[Subscribe]
) -> None:
    # GIVEN a namespace the API does not have
    subscribe = Subscribe(
        *("--url", event_api.url, "--api-key", str(event_api.api_key), "--channel", "/nope/*"), wait=False
    )
    processes.append(subscribe)
    # WHEN it subscribes THEN it stops with exit status 2, the real-time URL and the API's words
    status, _, err = subscribe.finish()
    assert status == 2
    assert err == (
        f"streambridge subscribe: error: {event_api.realtime_url} refused the subscription: subscribe_error: "
        "BadRequestException: Channel namespace 'nope' does not exist on this API\n"
    )


# --------------------------------------------------------------------------------------------------
# The examples' subscribers against local URLs


def test_the_orders_subscriber_works_against_a_local_url(appsync: LocalAppSync) -> None:
    from examples.orders import subscriber

    # GIVEN the orders subscriber given LocalAppSync's http:// GraphQL URL (it used to hand gql the http URL:
    # "scheme isn't ws or wss")
    lines = Lines()

    async def scenario() -> None:
        watching = asyncio.create_task(subscriber.watch(appsync.url, str(appsync.api_key), out=lines.append))
        try:
            await asyncio.to_thread(appsync.wait_for_subscriptions, 1)
            # WHEN a handler publishes two changes
            await asyncio.to_thread(publish_orders, appsync.url, iam(), [("o-1", "NEW"), ("o-1", "PAID")])
            await lines.wait(3)
        finally:
            watching.cancel()
            await asyncio.gather(watching, return_exceptions=True)
        assert watching.cancelled(), watching.exception()

    asyncio.run(scenario())
    # THEN it shows both
    assert [line.split()[:2] for line in lines[1:]] == [["o-1", "NEW"], ["o-1", "PAID"]]


def test_the_chat_rooms_subscriber_takes_a_local_url(
    event_api: LocalEventApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    from examples.chat_rooms import subscriber

    # GIVEN the chat rooms subscriber's command line with the LocalEventApi's HTTP URL (it knew only
    # --http-domain, and built wss:// from it)
    calls: list[tuple[tuple[Any, ...], dict[str, Any]]] = []

    async def record(*args: Any, **kwargs: Any) -> None:
        calls.append((args, kwargs))

    monkeypatch.setattr(subscriber, "watch", record)
    assert subscriber.main(["--url", event_api.url, "--api-key", str(event_api.api_key)]) == 0
    monkeypatch.undo()
    ((args, kwargs),) = calls
    lines = Lines()

    async def scenario() -> None:
        # WHEN it watches with what its command line chose, and a handler publishes to a room
        watching = asyncio.create_task(subscriber.watch(*args, **{**kwargs, "out": lines.append}))
        try:
            await lines.wait(1)
            await asyncio.to_thread(
                publish_messages, event_api.url, ApiKeyAuth(str(event_api.api_key)), ["hi"]
            )
            await lines.wait(2)
        finally:
            watching.cancel()
            await asyncio.gather(watching, return_exceptions=True)
        assert watching.cancelled(), watching.exception()

    asyncio.run(scenario())
    # THEN it subscribed at the local ws:// real-time URL and shows the message
    assert kwargs["url"] == event_api.realtime_url
    assert lines[0] == "subscribed to /rooms/*"
    assert len(lines) == 2, lines
    assert "hi" in lines[1]


def test_help_has_examples_for_both_apis(capsys: pytest.CaptureFixture[str]) -> None:
    from streambridge._tools.cli import main

    # WHEN the verb's help is printed
    assert main(["subscribe", "--help"]) == 0
    out = capsys.readouterr().out
    # THEN it shows a GraphQL and a channel example, and says that stdout holds only the messages
    examples = out.split("examples:", 1)[1]
    assert "streambridge subscribe --url http://127.0.0.1:20002/graphql" in examples
    assert "--channel '/rooms/*'" in examples
    assert "stdout is only the messages" in out


def test_on_appsync_the_handshake_is_signed_for_the_http_host_in_both_forms(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import argparse
    import base64
    from urllib.parse import parse_qs, urlsplit

    from streambridge._tools.verbs.subscribe import _graphql_auth, _transport_class

    # GIVEN an AppSync GraphQL URL, --iam without --region, credentials in the environment
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", KEY_ID)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET)
    for name in ("AWS_REGION", "AWS_DEFAULT_REGION", "AWS_PROFILE", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    url = "https://abc.appsync-api.eu-west-1.amazonaws.com/graphql"
    args = argparse.Namespace(api_key=None, token=None, iam=True, region=None)
    # WHEN the subscriber prepares its connection (no network)
    auth = _graphql_auth(url, args)

    async def prepare() -> Any:  # in a loop of its own: gql's transport would otherwise make one, unclosed
        return _transport_class()(realtime_url(url), auth=auth, timeout=10)

    transport = asyncio.run(prepare())
    # THEN it goes to the real-time host, and the auth header (in the query and in the subprotocol) is
    # signed for the API's HTTP host in the URL's region
    assert transport.url.startswith("wss://abc.appsync-realtime-api.eu-west-1.amazonaws.com/graphql?header=")
    query_header = json.loads(base64.b64decode(parse_qs(urlsplit(transport.url).query)["header"][0]))
    graphql_ws, subprotocol = transport.adapter.subprotocols
    encoded = subprotocol.removeprefix("header-")
    protocol_header = json.loads(base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)))
    assert graphql_ws == "graphql-ws"
    for header in (query_header, protocol_header):
        assert header["host"] == "abc.appsync-api.eu-west-1.amazonaws.com"
        assert "/eu-west-1/appsync/aws4_request" in header["Authorization"]


def test_a_reader_that_stops_reading_ends_the_subscription_quietly(
    event_api: LocalEventApi, processes: list[Subscribe]
) -> None:
    # GIVEN `subscribe --channel ... | head -n 1`: a reader that closes the pipe after one line
    subscribe = Subscribe(
        "--url", event_api.url, "--api-key", str(event_api.api_key), "--channel", "/rooms/*"
    )
    processes.append(subscribe)
    assert subscribe.process.stdout is not None
    publish_messages(event_api.url, ApiKeyAuth(str(event_api.api_key)), ["first"])
    assert json.loads(subscribe.process.stdout.readline()) == {"text": "first"}
    subscribe.process.stdout.close()
    # WHEN more messages arrive
    publish_messages(event_api.url, ApiKeyAuth(str(event_api.api_key)), ["second", "third"])
    # THEN it stops, exit status 0, without a traceback or a BrokenPipeError
    assert subscribe.process.wait(timeout=20) == 0
    assert subscribe.process.stderr is not None
    with subscribe.process.stderr:
        assert "Error" not in subscribe.process.stderr.read()


class SilentServer:
    """A real-time endpoint that acks with connectionTimeoutMs 300, subscribes, then says nothing."""

    def __init__(self) -> None:
        import threading

        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.runner, self.port = asyncio.run_coroutine_threadsafe(self._start(), self.loop).result(10)

    async def _start(self) -> tuple[Any, int]:
        from aiohttp import web

        app = web.Application()
        app.router.add_get("/graphql/realtime", self._graphql)
        app.router.add_get("/event/realtime", self._event)
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        return runner, site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    async def _graphql(self, request: Any) -> Any:
        from aiohttp import web

        ws = web.WebSocketResponse(protocols=("graphql-ws",))
        await ws.prepare(request)
        async for frame in ws:
            message = json.loads(frame.data)
            if message["type"] == "connection_init":
                await ws.send_json({"type": "connection_ack", "payload": {"connectionTimeoutMs": 300}})
            elif message["type"] == "start":
                await ws.send_json({"type": "start_ack", "id": message["id"]})
        return ws

    async def _event(self, request: Any) -> Any:
        from aiohttp import web

        ws = web.WebSocketResponse(protocols=("aws-appsync-event-ws",))
        await ws.prepare(request)
        async for frame in ws:
            message = json.loads(frame.data)
            if message["type"] == "connection_init":
                await ws.send_json({"type": "connection_ack", "connectionTimeoutMs": 300})
            elif message["type"] == "subscribe":
                await ws.send_json({"type": "subscribe_success", "id": message["id"]})
        return ws

    def close(self) -> None:
        asyncio.run_coroutine_threadsafe(self.runner.cleanup(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()


@pytest.mark.parametrize("api", ["graphql", "event"])
def test_a_connection_gone_silent_past_the_acks_timeout_is_lost(api: str, processes: list[Subscribe]) -> None:
    # GIVEN a real-time endpoint whose ack says connectionTimeoutMs 300, then sends nothing, not even a ka
    server = SilentServer()
    try:
        what = ["--query", ON_ORDER_CHANGED] if api == "graphql" else ["--channel", "/rooms/*"]
        subscribe = Subscribe(
            "--url", f"http://127.0.0.1:{server.port}/{api}", "--api-key", "da2-silent", *what
        )
        processes.append(subscribe)
        # WHEN the silence lasts longer THEN the subscription ends as lost: exit status 1, saying so
        status, lines, err = subscribe.finish(timeout=20)
    finally:
        server.close()
    assert (status, lines) == (1, [])
    assert f"127.0.0.1:{server.port}/{api}/realtime" in err
    assert "no message (not even a keep-alive)" in err
    assert "the connection is lost" in err
