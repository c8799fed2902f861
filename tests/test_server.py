"""The served lakehouse with real clients: a PostgreSQL metastore, a Spark standalone master and worker
on loopback (from pyspark's own jars), the server (`python -m lastfm_lakehouse.serving.server`) on that
cluster, ``dbt build --target server`` through it, beeline and PyHive as BI tools would connect, and
an embedded build writing to the same metastore while the server runs.
"""

from __future__ import annotations

import itertools
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pyspark
import pytest

from lastfm_lakehouse.data import generate

from .conftest import REPO

pytestmark = pytest.mark.spark  # starts JVMs (Spark, servers, dbt builds)

SPARK_BIN = Path(pyspark.__file__).parent / "bin"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for_port(port: int, seconds: float = 120) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.5)
    raise TimeoutError(f"nothing listens on 127.0.0.1:{port} after {seconds}s")


def run(
    args: list[str], env: dict[str, str], cwd: Path = REPO, timeout: int = 900
) -> subprocess.CompletedProcess:
    return subprocess.run(
        args, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )


@pytest.fixture(scope="module")
def served() -> Iterator[dict[str, str]]:
    # A home the postgres user can traverse (pytest's tmp dirs are private to root).
    home = Path(tempfile.mkdtemp(prefix="lakehouse-served-", dir="/tmp"))
    home.chmod(0o755)
    raw = home / "raw"
    generate.generate(raw, users=300, seed=5, progress=False)
    env = {
        **os.environ,
        "LAKEHOUSE_HOME": str(home),
        "LAKEHOUSE_DRIVER_MEMORY": "2g",
        "LASTFM_RAW_DIR": str(raw),
        "LAKEHOUSE_PG_PORT": str(free_port()),
        "LAKEHOUSE_THRIFT_PORT": str(free_port()),
        "LAKEHOUSE_CONNECT_PORT": str(free_port()),
        "SPARK_LOCAL_IP": "127.0.0.1",
        "PYSPARK_PYTHON": sys.executable,
    }
    for name in ("LASTFM_SCHEMA", "DBT_TARGET", "LAKEHOUSE_SPARK_MASTER"):
        env.pop(name, None)
    processes: list[subprocess.Popen] = []
    metastore = run([sys.executable, "-m", "lastfm_lakehouse.serving.metastore", "up"], env, timeout=600)
    assert metastore.returncode == 0, metastore.stdout + metastore.stderr
    env["LAKEHOUSE_METASTORE_URL"] = run(
        [sys.executable, "-m", "lastfm_lakehouse.serving.metastore", "url"], env
    ).stdout.strip()
    master_port, logs = free_port(), home / "logs"
    logs.mkdir(exist_ok=True)
    cluster = {
        "master": [
            "org.apache.spark.deploy.master.Master",
            "--host",
            "127.0.0.1",
            "--port",
            str(master_port),
            "--webui-port",
            str(free_port()),
        ],
        "worker": [
            "org.apache.spark.deploy.worker.Worker",
            "--host",
            "127.0.0.1",
            "--cores",
            "2",
            "--memory",
            "3g",
            "--webui-port",
            str(free_port()),
            f"spark://127.0.0.1:{master_port}",
        ],
    }
    try:
        for name, args in cluster.items():
            with (logs / f"{name}.log").open("wb") as log:
                processes.append(
                    subprocess.Popen(
                        [str(SPARK_BIN / "spark-class"), *args], env=env, stdout=log, stderr=subprocess.STDOUT
                    )
                )
            if name == "master":
                wait_for_port(master_port)
        env["LAKEHOUSE_SPARK_MASTER"] = f"spark://127.0.0.1:{master_port}"
        started = time.monotonic()
        up = run([sys.executable, "-m", "lastfm_lakehouse.serving.server", "start"], env, timeout=400)
        assert up.returncode == 0, up.stdout + up.stderr + (home / "logs" / "server.log").read_text()[-3000:]
        env["SERVER_START_SECONDS"] = f"{time.monotonic() - started:.1f}"
        yield env
    finally:
        run([sys.executable, "-m", "lastfm_lakehouse.serving.server", "stop"], env, timeout=120)
        for process in reversed(processes):
            process.terminate()
            process.wait(timeout=60)
        run([sys.executable, "-m", "lastfm_lakehouse.serving.metastore", "down"], env, timeout=120)


@pytest.fixture(scope="module")
def server_build(served: dict[str, str]) -> subprocess.CompletedProcess:
    env = {**served, "DBT_TARGET": "server"}
    return run(
        [sys.executable, "-m", "dbt.cli.main", "build", "--profiles-dir", "../profiles"],
        env,
        cwd=REPO / "dbt_project",
        timeout=1500,
    )


def test_start_is_idempotent_and_status_reports(served: dict[str, str]) -> None:
    again = run([sys.executable, "-m", "lastfm_lakehouse.serving.server", "start"], served, timeout=60)
    assert again.returncode == 0 and "already running" in again.stdout
    status = run([sys.executable, "-m", "lastfm_lakehouse.serving.server", "status"], served, timeout=60)
    assert status.returncode == 0 and "HiveServer2 Thrift up, Spark Connect up" in status.stdout


def test_port_taken_is_reported(served: dict[str, str], tmp_path: Path) -> None:
    env = {**served, "LAKEHOUSE_HOME": str(tmp_path)}  # another home, same (busy) ports
    result = run([sys.executable, "-m", "lastfm_lakehouse.serving.server", "start"], env, timeout=60)
    assert result.returncode == 1 and "already in use by another program" in result.stderr


def test_dbt_build_through_the_server_on_the_cluster(server_build: subprocess.CompletedProcess) -> None:
    assert server_build.returncode == 0, server_build.stdout[-6000:]
    assert "Completed successfully" in server_build.stdout
    assert "python table model lastfm.mart_recommendations_als" in server_build.stdout


def test_beeline_lists_and_queries_the_marts(served: dict[str, str], server_build) -> None:
    url = f"jdbc:hive2://127.0.0.1:{served['LAKEHOUSE_THRIFT_PORT']}"
    result = run(
        [
            str(SPARK_BIN / "beeline"),
            "-u",
            url,
            "--silent=true",
            "--outputformat=tsv2",
            "-e",
            "show tables in lastfm; "
            "select count(distinct user_key) as users from lastfm.mart_recommendations_als;",
        ],
        served,
        timeout=180,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    for mart in (
        "dim_users",
        "fct_plays",
        "mart_recommendations_als",
        "mart_recommendations_knn",
        "mart_model_evaluation",
        "mart_similar_artists_lsh",
    ):
        assert mart in result.stdout
    assert "\n301\n" in result.stdout  # 300 users with profiles + the listener without one


def test_pyhive_point_lookup_and_error_keeps_the_server_up(served: dict[str, str], server_build) -> None:
    from pyhive import exc, hive

    connection = hive.connect(host="127.0.0.1", port=int(served["LAKEHOUSE_THRIFT_PORT"]))
    cursor = connection.cursor()
    cursor.execute("select user_sha1 from lastfm.dim_users where has_plays order by user_key limit 1")
    (sha1,) = cursor.fetchone()
    cursor.execute(
        "select rank, artist_name, score from lastfm.mart_recommendations_als "
        f"where user_sha1 = '{sha1}' and rank <= 10 order by rank"
    )
    top10 = cursor.fetchall()
    assert [row[0] for row in top10] == list(range(1, 11))
    assert all(a[2] >= b[2] for a, b in itertools.pairwise(top10))
    with pytest.raises(exc.OperationalError, match="TABLE_OR_VIEW_NOT_FOUND"):
        cursor.execute("select * from lastfm.no_such_mart")
    cursor.execute("select count(*) from lastfm.fct_plays")  # the same connection still works
    assert cursor.fetchone()[0] > 0
    connection.close()


def test_embedded_build_shares_the_metastore_with_the_running_server(
    served: dict[str, str], server_build
) -> None:
    env = {**served, "LASTFM_SCHEMA": "side", "LAKEHOUSE_SPARK_MASTER": "local[2]"}
    result = run(
        [sys.executable, "-m", "dbt.cli.main", "seed", "--profiles-dir", "../profiles"],
        env,
        cwd=REPO / "dbt_project",
        timeout=600,
    )
    assert result.returncode == 0, result.stdout[-4000:]
    from pyhive import hive

    cursor = hive.connect(host="127.0.0.1", port=int(served["LAKEHOUSE_THRIFT_PORT"])).cursor()
    cursor.execute("select count(*) from side_seeds.lastfm_countries")
    assert cursor.fetchone()[0] == 239


def test_bench_serve_runs_bounded_and_reports(served: dict[str, str], server_build, tmp_path: Path) -> None:
    out = tmp_path / "serve.json"
    result = run(
        [
            sys.executable,
            "-m",
            "lastfm_lakehouse.bench.serving",
            "--clients",
            "2",
            "--seconds",
            "4",
            "--port",
            served["LAKEHOUSE_THRIFT_PORT"],
            "--out",
            str(out),
        ],
        served,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    report = json.loads(out.read_text())
    assert report["queries"] > 0 and report["errors"] == 0 and report["p95_ms"] >= report["p50_ms"] > 0
