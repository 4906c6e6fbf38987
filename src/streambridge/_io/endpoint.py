"""An endpoint URL as HTTP sends it: the Host header (what SigV4 signs) and the host name to connect to.

One function for the signer and the transport, so that the ``host`` signed is the one sent on the wire.
"""

from __future__ import annotations

from streambridge._errors import ConfigurationError

__all__ = ["split_endpoint"]


def split_endpoint(url: str) -> tuple[str, str]:
    """Return ``(host header, hostname)`` for an absolute http(s) URL, the way SigV4 and HTTP clients see it.

    The host header carries the port only when it is not the scheme's default (the same rule as
    botocore's and every HTTP client's), so the signed ``host`` equals the one sent on the wire.
    """
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as e:
        raise ConfigurationError("the AppSync URL is not a valid URL") from e
    hostname = parts.hostname
    if parts.scheme not in ("http", "https") or not hostname:
        raise ConfigurationError(
            "the AppSync URL must be an absolute http(s) URL, "
            "such as https://<id>.appsync-api.<region>.amazonaws.com/graphql",
        )
    if parts.username is not None or parts.password is not None:
        raise ConfigurationError("the AppSync URL must not carry user information (user:password@)")
    if not hostname.isascii():  # a custom domain in Unicode: HTTP clients send its punycode form
        hostname = _punycode(hostname)
    host = f"[{hostname}]" if ":" in hostname else hostname
    if port is not None and port != {"http": 80, "https": 443}[parts.scheme]:
        host = f"{host}:{port}"
    return host, hostname


def _punycode(hostname: str) -> str:
    """The ASCII form of a Unicode host name, as yarl and browsers write it in the Host header."""
    try:
        try:
            import idna  # yarl's own choice (IDNA 2008, UTS 46); only for such hosts

            return str(idna.encode(hostname, uts46=True).decode("ascii"))
        except (ImportError, UnicodeError, ValueError):  # as yarl does: fall back to IDNA 2003
            return hostname.encode("idna").decode("ascii")
    except UnicodeError as e:
        raise ConfigurationError("the AppSync URL's host name cannot be written in ASCII (IDNA)") from e
