"""Spark configuration of the embedded lakehouse, and the Delta switch."""

from __future__ import annotations

import importlib.metadata
import os
import sys
from pathlib import Path

import pytest
import yaml

from lastfm_lakehouse.delta_jars import DeltaJarsMissing, DeltaRelease, jars
from lastfm_lakehouse.settings import DEFAULT_TABLE_FORMAT, SparkSettings
from lastfm_lakehouse.spark_session import DELTA_CATALOG, DELTA_EXTENSION, spark_conf

from .conftest import REPO


def test_defaults_fit_the_machine_and_keep_state_under_home(tmp_path: Path, monkeypatch) -> None:
    for var in ("LAKEHOUSE_DRIVER_MEMORY", "LAKEHOUSE_SHUFFLE_PARTITIONS", "LAKEHOUSE_TABLE_FORMAT"):
        monkeypatch.delenv(var, raising=False)
    conf = spark_conf(SparkSettings.from_env(home=tmp_path, table_format="parquet"))
    assert conf["spark.master"] == "local[*]"
    assert conf["spark.driver.memory"] == "12g"
    assert conf["spark.sql.shuffle.partitions"] == "8"
    assert conf["spark.sql.warehouse.dir"] == str(tmp_path / "warehouse")
    assert f"databaseName={tmp_path / 'metastore_db'}" in conf["spark.hadoop.javax.jdo.option.ConnectionURL"]
    assert "spark.sql.extensions" not in conf and "spark.jars" not in conf


def test_delta_is_the_default_format_everywhere_it_is_written(monkeypatch) -> None:
    monkeypatch.delenv("LAKEHOUSE_TABLE_FORMAT", raising=False)
    assert SparkSettings.from_env().table_format == DEFAULT_TABLE_FORMAT == "delta"
    project = yaml.safe_load((REPO / "dbt_project" / "dbt_project.yml").read_text())
    for section in ("models", "seeds"):
        configured = project[section]["lastfm_lakehouse"]["+file_format"]
        assert configured == f"{{{{ env_var('LAKEHOUSE_TABLE_FORMAT', '{DEFAULT_TABLE_FORMAT}') }}}}", section
    profiles = yaml.safe_load((REPO / "profiles" / "profiles.yml").read_text())
    for target in profiles["lastfm_lakehouse"]["outputs"].values():
        # empty: the adapter falls back to the environment, then to settings.DEFAULT_TABLE_FORMAT
        assert target["table_format"] == "{{ env_var('LAKEHOUSE_TABLE_FORMAT', '') }}"


def test_delta_artifacts_are_named_for_the_installed_spark_and_wheel() -> None:
    release = DeltaRelease("4.4.0", "4.2.0")
    assert release.coordinates == ("io.delta:delta-spark_4.2_2.13:4.4.0", "io.delta:delta-storage:4.4.0")
    assert release.jar_names == ("delta-spark_4.2_2.13-4.4.0.jar", "delta-storage-4.4.0.jar")
    installed = DeltaRelease.installed()
    assert installed.version == importlib.metadata.version("delta-spark")
    assert installed.default_dir().parent == Path(sys.prefix) / "share" / "lastfm-lakehouse"


def test_missing_delta_jars_stop_with_the_way_to_get_them_and_the_fallback(tmp_path: Path) -> None:
    release = DeltaRelease("0.0.0-absent", "4.2.0")
    with pytest.raises(
        DeltaJarsMissing, match=r"make setup.*LAKEHOUSE_DELTA_JARS_DIR.*LAKEHOUSE_TABLE_FORMAT=parquet"
    ):
        jars(None, release)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(DeltaJarsMissing, match=r"no \*\.jar files in LAKEHOUSE_DELTA_JARS_DIR=.*=parquet"):
        spark_conf(SparkSettings(home=tmp_path, table_format="delta", delta_jars_dir=empty))


def test_delta_from_a_local_jar_directory(tmp_path: Path) -> None:
    folder = tmp_path / "jars"
    folder.mkdir()
    (folder / "delta-spark_4.2_2.13-4.4.0.jar").write_bytes(b"")
    (folder / "delta-storage-4.4.0.jar").write_bytes(b"")
    conf = spark_conf(SparkSettings(home=tmp_path, table_format="delta", delta_jars_dir=folder))
    assert conf["spark.sql.extensions"] == DELTA_EXTENSION
    assert conf["spark.sql.catalog.spark_catalog"] == DELTA_CATALOG
    assert conf["spark.jars"].split(",") == sorted(str(p) for p in folder.glob("*.jar"))
    # and on the driver's own class path, which HiveServer2's threads load classes from
    assert set(conf["spark.driver.extraClassPath"].split(":")) >= set(conf["spark.jars"].split(","))
    assert "spark.jars.packages" not in conf


def test_bad_settings_fail_with_the_value_at_fault(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="table_format must be one of parquet, delta, got 'orc'"):
        SparkSettings(home=tmp_path, table_format="orc")
    with pytest.raises(ValueError, match="shuffle_partitions"):
        SparkSettings(home=tmp_path, shuffle_partitions=0)


def test_jobs_share_the_cores_fairly_unless_told_otherwise(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.delenv("LAKEHOUSE_SCHEDULER_MODE", raising=False)
    conf = spark_conf(SparkSettings.from_env(home=tmp_path))
    assert conf["spark.scheduler.mode"] == "FAIR"
    allocation = Path(conf["spark.scheduler.allocation.file"])
    assert allocation.parent == tmp_path and "<schedulingMode>FAIR</schedulingMode>" in allocation.read_text()
    monkeypatch.setenv("LAKEHOUSE_SCHEDULER_MODE", "fifo")
    conf = spark_conf(SparkSettings.from_env(home=tmp_path))
    assert conf["spark.scheduler.mode"] == "FIFO" and "spark.scheduler.allocation.file" not in conf
    with pytest.raises(ValueError, match="scheduler_mode must be one of FAIR, FIFO, got 'ROUND'"):
        SparkSettings.from_env(home=tmp_path, scheduler_mode="ROUND")


def test_the_running_session_schedules_fair_inside_the_default_pool(spark) -> None:
    """The pool jobs land in when no pool is named: FAIR inside, or a big job still queues the rest."""
    pool = spark.sparkContext._jsc.sc().getPoolForName("default").get()  # type: ignore[attr-defined]
    assert spark.conf.get("spark.scheduler.mode") == "FAIR"  # type: ignore[attr-defined]
    assert pool.schedulingMode().toString() == "FAIR"


def test_a_number_setting_that_is_not_one_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    from lastfm_lakehouse.settings import env_number

    monkeypatch.setenv("LAKEHOUSE_PG_PORT", " 5999 ")
    assert env_number("LAKEHOUSE_PG_PORT", 5433) == 5999
    monkeypatch.setenv("LAKEHOUSE_PG_PORT", "")
    assert env_number("LAKEHOUSE_PG_PORT", 5433) == 5433
    monkeypatch.setenv("LAKEHOUSE_PG_PORT", "54x")
    with pytest.raises(ValueError, match=r"^LAKEHOUSE_PG_PORT='54x' is not a whole number$"):
        env_number("LAKEHOUSE_PG_PORT", 5433)
    monkeypatch.setenv("LAKEHOUSE_SERVER_CACHE_MAX_MB", "lots")
    with pytest.raises(ValueError, match="LAKEHOUSE_SERVER_CACHE_MAX_MB='lots' is not a number"):
        env_number("LAKEHOUSE_SERVER_CACHE_MAX_MB", 32.0, float)


def test_the_env_file_sets_what_the_environment_does_not(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from lastfm_lakehouse.settings import load_env_file

    monkeypatch.setenv("LAKEHOUSE_THRIFT_PORT", "10001")
    monkeypatch.delenv("LAKEHOUSE_SHUFFLE_PARTITIONS", raising=False)
    monkeypatch.delenv("LAKEHOUSE_SCHEMA", raising=False)
    env = tmp_path / ".env"
    lines = [
        "# a comment",
        "",
        "LAKEHOUSE_SHUFFLE_PARTITIONS=4",
        "export LAKEHOUSE_SCHEMA='mine'",
        "LAKEHOUSE_THRIFT_PORT=9",
    ]
    env.write_text("\n".join(lines) + "\n")
    assert load_env_file(env) == ["LAKEHOUSE_SHUFFLE_PARTITIONS", "LAKEHOUSE_SCHEMA"]
    assert os.environ["LAKEHOUSE_SCHEMA"] == "mine" and os.environ["LAKEHOUSE_THRIFT_PORT"] == "10001"
    assert load_env_file(tmp_path / "missing") == []
    env.write_text("LAKEHOUSE_HOME\n")
    with pytest.raises(ValueError, match=r"\.env:1: expected NAME=value, got 'LAKEHOUSE_HOME'"):
        load_env_file(env)


def test_a_retired_name_is_taken_with_a_warning_and_never_silently_ignored() -> None:
    from lastfm_lakehouse.settings import RENAMED_ENV, adopt_renamed_env, renamed_env_in_use

    assert all(new.startswith("LAKEHOUSE_") for new in RENAMED_ENV.values())
    env = {"LASTFM_SCHEMA": "old", "SUPERSET_PORT": "9000", "LAKEHOUSE_SUPERSET_PORT": "8089"}
    assert renamed_env_in_use(env) == ["LASTFM_SCHEMA"]  # what dbt alone stops on
    warnings = adopt_renamed_env(env)
    assert env["LAKEHOUSE_SCHEMA"] == "old" and env["LAKEHOUSE_SUPERSET_PORT"] == "8089"
    assert warnings == [
        "LASTFM_SCHEMA is now LAKEHOUSE_SCHEMA: rename it (in your shell, .env or scheduler); "
        "taken as LAKEHOUSE_SCHEMA this time",
        "SUPERSET_PORT is ignored: LAKEHOUSE_SUPERSET_PORT is set (the name SUPERSET_PORT is retired)",
    ]
    assert renamed_env_in_use(env) == []
