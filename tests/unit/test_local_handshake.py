"""The real-time handshake's auth headers, in the forms AppSync's clients send (testing/_local/_handshake)."""

from __future__ import annotations

import base64
import json

import pytest

from streambridge.testing._local._handshake import (
    decode_headers,
    offered_protocols,
    query_auth,
    subprotocol_auth,
)

# A value whose base64 holds '+' and '/' (base64url: '-' and '_') and needs padding.
HEADERS = {"Host": "127.0.0.1:20002", "x-api-key": "da2-???>>>~"}
JSON = json.dumps(HEADERS).encode()


@pytest.mark.parametrize(
    "encoded",
    [
        base64.urlsafe_b64encode(JSON).decode().rstrip("="),  # amplify-js: base64url, no padding
        base64.urlsafe_b64encode(JSON).decode(),
        base64.b64encode(JSON).decode(),  # gql's query form: standard base64, padded
        base64.b64encode(JSON).decode().replace("+", " "),  # '+' read as a space by a query parser
    ],
)
def test_either_form_decodes_to_the_headers_with_names_lowered(encoded: str) -> None:
    assert decode_headers(encoded) == {"host": "127.0.0.1:20002", "x-api-key": "da2-???>>>~"}


@pytest.mark.parametrize(
    "encoded", ["!!", base64.b64encode(b"[1]").decode(), base64.b64encode(b"{").decode()]
)
def test_what_is_not_base64_of_a_json_object_is_none(encoded: str) -> None:
    assert decode_headers(encoded) is None


def test_the_subprotocol_entry_and_the_query_parameter_are_found() -> None:
    offered = offered_protocols("graphql-ws, header-abc_-, ")
    assert offered == ["graphql-ws", "header-abc_-"]
    assert subprotocol_auth(offered) == "abc_-"
    assert subprotocol_auth(["graphql-ws"]) is None
    assert query_auth("payload=e30%3D&header=ab+c%2F") == "ab+c/"  # '+' kept: base64 is sent unescaped
    assert query_auth("payload=e30=") is None
