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
