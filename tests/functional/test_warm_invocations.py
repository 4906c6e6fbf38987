"""Warm Lambda invocations reuse the event loop and the kept-alive connection (real aiohttp transport)."""

from __future__ import annotations

import asyncio
import re
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from aiohttp import web

from streambridge import ApiKeyAuth, Bridge
from streambridge.testing import events

from .conftest import PUBLISH

# The response keys of the top-level fields: the batch's aliases, or the field's name in a request of one.
RESPONSE_KEY = re.compile(r"\b(m\d+):|\{\s*(publishOrder)\b")


class Endpoint:
    """A GraphQL endpoint on 127.0.0.1 that answers every top-level mutation and notes client ports."""

    def __init__(self) -> None:
        self.client_ports: list[int] = []
        self.api_keys: list[str | None] = []
        self.url = ""

    async def graphql(self, request: web.Request) -> web.Response:
        peer = request.transport.get_extra_info("peername") if request.transport else None
        self.client_ports.append(peer[1] if peer else -1)
        self.api_keys.append(request.headers.get("x-api-key"))
        body = await request.json()
        keys = ["".join(match) for match in RESPONSE_KEY.findall(body["query"])]
        return web.json_response({"data": {key: {"id": "x"} for key in keys}})


@pytest.fixture
def endpoint() -> Iterator[Endpoint]:
    served = Endpoint()
    loop = asyncio.new_event_loop()
    app = web.Application()
    app.router.add_post("/graphql", served.graphql)
    runner = web.AppRunner(app, access_log=None)
    loop.run_until_complete(runner.setup())
    site = web.TCPSite(runner, "127.0.0.1", 0)
    loop.run_until_complete(site.start())
    served.url = f"http://127.0.0.1:{runner.addresses[0][1]}/graphql"
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    yield served
    asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result()
    loop.call_soon_threadsafe(loop.stop)
    thread.join()
    loop.close()


def test_two_invocations_share_one_connection(endpoint: Endpoint) -> None:
    # GIVEN a bridge built once, at module level in a real function, with the default transport
    bridge = Bridge(endpoint.url, ApiKeyAuth("da2-key"), concurrency=1)

    @bridge.dynamodb(PUBLISH)
    def handler(record: Any) -> dict[str, Any]:
        return {"input": record.new_image}

    event = events.dynamodb([{"new_image": {"id": "a", "status": "NEW"}}])
    # WHEN Lambda invokes it twice (a warm start)
    first = handler(event)
    loop = bridge._loop
    second = handler(event)
    same_loop = bridge._loop is loop
    bridge.close()
    # THEN both published over the same kept-alive connection, on the same event loop
    assert first == second == {"batchItemFailures": []}
    assert len(endpoint.client_ports) == 2
    assert len(set(endpoint.client_ports)) == 1
    assert loop is not None
    assert same_loop
    assert endpoint.api_keys == ["da2-key", "da2-key"]
