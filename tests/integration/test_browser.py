"""A real browser: headless Chromium (the distribution's package) loads the examples' pages and sees messages.

``make browser`` (part of ``make test``) installs Debian's ``chromium`` where it can (root, apt); elsewhere
these tests skip and say why (under CI they fail instead). The browser trusts the local server's key only
(``--ignore-certificate-errors-spki-list``), the profile-level equivalent of trusting the local authority.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import shutil
import ssl
import subprocess
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from examples.chat_rooms.handler import handler as chat_handler
from examples.orders.handler import handler as orders_handler

from streambridge.testing import events, lambda_context
from streambridge.testing._local import LocalAppSync
from streambridge.testing._local_events import LocalEventApi
from tests.integration.node_script import TIMEOUT, NodeScript, node_package_installed
from tests.integration.simulator import REPO_ROOT

PAGES = Path(__file__).resolve().parent / "amplify"
BROWSER = PAGES / "browser.mjs"
ORDERS_SCHEMA = REPO_ROOT / "examples" / "orders" / "schema.graphql"
CHAT_PAGE = REPO_ROOT / "examples" / "chat_rooms" / "subscriber.html"


def _chromium() -> str:
    found = os.environ.get("CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    if found:
        return found
    reason = "no chromium on PATH: `make browser` installs Debian's package (root, apt), or set CHROMIUM=path"
    if os.environ.get("CI", "").lower() not in ("", "0", "false"):
        pytest.fail(f"{reason}; CI is set, so this is an error, not a skip", pytrace=False)
    pytest.skip(reason)


def _spki(host: str, port: int) -> str:
    """base64 SHA-256 of the server certificate's public key, as Chromium's SPKI trust list takes it."""
    from cryptography import x509
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    pem = ssl.get_server_certificate((host, port), timeout=5)
    key = x509.load_pem_x509_certificate(pem.encode()).public_key()
    der = key.public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
    return base64.b64encode(hashlib.sha256(der).digest()).decode()


@pytest.fixture
def browser(tmp_path: Path) -> Any:
    """``browser(server, job)`` -> headless Chromium on a page, trusting ``server``'s certificate."""
    node_package_installed("playwright-core")
    executable = _chromium()
    started: list[NodeScript] = []

    def start(server: Any, job: dict[str, Any]) -> NodeScript:
        job = {"executable": executable, "spki": _spki("127.0.0.1", server.port), **job}
        script = NodeScript(BROWSER, job, {}, tmp_path / f"browser-{len(started)}.stderr")
        started.append(script)
        return script

    yield start
    for script in started:
        script.close()


def test_the_chat_rooms_page_shows_every_message_the_handler_publishes(
    local_event_api_factory: Any, local_handler: Any, browser: Any
) -> None:
    # GIVEN the chat rooms example's subscriber.html in Chromium, watching every room of a LocalEventApi
    api: LocalEventApi = local_event_api_factory(namespaces=("rooms",), tls=True)
    page = browser(
        api,
        {
            "url": CHAT_PAGE.as_uri(),
            "fill": {"#http": api.host, "#key": str(api.api_key)},
            "click": "button",
            "ready": {"selector": "#status", "text": "subscribed to /rooms/*"},
            "lines": "#log div",
            "newest_first": True,
            "count": 3,
        },
    )
    assert page.next() == {"event": "ready"}
    # WHEN the handler publishes three messages of two rooms
    texts = [("r-1", "m-1", "hi"), ("r-2", "m-1", "hello"), ("r-1", "m-2", "bye")]
    changes = [{"new_image": {"roomId": r, "messageId": m, "author": "ann", "text": t}} for r, m, t in texts]
    batch = events.dynamodb(changes, key_names=("roomId", "messageId"), table="Messages")
    local_handler(chat_handler, api, auth="iam")(batch, lambda_context())
    # THEN the page shows each, each room's in order
    shown = page.messages(3)
    for room in ("r-1", "r-2"):
        assert [s for s in shown if s.startswith(f"#{room} ")] == [
            f"#{r} ann: {t}" for r, _, t in texts if r == room
        ]


def _orders_page(tmp_path: Path, appsync: LocalAppSync) -> str:
    """The orders Amplify page, bundled with esbuild next to its HTML; its URL, configured for ``appsync``."""
    bundle = tmp_path / "orders-page.js"
    build = (
        "require('esbuild').build({entryPoints: [process.argv[1]], bundle: true, format: 'iife', "
        "outfile: process.argv[2], logLevel: 'error'})"
    )
    subprocess.run(
        ["node", "-e", build, str(PAGES / "orders-page.mjs"), str(bundle)],
        cwd=REPO_ROOT,
        check=True,
        timeout=60,
    )
    shutil.copy(PAGES / "orders.html", tmp_path / "orders.html")
    config = {"endpoint": appsync.url, "region": appsync.region, "apiKey": appsync.api_key}
    return f"{(tmp_path / 'orders.html').as_uri()}#{quote(json.dumps(config))}"


def test_an_amplify_page_shows_every_order_change_the_handler_publishes(
    local_appsync_factory: Any, local_handler: Any, browser: Any, tmp_path: Path
) -> None:
    # GIVEN a small Amplify JS page subscribed to order changes of a LocalAppSync, in Chromium
    node_package_installed("esbuild")
    appsync: LocalAppSync = local_appsync_factory(ORDERS_SCHEMA, tls=True)
    job = {"url": _orders_page(tmp_path, appsync), "ready": {"selector": "#status", "text": "Connected"}}
    page = browser(appsync, {**job, "lines": "#log div", "count": 3})
    assert page.next() == {"event": "ready"}
    appsync.wait_for_subscriptions(1, timeout=TIMEOUT)
    # WHEN the orders handler publishes three changes of one order
    statuses = ["placed", "paid", "shipped"]
    batch = events.dynamodb([{"new_image": {"id": "o-1", "status": s, "amount": 3.0}} for s in statuses])
    local_handler(orders_handler, appsync)(batch, lambda_context())
    # THEN the page shows each, in order
    assert page.messages(3) == [f"o-1 {s}" for s in statuses]


def test_an_amplify_page_queries_over_https_from_its_own_origin(
    local_appsync_factory: Any, browser: Any, tmp_path: Path
) -> None:
    # GIVEN the Amplify page (origin null: a file) and a LocalAppSync, WHEN it sends `{ ping }` with fetch
    node_package_installed("esbuild")
    appsync: LocalAppSync = local_appsync_factory(ORDERS_SCHEMA, tls=True)
    job = {"url": _orders_page(tmp_path, appsync), "ready": {"selector": "#status", "text": "Connected"}}
    page = browser(appsync, {**job, "lines": "#log div", "count": 0, "report": "#query"})
    assert page.next() == {"event": "ready"}
    assert page.next() == {"event": "done"}
    # THEN the browser lets the page read the answer, as AppSync's CORS headers let it
    assert page.next() == {
        "event": "report",
        "data": json.dumps({"data": {"ping": None}}, separators=(",", ":")),
    }
