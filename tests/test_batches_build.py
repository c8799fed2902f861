"""Daily batches through real dbt builds on Delta: the original files, then three batches built one
by one, then a build with nothing new and a full refresh - checked against each other, against the
files, and byte by byte for a listener who asked to be forgotten.

One lakehouse for the module (its builds are its steps, in order); the SQL models and the snapshot
are built without their tests at each step, and the last step is a whole ``dbt build --full-refresh``
(Python models and every data test), which must pass."""

from __future__ import annotations

import datetime as dt
import itertools
import json
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest

from lastfm_lakehouse.data import generate, generate_batch
from lastfm_lakehouse.settings import FORGET_FILE, PLAYS_FILE, PROFILES_FILE

from .conftest import invoke_dbt

pytestmark = pytest.mark.spark

SCHEMA = "batches"
TODAY = dt.date.today()
DAYS = [TODAY - dt.timedelta(days=2), TODAY - dt.timedelta(days=1), TODAY]  # fresh: the newest is today
# the tables each step compares (SQL models; the Python marts are built in the last step only)
TABLES = {
    "": [
        "dim_users",
        "dim_artists",
        "fct_plays",
        "fct_plays_balanced",
        "mart_load_report",
        "mart_listener_profile",
    ],
    "intermediate": ["int_user_keys", "int_artist_keys", "int_users_age_cleaned"],
    "snapshots": ["snp_lastfm__profiles"],
}
# when a step ran, not what it computed
RUN_TIMES = {"keyed_at", "dbt_updated_at", "dbt_scd_id"}
STEP = (
    "build --resource-type seed --resource-type model --resource-type snapshot --select"
    " +dim_users +fct_plays_balanced +mart_load_report +mart_listener_profile +snp_lastfm__profiles"
)


def frame(spark: object, layer: str, table: str) -> pd.DataFrame:
    name = f"{SCHEMA}_{layer}.{table}" if layer else f"{SCHEMA}.{table}"
    data = spark.table(name).toPandas()  # type: ignore[attr-defined]
    data = data.drop(columns=[c for c in data.columns if c in RUN_TIMES])
    data = data.map(lambda v: tuple(v) if hasattr(v, "__len__") and not isinstance(v, str) else v)
    return data.sort_values(list(data.columns)).reset_index(drop=True)


def tables(spark: object) -> dict[str, pd.DataFrame]:
    return {t: frame(spark, layer, t) for layer, names in TABLES.items() for t in names}


def plays_lines_writes(spark: object) -> dict[int, tuple[str, int]]:
    """The Delta history of base_lastfm__plays_lines: version -> (operation, rows it wrote)."""
    history = spark.sql(f"describe history {SCHEMA}_staging.base_lastfm__plays_lines").collect()  # type: ignore[attr-defined]
    return {
        row.version: (row.operation, int((row.operationMetrics or {}).get("numOutputRows", 0)))
        for row in history
    }


def files_holding(root: Path, text: str) -> list[str]:
    """Every file under ``root`` whose bytes hold ``text``, or, for Parquet (compressed pages), whose
    decoded rows do: data files, Delta's log and checkpoints, CRCs alike."""
    found = []
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        data = path.read_bytes()
        if text.encode() in data or (
            data[:4] == b"PAR1" and any(text in str(row) for row in pq.read_table(path).to_pylist())
        ):
            found.append(str(path.relative_to(root)))
    return found


@pytest.fixture(scope="module")
def steps(spark: object, lakehouse_home: Path, tmp_path_factory: pytest.TempPathFactory) -> dict:
    raw = tmp_path_factory.mktemp("batches-raw")
    generate.generate(raw, users=300, seed=31, progress=False)
    profiles = [line.split("\t") for line in (raw / PROFILES_FILE).read_text().split("\n") if line]
    mover, victim = profiles[5], profiles[7]  # one changes country twice, one asks to be forgotten
    target = tmp_path_factory.mktemp("batches-target")
    state: dict = {"raw": raw, "mover": mover[0], "victim": victim[0], "keys": []}

    def step(name: str, command: str = STEP) -> None:
        result = invoke_dbt(command, raw, SCHEMA, target)
        assert result.success, f"{name}: {command}"  # type: ignore[attr-defined]
        state[name] = tables(spark)
        state.setdefault("plays_lines_writes", {})[name] = plays_lines_writes(spark)
        users = spark.table(f"{SCHEMA}.dim_users").toPandas()  # type: ignore[attr-defined]
        state["keys"].append(dict(zip(users.user_sha1, users.user_key, strict=True)))

    step("original")
    state["victim_files_before"] = files_holding(lakehouse_home / "warehouse", victim[0])
    for day, country in zip(DAYS, ["Iceland", "Norway", None], strict=True):
        generate_batch.write_batch(raw, day=day, share=0.02, seed=31, progress=False)
        folder = raw / "batches" / day.isoformat()
        with (folder / PROFILES_FILE).open("a", encoding="utf-8") as handle:
            if country:
                handle.write("\t".join([*mover[:3], country, mover[4]]) + "\n")
        if day == DAYS[-1]:
            with (folder / FORGET_FILE).open("a", encoding="utf-8") as handle:
                handle.write(victim[0] + "\n")
        step(day.isoformat())
    step("again")
    state["freshness"] = invoke_dbt("source freshness", raw, SCHEMA, target)
    state["sources"] = json.loads((target / "sources.json").read_text())
    # every file again, every model, every data test: must pass
    full = invoke_dbt("build --full-refresh", raw, SCHEMA, target)
    failures = [f"{r.node.unique_id}: {r.status} {r.message}" for r in full.result or []]  # type: ignore[attr-defined]
    assert full.success, "\n".join(f for f in failures if " success " not in f and " pass " not in f)  # type: ignore[attr-defined]
    state["full_refresh"] = tables(spark)
    state["plays_lines_writes"]["full_refresh"] = plays_lines_writes(spark)
    state["recommended"] = spark.sql(  # type: ignore[attr-defined]
        f"select user_sha1 from {SCHEMA}.mart_recommendations_als"
    ).toPandas()
    state["vacuum"] = invoke_dbt(
        'run-operation vacuum_lakehouse --args {"retain_hours":0}', raw, SCHEMA, target
    )
    state["victim_files_after"] = files_holding(lakehouse_home / "warehouse", victim[0])
    return state


def test_batches_build_row_for_row_what_a_full_refresh_of_the_same_files_builds(steps: dict) -> None:
    """Three batches taken one build at a time end where a full refresh of every file ends, and a
    build with nothing new changes nothing (nothing is loaded twice)."""
    for table, incremental in steps[DAYS[-1].isoformat()].items():
        pd.testing.assert_frame_equal(
            incremental, steps["again"][table], obj=f"{table}: a build with nothing new"
        )
        pd.testing.assert_frame_equal(incremental, steps["full_refresh"][table], obj=f"{table}: full refresh")
    # a batch adds plays to the listeners it names (keys are stable: compare by user_key)
    before = steps["original"]["fct_plays"].groupby("user_key").plays.sum()
    after = steps[DAYS[0].isoformat()]["fct_plays"].groupby("user_key").plays.sum()
    both = before.index.intersection(after.index)
    assert (after[both] >= before[both]).all() and (after[both] > before[both]).sum() > 10


def test_a_build_parses_only_the_files_it_has_not_loaded(steps: dict) -> None:
    """base_lastfm__plays_lines is incremental: each build writes the lines of the new batch's plays
    file and no others, a build with nothing new writes none, and a full refresh every line."""
    raw, writes = steps["raw"], steps["plays_lines_writes"]

    def lines(path: Path) -> int:
        return path.read_bytes().count(b"\n")

    def loaded(commits: dict[int, tuple[str, int]]) -> int:
        """Rows the commits loaded (not those an erasure's MERGE rewrote)."""
        return sum(rows for op, rows in commits.values() if op == "WRITE" or "AS SELECT" in op)

    def written(before: str, after: str) -> int:
        new = {v: c for v, c in writes[after].items() if v not in writes[before]}
        assert new, f"{after}: no commit at all"
        return loaded(new)

    plays = [raw / "batches" / day.isoformat() / PLAYS_FILE for day in DAYS]
    assert loaded(writes["original"]) == lines(raw / PLAYS_FILE)
    names = ["original", *[day.isoformat() for day in DAYS]]
    for (before, after), batch_file in zip(itertools.pairwise(names), plays, strict=True):
        assert written(before, after) == lines(batch_file), after
    assert written(DAYS[-1].isoformat(), "again") == 0
    last = max(writes["full_refresh"])
    assert writes["full_refresh"][last][0].startswith("CREATE OR REPLACE TABLE")
    assert writes["full_refresh"][last][1] == lines(raw / PLAYS_FILE) + sum(map(lines, plays))


def test_each_batch_file_is_accounted_for(steps: dict) -> None:
    report = steps["full_refresh"]["mart_load_report"]
    for day in DAYS:
        made = json.loads((steps["raw"] / "batches" / day.isoformat() / generate_batch.MANIFEST).read_text())
        for table, file_name in (("plays", PLAYS_FILE), ("profiles", PROFILES_FILE), ("forget", FORGET_FILE)):
            mine = report[report.source_file == f"batches/{day.isoformat()}/{file_name}"]
            assert set(mine.source_table) == {table}
            assert set(mine.batch_date) == {day}
            read = (steps["raw"] / "batches" / day.isoformat() / file_name).read_text().count("\n")
            assert set(mine.lines_read) == {read}, file_name
            counted = mine[mine.outcome.isin(["staged", "rejected", "erased"])].line_count.sum()
            assert counted == read, file_name
        rejected = report[(report.batch_date == day) & (report.outcome == "rejected")]
        assert {"blank line", "user is not a 40-hex sha1"} <= set(rejected.check_name)
        # a damaged line of a listener forgotten since is counted as erased instead
        assert rejected.line_count.sum() >= made["rejected_lines"] - 2
    forgotten = {
        line.strip().lower()
        for day in DAYS
        for line in (steps["raw"] / "batches" / day.isoformat() / FORGET_FILE).read_text().split("\n")
        if len(line.strip()) == 40
    }
    assert steps["victim"] in forgotten
    erased = report[report.outcome == "erased"].groupby("source_file").line_count.sum()
    for file_name in (PLAYS_FILE, PROFILES_FILE):
        lines = (steps["raw"] / file_name).read_text().split("\n")
        assert erased[file_name] == sum(line[:40] in forgotten for line in lines), file_name


def test_keys_never_change_across_batches_and_a_full_refresh(steps: dict) -> None:
    keys = steps["keys"]
    for before, after in itertools.pairwise(keys):
        kept = {u: k for u, k in before.items() if u in after}
        assert {u: after[u] for u in kept} == kept
        new = set(after) - set(before)
        assert all(after[u] > max(before.values()) for u in new)
    assert len(keys[1]) > len(keys[0])  # the first batch brought new listeners
    key_map = steps["full_refresh"]["int_user_keys"]
    victim_key = keys[0][steps["victim"]]
    assert key_map[key_map.user_key == victim_key].user_sha1.tolist() == [f"erased:{victim_key}"]
    assert key_map.user_key.is_unique


def test_profile_history_keeps_each_country_with_its_dates(steps: dict) -> None:
    history = steps["full_refresh"]["snp_lastfm__profiles"]
    mover = history[history.user_sha1 == steps["mover"]].sort_values("dbt_valid_from")
    assert mover.country.tolist()[1:] == ["Iceland", "Norway"]
    assert [d.date() for d in mover.dbt_valid_from[1:]] == DAYS[:2]
    assert [None if pd.isna(d) else d.date() for d in mover.dbt_valid_to] == [*DAYS[:2], None]
    users = steps["full_refresh"]["dim_users"]
    assert users[users.user_sha1 == steps["mover"]].country.tolist() == ["Norway"]
    assert history.dbt_valid_to.isna().sum() == len(history.user_sha1.unique())  # one current row each


def test_a_forgotten_listener_is_gone_from_every_table_and_file(steps: dict) -> None:
    victim = steps["victim"]
    assert steps["victim_files_before"], "the scan finds the listener before the erasure"
    for name in (DAYS[-1].isoformat(), "again", "full_refresh"):
        for table, data in steps[name].items():
            assert not data.astype(str).apply(lambda col: col.str.contains(victim)).any().any(), (name, table)
    assert len(steps["recommended"]) > 0 and victim not in set(steps["recommended"].user_sha1)
    assert steps["vacuum"].success  # type: ignore[attr-defined]
    assert steps["victim_files_after"] == []
    assert victim in (steps["raw"] / PLAYS_FILE).read_text()  # the original file still holds them


def test_source_freshness_reports_the_newest_batch(steps: dict) -> None:
    (result,) = steps["sources"]["results"]
    assert result["unique_id"].endswith("raw_batch_plays")
    assert result["max_loaded_at"].startswith(DAYS[-1].isoformat())
    assert result["criteria"]["warn_after"] == {"count": 48, "period": "hour"}
    assert result["criteria"]["error_after"] == {"count": 96, "period": "hour"}
    assert result["status"] == "pass" and steps["freshness"].success  # type: ignore[attr-defined]
