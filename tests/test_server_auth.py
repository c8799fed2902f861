"""Nobody in uninvited: the server refuses to bind beyond loopback without authentication; with
``LAKEHOUSE_SERVER_AUTH=ldap`` Thrift clients are checked against a real LDAP directory (Debian's
slapd, started by ``serving.directory`` as ``make directory`` does) and Spark Connect clients must
send the pre-shared token. Real PyHive and PySpark Connect clients; secrets never in the logs."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from lastfm_lakehouse.data import generate
from lastfm_lakehouse.serving import credentials

from .test_server import free_port, run

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
        "LAKEHOUSE_LDAP_PORT": str(free_port()),
        "LAKEHOUSE_THRIFT_PORT": str(free_port()),
        "LAKEHOUSE_CONNECT_PORT": str(free_port()),
        "SPARK_LOCAL_IP": "127.0.0.1",
    }
    for name in ("LAKEHOUSE_METASTORE_URL", "DBT_ENV_SECRET_LAKEHOUSE_PASSWORD", "LAKEHOUSE_BI_PASSWORD"):
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


def test_thrift_asks_the_directory(guarded: dict[str, str]) -> None:
    from pyhive import hive

    port = int(guarded["LAKEHOUSE_THRIFT_PORT"])
    for login in (
        {},  # no credentials
        {"username": "bi", "password": "not-the-password", "auth": "LDAP"},
        {"username": "nobody", "password": password(guarded), "auth": "LDAP"},
    ):
        with pytest.raises(Exception, match=r"(?i)login|auth|sasl|validat|closed|peer|read 0 bytes"):
            hive.connect(host="127.0.0.1", port=port, **login).cursor().execute("select 1")
    cursor = hive.connect(
        host="127.0.0.1", port=port, username="bi", password=password(guarded), auth="LDAP"
    ).cursor()
    cursor.execute("select 40 + 2")
    assert cursor.fetchone()[0] == 42


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
