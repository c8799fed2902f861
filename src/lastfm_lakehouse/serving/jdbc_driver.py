"""The Hive JDBC driver a BI tool (DBeaver, Tableau, DataGrip, any JDBC client) needs for the Thrift
server, as one standalone jar fetched at set-up.

    python -m lastfm_lakehouse.serving.jdbc_driver fetch|where   (``make setup`` runs ``fetch``)

Spark's own ``hive-jdbc-*.jar`` is not standalone: a tool given only that file fails on missing
classes (Thrift, Hive's service RPC, HTTP client...). Maven Central has Hive's ``standalone`` build,
one jar with everything inside; 4.0.1 speaks the HiveServer2 protocol of the ``hive-service-rpc``
4.0.0 that Spark 4.2's Thrift server is built on. Tested with a plain Java program that has nothing
but this jar on its class path, over LDAP and TLS (``tests/test_server_auth.py``).

Driver class ``org.apache.hive.jdbc.HiveDriver``; URL ``jdbc:hive2://127.0.0.1:10000/lastfm``, with
``;ssl=true;sslTrustStore=<home>/tls/truststore.p12;trustStorePassword=lakehouse-public`` when the
server speaks TLS (``where`` prints the jar and the URL for this lakehouse).
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from lastfm_lakehouse import maven

COORDINATE = "org.apache.hive:hive-jdbc:4.0.1:jar:standalone"
JAR_NAME = "hive-jdbc-4.0.1-standalone.jar"
DRIVER_CLASS = "org.apache.hive.jdbc.HiveDriver"


class DriverMissing(RuntimeError):
    """The standalone driver is not there; the message says how to get it."""


def folder() -> Path:
    return maven.share_dir() / "hive-jdbc-4.0.1"


def jar() -> Path:
    """The standalone driver jar, or DriverMissing naming ``make setup``."""
    path = folder() / JAR_NAME
    if not path.is_file():
        raise DriverMissing(
            f"the standalone Hive JDBC driver is not in {folder()}: run `make setup` (fetches "
            f"{COORDINATE} with mvn), or copy {JAR_NAME} there"
        )
    return path


def fetch() -> Path:
    if (folder() / JAR_NAME).is_file():
        return folder() / JAR_NAME
    try:
        maven.copy((COORDINATE,), folder(), f"or copy {JAR_NAME} into {folder()}")
    except maven.FetchFailed as exc:
        raise DriverMissing(str(exc)) from exc
    return jar()


def main(argv: list[str] | None = None) -> int:
    import os

    from lastfm_lakehouse import commands

    args = commands.parse("lastfm_lakehouse.serving.jdbc_driver", __doc__, ("fetch", "where"), argv)

    def act() -> int:
        if args.command == "fetch":
            print(f"Hive JDBC driver (standalone): {fetch()}")
            return 0
        from lastfm_lakehouse.access import trust
        from lastfm_lakehouse.settings import env_number, lakehouse_home

        port = int(env_number("LAKEHOUSE_THRIFT_PORT", 10000))
        secure = os.environ.get("LAKEHOUSE_SERVER_TLS", "off") == "on"
        url = (
            trust.beeline_url("localhost", port, trust.TlsFiles.from_env(lakehouse_home()))
            if secure
            else f"jdbc:hive2://127.0.0.1:{port}/lastfm"
        )
        print(f"driver jar:   {jar()}\ndriver class: {DRIVER_CLASS}\nURL:          {url}")
        return 0

    return commands.run(act, (DriverMissing, subprocess.TimeoutExpired))


if __name__ == "__main__":
    raise SystemExit(main())
