"""Quick throughput: DynamoDB stream records through a real Bridge (aiohttp, IAM signing) to a local
GraphQL endpoint with injected latency. Prints records/s, requests per record and CPU per record.
"""

from __future__ import annotations

import asyncio
import json
import re
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from aiohttp import web
from botocore.credentials import Credentials

from streambridge import Bridge, IAMAuth
from streambridge.testing import events

PUBLISH = "mutation Publish($input: OrderInput!) { publishOrder(input: $input) { id status } }"
ALIAS = re.compile(r"\b(m\d+):")


@contextmanager
def graphql_endpoint(latency: float) -> Iterator[str]:
    """A minimal AppSync stand-in on 127.0.0.1: every aliased mutation succeeds after ``latency`` s."""

    async def graphql(request: web.Request) -> web.Response:
        body = await request.json()
        if latency:
            await asyncio.sleep(latency)
        data = {alias: {"id": "x", "status": "ok"} for alias in ALIAS.findall(body["query"])}
        return web.json_response({"data": data})

    loop = asyncio.new_event_loop()
    app = web.Application()
    app.router.add_post("/graphql", graphql)
    runner = web.AppRunner(app, access_log=None)
    loop.run_until_complete(runner.setup())
    site = web.TCPSite(runner, "127.0.0.1", 0)
    loop.run_until_complete(site.start())
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{port}/graphql"
    finally:
        asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result()
        loop.call_soon_threadsafe(loop.stop)
        thread.join()
        loop.close()


def run(records: int, keys: int, latency: float, **settings: Any) -> dict[str, Any]:
    """Publish ``records`` changes over ``keys`` keys; return the figures."""
    event = events.dynamodb(
        [{"new_image": {"id": f"order-{i % keys}", "status": f"S{i}", "amount": i}} for i in range(records)]
    )
    with graphql_endpoint(latency) as url:
        auth = IAMAuth(region="us-east-1", credentials=Credentials("AKIDEXAMPLE", "secret", "token"))
        bridge = Bridge(url, auth, **settings)

        @bridge.dynamodb(PUBLISH)
        def handler(record: Any) -> dict[str, Any]:
            return {"input": record.new_image}

        handler.process(events.dynamodb([{"new_image": {"id": "warm", "status": "up"}}]))  # warm start
        wall, cpu = time.perf_counter(), time.process_time()
        result = handler.process(event)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        bridge.close()
    assert result.published == records, result.summary()
    return {
        "records": records,
        "keys": keys,
        "latency_ms": latency * 1000,
        "records_per_s": round(records / wall),
        "requests": result.requests,
        "requests_per_record": round(result.requests / records, 4),
        "wall_ms": round(wall * 1000, 1),
        "cpu_us_per_record": round(cpu / records * 1e6, 1),
    }


def main() -> None:
    """Print the quick throughput figures as JSON lines."""
    for records, keys, latency in [
        (1000, 100, 0.0),
        (1000, 100, 0.02),
        (1000, 1000, 0.02),
        (10_000, 1000, 0.02),
    ]:
        print(json.dumps(run(records, keys, latency)))


if __name__ == "__main__":
    main()
