"""Nobody in uninvited: the server refuses to bind beyond loopback without authentication; with
``LAKEHOUSE_SERVER_AUTH=ldap`` Thrift clients are checked against a real LDAP directory (Debian's
slapd, started by ``serving.directory`` as ``make directory`` does) and Spark Connect clients must
send the pre-shared token; with ``LAKEHOUSE_SERVER_TLS=on`` the Thrift port speaks only TLS, with a
keystore the server start makes (``serving.tls``). Real PyHive, beeline, dbt and PySpark Connect
clients; secrets never in the logs."""

from __future__ import annotations

import dataclasses
import os
import socket
import ssl
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from lastfm_lakehouse.data import generate
from lastfm_lakehouse.serving import clients, credentials, tls

from .test_server import SPARK_BIN, free_port, run

pytestmark = pytest.mark.spark  # starts a server JVM


def test_binding_beyond_loopback_without_authentication_is_refused(tmp_path: Path) -> None:
    env = {**os.environ, "LAKEHOUSE_HOME": str(tmp_path), "LAKEHOUSE_SERVER_HOST": "0.0.0.0"}
    env.pop("LAKEHOUSE_SERVER_AUTH", None)
    result = run([sys.executable, "-m", "lastfm_lakehouse.serving.server", "start"], env, timeout=60)
    assert result.returncode == 2
    assert "refusing to serve on 0.0.0.0 without authentication" in result.stderr
    assert "LAKEHOUSE_SERVER_AUTH=ldap" in result.stderr
    assert not (tmp_path / "server.pid").exists()


@pytest.fixture(scope="module")
def guarded() -> Iterator[dict[str, str]]:
    home = Path(tempfile.mkdtemp(prefix="lakehouse-auth-", dir="/tmp"))
    env = {
        **os.environ,
        "LAKEHOUSE_HOME": str(home),
        "LAKEHOUSE_DRIVER_MEMORY": "1g",
        "LAKEHOUSE_SPARK_MASTER": "local[1]",
        "LAKEHOUSE_SERVER_AUTH": "ldap",
        "LAKEHOUSE_SERVER_TLS": "on",
        "LAKEHOUSE_LDAP_PORT": str(free_port()),
        "LAKEHOUSE_THRIFT_PORT": str(free_port()),
        "LAKEHOUSE_CONNECT_PORT": str(free_port()),
        "SPARK_LOCAL_IP": "127.0.0.1",
    }
    for name in (
        "LAKEHOUSE_METASTORE_URL",
        "DBT_ENV_SECRET_LAKEHOUSE_PASSWORD",
        "LAKEHOUSE_BI_PASSWORD",
        "LAKEHOUSE_TLS_KEYSTORE",
        "LAKEHOUSE_TLS_CA",
    ):
        env.pop(name, None)
    directory = run([sys.executable, "-m", "lastfm_lakehouse.serving.directory", "up"], env, timeout=600)
    if directory.returncode != 0 and "apt-get, as root" in directory.stderr:
        pytest.skip(f"no LDAP directory here: {directory.stderr.strip()}")
    assert directory.returncode == 0, directory.stdout + directory.stderr
    try:
        up = run([sys.executable, "-m", "lastfm_lakehouse.serving.server", "start"], env, timeout=400)
        assert up.returncode == 0, up.stdout + up.stderr
        yield env
    finally:
        run([sys.executable, "-m", "lastfm_lakehouse.serving.server", "stop"], env, timeout=120)
        run([sys.executable, "-m", "lastfm_lakehouse.serving.directory", "down"], env, timeout=60)


def password(env: dict[str, str]) -> str:
    return credentials.password_of("bi", Path(env["LAKEHOUSE_HOME"])) or ""


def connect(guarded: dict[str, str], login: dict[str, str], use_tls: bool = True) -> Any:
    return clients.hive_connection(
        "127.0.0.1",
        int(guarded["LAKEHOUSE_THRIFT_PORT"]),
        login,
        use_tls=use_tls,
        home=Path(guarded["LAKEHOUSE_HOME"]),
    )


def test_thrift_asks_the_directory(guarded: dict[str, str]) -> None:
    for login in (
        {},  # no credentials
        {"username": "bi", "password": "not-the-password", "auth": "LDAP"},
        {"username": "nobody", "password": password(guarded), "auth": "LDAP"},
    ):
        with pytest.raises(Exception, match=r"(?i)login|auth|sasl|validat|closed|peer|read 0 bytes"):
            connect(guarded, login).cursor().execute("select 1")
    cursor = connect(guarded, {"username": "bi", "password": password(guarded), "auth": "LDAP"}).cursor()
    cursor.execute("select 40 + 2")
    assert cursor.fetchone()[0] == 42


def test_thrift_speaks_only_verified_tls(guarded: dict[str, str]) -> None:
    home = Path(guarded["LAKEHOUSE_HOME"])
    port = int(guarded["LAKEHOUSE_THRIFT_PORT"])
    files = tls.TlsFiles.from_env(home)
    assert files.keystore.is_file() and oct(files.keystore.stat().st_mode & 0o777) == "0o600"
    # the handshake verifies against the certificate the server start made, for its host names
    with (
        socket.create_connection(("127.0.0.1", port), timeout=10) as plain,
        tls.client_context(files).wrap_socket(plain, server_hostname="localhost") as secured,
    ):
        subject = dict(item[0] for item in secured.getpeercert()["subject"])
        assert subject["commonName"] == "localhost"
        assert secured.version() in ("TLSv1.2", "TLSv1.3")
    # ... and fails against anything else: the system's CAs, or another host name
    for context, name in (
        (ssl.create_default_context(), "localhost"),
        (tls.client_context(files), "not-this-host.example"),
    ):
        with (
            socket.create_connection(("127.0.0.1", port), timeout=10) as plain,
            pytest.raises(ssl.SSLCertVerificationError),
        ):
            context.wrap_socket(plain, server_hostname=name)
    # what clients report when the certificate does not verify (Thrift's own error only says
    # "could not connect")
    elsewhere = dataclasses.replace(files, certificate=Path("/etc/ssl/certs/ca-certificates.crt"))
    assert "CERTIFICATE_VERIFY_FAILED" in (tls.handshake_failure("127.0.0.1", port, elsewhere) or "")
    # a plain-text client with the right password is refused
    login = {"username": "bi", "password": password(guarded), "auth": "LDAP"}
    with pytest.raises(Exception, match=r"(?i)read 0 bytes|closed|reset|peer|sasl"):
        connect(guarded, login, use_tls=False).cursor().execute("select 1")
    # the keystore's password is in no log
    secret = files.keystore_password()
    assert secret not in (home / "logs" / "server.log").read_text(errors="replace")


def test_beeline_over_tls_with_a_password(guarded: dict[str, str]) -> None:
    home = Path(guarded["LAKEHOUSE_HOME"])
    port = int(guarded["LAKEHOUSE_THRIFT_PORT"])
    password_file = credentials.secrets_dir(home) / credentials.password_file("bi")
    beeline = [str(SPARK_BIN / "beeline"), "--silent=true", "--outputformat=tsv2"]
    served = run(
        [*beeline, "-u", tls.beeline_url("localhost", port, tls.TlsFiles.from_env(home)),
         "-n", "bi", "-w", str(password_file), "-e", "select 40 + 2 as answer"],
        guarded,
        timeout=180,
    )  # fmt: skip
    assert served.returncode == 0 and "\n42\n" in f"\n{served.stdout}", served.stderr[-2000:]
    plain = run(
        [*beeline, "-u", f"jdbc:hive2://localhost:{port}/", "-n", "bi", "-w", str(password_file),
         "-e", "select 40 + 2 as answer"],
        guarded,
        timeout=180,
    )  # fmt: skip
    assert "\n42\n" not in f"\n{plain.stdout}"
    assert "Could not open client transport" in plain.stderr + plain.stdout


def test_a_bi_tool_connects_with_the_standalone_jdbc_driver_alone(guarded: dict[str, str]) -> None:
    """The driver ``make setup`` fetched, alone on a Java program's class path (as in DBeaver or
    Tableau), logs in over verified TLS with the URL the docs give; without TLS it is refused."""
    from lastfm_lakehouse.serving import jdbc_driver

    home = Path(guarded["LAKEHOUSE_HOME"])
    port = int(guarded["LAKEHOUSE_THRIFT_PORT"])
    password_file = credentials.secrets_dir(home) / credentials.password_file("bi")
    client = [
        "java", "-cp", str(jdbc_driver.jar()), str(Path(__file__).parent / "jdbc" / "JdbcQuery.java"),
    ]  # fmt: skip
    url = tls.beeline_url("localhost", port, tls.TlsFiles.from_env(home))
    served = run([*client, url, "bi", str(password_file), "select 40 + 2 as answer"], guarded, timeout=180)
    assert served.returncode == 0 and served.stdout.strip() == "42", served.stdout + served.stderr[-3000:]
    plain = run(
        [*client, f"jdbc:hive2://localhost:{port}/", "bi", str(password_file), "select 1"],
        guarded,
        timeout=180,
    )
    assert plain.returncode != 0 and "42" not in plain.stdout


def test_spark_connect_wants_the_token(guarded: dict[str, str]) -> None:
    home = Path(guarded["LAKEHOUSE_HOME"])
    token = credentials.connect_token(home)
    assert token
    url = f"sc://127.0.0.1:{guarded['LAKEHOUSE_CONNECT_PORT']}"
    probe = (
        "import sys\n"
        "from pyspark.sql import SparkSession\n"
        "spark = SparkSession.builder.remote(sys.argv[1]).getOrCreate()\n"
        "print(spark.range(7).count())\n"
    )
    env = {k: v for k, v in guarded.items() if k != "SPARK_CONNECT_AUTHENTICATE_TOKEN"}
    denied = subprocess.run(
        [sys.executable, "-c", probe, url], env=env, capture_output=True, text=True, timeout=180, check=False
    )
    assert denied.returncode != 0 and "7" not in denied.stdout.split()
    allowed = subprocess.run(
        [sys.executable, "-c", probe, credentials.with_token(url, token)],
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert allowed.returncode == 0, allowed.stderr[-3000:]
    assert allowed.stdout.split()[-1] == "7"


def test_dbt_over_the_guarded_server_reads_its_password_from_the_secret_file(
    guarded: dict[str, str],
) -> None:
    from .test_server import REPO

    raw = Path(guarded["LAKEHOUSE_HOME"]) / "raw"
    generate.generate(raw, users=40, seed=3, progress=False)
    env = {**guarded, "DBT_TARGET": "server", "LASTFM_SCHEMA": "guarded", "LASTFM_RAW_DIR": str(raw)}
    result = run(
        [sys.executable, "-m", "dbt.cli.main", "seed", "--profiles-dir", "../profiles"],
        env,
        cwd=REPO / "dbt_project",
        timeout=600,
    )
    assert result.returncode == 0, result.stdout[-4000:]
    secret = password(guarded)
    logs = [
        Path(guarded["LAKEHOUSE_HOME"]) / "logs" / "server.log",
        REPO / "dbt_project" / "logs" / "dbt.log",
    ]
    for log in logs:
        if log.exists():
            assert secret not in log.read_text(errors="replace"), f"the password is in {log}"
    assert secret not in result.stdout + result.stderr
