"""Authorization for AppSync requests: IAM (SigV4), API key, or a token (Cognito / OIDC / Lambda authorizer).

Each class implements the ``Auth`` protocol of ``transport``: ``check_endpoint(url)`` when the Bridge is
built, ``validate(url)`` once before the first request, then ``headers(url, body)`` for every attempt
(retries included, so signatures are always fresh).

``IAMAuth`` computes AWS Signature Version 4 itself, for the one request shape it signs (a POST of JSON),
with the same canonical form as botocore's ``SigV4Auth`` (the unit tests compare the two byte for byte).
botocore's generic signer costs tens of microseconds per request; with one mutation per request that was
the largest CPU cost per record. botocore still resolves and refreshes the credentials.

botocore, hashlib and hmac are imported on first use, never at module import: import time is Lambda
cold-start time, and API-key or token users never pay for them at all.

Secrets (API keys, tokens, secret access keys, session tokens, signing keys, signatures) never appear in
``repr``, exception messages or log lines (botocore's own ``SigV4Auth.add_auth`` would log the signature at
DEBUG level).
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Mapping
from functools import cache
from typing import TYPE_CHECKING, Any, Protocol

from streambridge._errors import ConfigurationError, TransientError

if TYPE_CHECKING:
    import hashlib
    import hmac
    import re
    from datetime import datetime

    from botocore.credentials import Credentials, ReadOnlyCredentials

__all__ = ["ApiKeyAuth", "IAMAuth", "TokenAuth"]

_SERVICE = "appsync"
_CONTENT_TYPE = "application/json"
_REGION_ENV_VARS = ("AWS_REGION", "AWS_DEFAULT_REGION")
_MAX_CACHED_ENDPOINTS = 32
_MAX_CACHED_SIGNING_KEYS = 8
_ALGORITHM = "AWS4-HMAC-SHA256"
_TERMINATOR = "aws4_request"
_SIGNED_HEADERS = "content-type;host;x-amz-date"
_SIGNED_HEADERS_TEMPORARY = "content-type;host;x-amz-date;x-amz-security-token"
_AMZ_DATE_FORMAT = "%Y%m%dT%H%M%SZ"  # botocore.auth.SIGV4_TIMESTAMP


class _CredentialSource(Protocol):
    """A botocore or boto3 session: anything that resolves credentials."""

    def get_credentials(self) -> Any:
        """Return botocore credentials, or None when none can be found."""
        ...


# --- helpers shared by the three classes -----------------------------------------------------------------


@cache
def _appsync_host_pattern() -> re.Pattern[str]:
    # <api-id>.appsync-api.<region>.amazonaws.com (also .cn, the realtime host and VPC endpoint names).
    import re  # compiled on first use, not at import

    return re.compile(
        r"^[^.]+\.appsync-(?:realtime-)?api\.([a-z0-9-]+)\.(?:vpce\.)?amazonaws\.com(?:\.cn)?$",
    )


@cache
def _region_pattern() -> re.Pattern[str]:
    # The same rule as botocore.utils.validate_region_name.
    import re  # compiled on first use, not at import

    return re.compile(r"^(?![0-9]+$)(?!-)[a-zA-Z0-9-]{1,63}(?<!-)$")


def _check_region(region: str, origin: str) -> str:
    if not _region_pattern().match(region):
        raise ConfigurationError(f"{origin} is not a valid AWS region name: {region!r}")
    return region


def _check_header_value(value: object, what: str) -> str:
    """Return ``value`` if it can be sent as a header value; the message never shows the value."""
    if not isinstance(value, str):
        raise ConfigurationError(f"{what} must be a str, got {type(value).__name__}")
    if not value.strip():
        raise ConfigurationError(f"{what} is empty")
    if any(c in value for c in "\r\n\0"):
        raise ConfigurationError(f"{what} contains a line break or NUL character")
    # An HTTP field value (RFC 9110 5.5) as HTTP/1.1 clients send it: visible ASCII, inner spaces or tabs.
    if value != value.strip(" \t"):
        raise ConfigurationError(f"{what} starts or ends with a space or tab (copied with the key?)")
    if not value.isascii() or any((c < " " and c != "\t") or c == "\x7f" for c in value):
        raise ConfigurationError(f"{what} holds a character that cannot be sent in an HTTP header")
    return value


def _kind(value: object) -> str:
    """``a str``, ``an int``...: an argument's type for a message, never its value (it may be a secret)."""
    name = type(value).__name__
    return f"{'an' if name[:1].lower() in 'aeiou' else 'a'} {name}"


def _has_method(value: object, name: str) -> bool:
    return callable(getattr(value, name, None))


def _as_naive_utc(moment: datetime) -> datetime:
    from datetime import timezone

    if moment.tzinfo is not None:
        moment = moment.astimezone(timezone.utc).replace(tzinfo=None)
    return moment


# --- IAM ---------------------------------------------------------------------------------------------------


def _trim_all(value: str) -> str:
    # SigV4's Trimall of a header value, exactly as botocore does it (str.split: any Unicode whitespace).
    return " ".join(value.split())


def _remove_dot_segments(path: str) -> str:
    # botocore.utils.remove_dot_segments: RFC 3986 dot segments, and also empty segments ("//"), removed.
    segments: list[str] = []
    for segment in path.split("/"):
        if segment == "..":
            if segments:
                segments.pop()
        elif segment and segment != ".":
            segments.append(segment)
    first = "/" if path[0] == "/" else ""
    last = "/" if path[-1] == "/" and segments else ""
    return first + "/".join(segments) + last


def _canonical_uri(path: str) -> str:
    """The canonical URI botocore's ``SigV4Auth`` (not the S3 signer) computes for ``path``.

    Dot and empty segments are removed, then everything but unreserved characters and ``/`` is
    percent-encoded as UTF-8, ``%`` included: an already-encoded path is encoded again, as SigV4
    requires for every service but S3.
    """
    from urllib.parse import quote

    return quote(_remove_dot_segments(path) if path else "/", safe="/~")


def _canonical_query(query: str) -> str:
    # botocore's canonical query string for a query that is part of the URL: the name=value pairs sorted,
    # each kept exactly as written in the URL.
    if not query:
        return ""
    pairs = sorted(pair.partition("=")[::2] for pair in query.split("&"))
    return "&".join(f"{name}={value}" for name, value in pairs)


@cache
def _sha256() -> Callable[[bytes], hashlib._Hash]:
    # Cached rather than imported per call: an import statement costs half a microsecond.
    from hashlib import sha256  # lazy: API-key and token users never load OpenSSL

    return sha256


@cache
def _refresh_errors() -> tuple[type[Exception], ...]:
    # Cached: these import statements cost about a microsecond, a quarter of a signature.
    from botocore.exceptions import BotoCoreError, ClientError

    return BotoCoreError, ClientError


_KeyTriple = tuple[str, str, "str | None"]
"""Static credentials: (access key id, secret access key, session token or None), as ReadOnlyCredentials."""


def _environment_credentials() -> _KeyTriple | None:
    """The default chain's first link, read as botocore's ``EnvProvider`` reads it, without botocore.

    In Lambda the execution role's keys are in these variables, so signing needs no botocore import (most
    of a first invocation's cold start). None where botocore must decide: no key or only part of one
    (it says why), or an ``AWS_CREDENTIAL_EXPIRATION`` (its keys are then refreshable).
    """
    environ = os.environ
    key, secret = environ.get("AWS_ACCESS_KEY_ID", ""), environ.get("AWS_SECRET_ACCESS_KEY", "")
    if not key or not secret or environ.get("AWS_CREDENTIAL_EXPIRATION"):
        return None
    token = environ.get("AWS_SECURITY_TOKEN") or environ.get("AWS_SESSION_TOKEN") or None  # botocore's order
    return key, secret, token


def _static_credentials(credentials: object) -> _KeyTriple | None:
    """``IAMAuth(credentials=...)`` as a key triple when static, None when it resolves its own (botocore).

    A tuple ``(key, secret)`` or ``(key, secret, token)`` is the shape of botocore's own
    ``ReadOnlyCredentials`` (a named tuple, read by field name: newer botocore adds ``account_id``): taken
    as such, without importing botocore. Anything else must be botocore-like credentials with
    ``get_frozen_credentials()``. Messages never show a key.
    """
    what = "IAMAuth(credentials=...)"
    if isinstance(credentials, tuple) and hasattr(credentials, "secret_key"):  # ReadOnlyCredentials
        credentials = (credentials.access_key, credentials.secret_key, getattr(credentials, "token", None))  # type: ignore[attr-defined]
    if isinstance(credentials, tuple | list) and len(credentials) in (2, 3):
        key, secret, token = (*credentials, None)[:3]
        for name, value in (("the access key id", key), ("the secret access key", secret)):
            if not isinstance(value, str):
                raise ConfigurationError(f"{what}: {name} must be a str, got {type(value).__name__}")
            if not value:
                raise ConfigurationError(f"{what}: {name} is empty")
        if token is not None and not isinstance(token, str):
            raise ConfigurationError(
                f"{what}: the session token must be a str or None, got {type(token).__name__}"
            )
        return key, secret, token
    if _has_method(credentials, "get_frozen_credentials"):
        return None
    size = f" of {len(credentials)}" if isinstance(credentials, tuple | list) else ""
    raise ConfigurationError(
        f"{what} must be botocore Credentials (e.g. boto3.Session().get_credentials()) or a tuple "
        f"(access_key, secret_key) or (access_key, secret_key, session_token), got {_kind(credentials)}{size}"
    )


def _derive_signing_key(secret_key: str, date: str, region: str) -> hmac.HMAC:
    """SigV4's signing key for one day, region and service, as an HMAC ready to be copied per signature."""
    import hashlib  # lazy: API-key and token users never load OpenSSL
    import hmac

    key = f"AWS4{secret_key}".encode()
    for part in (date, region, _SERVICE, _TERMINATOR):
        key = hmac.digest(key, part.encode(), "sha256")
    return hmac.new(key, digestmod=hashlib.sha256)


class IAMAuth:
    """Sign each request with AWS Signature Version 4 for the ``appsync`` service (``AWS_IAM`` mode).

    Args:
        region: the API's region. Default: parsed from an ``https://<id>.appsync-api.<region>.amazonaws.com``
            URL, else the ``AWS_REGION`` / ``AWS_DEFAULT_REGION`` environment variables, else the region of
            ``session`` if one was given. Required for a custom domain when none of those is set.
        credentials: a botocore ``Credentials`` (refreshable ones refresh themselves), or static keys as a
            tuple ``(access_key, secret_key)`` or ``(access_key, secret_key, session_token)`` (botocore's
            ``ReadOnlyCredentials`` shape). Default: the default botocore credential chain (in Lambda: the
            execution role), resolved once on first use and kept.
        session: a botocore or boto3 session to resolve credentials (and a fallback region) from.
        clock: returns the signing time (aware, or naive UTC); for tests. Default: the system clock.

    Every argument is checked at construction (``ConfigurationError``, never showing a key).

    The signature covers the exact body bytes, ``content-type: application/json``, ``host``,
    ``x-amz-date`` and, with temporary credentials, ``x-amz-security-token``. Refreshable credentials are
    read for every signature; the derived signing key is cached per secret key, day and region.
    """

    __slots__ = (
        "_clock",
        "_credentials",
        "_endpoints",
        "_explicit_credentials",
        "_lock",
        "_region",
        "_session",
        "_signing_keys",
        "_stamp",
    )

    def __init__(
        self,
        region: str | None = None,
        *,
        credentials: Credentials | ReadOnlyCredentials | tuple[str, str] | _KeyTriple | None = None,
        session: _CredentialSource | None = None,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        # Every argument is checked here: a wrong type must not wait for the first invocation to fail.
        if region is not None and not isinstance(region, str):
            raise ConfigurationError(f"IAMAuth(region=...) must be a str, got {_kind(region)}")
        self._region = None if region is None else _check_region(region, "IAMAuth(region=...)")
        if session is not None and not _has_method(session, "get_credentials"):
            raise ConfigurationError(
                "IAMAuth(session=...) must be a boto3 or botocore session, e.g. "
                f"boto3.Session(profile_name=...), got {_kind(session)}"
            )
        if clock is not None and not callable(clock):
            raise ConfigurationError(
                f"IAMAuth(clock=...) must be a callable returning a datetime, got {_kind(clock)}"
            )
        static = None if credentials is None else _static_credentials(credentials)
        self._explicit_credentials = credentials
        self._session = session
        self._clock = clock
        self._stamp: tuple[int, str] = (-1, "")  # the system clock's last second and its x-amz-date
        self._credentials: Credentials | _KeyTriple | None = static if static is not None else credentials  # type: ignore[assignment]
        self._endpoints: dict[str, tuple[str, str, str]] = {}
        # (secret access key, date, region) -> signing key; it changes daily or when credentials rotate.
        self._signing_keys: dict[tuple[str, str, str], hmac.HMAC] = {}
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        if self._explicit_credentials is not None:
            source = "explicit"
        elif self._session is not None:
            source = "session"
        else:
            source = "default chain"
        return f"IAMAuth(region={self._region!r}, credentials=<{source}>)"

    def validate(self, url: str) -> None:
        """Check that the region can be determined and credentials can be found (no network call to AppSync).

        Raises:
            ConfigurationError: bad URL, no region for a custom domain, a region that contradicts the URL,
                or no usable AWS credentials.
        """
        self._endpoint(url)
        self._frozen_credentials(ConfigurationError)

    def check_endpoint(self, url: str) -> None:
        """Check, without botocore or credentials, that the region for ``url`` is known and consistent.

        So a custom domain without a region fails when the Bridge is built, at cold start.
        """
        self._endpoint(url)

    def headers(self, url: str, body: bytes) -> Mapping[str, str]:
        """Sign a POST of ``body`` to ``url`` and return the headers to send with it.

        Returns ``content-type``, ``host``, ``x-amz-date``, ``authorization`` and, with temporary
        credentials, ``x-amz-security-token``.

        Raises:
            ConfigurationError: see ``validate``.
            TransientError: refreshable credentials could not be refreshed.
        """
        host, region, canonical_prefix = self._endpoint(url)
        access_key, secret_key, token = self._frozen_credentials(TransientError)
        amz_date = self._amz_date()
        date = amz_date[:8]
        sha256 = _sha256()
        # The canonical request, laid out as botocore's SigV4Auth.canonical_request lays it out.
        token_line = f"x-amz-security-token:{_trim_all(token)}\n" if token else ""
        signed_headers = _SIGNED_HEADERS_TEMPORARY if token else _SIGNED_HEADERS
        canonical_request = (
            f"{canonical_prefix}x-amz-date:{amz_date}\n{token_line}\n"
            f"{signed_headers}\n{sha256(body).hexdigest()}"
        )
        scope = f"{date}/{region}/{_SERVICE}/{_TERMINATOR}"
        string_to_sign = (
            f"{_ALGORITHM}\n{amz_date}\n{scope}\n{sha256(canonical_request.encode()).hexdigest()}"
        )
        mac = self._signing_key(secret_key, date, region).copy()
        mac.update(string_to_sign.encode())
        headers = {"content-type": _CONTENT_TYPE, "host": host, "x-amz-date": amz_date}
        if token:
            headers["x-amz-security-token"] = token
        headers["authorization"] = (
            f"{_ALGORITHM} Credential={access_key}/{scope}, "
            f"SignedHeaders={signed_headers}, Signature={mac.hexdigest()}"
        )
        return headers

    def _amz_date(self) -> str:
        """The signing time as ``YYYYMMDDTHHMMSSZ`` (UTC), formatted as botocore's ``add_auth`` does."""
        clock = self._clock
        if clock is not None:
            return _as_naive_utc(clock()).strftime(_AMZ_DATE_FORMAT)
        # The system clock is read for every request: format each second once, and skip datetime.
        second = int(time.time())
        last_second, stamp = self._stamp
        if second != last_second:
            stamp = time.strftime(_AMZ_DATE_FORMAT, time.gmtime(second))
            self._stamp = (second, stamp)
        return stamp

    def _signing_key(self, secret_key: str, date: str, region: str) -> hmac.HMAC:
        cache_key = (secret_key, date, region)
        key = self._signing_keys.get(cache_key)
        if key is None:
            key = _derive_signing_key(secret_key, date, region)
            if len(self._signing_keys) >= _MAX_CACHED_SIGNING_KEYS:
                self._signing_keys.clear()
            self._signing_keys[cache_key] = key
        return key

    # -- endpoint and region ---------------------------------------------------------------------------

    def _endpoint(self, url: str) -> tuple[str, str, str]:
        """Return ``(host header, region, canonical request up to the host line)`` for ``url``, cached."""
        endpoint = self._endpoints.get(url)
        if endpoint is None:
            from urllib.parse import urlsplit

            from streambridge._io.endpoint import split_endpoint

            host, hostname = split_endpoint(url)
            region = self._resolve_region(hostname)
            parts = urlsplit(url)
            canonical_prefix = (
                f"POST\n{_canonical_uri(parts.path)}\n{_canonical_query(parts.query)}\n"
                f"content-type:{_CONTENT_TYPE}\nhost:{_trim_all(host)}\n"
            )
            endpoint = (host, region, canonical_prefix)
            if len(self._endpoints) >= _MAX_CACHED_ENDPOINTS:
                self._endpoints.clear()
            self._endpoints[url] = endpoint
        return endpoint

    def _resolve_region(self, hostname: str) -> str:
        match = _appsync_host_pattern().match(hostname)
        url_region = match.group(1) if match else None
        if self._region is not None:
            if url_region is not None and url_region != self._region:
                raise ConfigurationError(
                    f"IAMAuth(region={self._region!r}) contradicts the region in the AppSync URL "
                    f"({url_region!r}); a SigV4 signature is only valid for the API's own region",
                )
            return self._region
        if url_region is not None:
            return url_region
        for name in _REGION_ENV_VARS:
            value = os.environ.get(name)
            if value:
                return _check_region(value, f"the {name} environment variable")
        session_region = self._session_region()
        if session_region:
            return _check_region(session_region, "the session's region")
        raise ConfigurationError(
            f"cannot tell the AWS region of the AppSync endpoint {hostname!r} (a custom domain?): "
            "pass IAMAuth(region=...) or set AWS_REGION",
        )

    def _session_region(self) -> str | None:
        session = self._session
        if session is None:
            return None
        region = getattr(session, "region_name", None)  # boto3.Session
        if region is None and hasattr(session, "get_config_variable"):  # botocore Session
            region = session.get_config_variable("region")
        return region if isinstance(region, str) else None

    # -- credentials -----------------------------------------------------------------------------------

    def _resolved_credentials(self) -> Credentials | _KeyTriple:
        credentials = self._credentials
        if credentials is None:
            with self._lock:
                if self._credentials is None:
                    self._credentials = self._load_credentials()
                credentials = self._credentials
        return credentials

    def _load_credentials(self) -> Credentials | _KeyTriple:
        if self._session is None:
            from_environment = _environment_credentials()
            if from_environment is not None:
                return from_environment
        import botocore.session
        from botocore.exceptions import BotoCoreError

        source: _CredentialSource = self._session or botocore.session.Session()
        try:
            credentials = source.get_credentials()
        except BotoCoreError as e:
            raise ConfigurationError(f"could not load AWS credentials ({type(e).__name__})") from e
        if credentials is None:
            raise ConfigurationError(
                "no AWS credentials found for IAMAuth: give the Lambda function an execution role, set "
                "AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, or pass IAMAuth(credentials=...)",
            )
        return credentials  # type: ignore[no-any-return]

    def _frozen_credentials(
        self,
        error: type[ConfigurationError | TransientError],
    ) -> tuple[str, str, str | None]:
        """One consistent (access key, secret key, token) snapshot; refreshable credentials refresh here."""
        credentials = self._resolved_credentials()
        if isinstance(credentials, tuple):  # static keys, checked at construction
            return credentials
        try:
            frozen = credentials.get_frozen_credentials()
        except _refresh_errors() as e:
            raise error(f"could not refresh AWS credentials ({type(e).__name__})") from e
        access_key, secret_key = frozen.access_key, frozen.secret_key
        if not access_key or not secret_key:
            raise ConfigurationError("the AWS credentials lack an access key id or a secret access key")
        return access_key, secret_key, frozen.token


# --- API key and token -------------------------------------------------------------------------------------


class ApiKeyAuth:
    """Send an AppSync API key in the ``x-api-key`` header (``API_KEY`` mode).

    Args:
        api_key: the key, as shown by the AppSync console or ``aws appsync list-api-keys``.
    """

    __slots__ = ("_headers",)

    def __init__(self, api_key: str) -> None:
        self._headers = {"x-api-key": _check_header_value(api_key, "ApiKeyAuth(api_key=...)")}

    def __repr__(self) -> str:
        return "ApiKeyAuth(api_key='***')"

    def check_endpoint(self, url: str) -> None:
        """Check that ``url`` is an absolute http(s) URL (the key itself was checked at construction)."""
        from streambridge._io.endpoint import split_endpoint

        split_endpoint(url)

    def validate(self, url: str) -> None:
        """The same check as ``check_endpoint``: an API key needs nothing more."""
        self.check_endpoint(url)

    def headers(self, url: str, body: bytes) -> Mapping[str, str]:
        """Return ``{"x-api-key": <key>}``."""
        return self._headers


class TokenAuth:
    """Send a token in the ``Authorization`` header (Cognito user pools, OIDC or Lambda authorizer modes).

    AppSync takes the token as is, with no ``Bearer`` prefix: a Cognito or OIDC JWT, or whatever string a
    Lambda authorizer expects (AppSync hands it to the authorizer unchanged as ``authorizationToken``).
    The token is sent exactly as given, never rewritten.

    Args:
        token: the token, or a callable returning the current token. A callable is called for every
            request (every retry too), so it can refresh an expiring token; cache inside it if that is
            expensive.
    """

    __slots__ = ("_token",)

    def __init__(self, token: str | Callable[[], str]) -> None:
        if not callable(token):
            _check_header_value(token, "TokenAuth(token=...)")
        self._token = token

    def __repr__(self) -> str:
        return "TokenAuth(token=<callable>)" if callable(self._token) else "TokenAuth(token='***')"

    def check_endpoint(self, url: str) -> None:
        """Check that ``url`` is an absolute http(s) URL; a token callable is not called here."""
        from streambridge._io.endpoint import split_endpoint

        split_endpoint(url)

    def validate(self, url: str) -> None:
        """The same check as ``check_endpoint``: the token is only read for each request."""
        self.check_endpoint(url)

    def headers(self, url: str, body: bytes) -> Mapping[str, str]:
        """Return ``{"authorization": <token>}``, calling the token callable if one was given.

        Raises:
            ConfigurationError: the callable returned something that is not a non-empty, single-line str.
        """
        token = self._token
        if callable(token):
            token = _check_header_value(token(), "the token returned by the TokenAuth callable")
        return {"authorization": token}
