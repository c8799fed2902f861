"""How Python clients (PyHive: the serving bench, the tests, BI scripts) connect to the Thrift
server as it is configured: LDAP login when ``LAKEHOUSE_SERVER_AUTH=ldap`` (``access.credentials``),
verified TLS when ``LAKEHOUSE_SERVER_TLS=on`` (``access.trust``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from lastfm_lakehouse.access import credentials, trust


def hive_connection(
    host: str,
    port: int,
    login: dict[str, str] | None = None,
    use_tls: bool | None = None,
    home: Path | None = None,
    configuration: dict[str, str] | None = None,
) -> Any:
    """A ``pyhive.hive.Connection``. ``login`` defaults to ``credentials.hive_login()``,
    ``use_tls`` to ``trust.enabled()`` and ``home`` (where the certificate to trust is) to
    ``$LAKEHOUSE_HOME``; ``configuration`` is the session's conf. A certificate that does not
    verify raises ``trust.TlsError`` saying so (Thrift's own error only says "could not connect")."""
    from pyhive import hive

    login = credentials.hive_login() if login is None else login
    if trust.enabled() if use_tls is None else use_tls:
        files = trust.TlsFiles.from_env(home)
        transport = trust.hive_transport(
            host, port, login.get("username"), login.get("password"), login.get("auth"), files
        )
        try:
            return hive.connect(
                thrift_transport=transport, username=login.get("username"), configuration=configuration
            )
        except Exception as exc:
            refused = trust.handshake_failure(host, port, files)
            if refused:
                raise trust.TlsError(f"{refused} (trusting {files.certificate})") from exc
            raise
    return hive.connect(host=host, port=port, configuration=configuration, **login)
