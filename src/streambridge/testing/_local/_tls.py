"""https and wss for the local servers: a certificate authority made on this machine, and how to trust it.

trustme (a testing extra) makes the authority and the servers' certificate in memory, in milliseconds. A
client trusts the local servers by trusting the authority: ``client_ssl_context()`` for Python code, the
PEM file for Node (``NODE_EXTRA_CA_CERTS``), OpenSSL-based tools and Python processes (``SSL_CERT_FILE``).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import ssl

# The names a local client may use for the server; the bind host is added when it is another one.
_LOCAL_NAMES = ("127.0.0.1", "localhost", "::1")
_ANY_INTERFACE = {"0.0.0.0", "::", ""}  # noqa: S104 - names to leave out of the certificate


class LocalTls:
    """A certificate authority made for the local servers, and the server certificate it issued.

    One authority can serve several servers (``streambridge local`` gives both APIs the same one, so a
    client trusts one file).
    """

    def __init__(self, *hosts: str) -> None:
        try:
            import trustme
        except ModuleNotFoundError:
            raise ModuleNotFoundError(
                "TLS for the local servers needs trustme: pip install 'streambridge[testing]'"
            ) from None
        names = list(_LOCAL_NAMES)
        for host in hosts:
            if host not in _ANY_INTERFACE and host not in names:
                names.append(host)
        self._authority = trustme.CA(organization_name="streambridge local testing")
        self._certificate = self._authority.issue_cert(*names)
        self.names: tuple[str, ...] = tuple(names)

    @property
    def ca_pem(self) -> bytes:
        """The authority's certificate, PEM: what a client must trust."""
        return self._authority.cert_pem.bytes()

    def write_ca_pem(self, path: str | Path) -> Path:
        """Write the authority's certificate (PEM) to ``path``; return the path."""
        target = Path(path)
        target.write_bytes(self.ca_pem)
        return target

    def server_ssl_context(self) -> ssl.SSLContext:
        """The servers' TLS context (the issued certificate and its chain)."""
        import ssl

        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self._certificate.configure_cert(context)
        return context

    def client_ssl_context(self) -> ssl.SSLContext:
        """A verifying client context that trusts this authority (and only it)."""
        import ssl

        context = ssl.create_default_context()
        self._authority.configure_trust(context)
        return context
