"""The server's configuration rules, without a JVM: who may be served where, what the TLS
certificate is made for, which tables the server keeps in memory, the serving bench's arithmetic,
and how a served process is stopped."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from lastfm_lakehouse import commands
from lastfm_lakehouse.access import trust
from lastfm_lakehouse.bench.serving import figures
from lastfm_lakehouse.serving import roles, served_cache, server, tls
from lastfm_lakehouse.serving.server import ServerConfig, auth_conf, idle_conf, server_conf
from lastfm_lakehouse.settings import SparkSettings
from lastfm_lakehouse.spark_session import SECRET_KEY, cluster_conf, cluster_properties, spark_conf

from .conftest import REPO


def config(**changes: object) -> ServerConfig:
    base = {"host": "127.0.0.1", "thrift_port": 10000, "connect_port": 15002, "home": Path("/tmp/x")}
    return ServerConfig(**{**base, **changes})  # type: ignore[arg-type]


def test_spark_connect_stays_on_loopback_and_always_wants_its_token(tmp_path: Path) -> None:
    """Spark Connect has no TLS: whatever address Thrift binds, Connect binds loopback; its token is
    set whether or not Thrift checks passwords, and is a setting the JVM gets after it started."""
    for auth in ("none", "ldap"):
        served = (
            config(host="10.0.0.5", auth="ldap", home=tmp_path) if auth == "ldap" else config(home=tmp_path)
        )
        access = auth_conf(served)
        token = access["spark.connect.authenticate.token"]
        assert len(token) >= 24 and SECRET_KEY.search("spark.connect.authenticate.token")
        conf = server_conf(served, access)
        assert conf["spark.connect.grpc.binding.address"] == "127.0.0.1"
        assert served.ports["Spark Connect"] == ("127.0.0.1", 15002)
        assert served.ports["HiveServer2 Thrift"] == (served.host, 10000)
    public = [key for key in conf if not SECRET_KEY.search(key)]
    assert "spark.connect.authenticate.token" not in public and "spark.app.name" in public
    assert SECRET_KEY.search("spark.hadoop.hive.server2.keystore.password")
    assert SECRET_KEY.search("spark.hadoop.javax.jdo.option.ConnectionPassword")


def test_idle_sessions_and_results_are_reaped_on_a_schedule() -> None:
    hourly = idle_conf(config())
    assert hourly["spark.hadoop.hive.server2.idle.session.timeout"] == "3600s"
    assert hourly["spark.hadoop.hive.server2.idle.operation.timeout"] == "600s"
    assert hourly["spark.hadoop.hive.server2.session.check.interval"] == "60s"
    brief = idle_conf(config(idle_session_seconds=5, idle_operation_seconds=4))
    assert brief["spark.hadoop.hive.server2.session.check.interval"] == "3s"  # Hive's floor


def test_a_cluster_is_authenticated_encrypted_and_its_ui_stays_on_loopback(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """In-process Spark opens nothing to the network; on any cluster the driver authenticates and
    encrypts its RPC and spills, a standalone master shares the secret the properties file gives its
    master and workers (the secret is a setting the JVM gets after it started), and the driver
    advertises a reachable host while the UI binds loopback."""
    monkeypatch.delenv("LAKEHOUSE_DRIVER_HOST", raising=False)
    embedded = spark_conf(SparkSettings(home=tmp_path, master="local[2]"))
    assert "spark.authenticate" not in embedded and "spark.driver.host" not in embedded
    assert cluster_conf(SparkSettings(home=tmp_path, master="local[*]")) == {}
    standalone = spark_conf(SparkSettings(home=tmp_path, master="spark://10.0.0.7:7077"))
    for key in ("spark.authenticate", "spark.network.crypto.enabled", "spark.io.encryption.enabled"):
        assert standalone[key] == "true", key
    secret = standalone["spark.authenticate.secret"]
    assert len(secret) >= 24 and SECRET_KEY.search("spark.authenticate.secret")
    assert (tmp_path / "secrets" / "spark-cluster.secret").stat().st_mode & 0o077 == 0
    assert standalone["spark.driver.host"] == socket.gethostname()  # not loopback: executors call it
    properties = cluster_properties(tmp_path)
    assert properties.stat().st_mode & 0o077 == 0
    lines = dict(
        line.split(" ", 1) for line in properties.read_text().splitlines() if not line.startswith("#")
    )
    assert lines == {
        "spark.authenticate": "true",
        "spark.authenticate.secret": secret,
        "spark.network.crypto.enabled": "true",
    }
    # the same secret on the next start: the cluster's master and workers keep theirs
    assert (
        cluster_conf(SparkSettings(home=tmp_path, master="spark://10.0.0.7:7077"))[
            "spark.authenticate.secret"
        ]
        == secret
    )
    local_cluster = cluster_conf(SparkSettings(home=tmp_path, master="spark://127.0.0.1:7077"))
    assert local_cluster["spark.driver.host"] == "127.0.0.1" and local_cluster["spark.authenticate"] == "true"
    monkeypatch.setenv("LAKEHOUSE_DRIVER_HOST", "driver.example.org")
    yarn = cluster_conf(SparkSettings(home=tmp_path, master="yarn"))
    assert yarn["spark.driver.host"] == "driver.example.org"
    # YARN makes each application's secret itself
    assert yarn["spark.authenticate"] == "true" and "spark.authenticate.secret" not in yarn


def test_roles_default_to_the_private_directory_and_the_project_schemas(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in ("LAKEHOUSE_PUBLISHED_SCHEMAS", "LAKEHOUSE_LDAP_URL", "LAKEHOUSE_LDAP_READER_GROUP"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("LAKEHOUSE_SCHEMA", "music")
    monkeypatch.setenv("LAKEHOUSE_LDAP_PORT", "4389")
    found = roles.Roles.from_env()
    assert found.published == ("music", "music_*")
    assert found.url == "ldap://127.0.0.1:4389"
    assert found.readers == roles.READERS and found.bind_dn == roles.SERVER
    monkeypatch.setenv("LAKEHOUSE_PUBLISHED_SCHEMAS", "marts, bi_*")
    monkeypatch.setenv("LAKEHOUSE_LDAP_READER_GROUP", "cn=analysts,ou=groups,dc=example,dc=org")
    found = roles.Roles.from_env()
    assert found.published == ("marts", "bi_*")
    assert found.readers == "cn=analysts,ou=groups,dc=example,dc=org"


def test_stop_never_signals_a_process_that_is_not_the_servers(tmp_path: Path) -> None:
    """A stale pid file naming a process the system has since given that number to (here: this
    test's own) is not the server's: status says not running, and stop leaves that process alone."""
    served = config(home=tmp_path)
    served.pid_file.write_text(f"{os.getpid()}\n")
    ours = Path(sys.executable).name  # on the command line of pytest and of its xdist workers alike
    assert commands.pid_from(served.pid_file, ours) == os.getpid()  # ours, by its command line
    assert server.running_pid(served) is None
    assert server.stop(served) == 0  # we are still here to assert
    assert not served.pid_file.exists()
    served.pid_file.write_text("not a pid\n")
    assert server.running_pid(served) is None


def test_beyond_loopback_needs_authentication_and_passwords_want_tls() -> None:
    assert config().refusal() is None and config().warning() is None
    assert "without authentication" in (config(host="0.0.0.0").refusal() or "")
    assert "must be one of" in (config(auth="kerberos").refusal() or "")
    open_passwords = config(host="10.0.0.5", auth="ldap")
    assert open_passwords.refusal() is None
    assert "plain text" in (open_passwords.warning() or "")
    assert config(host="10.0.0.5", auth="ldap", tls=True).warning() is None


@pytest.mark.parametrize(
    ("bind", "extra"),
    [
        ("127.0.0.1", None),
        ("0.0.0.0", None),
        ("10.1.2.3", "ip:10.1.2.3"),
        ("bi.example.org", "dns:bi.example.org"),
    ],
)
def test_certificate_names_cover_loopback_and_the_bound_address(bind: str, extra: str | None) -> None:
    names = tls.host_names(bind)
    assert names[:2] == ["dns:localhost", "ip:127.0.0.1"]
    assert len(names) == len(set(names))
    if extra:
        assert extra in names
    else:
        assert not any(name.endswith(bind) for name in names if bind != "127.0.0.1")


def test_tls_switch_and_missing_files_are_explained(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for value, expected in (("on", True), ("TRUE", True), ("1", True), ("off", False), ("", False)):
        monkeypatch.setenv("LAKEHOUSE_SERVER_TLS", value)
        assert trust.enabled() is expected
    files = trust.TlsFiles.from_env(tmp_path)
    assert files.keystore == tmp_path / "tls" / "server.p12"
    with pytest.raises(trust.TlsError, match="make tls"):
        tls.server_conf(files)
    with pytest.raises(trust.TlsError, match="LAKEHOUSE_TLS_CA"):
        trust.client_context(files)
    monkeypatch.setenv("LAKEHOUSE_TLS_KEYSTORE", str(tmp_path / "admin.p12"))
    with pytest.raises(trust.TlsError, match=r"admin\.p12"):
        tls.create(trust.TlsFiles.from_env(tmp_path))


def test_the_served_cache_keeps_what_dashboards_read_but_facts(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LAKEHOUSE_SERVER_CACHE", raising=False)
    tables = served_cache.configured_tables("lastfm")
    assert "lastfm.mart_recommendations_als" in tables and "lastfm.dim_users" in tables
    assert not any(".fct_" in table for table in tables)  # fct_plays is in an exposure, too big to keep
    assert len(tables) == len(set(tables))
    monkeypatch.setenv("LAKEHOUSE_SERVER_CACHE", "mart_recommendations_als, other.t")
    assert served_cache.configured_tables("s") == ["s.mart_recommendations_als", "other.t"]
    monkeypatch.setenv("LAKEHOUSE_SERVER_CACHE", "none")
    assert served_cache.configured_tables("s") == []


def test_lookup_indexes_come_from_the_models_meta_or_the_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every key a model names is one of its documented columns; the setting overrides them."""
    monkeypatch.delenv("LAKEHOUSE_SERVER_LOOKUPS", raising=False)
    lookups = served_cache.configured_lookups("lastfm")
    assert lookups["lastfm.mart_recommendations_als"] == "user_sha1"
    assert lookups["lastfm.mart_similar_artists"] == "artist_name"
    assert set(lookups) <= set(served_cache.configured_tables("lastfm"))  # only what BI tools read
    models = {}
    for root in served_cache.MODEL_YAML_DIRS:
        for path in (REPO / root).rglob("*.yml"):
            for model in (yaml.safe_load(path.read_text()) or {}).get("models", []):
                models[model["name"]] = [column["name"] for column in model.get("columns", [])]
    for table, key in lookups.items():
        assert key in models[table.split(".")[1]], f"{table}: no documented column {key}"
    monkeypatch.setenv("LAKEHOUSE_SERVER_LOOKUPS", "mart_recommendations_als:user_sha1, other.t : k")
    assert served_cache.configured_lookups("s") == {"s.mart_recommendations_als": "user_sha1", "other.t": "k"}
    monkeypatch.setenv("LAKEHOUSE_SERVER_LOOKUPS", "mart_recommendations_als")
    with pytest.raises(ValueError, match="'mart_recommendations_als' is not table:key_column"):
        served_cache.configured_lookups("s")
    monkeypatch.setenv("LAKEHOUSE_SERVER_LOOKUPS", "none")
    assert served_cache.configured_lookups("s") == {} and not served_cache.lookups_on()


def test_a_version_is_its_location_and_its_files(tmp_path: Path) -> None:
    """The served cache re-reads a table when its files change, even at the same location."""
    (tmp_path / "part-0.parquet").write_bytes(b"x" * 10)
    first = served_cache.files_stat(tmp_path.as_uri())
    assert first is not None and first[:2] == (1, 10)
    (tmp_path / "part-1.parquet").write_bytes(b"y" * 5)
    assert served_cache.files_stat(str(tmp_path))[:2] == (2, 15)
    (tmp_path / "_lakehouse_retired_at").write_text("1764000000")  # what Spark's readers skip
    (tmp_path / ".part-1.parquet.crc").write_bytes(b"c")
    assert served_cache.files_stat(str(tmp_path))[:2] == (2, 15)
    assert served_cache.files_stat("s3a://bucket/table") is None


def test_a_delta_version_is_its_newest_commit_even_one_that_adds_no_file(tmp_path: Path) -> None:
    """A ``restore`` adds a commit and no data file: the served cache sees it in the Delta log."""
    assert served_cache.delta_log_version(str(tmp_path)) is None  # not a Delta table
    log = tmp_path / "_delta_log"
    log.mkdir()
    (log / "00000000000000000000.json").write_text("{}")
    (log / "00000000000000000001.json").write_text("{}")
    (log / "00000000000000000001.crc").write_text("{}")
    (log / "_last_checkpoint").write_text("{}")
    assert served_cache.delta_log_version(tmp_path.as_uri()) == 1
    (log / "00000000000000000002.json").write_text("{}")
    assert served_cache.delta_log_version(str(tmp_path)) == 2
    assert served_cache.delta_log_version("s3a://bucket/table") is None


def test_serving_bench_figures() -> None:
    result = figures([0.1, 0.2, 0.3, 0.4], 2.0)
    assert result["queries"] == 4 and result["queries_per_second"] == 2.0
    assert result["p50_ms"] == 250.0 and result["p95_ms"] == result["p99_ms"] == 400.0
    assert figures([], 1.0)["p95_ms"] is None


def test_terminate_stops_a_process_and_kills_one_that_ignores_sigterm() -> None:
    polite = subprocess.Popen(["sleep", "60"])
    commands.terminate(polite.pid, lambda: polite.poll() is None)
    assert polite.wait(timeout=5) == -signal.SIGTERM
    # a process group whose leader ignores SIGTERM: SIGKILL once `seconds` have passed
    stubborn = subprocess.Popen(["bash", "-c", "trap '' TERM; sleep 60 & wait"], start_new_session=True)
    time.sleep(0.5)  # let bash install its trap
    commands.terminate(stubborn.pid, lambda: stubborn.poll() is None, group=True, seconds=1)
    assert stubborn.wait(timeout=5) == -signal.SIGKILL
