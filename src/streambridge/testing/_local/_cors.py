"""Cross-origin answers, as a browser app needs them from the local servers.

A browser page is served from its own origin, so Amplify's queries, mutations and ``events.post`` send a
preflight ``OPTIONS`` first. AppSync is called by browser apps from any origin, and its allowed origins
cannot be restricted (aws-appsync-community issue 277); the exact headers of its preflight answer are not
documented: these allow what AppSync's clients send.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from aiohttp import web
    from aiohttp.typedefs import Middleware

Handler = Callable[["web.Request"], Awaitable["web.StreamResponse"]]

ALLOWED_HEADERS = (
    "content-type, x-api-key, authorization, host, x-amz-date, x-amz-security-token, x-amz-user-agent, "
    "x-amz-content-sha256"
)


def cors() -> Middleware:
    """An aiohttp middleware: ``OPTIONS`` answered 200, every HTTP answer (errors too) open to any origin."""
    from aiohttp import web

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.method == "OPTIONS":
            response: web.StreamResponse = web.Response(status=200)
            asked = request.headers.get("Access-Control-Request-Headers")
            response.headers["Access-Control-Allow-Headers"] = asked or ALLOWED_HEADERS
            response.headers["Access-Control-Allow-Methods"] = "POST, OPTIONS"
            response.headers["Access-Control-Max-Age"] = "600"
        else:
            try:
                response = await handler(request)
            except web.HTTPException as error:  # an error answer is read by the page too
                response = error
        if not response.prepared:  # a WebSocket upgrade has sent its headers already
            response.headers["Access-Control-Allow-Origin"] = "*"
        return response

    return middleware
