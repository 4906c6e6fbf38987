"""The real-time handshake's auth headers, as AppSync's clients send them (shared by both local servers).

Two forms carry the same JSON object of headers (``host`` plus ``x-api-key``, a SigV4 signature or an
``Authorization`` token):

- the ``Sec-WebSocket-Protocol`` entry ``header-<base64url, no padding>`` beside the protocol's own name:
  what amplify-js sends since aws-amplify/amplify-js#13727 (``AWSWebSocketProvider``), and the only form the
  Event API documents;
- the query ``?header=<base64>&payload=e30=``: the older GraphQL form, which gql still sends.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any
from urllib.parse import unquote

HEADER_PREFIX = "header-"


def offered_protocols(header_value: str) -> list[str]:
    """The entries of a ``Sec-WebSocket-Protocol`` request header, in order."""
    return [entry.strip() for entry in header_value.split(",") if entry.strip()]


def subprotocol_auth(offered: list[str]) -> str | None:
    """The encoded headers of the ``header-...`` subprotocol entry, or None when there is none."""
    return next((entry[len(HEADER_PREFIX) :] for entry in offered if entry.startswith(HEADER_PREFIX)), None)


def query_auth(raw_query: str) -> str | None:
    """The ``header`` query parameter, percent-decoded but with '+' kept (clients send base64 unescaped)."""
    for part in raw_query.split("&"):
        key, _, value = part.partition("=")
        if unquote(key) == "header":
            return unquote(value)
    return None


def decode_headers(encoded: str) -> dict[str, str] | None:
    """The headers of either form (base64 or base64url, padding optional), names lowered; None if invalid."""
    text = encoded.strip().replace(" ", "+").replace("-", "+").replace("_", "/")
    try:
        headers: Any = json.loads(base64.b64decode(text + "=" * (-len(text) % 4), validate=True))
    except (ValueError, binascii.Error):
        return None
    if not isinstance(headers, dict):
        return None
    return {str(name).lower(): str(value) for name, value in headers.items()}
