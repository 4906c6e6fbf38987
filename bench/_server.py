"""A local AppSync stand-in, run in a process of its own so that its CPU is not counted as the client's.

``POST /<latency_ms>/graphql`` answers every top-level mutation of the request (aliased ``m0: ...`` or a
plain ``publishOrder(...)``) with ``{"id", "status"}`` after ``latency_ms`` milliseconds. It checks that a
SigV4 ``Authorization`` header came with the request (the signature itself is not recomputed).
``POST /<latency_ms>/event`` answers an AppSync Events publish the same way (every event successful).
``GET /stats`` returns ``{"requests", "mutations"}`` (an event counts as a mutation) counted since the
last ``GET /stats?reset=1``.

Listens on 127.0.0.1 only. It stops by itself when its standard input closes (the benchmark that started
it ended, whatever the way) or after ``--lifetime`` seconds.

    python -m bench._server [--lifetime 1800]   # prints "PORT <n>" once it listens
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import re
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from subprocess import PIPE, Popen, TimeoutExpired

from aiohttp import web

_ALIAS = re.compile(r"\b(m\d+(?:_\d+)?)\s*:")
_FIELD = re.compile(r"\{\s*(\w+)")
_RESULT = b'{"id":"x","status":"ok"}'
_STATS = {"requests": 0, "mutations": 0}


async def _graphql(request: web.Request) -> web.Response:
    latency = int(request.match_info["latency"]) / 1000
    payload = await request.json()
    if not request.headers.get("authorization", "").startswith("AWS4-HMAC-SHA256 "):
        return web.json_response({"errors": [{"errorType": "UnauthorizedException"}]}, status=401)
    query = payload["query"]
    aliases = _ALIAS.findall(query)
    if not aliases:  # one plain top-level field, as gql sends it
        match = _FIELD.search(query[query.find("{") :])
        aliases = [match.group(1)] if match else []
    _STATS["requests"] += 1
    _STATS["mutations"] += len(aliases)
    if latency:
        await asyncio.sleep(latency)
    body = b'{"data":{' + b",".join(b'"%s":%s' % (a.encode(), _RESULT) for a in aliases) + b"}}"
    return web.Response(body=body, content_type="application/json")


async def _event(request: web.Request) -> web.Response:
    """An AppSync Events publish: every event of the request succeeds, after the latency."""
    latency = int(request.match_info["latency"]) / 1000
    payload = await request.json()
    if not request.headers.get("authorization", "").startswith("AWS4-HMAC-SHA256 "):
        return web.json_response({"errors": [{"errorType": "UnauthorizedException"}]}, status=401)
    count = len(payload["events"])
    _STATS["requests"] += 1
    _STATS["mutations"] += count
    if latency:
        await asyncio.sleep(latency)
    successful = [{"identifier": f"e{index}", "index": index} for index in range(count)]
    return web.json_response({"failed": [], "successful": successful})


async def _stats(request: web.Request) -> web.Response:
    answer = web.json_response(dict(_STATS))
    if request.query.get("reset"):
        _STATS.update(requests=0, mutations=0)
    return answer


async def _serve(lifetime: float) -> None:
    app = web.Application(client_max_size=16 * 1024 * 1024)
    app.router.add_post("/{latency:\\d+}/graphql", _graphql)
    app.router.add_post("/{latency:\\d+}/event", _event)
    app.router.add_get("/stats", _stats)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, backlog=1024)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    print(f"PORT {port}", flush=True)
    stdin_closed = asyncio.Event()
    loop = asyncio.get_running_loop()

    def watch_stdin() -> None:
        sys.stdin.read()  # returns at EOF: the parent closed the pipe or died
        loop.call_soon_threadsafe(stdin_closed.set)

    threading.Thread(target=watch_stdin, daemon=True).start()
    with contextlib.suppress(asyncio.TimeoutError):
        await asyncio.wait_for(stdin_closed.wait(), lifetime)
    await runner.cleanup()


@contextmanager
def endpoint() -> Iterator[str]:
    """Start the server process; yield its base URL ``http://127.0.0.1:<port>``; stop it."""
    process = Popen([sys.executable, "-m", "bench._server"], stdin=PIPE, stdout=PIPE, text=True)
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        if not line.startswith("PORT "):
            raise RuntimeError(f"benchmark endpoint did not start: {line!r}")
        yield f"http://127.0.0.1:{int(line.split()[1])}"
    finally:
        assert process.stdin is not None
        process.stdin.close()
        try:
            process.wait(10)
        except TimeoutExpired:
            process.kill()
            process.wait()


def url_for(base: str, latency_ms: int) -> str:
    """The GraphQL URL answering after ``latency_ms``."""
    return f"{base}/{latency_ms}/graphql"


def stats(base: str, *, reset: bool = False) -> dict[str, int]:
    """Requests and mutations the server answered since the last reset."""
    import json
    import urllib.request

    with urllib.request.urlopen(f"{base}/stats{'?reset=1' if reset else ''}", timeout=10) as answer:
        result: dict[str, int] = json.load(answer)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lifetime", type=float, default=1800.0, help="stop after this many seconds")
    asyncio.run(_serve(parser.parse_args().lifetime))


if __name__ == "__main__":
    main()
