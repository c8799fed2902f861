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
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from lastfm_lakehouse.access import clients, credentials, trust
from lastfm_lakehouse.data import generate

from .conftest import secrets_on_command_lines
from .test_server import SPARK_BIN, free_port, run

pytestmark = pytest.mark.spark  # starts a server JVM

MAX_OPEN_RESULTS = 4


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
        # short, so that test_idle_sessions_and_results_are_reaped need not wait an hour
        "LAKEHOUSE_IDLE_SESSION_SECONDS": "40",
        "LAKEHOUSE_IDLE_OPERATION_SECONDS": "20",
        # few, so that test_readers_may_hold_only_so_many_open_statements reaches the bound
        "LAKEHOUSE_MAX_OPEN_RESULTS": str(MAX_OPEN_RESULTS),
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


def password(env: dict[str, str], user: str = "bi") -> str:
    return credentials.password_of(user, Path(env["LAKEHOUSE_HOME"])) or ""


def login_as(env: dict[str, str], user: str) -> dict[str, str]:
    """``bi`` is in the directory's reader group, ``dbt`` in its builder group."""
    return {"username": user, "password": password(env, user), "auth": "LDAP"}


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
    files = trust.TlsFiles.from_env(home)
    assert files.keystore.is_file() and oct(files.keystore.stat().st_mode & 0o777) == "0o600"
    # the handshake verifies against the certificate the server start made, for its host names
    with (
        socket.create_connection(("127.0.0.1", port), timeout=10) as plain,
        trust.client_context(files).wrap_socket(plain, server_hostname="localhost") as secured,
    ):
        subject = dict(item[0] for item in secured.getpeercert()["subject"])
        assert subject["commonName"] == "localhost"
        assert secured.version() in ("TLSv1.2", "TLSv1.3")
    # ... and fails against anything else: the system's CAs, or another host name
    for context, name in (
        (ssl.create_default_context(), "localhost"),
        (trust.client_context(files), "not-this-host.example"),
    ):
        with (
            socket.create_connection(("127.0.0.1", port), timeout=10) as plain,
            pytest.raises(ssl.SSLCertVerificationError),
        ):
            context.wrap_socket(plain, server_hostname=name)
    # what clients report when the certificate does not verify (Thrift's own error only says
    # "could not connect")
    elsewhere = dataclasses.replace(files, certificate=Path("/etc/ssl/certs/ca-certificates.crt"))
    assert "CERTIFICATE_VERIFY_FAILED" in (trust.handshake_failure("127.0.0.1", port, elsewhere) or "")
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
        [*beeline, "-u", trust.beeline_url("localhost", port, trust.TlsFiles.from_env(home)),
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
    url = trust.beeline_url("localhost", port, trust.TlsFiles.from_env(home))
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
    env = {**guarded, "DBT_TARGET": "server", "LAKEHOUSE_SCHEMA": "guarded", "LAKEHOUSE_RAW_DIR": str(raw)}
    result = run(
        [sys.executable, "-m", "dbt.cli.main", "seed", "--profiles-dir", "../profiles"],
        env,
        cwd=REPO / "dbt_project",
        timeout=600,
    )
    assert result.returncode == 0, result.stdout[-4000:]
    secret = password(guarded, "dbt")  # the profile's user: the builder
    logs = [
        Path(guarded["LAKEHOUSE_HOME"]) / "logs" / "server.log",
        REPO / "dbt_project" / "logs" / "dbt.log",
    ]
    for log in logs:
        if log.exists():
            assert secret not in log.read_text(errors="replace"), f"the password is in {log}"
    assert secret not in result.stdout + result.stderr


def test_a_reader_may_only_read_the_published_schemas(guarded: dict[str, str]) -> None:
    """The BI account (reader group) SELECTs, SHOWs, DESCRIBEs, USEs and EXPLAINs the published
    schema; every statement of the issue's hostile list is refused by the server with the rule it
    broke, and nothing it tried changed anything. The builder (dbt) may do what the reader may not."""
    home = Path(guarded["LAKEHOUSE_HOME"])
    builder = connect(guarded, login_as(guarded, "dbt")).cursor()
    for statement in (
        "create database if not exists lastfm",
        "create table if not exists lastfm.roles_probe using parquet as select 1 as x",
        "create table if not exists default.unpublished_probe using parquet as select 2 as y",
        "create table if not exists lastfm.delta_probe using delta as select 4 as w",
    ):
        builder.execute(statement)
    builder.execute("describe detail lastfm.delta_probe")
    detail = dict(zip([column[0] for column in builder.description], builder.fetchone(), strict=True))
    reader = connect(guarded, login_as(guarded, "bi")).cursor()
    allowed = {
        "select x from lastfm.roles_probe": [(1,)],
        "select count(*) from lastfm.roles_probe where x in (select x from lastfm.roles_probe)": [(1,)],
        "use lastfm": None,
        "show tables in lastfm": None,
        "describe lastfm.roles_probe": None,
        "explain select * from lastfm.roles_probe": None,
        "show databases": None,
        "set spark.sql.session.timeZone=UTC": None,
    }
    for statement, rows in allowed.items():
        reader.execute(statement)
        answer = reader.fetchall()
        assert rows is None or answer == rows, (statement, answer)
    target = home / "written-by-a-reader"
    hostile = {
        f"select * from text.`{home}/secrets/bi.password`": "files by path",
        "select * from csv.`/etc/passwd`": "files by path",
        f"select * from delta.`{detail['location']}`": "files by path",
        "create temporary view passwd using csv options (path '/etc/passwd')": "not run",
        "drop table lastfm.roles_probe": "not run",
        "insert into lastfm.roles_probe select 2": "not run",
        f"insert overwrite local directory '{target}' select * from lastfm.roles_probe": "not run",
        f"insert overwrite directory '{target}' using csv select 1": "not run",
        "create table lastfm.reader_table (x int)": "not run",
        "create database reader_database": "not run",
        "cache table lastfm.roles_probe": "not run",
        "add jar /tmp/reader.jar": "not run",
        "create function reader_function as 'java.lang.String'": "not run",
        "select reflect('java.lang.System', 'getProperty', 'user.name')": "Java methods",
        "select java_method('java.lang.System', 'getenv', 'HOME')": "Java methods",
        "select * from default.unpublished_probe": "published schemas",
        "set spark.sql.thriftServer.queryTimeout=0": "SET",
        "set spark.sql.runSQLOnFiles=true": "SET",
        "set spark.sql.catalog.pg=org.apache.spark.sql.execution.datasources.v2.jdbc.JDBCTableCatalog": "SET",
        "set spark.connect.authenticate.token": "SET",
        "set": "SET",
        "reset": "not run",
        "explain drop table lastfm.roles_probe": "EXPLAIN",
    }
    # a new Delta version: the reader's query makes Delta read the new commit (by path, in the
    # reader's session), which the rule must let through
    builder.execute("insert into lastfm.delta_probe select 5")
    reader.execute("select w from lastfm.delta_probe order by w")
    assert reader.fetchall() == [(4,), (5,)]
    for statement, rule in hostile.items():
        with pytest.raises(Exception) as refused:
            reader.execute(statement)
            reader.fetchall()
        message = str(refused.value)
        assert "lakehouse authorization: refused for user 'bi' (role reader)" in message, (statement, message)
        assert rule in message, (statement, message)
    assert not target.exists()
    builder.execute("select x from lastfm.roles_probe")
    assert builder.fetchall() == [(1,)]  # neither dropped nor written to
    builder.execute("show databases")
    assert "reader_database" not in {row[0] for row in builder.fetchall()}
    # the builder may: a table, a setting, reflection
    builder.execute("create table lastfm.builder_probe using parquet as select 3 as z")
    builder.execute("drop table lastfm.builder_probe")
    builder.execute("set spark.sql.shuffle.partitions=3")
    # settings handed over when the session opens (HiveServer2's `set:hiveconf:` session settings,
    # which Spark applies to the session) are refused too, at the first statement (PyHive's own
    # `use default` when it connects)
    for setting, value in (
        ("spark.sql.thriftServer.queryTimeout", "0"),
        ("spark.sql.thriftServer.interruptOnCancel", "false"),
    ):
        with pytest.raises(Exception, match=f"readers may not change server settings: {setting}"):
            clients.hive_connection(
                "127.0.0.1",
                int(guarded["LAKEHOUSE_THRIFT_PORT"]),
                login_as(guarded, "bi"),
                use_tls=True,
                home=home,
                configuration={f"set:hiveconf:{setting}": value},
            ).cursor().execute("select x from lastfm.roles_probe")
    # a DN for a user name is refused (whether at login or at the first statement)
    dn = {**login_as(guarded, "bi"), "username": "uid=bi,ou=people,dc=lakehouse,dc=local"}
    with pytest.raises(Exception, match=r"(?i)plain user name|login|auth|sasl|closed|peer|read 0 bytes"):
        connect(guarded, dn).cursor().execute("select x from lastfm.roles_probe")


def test_no_secret_on_a_command_line_or_in_a_system_property(guarded: dict[str, str]) -> None:
    """Every process's command line (the server's JVM and its Python parent, slapd) holds none of
    the secrets, and the server's JVM system properties hold none either."""
    home = Path(guarded["LAKEHOUSE_HOME"])
    folder = credentials.secrets_dir(home)
    secrets = {path.name: path.read_text().strip() for path in folder.iterdir() if path.is_file()}
    expected = {"connect.token", "bi.password", "dbt.password", "keystore.password", "ldap-server.password"}
    assert expected <= set(secrets), sorted(secrets)
    assert not secrets_on_command_lines(home)
    builder = connect(guarded, login_as(guarded, "dbt")).cursor()
    builder.execute("select java_method('java.lang.System', 'getProperties')")
    properties = builder.fetchone()[0]
    assert "hive.server2.authentication.ldap.url" in properties  # the probe reads what it should
    for name, value in secrets.items():
        assert value not in properties, f"{name} is a JVM system property"


def test_readers_may_hold_only_so_many_open_statements(guarded: dict[str, str]) -> None:
    """What readers' results hold on the server is bounded in total: at most LAKEHOUSE_MAX_OPEN_RESULTS
    of their statements open at once (each result capped by spark.driver.maxResultSize); one more
    is refused saying so, the builder is not held up, and closing one makes room again."""
    reader = connect(guarded, login_as(guarded, "bi"))
    held, refusal = [], ""
    for n in range(MAX_OPEN_RESULTS + 1):
        cursor = reader.cursor()
        try:
            cursor.execute(f"select {n} as n")  # executed, not fetched nor closed: its result is held
        except Exception as exc:
            refusal = str(exc)
            break
        held.append(cursor)
    # earlier statements of this module may still be open (until the idle reaper closes them)
    assert 1 <= len(held) <= MAX_OPEN_RESULTS, refusal
    assert f"at most {MAX_OPEN_RESULTS}, LAKEHOUSE_MAX_OPEN_RESULTS" in refusal, refusal
    assert "refused for user 'bi' (role reader)" in refusal, refusal
    builder = connect(guarded, login_as(guarded, "dbt")).cursor()
    builder.execute("select 1")
    assert builder.fetchall() == [(1,)]
    held[0].close()
    deadline = time.monotonic() + int(guarded["LAKEHOUSE_IDLE_OPERATION_SECONDS"]) + 30
    while True:
        again = reader.cursor()
        try:
            again.execute("select 42")
            break
        except Exception:
            if time.monotonic() > deadline:
                raise
            time.sleep(2)
    assert again.fetchall() == [(42,)]
    for cursor in held[1:]:
        cursor.close()
    reader.close()


def test_idle_sessions_and_results_are_reaped(guarded: dict[str, str]) -> None:
    """A BI session left idle past LAKEHOUSE_IDLE_SESSION_SECONDS is closed by the server, and so is
    a result nobody fetched past LAKEHOUSE_IDLE_OPERATION_SECONDS; a new session works."""
    idle = connect(guarded, login_as(guarded, "bi")).cursor()
    idle.execute("select 1")
    assert idle.fetchall() == [(1,)]
    unfetched = connect(guarded, login_as(guarded, "bi")).cursor()
    unfetched.execute("select id from range(1000)")
    time.sleep(int(guarded["LAKEHOUSE_IDLE_SESSION_SECONDS"]) + 15)
    with pytest.raises(Exception, match=r"(?i)invalid|handle|session|closed"):
        idle.execute("select 2")
    with pytest.raises(Exception, match=r"(?i)invalid|handle|operation|closed|session"):
        unfetched.fetchall()
    fresh = connect(guarded, login_as(guarded, "bi")).cursor()
    fresh.execute("select 3")
    assert fresh.fetchall() == [(3,)]


def test_a_server_whose_jvm_dies_exits_for_its_supervisor(guarded: dict[str, str]) -> None:
    """Last in this module (it ends the server): when the server's JVM dies (it exits on
    out-of-memory), the server process exits with code 3 instead of holding its ports' pid file
    while serving nothing, so that a supervisor (the shipped systemd unit) starts a fresh one."""
    home = Path(guarded["LAKEHOUSE_HOME"])
    pid = int((home / "server.pid").read_text().strip())
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    (java,) = [child for child in children if b"java" in Path(f"/proc/{child}/cmdline").read_bytes()]
    assert b"ExitOnOutOfMemoryError" in Path(f"/proc/{java}/cmdline").read_bytes()
    os.kill(int(java), 9)
    deadline = time.monotonic() + 60
    while Path(f"/proc/{pid}").exists() and time.monotonic() < deadline:
        status = Path(f"/proc/{pid}/stat").read_text().split()[2] if Path(f"/proc/{pid}").exists() else "X"
        if status == "Z":  # exited, not yet reaped by its parent (the test's `start` is long gone)
            break
        time.sleep(0.5)
    log = (home / "logs" / "server.log").read_text(errors="replace")
    assert "the server's JVM exited with code -9" in log, log[-2000:]
    status = run([sys.executable, "-m", "lastfm_lakehouse.serving.server", "status"], guarded, timeout=60)
    assert status.returncode == 3 and "not running" in status.stdout, status.stdout
