"""What a client of the Thrift server trusts: the server's certificate, checked with its host name.

The files (``TlsFiles``) are the server's keystore and what clients trust: the admin's
(``LAKEHOUSE_TLS_KEYSTORE``, ``LAKEHOUSE_TLS_KEYSTORE_PASSWORD_FILE``, ``LAKEHOUSE_TLS_CA``) or those
``serving.tls`` makes under ``$LAKEHOUSE_HOME/tls/``. Everything that connects to the server (the
adapter's ``server`` target, PyHive, beeline's URL, Superset) verifies the certificate and the host
name through ``client_context``; nothing here turns verification off. In the platform layer
(``lastfm_lakehouse.access``), below ``serving``, so that the dbt adapter and other clients reach
the server without importing it.
"""

from __future__ import annotations

import os
import socket
import ssl
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lastfm_lakehouse.access import credentials
from lastfm_lakehouse.settings import lakehouse_home

TRUSTSTORE_PASSWORD = "lakehouse-public"
ON = ("on", "true", "1", "yes")


class TlsError(RuntimeError):
    """The keystore could not be made or read; the message says which file and why."""


def enabled() -> bool:
    """``LAKEHOUSE_SERVER_TLS`` asks for TLS on the Thrift port."""
    return os.environ.get("LAKEHOUSE_SERVER_TLS", "off").strip().lower() in ON


@dataclass(frozen=True)
class TlsFiles:
    keystore: Path
    keystore_password_file: Path
    certificate: Path
    truststore: Path

    @classmethod
    def from_env(cls, home: Path | None = None) -> TlsFiles:
        home = home or lakehouse_home()
        folder = home / "tls"
        keystore = os.environ.get("LAKEHOUSE_TLS_KEYSTORE", "").strip()
        password_file = os.environ.get("LAKEHOUSE_TLS_KEYSTORE_PASSWORD_FILE", "").strip()
        certificate = os.environ.get("LAKEHOUSE_TLS_CA", "").strip()
        return cls(
            keystore=Path(keystore) if keystore else folder / "server.p12",
            keystore_password_file=(
                Path(password_file)
                if password_file
                else credentials.secrets_dir(home) / credentials.KEYSTORE_PASSWORD
            ),
            certificate=Path(certificate) if certificate else folder / "server.pem",
            truststore=folder / "truststore.p12",
        )

    @property
    def admin_supplied(self) -> bool:
        return bool(os.environ.get("LAKEHOUSE_TLS_KEYSTORE", "").strip())

    def keystore_password(self) -> str:
        try:
            return self.keystore_password_file.read_text().strip()
        except FileNotFoundError:
            raise TlsError(
                f"no password for the keystore {self.keystore}: {self.keystore_password_file} is missing"
            ) from None


def client_context(files: TlsFiles | None = None) -> ssl.SSLContext:
    """A context that trusts the server's certificate (``LAKEHOUSE_TLS_CA`` or ``server.pem``) and
    checks the host name."""
    files = files or TlsFiles.from_env()
    if not files.certificate.is_file():
        raise TlsError(
            f"TLS is on but the certificate to trust is missing: {files.certificate} "
            "(run `make tls`, or set LAKEHOUSE_TLS_CA to the server's certificate or its CA, PEM)"
        )
    return ssl.create_default_context(cafile=str(files.certificate))


def hive_transport(
    host: str,
    port: int,
    username: str | None,
    password: str | None,
    auth: str | None,
    files: TlsFiles | None = None,
) -> Any:
    """A verified TLS Thrift transport with SASL PLAIN on top, for PyHive's
    ``hive.connect(thrift_transport=...)``: PyHive's own ``host=`` path has no TLS, and
    dbt-spark's ``use_ssl`` skips verification."""
    import thrift_sasl
    from pyhive.hive import get_installed_sasl
    from thrift.transport.TSSLSocket import TSSLSocket

    # A loopback address is verified against the certificate's "localhost" name.
    server_name = "localhost" if host in ("127.0.0.1", "::1") else host
    sock = TSSLSocket(host, port, ssl_context=client_context(files), server_hostname=server_name)
    user = username or "anonymous"
    secret = password if (auth or "NONE").upper() in ("LDAP", "CUSTOM") and password else "x"
    return thrift_sasl.TSaslClientTransport(
        lambda: get_installed_sasl(host=host, sasl_auth="PLAIN", username=user, password=secret),
        "PLAIN",
        sock,
    )


def handshake_failure(host: str, port: int, files: TlsFiles | None = None) -> str | None:
    """Why a TLS handshake with host:port fails (e.g. the certificate does not verify), or None.
    Thrift's socket reports any such failure as "could not connect": clients call this to say why."""
    try:
        with socket.create_connection((host, port), timeout=10) as plain:
            server_name = "localhost" if host in ("127.0.0.1", "::1") else host
            with client_context(files).wrap_socket(plain, server_hostname=server_name):
                return None
    except ssl.SSLError as exc:
        return f"TLS handshake with {host}:{port} failed: {exc}"
    except OSError:
        return None  # not a TLS problem (nothing listening, network): the caller's own error says it


def beeline_url(host: str, port: int, files: TlsFiles | None = None) -> str:
    """The JDBC URL for beeline and JDBC tools (the truststore holds only the public certificate)."""
    files = files or TlsFiles.from_env()
    return (
        f"jdbc:hive2://{host}:{port}/;ssl=true;sslTrustStore={files.truststore};"
        f"trustStorePassword={TRUSTSTORE_PASSWORD}"
    )
