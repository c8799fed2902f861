"""Spark configuration of the embedded lakehouse, and the Delta switch."""

from __future__ import annotations

import importlib.metadata
from pathlib import Path

import pytest

from lastfm_lakehouse.settings import SparkSettings
from lastfm_lakehouse.spark_session import DELTA_CATALOG, DELTA_EXTENSION, spark_conf


def test_defaults_fit_the_machine_and_keep_state_under_home(tmp_path: Path, monkeypatch) -> None:
    for var in ("LAKEHOUSE_DRIVER_MEMORY", "LAKEHOUSE_SHUFFLE_PARTITIONS", "LASTFM_TABLE_FORMAT"):
        monkeypatch.delenv(var, raising=False)
    conf = spark_conf(SparkSettings.from_env(home=tmp_path))
    assert conf["spark.master"] == "local[*]"
    assert conf["spark.driver.memory"] == "12g"
    assert conf["spark.sql.shuffle.partitions"] == "8"
    assert conf["spark.sql.warehouse.dir"] == str(tmp_path / "warehouse")
    assert f"databaseName={tmp_path / 'metastore_db'}" in conf["spark.hadoop.javax.jdo.option.ConnectionURL"]
    assert "spark.sql.extensions" not in conf and "spark.jars.packages" not in conf


def test_environment_overrides(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LAKEHOUSE_DRIVER_MEMORY", "20g")
    monkeypatch.setenv("LAKEHOUSE_SHUFFLE_PARTITIONS", "32")
    monkeypatch.setenv("LAKEHOUSE_HOME", str(tmp_path / "elsewhere"))
    settings = SparkSettings.from_env()
    assert (settings.driver_memory, settings.shuffle_partitions) == ("20g", 32)
    assert settings.home == tmp_path / "elsewhere"


def test_delta_uses_the_coordinates_of_the_installed_delta_spark(tmp_path: Path) -> None:
    conf = spark_conf(SparkSettings(home=tmp_path, table_format="delta"))
    assert conf["spark.sql.extensions"] == DELTA_EXTENSION
    assert conf["spark.sql.catalog.spark_catalog"] == DELTA_CATALOG
    version = importlib.metadata.version("delta-spark")
    assert conf["spark.jars.packages"] == f"io.delta:delta-spark_2.13:{version}"


def test_delta_from_a_local_jar_directory(tmp_path: Path) -> None:
    jars = tmp_path / "jars"
    jars.mkdir()
    (jars / "delta-spark_2.13-4.0.0.jar").write_bytes(b"")
    (jars / "delta-storage-4.0.0.jar").write_bytes(b"")
    conf = spark_conf(SparkSettings(home=tmp_path, table_format="delta", delta_jars_dir=jars))
    assert conf["spark.jars"].split(",") == sorted(str(p) for p in jars.glob("*.jar"))
    assert "spark.jars.packages" not in conf
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ValueError, match=r"no \*\.jar files"):
        spark_conf(SparkSettings(home=tmp_path, table_format="delta", delta_jars_dir=empty))


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
