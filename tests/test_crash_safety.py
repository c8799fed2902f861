"""``kill -9`` of a build while it writes a table (a SQL model, then a Python model) and as it
publishes the new version, then a rebuild: green, tables equal to a clean build's, no staging table
left - real dbt processes and Spark.

On Delta (the default; the PostgreSQL metastore, ``serving.metastore`` as ``make metastore`` starts
it) a kill lands while the data files are written or while the commit is; and two builds of the
same table at once both succeed or one fails with Delta's conflict error, never leaving the table
missing, empty or half-written. On Parquet (the fallback, Derby) a
kill lands while the version directory is written and as the table is switched to it, and no
orphaned version is left (every version but the current one is marked replaced and goes when its
grace period ends)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from dbt.adapters.lakehouse.versions import RETIRED_MARKER
from lastfm_lakehouse.data import generate

from .conftest import REPO
from .test_server import free_port, run

pytestmark = pytest.mark.spark

SCHEMA = "crash"
DBT = (sys.executable, "-m", "dbt.cli.main")
TABLES = ("fct_plays", "mart_als_factors")
SNAPSHOT = """
import json, sys
from lastfm_lakehouse.spark_session import get_or_create
spark = get_or_create()
schema = sys.argv[1]
out = {"tables": sorted(r.tableName for r in spark.sql(f"show tables in {schema}").collect())}
out["fct_plays"] = [list(r) for r in spark.sql(
    f"select count(*), sum(plays), sum(hash(user_key, artist_key, plays)) from {schema}.fct_plays"
).collect()]
out["mart_als_factors"] = [list(r) for r in spark.sql(
    f"select entity_type, count(*), round(sum(aggregate(factors, 0d, (a, x) -> a + abs(x))), 2) "
    f"from {schema}.mart_als_factors group by entity_type order by entity_type"
).collect()]
print("SNAPSHOT " + json.dumps(out, default=str))
"""


def versions_of(home: Path, table: str) -> list[Path]:
    root = home / "warehouse" / f"{SCHEMA}.db" / f"{table}__versions"
    return sorted(p for p in root.iterdir() if p.is_dir()) if root.is_dir() else []


def dbt_run(
    env: dict[str, str],
    select: str,
    kill_when: Callable[[], bool] | None = None,
    command: str = "run",
    extra: tuple[str, ...] = (),
) -> int:
    """``dbt <command>`` in its own process group; with ``kill_when``, SIGKILL the group (dbt and its JVM)
    as soon as it holds."""
    log = Path(env["LAKEHOUSE_HOME"]) / f"dbt-{time.monotonic_ns()}.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "dbt.cli.main", command, "--profiles-dir", "../profiles"]
            + (["--select", select] if select else [])
            + list(extra),
            cwd=REPO / "dbt_project",
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        if kill_when is None:
            code = process.wait(timeout=900)
            assert code == 0, log.read_text()[-4000:]
            return code
        deadline = time.monotonic() + 600
        while not kill_when():
            assert process.poll() is None, "the build ended before the moment to kill it"
            assert time.monotonic() < deadline, "the moment to kill never came"
            time.sleep(0.05)
        os.killpg(process.pid, signal.SIGKILL)
        return process.wait(timeout=60)


def snapshot(env: dict[str, str]) -> dict:
    result = subprocess.run(
        [sys.executable, "-c", SNAPSHOT, SCHEMA],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    line = next((s for s in result.stdout.splitlines() if s.startswith("SNAPSHOT ")), None)
    assert line, result.stdout[-2000:] + result.stderr[-3000:]
    return json.loads(line.removeprefix("SNAPSHOT "))


def table_dir(home: Path, table: str) -> Path:
    return home / "warehouse" / f"{SCHEMA}.db" / table


def data_files(home: Path, table: str) -> set[Path]:
    return set(table_dir(home, table).rglob("*.parquet"))


def log_entries(home: Path, table: str) -> set[Path]:
    log = table_dir(home, table) / "_delta_log"
    return set(log.iterdir()) if log.is_dir() else set()


def written(home: Path, table: str, known: set[Path]) -> bool:
    """A version directory this build made has all its files (Spark's ``_SUCCESS``): the write is
    over and the switch to it follows."""
    return any(v not in known and (v / "_SUCCESS").is_file() for v in versions_of(home, table))


# Delta keeps its truth in its log, whatever the metastore: it is tested on PostgreSQL, where two
# builds can run at once; the Parquet fallback on the embedded Derby metastore.
@pytest.fixture(params=[("delta", "postgresql"), ("parquet", "derby")], ids="-".join)
def metastore_env(request: pytest.FixtureRequest) -> Iterator[dict[str, str]]:
    table_format, metastore = request.param
    # A home the postgres user can traverse (pytest's tmp dirs are private to root).
    home = Path(tempfile.mkdtemp(prefix=f"lakehouse-crash-{table_format}-{metastore}-", dir="/tmp"))
    home.chmod(0o755)
    raw = home / "raw"
    generate.generate(raw, users=60, seed=11, progress=False)
    env = {
        **os.environ,
        "LAKEHOUSE_HOME": str(home / "lakehouse"),
        "LAKEHOUSE_RAW_DIR": str(raw),
        "LAKEHOUSE_SCHEMA": SCHEMA,
        "LAKEHOUSE_TABLE_FORMAT": table_format,
        "LAKEHOUSE_DRIVER_MEMORY": "2g",
        "LAKEHOUSE_PG_PORT": str(free_port()),
    }
    for name in ("DBT_TARGET", "LAKEHOUSE_METASTORE_URL", "LAKEHOUSE_SPARK_MASTER"):
        env.pop(name, None)
    if metastore == "derby":
        yield env
        return
    up = run([sys.executable, "-m", "lastfm_lakehouse.serving.metastore", "up"], env, timeout=600)
    assert up.returncode == 0, up.stdout + up.stderr
    env["LAKEHOUSE_METASTORE_URL"] = run(
        [sys.executable, "-m", "lastfm_lakehouse.serving.metastore", "url"], env
    ).stdout.strip()
    try:
        yield env
    finally:
        run([sys.executable, "-m", "lastfm_lakehouse.serving.metastore", "down"], env, timeout=120)


def test_a_killed_build_leaves_nothing_a_rebuild_does_not_mend(metastore_env: dict[str, str]) -> None:
    env = metastore_env
    # the seed and the models, in one process (each process is a JVM start)
    no_tests = ("--exclude-resource-type", "test", "--exclude-resource-type", "unit_test")
    dbt_run(env, "+fct_plays +mart_als_factors", command="build", extra=no_tests)
    clean = snapshot(env)
    if env["LAKEHOUSE_TABLE_FORMAT"] == "delta":
        killed_on_delta(env)
    else:
        built, orphans = killed_on_parquet(env)

    dbt_run(env, " ".join(TABLES))  # the rebuild: green

    after = snapshot(env)
    assert after == clean  # same tables (no *__dbt_next left), same rows, same factors
    if env["LAKEHOUSE_TABLE_FORMAT"] == "delta":
        if env.get("LAKEHOUSE_METASTORE_URL"):
            two_builds_at_once(env, clean)
        return
    home = Path(env["LAKEHOUSE_HOME"])
    for table in TABLES:
        left = set(versions_of(home, table))
        assert not left & orphans[table], f"{table}: a version killed mid-write is left: {left}"
        current = [v for v in left if not (v / RETIRED_MARKER).is_file()]
        # one current version; anything else was published once and waits out its grace period
        assert len(current) == 1 and current[0] not in set(built[table]) | orphans[table], left
        assert set(built[table]) <= left  # the clean build's, kept for readers within the grace period


def killed_on_delta(env: dict[str, str]) -> None:
    """Killed while writing a table's data files (nothing committed yet), then as the commit is
    written: whichever side of the commit the kill lands on, the table is one whole version."""
    home = Path(env["LAKEHOUSE_HOME"])
    for table in TABLES:
        known = data_files(home, table)
        code = dbt_run(env, table, kill_when=lambda t=table, k=known: bool(data_files(home, t) - k))
        assert code == -signal.SIGKILL
    known_log = log_entries(home, "fct_plays")
    code = dbt_run(env, "fct_plays", kill_when=lambda: bool(log_entries(home, "fct_plays") - known_log))
    assert code == -signal.SIGKILL
    assert snapshot(env)["fct_plays"][0][0] > 0  # readable and whole before any rebuild


def two_builds_at_once(env: dict[str, str], clean: dict) -> None:
    """A scheduled build and someone's ``dbt run -s fct_plays`` on the same table at once (PostgreSQL
    metastore): each succeeds or fails with Delta's conflict error; the table is whole after."""
    logs = [Path(env["LAKEHOUSE_HOME"]) / f"concurrent-{n}.log" for n in range(2)]
    processes = []
    for log in logs:
        with log.open("wb") as out:
            processes.append(
                subprocess.Popen(
                    [*DBT, "run", "--profiles-dir", "../profiles", "--select", "fct_plays"],
                    cwd=REPO / "dbt_project",
                    env=env,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                )
            )
    codes = [process.wait(timeout=900) for process in processes]
    for code, log in zip(codes, logs, strict=True):
        text = log.read_text()
        assert code == 0 or "Concurrent" in text or "conflict" in text.lower(), text[-4000:]
    assert 0 in codes, [log.read_text()[-2000:] for log in logs]
    assert snapshot(env) == clean


def killed_on_parquet(env: dict[str, str]) -> tuple[dict[str, list[Path]], dict[str, set[Path]]]:
    home = Path(env["LAKEHOUSE_HOME"])
    built = {table: versions_of(home, table) for table in TABLES}
    assert all(len(v) == 1 for v in built.values()), built
    for table in TABLES:  # killed while writing its new version (staging table + directory exist)
        code = dbt_run(env, table, kill_when=lambda t=table: len(versions_of(home, t)) > 1)
        assert code == -signal.SIGKILL
    orphans = {table: set(versions_of(home, table)) - set(built[table]) for table in TABLES}
    assert all(orphans.values()), orphans
    # killed as the write ends and the switch begins: before, during or just after the one
    # metastore operation, whichever the kill lands on
    known = set(versions_of(home, "fct_plays"))
    code = dbt_run(env, "fct_plays", kill_when=lambda: written(home, "fct_plays", known))
    assert code == -signal.SIGKILL
    return built, orphans
