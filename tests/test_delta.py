"""Delta Lake, the default table format: every build of a table is one Delta version that says who
wrote it (dbt invocation, node, project commit, vars), earlier versions can be read (``version as
of``, ``timestamp as of``) and restored, a table whose data tests fail is put back to the version
it had (write, audit, publish), and ``vacuum_lakehouse`` applies the retention - real dbt builds in
the shared Spark session."""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path

import pytest

from lastfm_lakehouse.data import generate

from .conftest import REPO, dbt_build, invoke_dbt, project_copy

pytestmark = pytest.mark.spark

SCHEMA = "delta_history"
TABLE = f"{SCHEMA}.fct_plays"
CONTENT = f"select count(*), sum(plays_capped), sum(hash(user_key, artist_key, rating)) from {TABLE}"


@pytest.fixture(scope="module")
def raw_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    raw = tmp_path_factory.mktemp("delta-raw")
    generate.generate(raw, users=80, seed=5, progress=False)
    return raw


def content(spark: object, sql: str = CONTENT) -> tuple:
    return tuple(spark.sql(sql).collect()[0])  # type: ignore[attr-defined]


def invocation_of(target: Path) -> str:
    return json.loads((target / "run_results.json").read_text())["metadata"]["invocation_id"]


def history(spark: object, table: str = TABLE) -> list:
    return spark.sql(f"describe history {table}").orderBy("version").collect()  # type: ignore[attr-defined]


def properties(spark: object, table: str = TABLE) -> dict[str, str]:
    return {r.key: r.value for r in spark.sql(f"show tblproperties {table}").collect()}  # type: ignore[attr-defined]


@pytest.fixture(scope="module")
def two_builds(spark: object, raw_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """Two builds of fct_plays, the second (of fct_plays alone) with another plays cap: two versions
    of other content."""
    built = {}
    for name, cap, select in (("first", 700, "+fct_plays_balanced"), ("second", 50, "fct_plays")):
        target = tmp_path_factory.mktemp(f"target-{name}")
        dbt_build(raw_dir, SCHEMA, target, {"plays_cap": cap}, select=select)
        built[name] = {
            "content": content(spark),
            "invocation": invocation_of(target),
            "version": history(spark)[-1].version,
            "timestamp": history(spark)[-1].timestamp,
        }
    return built


def test_tables_are_delta_and_each_build_is_one_version_that_says_who_wrote_it(spark, two_builds) -> None:
    first, second = two_builds["first"], two_builds["second"]
    assert first["content"] != second["content"]
    detail = spark.sql(f"describe detail {TABLE}").collect()[0]
    assert detail.format == "delta"
    # one commit per build: the replace is a single version, not a drop and a create
    assert second["version"] == first["version"] + 1
    assert history(spark)[-1].operation in ("CREATE OR REPLACE TABLE AS SELECT", "REPLACE TABLE AS SELECT")
    said = properties(spark)
    assert said["lakehouse.dbt.invocation_id"] == second["invocation"] != first["invocation"]
    assert said["lakehouse.dbt.node"] == "model.lastfm_lakehouse.fct_plays"
    assert json.loads(said["lakehouse.dbt.vars"])["plays_cap"] == 50
    assert said["lakehouse.previous_version"] == str(first["version"])
    assert said["delta.deletedFileRetentionDuration"] == "interval 7 days"
    head = subprocess.run(["git", "-C", str(REPO), "rev-parse", "HEAD"], capture_output=True, text=True)
    if head.returncode == 0:  # a checkout: the commit the build ran from, "+dirty" with changes
        assert said["lakehouse.project.commit"].split("+")[0] == head.stdout.strip()
    # (a Python model's commit, written by DataFrameWriterV2: test_build_generated)


def test_an_earlier_build_is_read_by_version_and_by_time_and_restored(spark, two_builds) -> None:
    first, second = two_builds["first"], two_builds["second"]
    as_of_version = CONTENT.replace(TABLE, f"{TABLE} version as of {first['version']}")
    assert content(spark, as_of_version) == first["content"]
    as_of_time = CONTENT.replace(TABLE, f"{TABLE} timestamp as of '{first['timestamp']}'")
    assert content(spark, as_of_time) == first["content"]
    assert content(spark) == second["content"]
    spark.sql(f"restore table {TABLE} to version as of {first['version']}")
    try:
        assert content(spark) == first["content"]
        assert history(spark)[-1].operation == "RESTORE"
    finally:  # leave the table as the builds left it for the next test
        spark.sql(f"restore table {TABLE} to version as of {second['version']}")
    assert content(spark) == second["content"]


def test_a_table_whose_tests_fail_goes_back_to_its_version_and_the_build_stays_red(
    spark, raw_dir: Path, two_builds, tmp_path: Path
) -> None:
    """Write, audit, publish: the build writes fct_plays with another cap, a data test on it fails,
    the table is restored to the version it had and nothing downstream is built."""
    before = {**two_builds["second"], "version": history(spark)[-1].version}
    assert content(spark) == before["content"]
    project = project_copy(
        tmp_path,
        {"assert_deliberately_failing.sql": "-- fails on any row\nselect * from {{ ref('fct_plays') }}\n"},
    )
    balanced_before = properties(spark, f"{SCHEMA}.fct_plays_balanced")["lakehouse.dbt.invocation_id"]
    result = invoke_dbt(
        "build",
        raw_dir,
        SCHEMA,
        tmp_path / "target",
        {"plays_cap": 300},
        select="fct_plays fct_plays_balanced",
        project_dir=project,
    )
    assert not result.success  # type: ignore[attr-defined]
    statuses = {r.node.name: str(r.status) for r in result.result}  # type: ignore[attr-defined]
    assert statuses["assert_deliberately_failing"] == "fail"
    assert statuses["fct_plays"] == "success" and statuses["fct_plays_balanced"] == "skipped"
    # what BI reads: the version from before this build, and history says it was restored
    assert content(spark) == before["content"]
    last = history(spark)[-1]
    assert last.operation == "RESTORE" and last.version == before["version"] + 2
    assert properties(spark)["lakehouse.dbt.invocation_id"] == before["invocation"]
    assert properties(spark, f"{SCHEMA}.fct_plays_balanced")["lakehouse.dbt.invocation_id"] == balanced_before
    log = (project / "logs" / "dbt.log").read_text()
    assert f"held back: {TABLE} RESTORED to version {before['version']}" in log
    assert "1 data test(s) failed: assert_deliberately_failing" in log


def test_vacuum_keeps_the_retention_and_refuses_a_bad_one(spark, raw_dir: Path, two_builds, tmp_path) -> None:
    """Files no version refers to (what a killed build wrote) go once older than the retention;
    younger ones and every version within it stay."""
    location = spark.sql(f"describe detail {TABLE}").collect()[0].location
    table_dir = Path(location.removeprefix("file:"))
    stale, fresh = (
        table_dir / "part-99998-killed-long-ago.parquet",
        table_dir / "part-99999-killed-now.parquet",
    )
    for orphan in (stale, fresh):
        orphan.write_bytes(b"left by a killed write")
    month_ago = time.time() - 30 * 86400
    os.utime(stale, (month_ago, month_ago))
    kept = invoke_dbt("run-operation vacuum_lakehouse", raw_dir, SCHEMA, tmp_path / "t1")
    assert kept.success, kept.exception  # type: ignore[attr-defined]
    assert not stale.exists() and fresh.exists()
    first = two_builds["first"]
    as_of = CONTENT.replace(TABLE, f"{TABLE} version as of {first['version']}")
    assert content(spark, as_of) == first["content"]  # within 7 days: still there
    project = project_copy(tmp_path, {})  # a project of its own: its own dbt.log to read
    refused = invoke_dbt(
        "run-operation vacuum_lakehouse",
        raw_dir,
        SCHEMA,
        tmp_path / "t2",
        {"delta_retention_days": 0},
        project_dir=project,
    )
    assert not refused.success  # type: ignore[attr-defined]
    said = (project / "logs" / "dbt.log").read_text()
    assert "delta_retention_days must be a whole number of days >= 1" in said, said[-3000:]
