"""The aiohttp service: one application on one port, ``POST /graphql`` and the real-time endpoint.

``POST /graphql`` is AppSync's GraphQL endpoint: the request is counted, authorized (``_auth``), parsed,
executed (``_engine``) and recorded; then each successful root mutation field is published to its
subscriptions (``_realtime``), unless ``mute_aliased_mutations`` mutes it. Everything here runs on the
LocalAppSync's server thread, in its loop.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from streambridge.testing._local._errors import RejectedError
from streambridge.testing._local._realtime import Realtime

if TYPE_CHECKING:
    import asyncio
    import concurrent.futures
    import ssl

    from aiohttp import web

    from streambridge.testing._local._appsync import LocalAppSync

logger = logging.getLogger("streambridge.testing")


class Service:
    """The HTTP handler and the real-time endpoint of one LocalAppSync."""

    def __init__(self, owner: LocalAppSync) -> None:
        self.owner = owner
        self.engine = owner._engine
        self.authorizer = owner._authorizer
        self.realtime = Realtime(owner, self.engine, self.authorizer)

    async def serve(
        self,
        host: str,
        port: int,
        ready: concurrent.futures.Future[int],
        stop: asyncio.Event,
        ssl_context: ssl.SSLContext | None,
    ) -> None:
        """Listen on ``host:port``, hand the bound port to ``ready``, serve until ``stop`` is set."""
        from aiohttp import web

        from streambridge.testing._local._cors import cors

        app = web.Application(middlewares=[cors()])
        app.router.add_post("/graphql", self.graphql)
        app.router.add_get("/graphql/realtime", self.realtime.handle)
        runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=1.0)
        await runner.setup()
        try:
            site = web.TCPSite(runner, host, port, ssl_context=ssl_context)
            await site.start()
            address = runner.addresses[0]
            ready.set_result(int(address[1]))
            await stop.wait()
            await self.realtime.close_connections()
        finally:
            await runner.cleanup()

    async def graphql(self, request: web.Request) -> web.Response:
        """``POST /graphql``: authorize, execute, record, publish."""
        from aiohttp import web

        body = await request.read()
        headers = {name.lower(): ",".join(request.headers.getall(name)) for name in request.headers}
        self.owner._count_request(body, headers)
        try:
            mode = self.authorizer.authorize(
                headers, url=f"http://{headers.get('host', '')}{request.raw_path}", body=body
            )
            query, variables, operation_name = _parse_http_body(body)
        except RejectedError as rejected:
            return web.json_response(rejected.body(), status=rejected.status)
        answer, executed = await self.engine.execute(query, variables, operation_name, mode)
        self.owner._record(executed, mode)
        for done in executed:
            if done.error is not None or done.result is None:
                continue  # a failed field fires nothing
            if self.owner._mute_aliased_mutations and done.alias != done.field:
                logger.debug(
                    "LocalAppSync: %s: %s ran but fired no subscription (mute_aliased_mutations=True)",
                    done.alias,
                    done.field,
                )
                continue
            await self.realtime.publish(done.field, done.result)
        return web.json_response(answer)


def _parse_http_body(body: bytes) -> tuple[str, Mapping[str, Any], str | None]:
    try:
        request = json.loads(body)
    except ValueError:
        raise RejectedError(400, "MalformedHttpRequestException", "The request body is not JSON") from None
    if not isinstance(request, dict) or not isinstance(request.get("query"), str):
        raise RejectedError(400, "MalformedHttpRequestException", "The request body needs a 'query' string")
    variables = request.get("variables") or {}
    operation_name = request.get("operationName")
    if not isinstance(variables, dict):
        raise RejectedError(400, "MalformedHttpRequestException", "'variables' must be a JSON object")
    if operation_name is not None and not isinstance(operation_name, str):
        raise RejectedError(400, "MalformedHttpRequestException", "'operationName' must be a string")
    return request["query"], variables, operation_name
