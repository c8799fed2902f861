"""The same generated data in each byte dialect real copies come in (original bytes; re-saved by a
dataframe tool, with and without its index and header; Windows BOM + CRLF): every dialect builds,
and stages exactly what the original stages, less only what the copy itself lost."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pandas as pd
import pytest

from lastfm_lakehouse.data import generate
from lastfm_lakehouse.data.dialects import DIALECTS, PANDAS_NA, Resaved, resave

from .conftest import Build, copy_real_excerpts, dbt_build

pytestmark = pytest.mark.spark

SELECT = "+mart_load_report +dim_users +fct_plays"
# The parse is the same whatever the table format: these builds also test the Parquet fallback.
FORMAT = "parquet"
USER_COLUMNS = ["user_sha1", "gender", "age_raw", "age", "is_age_imputed", "country", "signup_date"]


@pytest.fixture(scope="module")
def original(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dialect-original")
    generate.generate(out, users=300, seed=11, progress=False)
    return out


@pytest.fixture(scope="module")
def builds(
    spark: object, original: Path, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, tuple[Build, Resaved]]:
    built = {}
    for dialect in DIALECTS:
        out = tmp_path_factory.mktemp(f"dialect-{dialect}")
        resaved = resave(original, out, dialect)
        schema = "dialect_" + dialect.replace("-", "_")
        built[dialect] = (
            dbt_build(out, schema, tmp_path_factory.mktemp("target"), select=SELECT, table_format=FORMAT),
            resaved,
        )
    return built


def frame(spark: object, build: Build, name: str, layer: str = "") -> pd.DataFrame:
    return build.table(spark, name, layer).toPandas()  # type: ignore[attr-defined]


def report(spark: object, build: Build, table: str) -> dict[tuple[str, str], int]:
    rows = frame(spark, build, "mart_load_report")
    rows = rows[rows.source_table == table]
    return {(o, c): int(n) for o, c, n in zip(rows.outcome, rows.check_name, rows.line_count, strict=True)}


@pytest.mark.parametrize("dialect", [d for d in DIALECTS if d != "original"])
def test_dialect_stages_what_the_original_stages(spark, builds, dialect: str) -> None:
    base, _ = builds["original"]
    build, resaved = builds[dialect]
    base_plays = frame(spark, base, "stg_lastfm__plays", "staging")
    plays = frame(spark, build, "stg_lastfm__plays", "staging")
    # a dataframe tool reads names like NA / null as missing and writes them empty: the copy lost them
    lost = base_plays.artist_name.isin(PANDAS_NA) & dialect.startswith("dataframe")
    expected = base_plays[~lost]
    assert len(plays) == len(expected) and plays.plays.sum() == expected.plays.sum()
    key = ["user_sha1", "artist_mbid_raw", "artist_name", "plays"]
    assert (
        plays[key]
        .sort_values(key)
        .reset_index(drop=True)
        .equals(expected[key].sort_values(key).reset_index(drop=True))
    )

    users = frame(spark, build, "dim_users")[USER_COLUMNS].sort_values("user_sha1").reset_index(drop=True)
    base_users = frame(spark, base, "dim_users")[USER_COLUMNS].sort_values("user_sha1").reset_index(drop=True)
    pd.testing.assert_frame_equal(users, base_users)

    got, want = report(spark, build, "plays"), report(spark, base, "plays")
    rejected = Counter({c: n for (o, c), n in want.items() if o == "rejected"})
    if dialect.startswith("dataframe"):
        rejected["artist name is empty"] += int(lost.sum())
        quoted = int(base_plays[~lost].artist_name.str.contains('"').sum())
        assert quoted > 0 and got[("cleaned", "CSV quoting removed from artist name")] == quoted
        profiles = report(spark, build, "profiles")
        assert profiles[("cleaned", "age written as a decimal (22.0)")] == resaved.float_ages > 0
    if dialect == "dataframe-index":
        rejected["header line: the original file has no header"] += 1
        lines = frame(spark, base, "base_lastfm__plays_lines", "staging")
        assert got[("cleaned", "dataframe index column removed")] == len(lines)
    if dialect == "windows":
        assert got[("cleaned", "byte-order mark at the start of the file skipped")] == 1
    assert {c: n for (o, c), n in got.items() if o == "rejected"} == dict(+rejected)


@pytest.mark.real_data
def test_real_excerpts_resaved_by_a_dataframe_tool_keep_every_profile(spark, tmp_path: Path) -> None:
    """The issue's first failure: real profiles re-saved with float ages (22.0) and CRLF lost whole
    lines and left no valid age. Now they stage exactly as the original bytes do."""
    original = copy_real_excerpts(tmp_path / "real-original")
    resaved = resave(original, tmp_path / "real-dataframe", "dataframe")
    assert resaved.float_ages > 700  # 1000 profiles, 222 without age
    built = {
        name: dbt_build(
            directory, f"real_{name}", tmp_path / f"target-{name}", select=SELECT, table_format=FORMAT
        )
        for name, directory in (("original", original), ("dataframe", tmp_path / "real-dataframe"))
    }
    users = {
        name: frame(spark, build, "dim_users")[USER_COLUMNS].sort_values("user_sha1").reset_index(drop=True)
        for name, build in built.items()
    }
    pd.testing.assert_frame_equal(users["dataframe"], users["original"])
    assert (~users["dataframe"].is_age_imputed).sum() == 1000 - 222 - 5  # blank and junk ages imputed
    report = frame(spark, built["dataframe"], "mart_load_report")
    assert set(report[report.outcome == "rejected"].check_name) == {
        "header line: the original file has no header"
    }
