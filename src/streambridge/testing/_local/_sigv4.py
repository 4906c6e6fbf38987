"""SigV4 verification: a request signed with AWS_IAM is accepted only if its signature is right.

The Amplify simulator reads the access key id and accepts any signature; LocalAppSync recomputes the
signature with botocore from the bytes and headers it received, for known test credentials, and refuses
it with the errors AWS answers (``InvalidSignatureException``, ``UnrecognizedClientException``,
``IncompleteSignatureException``, HTTP 403): a wrong secret, a changed body, a clock more than 5 minutes
off, another region or service, a missing or wrong session token. botocore is imported on first use.
"""

from __future__ import annotations

import hmac
import re
from collections.abc import Mapping
from datetime import datetime, timedelta, timezone
from typing import Final

from streambridge.testing._local._errors import RejectedError

Credentials = tuple[str, str, str | None]
"""``(access key id, secret access key, session token)``."""

_SERVICE: Final = "appsync"
_MAX_CLOCK_SKEW: Final = timedelta(minutes=5)
_TIME_FORMAT: Final = "%Y%m%dT%H%M%SZ"
_INVALID_SIGNATURE: Final = (
    "The request signature we calculated does not match the signature you provided. "
    "Check your AWS Secret Access Key and signing method. Consult the service documentation for details."
)
_UNRECOGNIZED_CLIENT: Final = "The security token included in the request is invalid."
_AUTHORIZATION_RE: Final = re.compile(
    r"AWS4-HMAC-SHA256\s+Credential=(?P<key>[^/,\s]+)/(?P<date>[^/,\s]+)/(?P<region>[^/,\s]+)/"
    r"(?P<service>[^/,\s]+)/(?P<terminator>[^,\s]+),\s*SignedHeaders=(?P<signed>[^,\s]+),\s*"
    r"Signature=(?P<signature>[0-9a-fA-F]+)",
)


def verify_sigv4(
    authorization: str,
    headers: Mapping[str, str],
    *,
    url: str,
    body: bytes,
    credentials: Mapping[str, Credentials],
    region: str,
    now: datetime,
) -> None:
    """Check a SigV4 ``Authorization`` header against the (lower-cased) headers, URL and body received.

    Raises ``RejectedError`` (HTTP 403, AWS's errorType and message) unless the signature is one of
    ``credentials`` (by access key id), scoped to ``region`` and ``appsync``, signed within 5 minutes of
    ``now``.
    """
    match = _AUTHORIZATION_RE.fullmatch(authorization.strip())
    if match is None:
        raise RejectedError(
            403,
            "IncompleteSignatureException",
            "Authorization header requires 'Credential', 'SignedHeaders' and 'Signature' parameters: "
            "AWS4-HMAC-SHA256 Credential=KEY/DATE/REGION/appsync/aws4_request, SignedHeaders=..., "
            "Signature=...",
        )
    known = credentials.get(match["key"])
    if known is None:
        raise RejectedError(403, "UnrecognizedClientException", _UNRECOGNIZED_CLIENT)
    amz_date = headers.get("x-amz-date", "")
    _check_date(amz_date, match["date"], now)
    _check_scope(match["region"], match["service"], match["terminator"], region)
    _, secret_key, token = known
    if headers.get("x-amz-security-token") != token:
        raise RejectedError(403, "UnrecognizedClientException", _UNRECOGNIZED_CLIENT)
    signed = match["signed"].lower().split(";")
    missing = [name for name in ("host", "x-amz-date") if name not in signed]
    if missing:
        raise RejectedError(403, "InvalidSignatureException", f"{', '.join(missing)} must be signed headers")
    expected, canonical = _signature(
        credentials=(match["key"], secret_key, token),
        region=region,
        url=url,
        body=body,
        headers=headers,
        signed=signed,
        amz_date=amz_date,
    )
    if not hmac.compare_digest(expected, match["signature"].lower()):
        message = f"{_INVALID_SIGNATURE}\n\nThe Canonical String for this request should have been:\n"
        message += f"'{canonical}'\n"
        raise RejectedError(403, "InvalidSignatureException", message)


def _check_date(amz_date: str, scope_date: str, now: datetime) -> None:
    if not amz_date:
        raise RejectedError(
            403,
            "IncompleteSignatureException",
            "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header.",
        )
    try:
        signed_at = datetime.strptime(amz_date, _TIME_FORMAT).replace(tzinfo=timezone.utc)
    except ValueError:
        raise RejectedError(
            403,
            "IncompleteSignatureException",
            f"Date must be in ISO-8601 'basic format'. Got '{amz_date}'.",
        ) from None
    now = now.astimezone(timezone.utc)
    stamp = now.strftime(_TIME_FORMAT)
    if signed_at < now - _MAX_CLOCK_SKEW:
        earliest = (now - _MAX_CLOCK_SKEW).strftime(_TIME_FORMAT)
        raise RejectedError(
            403,
            "InvalidSignatureException",
            f"Signature expired: {amz_date} is now earlier than {earliest} ({stamp} - 5 min.)",
        )
    if signed_at > now + _MAX_CLOCK_SKEW:
        latest = (now + _MAX_CLOCK_SKEW).strftime(_TIME_FORMAT)
        raise RejectedError(
            403,
            "InvalidSignatureException",
            f"Signature not yet current: {amz_date} is still later than {latest} ({stamp} + 5 min.)",
        )
    if scope_date != amz_date[:8]:
        raise RejectedError(
            403,
            "InvalidSignatureException",
            "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: "
            f"'{scope_date}' != '{amz_date[:8]}', from '{amz_date}'.",
        )


def _check_scope(region: str, service: str, terminator: str, expected_region: str) -> None:
    if region != expected_region:
        raise RejectedError(
            403,
            "InvalidSignatureException",
            f"Credential should be scoped to a valid region, not '{region}' (this API: '{expected_region}').",
        )
    if service != _SERVICE:
        raise RejectedError(
            403,
            "InvalidSignatureException",
            f"Credential should be scoped to correct service: '{_SERVICE}'.",
        )
    if terminator != "aws4_request":
        raise RejectedError(
            403,
            "InvalidSignatureException",
            f"Credential should be scoped with a valid terminator: 'aws4_request', not '{terminator}'.",
        )


def _signature(
    *,
    credentials: Credentials,
    region: str,
    url: str,
    body: bytes,
    headers: Mapping[str, str],
    signed: list[str],
    amz_date: str,
) -> tuple[str, str]:
    """Recompute a SigV4 signature with botocore from what was received; return it and the canonical form."""
    from botocore.auth import SigV4Auth  # loaded on the first signed request
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import ReadOnlyCredentials

    request = AWSRequest(
        method="POST",
        url=url,
        data=body,
        headers={name: headers.get(name, "") for name in signed},
    )
    request.context["timestamp"] = amz_date
    signer = SigV4Auth(ReadOnlyCredentials(*credentials), _SERVICE, region)
    canonical = signer.canonical_request(request)
    return signer.signature(signer.string_to_sign(request, canonical), request), canonical
