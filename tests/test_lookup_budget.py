"""The lookup indexes' memory budget (``serving/jvm/src/main/java/lakehouse/LookupIndex.java``), in a real JVM
with the server's compiled classes: an index never takes more than its table's cap or what the
total leaves beside the other indexes, and a table's old index is dropped before its new one is
read (old and new never held at once)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from lastfm_lakehouse.serving import jvm

pytestmark = pytest.mark.spark

PROBE = r"""
import json, sys
from lastfm_lakehouse.settings import SparkSettings
from lastfm_lakehouse.spark_session import get_or_create

spark = get_or_create(SparkSettings.from_env(master="local[1]", driver_memory="1g", table_format="parquet"))
for name in ("a", "b"):
    spark.sql(f"create table {name} using parquet as "
              "select cast(id % 5000 as string) as k, id as v, repeat('x', 40) as pad from range(200000)")
index = spark._jvm.lakehouse.LookupIndex
session = spark._jsparkSession
mb = 1 << 20
said = {"a": index.build(session, "default.a", "k", 1024 * mb, 1024 * mb)}
a_mb = float(said["a"].split(" MB")[0].split()[-1])
said["b beside a"] = index.build(session, "default.b", "k", 1024 * mb, int(a_mb * 1.5 * mb))
said["b over its cap"] = index.build(session, "default.b", "k", int(a_mb / 2 * mb), 1024 * mb)
said["a again"] = index.build(session, "default.a", "k", 1024 * mb, int(a_mb * 1.3 * mb))
print(json.dumps(said))
"""


def run_probe(probe: str, home: Path) -> dict:
    """Run ``probe`` in its own embedded Spark (Derby metastore under ``home``); what it printed last,
    as JSON."""
    env = {**os.environ, "LAKEHOUSE_HOME": str(home), "SPARK_LOCAL_IP": "127.0.0.1"}
    env.pop("LAKEHOUSE_METASTORE_URL", None)
    result = subprocess.run(
        [sys.executable, "-c", probe], env=env, capture_output=True, text=True, timeout=300, check=False
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_indexes_keep_to_their_budget_and_replace_rather_than_add(tmp_path: Path) -> None:
    jar, how = jvm.serving_jar(tmp_path)
    assert jar is not None, how  # `make setup` installs the JDK; the server's roles need the jar too
    said = run_probe(PROBE, tmp_path)
    assert re.match(r"200,000 rows, 5,000 keys \(k\), [\d.]+ MB of ", said["a"]), said
    # the total leaves b only half of what it needs beside a's index
    assert said["b beside a"].endswith("not indexed") and "held by the others" in said["b beside a"], said
    assert said["b over its cap"].endswith("not indexed"), said
    # a's new version fits the total only because its old index went first
    assert said["a again"].startswith("200,000 rows"), said


CACHE_PROBE = r"""
import json, time
from pathlib import Path
from lastfm_lakehouse.serving.served_cache import ServedCache
from lastfm_lakehouse.settings import SparkSettings
from lastfm_lakehouse.spark_session import get_or_create

spark = get_or_create(SparkSettings.from_env(master="local[1]", driver_memory="1g", table_format="parquet"))
for name in ("good", "broken"):
    spark.sql(f"create table {name} using parquet as select id, id * 2 as twice from range(1000)")
location = spark.sql("describe table extended broken").where("col_name = 'Location'").first()[1]
parts = sorted(Path(location.removeprefix("file:")).glob("part-*"))
kept = {part: part.read_bytes() for part in parts}
for part in parts:  # damaged files: the broken table's refresh fails on reading them
    part.write_bytes(b"not parquet at all" * 10)
cache = ServedCache(spark, ["default.broken", "default.good"], interval=2.0)
said = {"first": cache.refresh(), "at once": cache.refresh()}
time.sleep(4.1)  # past the first back-off (2 x 2 s)
said["again"] = cache.refresh()
for part, data in kept.items():  # repaired
    part.write_bytes(data)
time.sleep(8.1)  # past the second back-off (4 x 2 s)
said["repaired"] = cache.refresh()
said["failures"] = cache.failures
print(json.dumps(said))
"""


def test_one_tables_failed_refresh_backs_off_without_holding_up_the_others(tmp_path: Path) -> None:
    """The served cache refreshes table by table: a table whose files cannot be read is said, tried
    again only after a back-off that doubles, and the other tables are served meanwhile."""
    said = run_probe(CACHE_PROBE, tmp_path)
    first = said["first"]
    assert len(first) == 2, said
    assert first[0].startswith("default.broken: refresh failed (1 in a row), next try in 4s: "), said
    assert first[1].startswith("default.good: 1,000 rows of ") and " cached in " in first[1], said
    assert said["at once"] == [], said  # broken waits out its back-off; good has not changed
    assert said["again"][0].startswith("default.broken: refresh failed (2 in a row), next try in 8s"), said
    assert "parquet" in said["again"][0].lower(), said  # the reason, not only py4j's call
    assert said["repaired"][0].startswith("default.broken: 1,000 rows of "), said
    assert said["failures"] == {}, said
