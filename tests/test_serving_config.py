"""The server's configuration rules, without a JVM: who may be served where, what the TLS
certificate is made for, which tables the server keeps in memory, the serving bench's arithmetic,
and how a served process is stopped."""

from __future__ import annotations

import signal
import subprocess
import time
from pathlib import Path

import pytest

from lastfm_lakehouse.bench.serving import figures
from lastfm_lakehouse.serving import commands, served_cache, tls
from lastfm_lakehouse.serving.server import ServerConfig


def config(**changes: object) -> ServerConfig:
    base = {"host": "127.0.0.1", "thrift_port": 10000, "connect_port": 15002, "home": Path("/tmp/x")}
    return ServerConfig(**{**base, **changes})  # type: ignore[arg-type]


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
        assert tls.enabled() is expected
    files = tls.TlsFiles.from_env(tmp_path)
    assert files.keystore == tmp_path / "tls" / "server.p12"
    with pytest.raises(tls.TlsError, match="make tls"):
        tls.server_conf(files)
    with pytest.raises(tls.TlsError, match="LAKEHOUSE_TLS_CA"):
        tls.client_context(files)
    monkeypatch.setenv("LAKEHOUSE_TLS_KEYSTORE", str(tmp_path / "admin.p12"))
    with pytest.raises(tls.TlsError, match=r"admin\.p12"):
        tls.create(tls.TlsFiles.from_env(tmp_path))


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
