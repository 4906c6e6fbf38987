"""`streambridge local`, run as a subprocess: read the printed URLs, publish through `invoke`, stop it."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from streambridge._tools.cli import main

ROOT = Path(__file__).parents[2]
SCHEMA = ROOT / "examples" / "orders" / "schema.graphql"


class Server:
    """A `streambridge local` process and what it printed up to its 'Ctrl-C stops' line."""

    def __init__(self, *argv: str, env: dict[str, str] | None = None) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "streambridge._tools.cli", "local", *argv],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=ROOT,
            env=env,
        )
        assert self.process.stdout is not None
        lines = []
        deadline = time.monotonic() + 20
        for line in self.process.stdout:
            lines.append(line)
            if line.startswith("Ctrl-C stops") or time.monotonic() > deadline:
                break
        self.banner = "".join(lines)
        assert "Ctrl-C stops" in self.banner, self.banner + self.process.stderr.read()  # type: ignore[union-attr]

    def value(self, label: str) -> str:
        match = re.search(rf"^  {label} +(\S+)$", self.banner, re.MULTILINE)
        assert match, self.banner
        return match.group(1)

    def stop(self, signum: int = signal.SIGINT) -> tuple[int, str, str]:
        self.process.send_signal(signum)
        out, err = self.process.communicate(timeout=10)
        return self.process.returncode, out, err


@pytest.fixture
def stopped() -> Iterator[list[Server]]:
    servers: list[Server] = []
    yield servers
    for server in servers:
        if server.process.poll() is None:
            server.process.kill()
            server.process.communicate()


def write_event(path: Path, *argv: str) -> Path:
    completed = subprocess.run(
        [sys.executable, "-m", "streambridge._tools.cli", "events", *argv],
        capture_output=True,
        text=True,
        check=True,
    )
    path.write_text(completed.stdout)
    return path


def test_local_serves_graphql_and_an_event_api_until_sigint(
    tmp_path: Path, stopped: list[Server], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN `streambridge local` serving the orders schema and an Event API with a rooms namespace
    server = Server("--schema", str(SCHEMA), "--port", "0", "--namespace", "rooms", "--event-port", "0")
    stopped.append(server)
    url, event_url = server.value("GraphQL"), server.value("Event API")
    # THEN it says where and how to connect, on 127.0.0.1
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+/graphql", url)
    assert server.value("real-time") == url.replace("http://", "ws://") + "/realtime"
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+/event", event_url)
    assert server.value("API key") == "da2-localappsync-test-key"
    access_key, secret_key = server.value("IAM access key id"), server.value("IAM secret key")
    assert f"export STREAMBRIDGE_APPSYNC_URL={url}\n" in server.banner
    assert f"export AWS_ACCESS_KEY_ID={access_key}\n" in server.banner
    assert "export AWS_REGION=us-east-1\n" in server.banner

    # WHEN the orders handler runs on a multi-key batch with the printed exports (IAM-signed)
    monkeypatch.chdir(ROOT)
    for name in ("AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_DEFAULT_REGION"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("STREAMBRIDGE_APPSYNC_URL", url)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", access_key)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", secret_key)
    monkeypatch.setenv("AWS_REGION", "us-east-1")
    event = write_event(tmp_path / "orders.json", "dynamodb", "--keys", "2", "--count", "2")
    code = main(["invoke", "examples.orders.handler:handler", "--event", str(event), "--json"])
    report = json.loads(capsys.readouterr().out)
    assert code == 0, report
    assert report["summary"]["published"] == 4
    # AND a channel handler publishes to the Event API with the API key
    room = write_event(
        tmp_path / "room.json",
        "dynamodb", "--key-names", "roomId,messageId",
        "--new-image", '{"roomId": "r-1", "messageId": "m-1", "author": "ada", "text": "hi"}',
    )  # fmt: skip
    argv = ["invoke", "examples.chat_rooms.handler:handler", "--event", str(room), "--json"]
    code = main([*argv, "--url", event_url, "--api-key", server.value("API key")])
    assert code == 0, capsys.readouterr().out

    # THEN it logs what it received, and SIGINT stops it cleanly
    time.sleep(0.3)  # one poll of the request log
    code, out, err = server.stop(signal.SIGINT)
    assert (code, err) == (0, "")
    assert out.count("mutation  publishOrder (AWS_IAM): ok") == 4
    assert "event     /rooms/r-1: " in out
    assert out.endswith("stopped\n")


def test_local_event_api_only_stops_on_sigterm(stopped: list[Server]) -> None:
    server = Server("--event-api", "--event-port", "0", "--api-key", "da2-mine")
    stopped.append(server)
    assert "GraphQL" not in server.banner
    assert server.value("API key") == "da2-mine"
    assert f"export STREAMBRIDGE_APPSYNC_URL={server.value('Event API')}\n" in server.banner
    assert "namespace(s) default" in server.banner
    code, out, err = server.stop(signal.SIGTERM)
    assert (code, out, err) == (0, "stopped\n", "")


def test_local_with_resolvers_from_a_module(tmp_path: Path, stopped: list[Server]) -> None:
    (tmp_path / "my_resolvers.py").write_text(
        "from streambridge.testing import FieldError\n"
        "def publish(field, arguments):\n"
        "    if arguments['input']['status'] == 'POISON':\n"
        "        raise FieldError('poison record')\n"
        "    return arguments['input']\n"
        "RESOLVERS = {'Mutation.publishOrder': publish}\n"
    )
    schema = tmp_path / "schema.graphql"
    schema.write_text(
        "type Order { id: ID! status: String }\n"
        "input OrderInput { id: ID! status: String }\n"
        "type Query { ping: String }\n"
        "type Mutation { publishOrder(input: OrderInput!): Order }\n"
    )
    env = {**os.environ, "PYTHONPATH": str(tmp_path)}
    server = Server("--schema", str(schema), "--port", "0", "--resolvers", "my_resolvers", env=env)
    stopped.append(server)
    import urllib.request

    body = json.dumps(
        {
            "query": "mutation P($i: OrderInput!) { publishOrder(input: $i) { id } }",
            "variables": {"i": {"id": "o-1", "status": "POISON"}},
        }
    ).encode()
    request = urllib.request.Request(
        server.value("GraphQL"),
        data=body,
        headers={"content-type": "application/json", "x-api-key": server.value("API key")},
    )
    with urllib.request.urlopen(request, timeout=5) as answer:
        assert json.load(answer)["errors"][0]["message"] == "poison record"
    time.sleep(0.3)
    code, out, _ = server.stop()
    assert code == 0
    assert "mutation  publishOrder (API_KEY): error: poison record" in out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        ([], "give --schema FILE (a GraphQL API), --event-api (an Event API), or both"),
        (["--schema", "missing.graphql"], "--schema: cannot read the AppSync schema"),
        (["--event-api", "--resolvers", "x"], "--resolvers goes with --schema"),
        (
            ["--schema", str(SCHEMA), "--resolvers", "no_such_module_here"],
            "module 'no_such_module_here' not found",
        ),
        (["--schema", str(SCHEMA), "--namespace", "a", "--port", "5", "--event-port", "5"], "both 5"),
        (["--port", "70000"], "argument --port: not a port: 70000"),
    ],
)
def test_bad_local_arguments_exit_2(
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    argv: list[str],
    message: str,
) -> None:
    monkeypatch.chdir(tmp_path)
    code = main(["local", *argv])
    out, err = capsys.readouterr()
    assert (code, out) == (2, "")
    assert message in err


def test_local_on_a_busy_port_says_to_pick_another(capsys: pytest.CaptureFixture[str]) -> None:
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        code = main(["local", "--schema", str(SCHEMA), "--port", str(port)])
    out, err = capsys.readouterr()
    assert (code, out) == (2, "")
    assert f"cannot listen on port {port}" in err
    assert "pass another --port" in err


def test_local_tls_serves_https_and_prints_how_to_trust_its_authority(
    tmp_path: Path, stopped: list[Server]
) -> None:
    # GIVEN `streambridge local --tls` serving both APIs, the authority's PEM written to --ca-file
    ca_file = tmp_path / "ca.pem"
    server = Server(
        "--schema", str(SCHEMA), "--port", "0", "--namespace", "rooms", "--event-port", "0",
        "--tls", "--ca-file", str(ca_file),
    )  # fmt: skip
    stopped.append(server)
    url, event_url = server.value("GraphQL"), server.value("Event API")
    # THEN every URL is https/wss (the real-time URL is where Amplify JS looks: the endpoint + /realtime)
    assert re.fullmatch(r"https://127\.0\.0\.1:\d+/graphql", url)
    assert server.value("real-time") == url.replace("https://", "wss://") + "/realtime"
    assert server.value("Event real-time") == event_url.replace("https://", "wss://") + "/realtime"
    # AND it says how to trust the one authority of both APIs
    assert server.value("CA certificate") == str(ca_file.resolve())
    assert ca_file.read_bytes().startswith(b"-----BEGIN CERTIFICATE-----")
    assert f"export NODE_EXTRA_CA_CERTS={ca_file.resolve()}" in server.banner
    assert f"export SSL_CERT_FILE={ca_file.resolve()}" in server.banner

    # WHEN `streambridge invoke` runs in a shell with the printed exports (SSL_CERT_FILE, IAM credentials)
    event = write_event(tmp_path / "orders.json", "dynamodb", "--keys", "2", "--count", "2")
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in ("AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_DEFAULT_REGION")
    }
    env.update(
        SSL_CERT_FILE=str(ca_file.resolve()),
        STREAMBRIDGE_APPSYNC_URL=url,
        AWS_ACCESS_KEY_ID=server.value("IAM access key id"),
        AWS_SECRET_ACCESS_KEY=server.value("IAM secret key"),
        AWS_REGION="us-east-1",
    )
    argv = ["invoke", "examples.orders.handler:handler", "--event", str(event), "--json"]
    invoked = subprocess.run(
        [sys.executable, "-m", "streambridge._tools.cli", *argv],
        capture_output=True, text=True, cwd=ROOT, env=env, timeout=60, check=False,
    )  # fmt: skip
    # THEN it publishes over https, the certificate verified against the local authority
    assert invoked.returncode == 0, invoked.stdout + invoked.stderr
    assert json.loads(invoked.stdout)["summary"]["published"] == 4
    # AND without the trust step it fails on the certificate
    del env["SSL_CERT_FILE"]
    untrusted = subprocess.run(
        [sys.executable, "-m", "streambridge._tools.cli", *argv],
        capture_output=True, text=True, cwd=ROOT, env=env, timeout=60, check=False,
    )  # fmt: skip
    assert untrusted.returncode != 0
    assert "CERTIFICATE_VERIFY_FAILED" in untrusted.stdout + untrusted.stderr
    code, out, err = server.stop(signal.SIGINT)
    assert (code, err) == (0, "")
    assert out.count("mutation  publishOrder (AWS_IAM): ok") == 4


def test_local_ca_file_needs_tls(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["local", "--event-api", "--ca-file", "ca.pem"])
    assert code != 0
    assert "--ca-file goes with --tls" in capsys.readouterr().err
