"""HTTP requests: API Gateway REST APIs, HTTP APIs (payload formats 1.0 and 2.0) and Lambda function URLs.

A request's JSON body is one item (an object) or several (an array of objects); each item is a record.
Everything that makes a request unusable as a whole (a body that is not JSON, too large, of another
media type, a malformed Idempotency-Key) is a ``RequestRefusedError`` carrying the HTTP status the client
gets: the client's fault, answered, never raised out of the Lambda function. An event that is not an
HTTP request at all is an ``EventShapeError``: the function is wired to the wrong trigger.

Shapes: API Gateway developer guide, "Create AWS Lambda proxy integrations for HTTP APIs" (both payload
formats; 2.0 joins repeated headers and query parameters with commas) and the REST API's Lambda proxy
input format (1.0 without ``version``); Lambda developer guide, "Invoking Lambda function URLs" (2.0,
a binary body base64-encoded).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, ClassVar, Literal, NamedTuple

from streambridge._errors import EventShapeError, RecordError
from streambridge._sources._base import Source, SourceRecord, cached
from streambridge._sources._common import describe_event, parse_json, short

if TYPE_CHECKING:
    from datetime import datetime

__all__ = [
    "IDEMPOTENCY_HEADER",
    "HttpItem",
    "HttpRequest",
    "RequestLimits",
    "RequestRefusedError",
    "parse",
    "read",
    "store_key",
]

IDEMPOTENCY_HEADER = "Idempotency-Key"
"""The request header that makes a request publish once (draft-ietf-httpapi-idempotency-key-header)."""

MAX_IDEMPOTENCY_KEY = 255
"""Most characters of an Idempotency-Key (Stripe's limit; the draft sets none, and a UUID has 36)."""

API = Literal["rest", "http", "function-url"]
PayloadVersion = Literal["1.0", "2.0"]

# Media types whose body is read as JSON: JSON itself, its +json family (application/cloudevents+json,
# application/vnd.api+json...), and text/plain, which senders such as SNS's HTTP subscriptions use for JSON.
_JSON_TYPES = frozenset(("application/json", "text/json", "text/plain"))
_TEXT_CHARSETS = frozenset(("utf-8", "utf8", "us-ascii"))  # JSON between systems is UTF-8 (RFC 8259 8.1)


class RequestLimits(NamedTuple):
    """What one request may carry; more is answered 413 before anything is read or published."""

    max_body_bytes: int = 1024 * 1024
    """Bytes of the (decoded) body. Lambda takes at most 6 MB a synchronous invocation, API Gateway
    10 MB a request; 1 MiB leaves room for 100 items of 10 KB, and AppSync delivers no subscription
    message over 240 KB anyway."""
    max_items: int = 100
    """Items of an array body. One key's items go one request after another: at 20-50 ms a request, 100
    stay well inside API Gateway's 29-30 s integration timeout."""


DEFAULT_LIMITS = RequestLimits()


class RequestRefusedError(EventShapeError):
    """The request cannot be published as sent: the client gets ``status`` and a body saying why.

    ``code`` names the reason for programs (``invalid_json``, ``body_too_large``...); the message says it
    for people. Nothing of the request was published.
    """

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code


def _refused(status: int, code: str, message: str) -> RequestRefusedError:
    return RequestRefusedError(status, code, message)


class Headers(Mapping[str, str]):
    """Request headers, read-only, whatever the case of their names (``headers["content-type"]``).

    Repeated headers are one value joined with commas, as payload format 2.0 delivers them.
    """

    __slots__ = ("_values",)

    def __init__(self, values: Mapping[str, str]) -> None:
        self._values = {name.lower(): value for name, value in values.items()}

    def __getitem__(self, name: str) -> str:
        return self._values[name.lower()]

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name.lower() in self._values

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def __repr__(self) -> str:
        return f"Headers({self._values!r})"


class HttpRequest:
    """The request an item came in: method, path, headers, parameters, caller (read-only).

    The same properties for every format: REST API (1.0), HTTP API (1.0 or 2.0), function URL (2.0).
    """

    def __init__(self, event: Mapping[str, Any]) -> None:
        """Read ``event``; EventShapeError when it is not an API Gateway or function URL request."""
        context = event.get("requestContext")
        http = context.get("http") if isinstance(context, Mapping) else None
        version = event.get("version")
        if version == "2.0" and isinstance(http, Mapping) and isinstance(http.get("method"), str):
            self.payload_version: PayloadVersion = "2.0"
            method = http["method"]
        elif isinstance(event.get("httpMethod"), str) and isinstance(context, Mapping):
            self.payload_version = "1.0"
            method = event["httpMethod"]
        else:
            raise EventShapeError(
                f"http handler received {describe_event(event)}, not an API Gateway or Lambda function URL "
                "request; check the function's trigger"
            )
        if "elb" in context:  # type: ignore[operator]  # a Mapping, checked above
            raise EventShapeError(
                "http handler received an Application Load Balancer request; it reads API Gateway (REST and "
                "HTTP APIs) and Lambda function URL requests"
            )
        self._event = event
        self._context: Mapping[str, Any] = context  # type: ignore[assignment]  # checked above
        self._body = b""  # read() sets it once the request passed its checks
        self.method: str = method.upper()
        """The HTTP method, upper case: ``POST``."""

    @property
    def raw(self) -> Mapping[str, Any]:
        """The Lambda event exactly as delivered (read-only)."""
        return MappingProxyType(dict(self._event))

    @cached
    def api(self) -> API:
        """Where the request came from: ``rest`` (REST API), ``http`` (HTTP API) or ``function-url``."""
        if self.payload_version == "1.0":
            return "http" if self._event.get("version") == "1.0" else "rest"
        domain = self._context.get("domainName")
        return "function-url" if isinstance(domain, str) and ".lambda-url." in domain else "http"

    @cached
    def path(self) -> str:
        """The request path, e.g. ``/orders`` (2.0: ``rawPath``; 1.0: ``path``)."""
        value = self._event.get("rawPath" if self.payload_version == "2.0" else "path")
        return value if isinstance(value, str) else ""

    @cached
    def headers(self) -> Headers:
        """The request headers, by name in any case; repeated ones joined with commas."""
        if self.payload_version == "1.0":
            several = self._event.get("multiValueHeaders")
            if isinstance(several, Mapping) and several:
                return Headers(_joined(several))
        return Headers(_strings(self._event.get("headers")))

    @cached
    def query(self) -> dict[str, str]:
        """The query string parameters; a repeated one joined with commas (as 2.0 delivers it)."""
        if self.payload_version == "1.0":
            several = self._event.get("multiValueQueryStringParameters")
            if isinstance(several, Mapping) and several:
                return _joined(several)
        return _strings(self._event.get("queryStringParameters"))

    @cached
    def path_parameters(self) -> dict[str, str]:
        """The route's path parameters (``/orders/{id}`` -> ``{"id": ...}``); empty for function URLs."""
        return _strings(self._event.get("pathParameters"))

    @cached
    def authorizer(self) -> dict[str, Any]:
        """What the authorizer said about the caller (``requestContext.authorizer``), plain JSON types.

        JWT claims, a Lambda authorizer's context, the IAM caller; empty without an authorizer.
        """
        value = self._context.get("authorizer")
        return dict(value) if isinstance(value, Mapping) else {}

    @property
    def request_id(self) -> str:
        """API Gateway's or Lambda's id of the request (``requestContext.requestId``)."""
        value = self._context.get("requestId")
        if not isinstance(value, str):
            raise RecordError(f"HTTP request: requestContext.requestId is {short(value)}, expected str")
        return value

    @property
    def source_ip(self) -> str:
        """The client's IP address, as API Gateway or Lambda saw the connection."""
        holder = self._context.get("http" if self.payload_version == "2.0" else "identity")
        value = holder.get("sourceIp") if isinstance(holder, Mapping) else None
        if not isinstance(value, str):
            raise RecordError(f"HTTP request: the source IP is {short(value)}, expected str")
        return value

    @cached
    def time(self) -> datetime:
        """When API Gateway or Lambda received the request, in UTC."""
        from datetime import datetime, timedelta, timezone

        name = "timeEpoch" if self.payload_version == "2.0" else "requestTimeEpoch"
        value = self._context.get(name)
        if isinstance(value, str) and value.isdigit():  # the function URL guide shows it as a string
            value = int(value)
        if not isinstance(value, int) or isinstance(value, bool):
            raise RecordError(
                f"HTTP request: requestContext.{name} is {short(value)}, not epoch milliseconds"
            )
        return datetime(1970, 1, 1, tzinfo=timezone.utc) + timedelta(milliseconds=value)

    @property
    def body(self) -> bytes:
        """The body's bytes as the client sent them, base64-decoded if API Gateway or Lambda encoded it.

        What a webhook's signature is computed over.
        """
        return self._body

    def __repr__(self) -> str:
        return f"<HttpRequest {self.method} {self.path} ({self.api}, payload {self.payload_version})>"


class HttpItem(SourceRecord):
    """One item of a request's JSON body: the body itself when it is an object, else one array element.

    All items of a request are published in order (one partition key, the request's) unless the
    decorator's ``partition_key=`` says otherwise.
    """

    source_title: ClassVar[str] = "HTTP"

    def __init__(self, item: Mapping[str, Any], index: int, request: HttpRequest, key: str | None) -> None:
        super().__init__(item, index)
        self._item = item
        self._request = request
        self._key = key

    @property
    def item_identifier(self) -> str:
        """``item-<index>``: the position of the item in the body, from 0."""
        return f"item-{self._index}"

    @property
    def default_partition_key(self) -> str:
        """One key for every item of the request: they reach AppSync in the order of the body."""
        return "request"

    @property
    def request(self) -> HttpRequest:
        """The request the item came in (method, path, headers, query, caller...)."""
        return self._request

    def json(self) -> dict[str, Any]:
        """The item: a JSON object of plain JSON types, parsed once for the request; treat it as read-only."""
        return self._item  # type: ignore[return-value]  # read() accepts objects only

    def get(self, key: str, default: Any = None) -> Any:
        """``item.json().get(key, default)``."""
        return self._item.get(key, default)

    @property
    def idempotency_key(self) -> str | None:
        """What names this item in the idempotency store; None when the request has no Idempotency-Key.

        The client's key, scoped by method and path, the body's digest and the item's position: a repeat
        of the request skips the items already published; another body under the same key never does.
        """
        return None if self._key is None else f"{self._key}#{self._index}"


class ReadRequest(NamedTuple):
    """A request read whole: the request, its items, and its idempotency markers (None without the header)."""

    request: HttpRequest
    items: list[HttpItem]
    markers: tuple[str, str] | None
    """``(the key was used, the key was used with this body)``, to tell a repeat from a key reused."""


def read(event: Any, limits: RequestLimits = DEFAULT_LIMITS) -> ReadRequest:
    """Read an HTTP request and its items.

    Raises EventShapeError for an event that is not an HTTP request, RequestRefusedError (an
    EventShapeError with the status to answer) for a request the client must change.
    """
    if not isinstance(event, Mapping):
        raise EventShapeError(
            f"http handler received {describe_event(event)}, not an API Gateway or Lambda function URL "
            "request; check the function's trigger"
        )
    request = HttpRequest(event)
    _check_media_type(request.headers)
    key = _client_key(request.headers)
    data = _body_bytes(event, limits.max_body_bytes)
    request._body = data  # decoded once, here
    items = _items(data, limits)
    scope: str | None = None
    markers: tuple[str, str] | None = None
    if key is not None:
        import hashlib  # only requests with an Idempotency-Key need it

        digest = hashlib.sha256(data).hexdigest()
        scope = hashlib.sha256(f"{request.method} {request.path}\n{key}".encode()).hexdigest()[:40]
        markers = (f"http|{scope}", f"http|{scope}|{digest}")
        scope = f"http|{scope}|{digest[:32]}"
    views = [HttpItem(item, index, request, scope) for index, item in enumerate(items)]
    return ReadRequest(request, views, markers)


def parse(event: Any) -> list[HttpItem]:
    """The items of an HTTP request, with the default limits; or of a request ``read`` already.

    ``Bridge.http``'s handler reads the request first, with its own limits, and hands the engine what it
    read: the body is decoded and parsed once.
    """
    return event.items if isinstance(event, ReadRequest) else read(event).items


def store_key(record: SourceRecord) -> str | None:
    """The idempotency store's key for an HTTP item; None (no deduplication) without the header."""
    return record.idempotency_key if isinstance(record, HttpItem) else None


# -- reading the request -------------------------------------------------------------------------------


def _strings(value: Any) -> dict[str, str]:
    """A header or parameter map as str -> str; anything else (null, a malformed event) is empty."""
    if not isinstance(value, Mapping):
        return {}
    return {str(name): item for name, item in value.items() if isinstance(item, str)}


def _joined(value: Mapping[str, Any]) -> dict[str, str]:
    """Payload 1.0's multi-value maps, each list joined with commas as payload 2.0 joins them."""
    joined = {}
    for name, items in value.items():
        if isinstance(items, list):
            texts = [item for item in items if isinstance(item, str)]
            if texts:
                joined[str(name)] = ",".join(texts)
        elif isinstance(items, str):
            joined[str(name)] = items
    return joined


def _check_media_type(headers: Headers) -> None:
    """415 for a body the client declared to be something other than JSON (or compressed)."""
    encoding = headers.get("content-encoding", "identity").strip().lower()
    if encoding not in ("", "identity"):
        raise _refused(
            415,
            "unsupported_content_encoding",
            f"Content-Encoding {short(encoding, 40)} is not supported: send the JSON body uncompressed",
        )
    declared = headers.get("content-type")
    if declared is None or not declared.strip():
        return  # many senders leave it out: the body is read as JSON
    media, _, parameters = declared.partition(";")
    media = media.strip().lower()
    if media not in _JSON_TYPES and not (media.startswith("application/") and media.endswith("+json")):
        raise _refused(
            415,
            "unsupported_media_type",
            f"Content-Type {short(media, 60)} is not JSON: send the body as application/json",
        )
    for parameter in parameters.split(";"):
        name, _, value = parameter.partition("=")
        charset = value.strip().strip('"').lower()
        if name.strip().lower() == "charset" and charset not in _TEXT_CHARSETS:
            raise _refused(
                415,
                "unsupported_charset",
                f"charset {short(charset, 40)} is not supported: JSON is sent as UTF-8",
            )


def _client_key(headers: Headers) -> str | None:
    """The Idempotency-Key header's value (quotes of a structured-field string removed), checked."""
    value = headers.get(IDEMPOTENCY_HEADER)
    if value is None:
        return None
    key = value.strip()
    if len(key) >= 2 and key[0] == key[-1] == '"':  # the draft's sf-string form: "8e03978e-..."
        key = key[1:-1]
    if not key or len(key) > MAX_IDEMPOTENCY_KEY or not all("!" <= c <= "~" for c in key):
        raise _refused(
            400,
            "invalid_idempotency_key",
            f"the {IDEMPOTENCY_HEADER} header must be 1 to {MAX_IDEMPOTENCY_KEY} visible ASCII characters "
            "(a UUID, for example)",
        )
    return key


def _body_bytes(event: Mapping[str, Any], limit: int) -> bytes:
    """The body's bytes, base64-decoded if need be; 400 without one, 413 over ``limit`` bytes."""
    body = event.get("body")
    if body is None or body == "":
        raise _refused(400, "empty_body", "the request has no body: send a JSON object or an array of them")
    if not isinstance(body, str):
        raise _refused(400, "invalid_body", f"the body is a JSON {type(body).__name__}, not text")
    encoded = event.get("isBase64Encoded") is True
    # Checked before decoding: base64 text is 4/3 of its bytes, UTF-8 text at least 1 byte a character.
    if (len(body) * 3 // 4 if encoded else len(body)) > limit:
        raise _too_large(limit)
    if encoded:
        import base64
        import binascii

        try:
            data = base64.b64decode(body, validate=True)
        except (binascii.Error, ValueError):
            raise _refused(400, "invalid_base64", "the body is marked base64 but does not decode") from None
    else:
        data = body.encode("utf-8", "surrogatepass")
    if len(data) > limit:
        raise _too_large(limit)
    return data


def _too_large(limit: int) -> RequestRefusedError:
    return _refused(413, "body_too_large", f"the body is over {limit} bytes: send fewer or smaller items")


def _items(data: bytes, limits: RequestLimits) -> list[dict[str, Any]]:
    """The body's items: the object itself, or the objects of an array (at most ``max_items``)."""
    try:
        value = parse_json(data)
    except (ValueError, RecursionError) as error:  # JSONDecodeError, UnicodeDecodeError, NaN
        reason = "is not UTF-8" if isinstance(error, UnicodeDecodeError) else f"is not JSON ({error})"
        if isinstance(error, RecursionError):
            reason = "is nested too deeply"
        raise _refused(400, "invalid_json", f"the body {reason}") from None
    if isinstance(value, dict):
        return [value]
    if not isinstance(value, list):
        raise _refused(
            400,
            "invalid_items",
            f"the body is a JSON {_json_kind(value)}: send a JSON object, or an array of objects",
        )
    if len(value) > limits.max_items:
        raise _refused(
            413, "too_many_items", f"the body has {len(value)} items, over {limits.max_items}: send fewer"
        )
    for index, item in enumerate(value):
        if not isinstance(item, dict):
            raise _refused(
                400,
                "invalid_items",
                f"item {index} is a JSON {_json_kind(item)}: every item must be an object",
            )
    return value


def _json_kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    return "string" if isinstance(value, str) else "array" if isinstance(value, list) else "object"


SOURCE = Source(name="http", title="API Gateway / function URL", batch=True, parse=parse)
