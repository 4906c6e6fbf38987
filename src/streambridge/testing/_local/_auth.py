"""Authorization: which AppSync mode a request has, and which modes each type and field allow.

Two steps, as on AppSync. ``Authorizer`` decides a request's mode from its headers (``x-api-key``,
a SigV4 ``Authorization`` verified by ``_sigv4``, or a token), or refuses it with HTTP 401 / 403 before
anything runs. Then the auth directives (``@aws_api_key``, ``@aws_iam``, ``@aws_cognito_user_pools`` /
``@aws_auth``, ``@aws_oidc``, ``@aws_lambda``) decide field by field: the field's own, else its type's,
else the API's default mode (``auth_modes``; the engine applies them).
"""

from __future__ import annotations

import hmac
import re
from collections.abc import Callable, Collection, Iterable, Mapping
from datetime import datetime
from typing import Any, Final, Literal

from streambridge.testing._local._errors import RejectedError
from streambridge.testing._local._sigv4 import Credentials, verify_sigv4

AuthMode = Literal["API_KEY", "AWS_IAM", "AMAZON_COGNITO_USER_POOLS", "OPENID_CONNECT", "AWS_LAMBDA"]
"""AppSync's authorization modes, as AppSync names them."""
TokenMode = Literal["AMAZON_COGNITO_USER_POOLS", "OPENID_CONNECT", "AWS_LAMBDA"]

TOKEN_MODES: Final = ("AMAZON_COGNITO_USER_POOLS", "OPENID_CONNECT", "AWS_LAMBDA")
ALL_MODES: Final = ("API_KEY", "AWS_IAM", *TOKEN_MODES)

DEFAULT_API_KEY: Final = "da2-localappsync-test-key"
"""The API key a LocalAppSync accepts unless told otherwise."""
DEFAULT_CREDENTIALS: Final[tuple[Credentials, ...]] = (
    # AWS's documentation example keys: long-term (no session token) and temporary (with one).
    ("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", None),
    ("ASIAEXAMPLETEMPORARY", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "session-token-example"),
)
"""The IAM test credentials ``(access key id, secret access key, session token)`` accepted by default."""

_DIRECTIVE_MODES: Final = {
    "aws_api_key": "API_KEY",
    "aws_iam": "AWS_IAM",
    "aws_cognito_user_pools": "AMAZON_COGNITO_USER_POOLS",
    "aws_auth": "AMAZON_COGNITO_USER_POOLS",
    "aws_oidc": "OPENID_CONNECT",
    "aws_lambda": "AWS_LAMBDA",
}


def auth_modes(*nodes: Any) -> frozenset[str]:
    """The auth modes named by the AppSync auth directives on these AST nodes."""
    modes = set()
    for node in nodes:
        for directive in getattr(node, "directives", None) or ():
            mode = _DIRECTIVE_MODES.get(directive.name.value)
            if mode is not None:
                modes.add(mode)
    return frozenset(modes)


def check_credentials(
    credentials: Iterable[tuple[str, str] | tuple[str, str, str | None]],
) -> dict[str, Credentials]:
    """The IAM test credentials by access key id, each with its session token (or None)."""
    checked: dict[str, Credentials] = {}
    for entry in credentials:
        if not isinstance(entry, tuple) or len(entry) not in (2, 3):
            raise TypeError("credentials: each entry is (access key id, secret access key[, session token])")
        access_key, secret_key = entry[0], entry[1]
        token = entry[2] if len(entry) == 3 else None
        if not access_key or not secret_key:
            raise ValueError("credentials: empty access key id or secret access key")
        checked[access_key] = (access_key, secret_key, token or None)
    return checked


class Authorizer:
    """Decides a request's auth mode from its headers the way AppSync does, or raises ``RejectedError``."""

    def __init__(
        self,
        *,
        api_key: str | None,
        credentials: dict[str, Credentials],
        region: str,
        tokens: Collection[str] | Callable[[str], bool] | None,
        token_mode: str,
        clock: Callable[[], datetime],
    ) -> None:
        if api_key is not None and not api_key:
            raise ValueError("api_key is empty (pass None to turn API_KEY mode off)")
        if not re.fullmatch(r"[a-z0-9-]{1,63}", region):
            raise ValueError(f"region is not a valid AWS region name: {region!r}")
        self.api_key = api_key
        self.credentials = credentials
        self.region = region
        self.tokens = tokens
        self.token_mode = token_mode
        self.clock = clock
        self.modes: tuple[str, ...] = tuple(
            mode
            for mode, enabled in (
                ("API_KEY", api_key is not None),
                ("AWS_IAM", bool(credentials)),
                (token_mode, tokens is not None),
            )
            if enabled
        )

    def authorize(self, headers: Mapping[str, str], *, url: str, body: bytes) -> str:
        """The mode of a request with these (lower-cased) headers, signed for ``url`` and ``body``."""
        api_key = headers.get("x-api-key")
        if api_key is not None and self.api_key is not None:
            if hmac.compare_digest(api_key.encode(), self.api_key.encode()):
                return "API_KEY"
            raise RejectedError(401, "UnauthorizedException", "UnauthorizedException: Invalid API key")
        authorization = headers.get("authorization")
        if authorization:
            if authorization.startswith("AWS4-HMAC-SHA256") and self.credentials:
                verify_sigv4(
                    authorization,
                    headers,
                    url=url,
                    body=body,
                    credentials=self.credentials,
                    region=self.region,
                    now=self.clock(),
                )
                return "AWS_IAM"
            if self._token_ok(authorization):
                return self.token_mode
            raise RejectedError(401, "UnauthorizedException", "UnauthorizedException: Invalid token")
        raise RejectedError(401, "UnauthorizedException", "UnauthorizedException: Missing authorization")

    def _token_ok(self, token: str) -> bool:
        tokens = self.tokens
        if tokens is None:
            return False
        if callable(tokens):
            return bool(tokens(token))
        return token in tokens
