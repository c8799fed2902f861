"""The real ``dbt build`` on a small generated dataset (CRLF endings, extra broken lines), checked
against an independent Python reading of the same files."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pandas as pd
import pytest

from lastfm_lakehouse import countries, generate
from lastfm_lakehouse.raw_data import count_lines
from lastfm_lakehouse.settings import PLAYS_FILE, PROFILES_FILE

from .conftest import Build, dbt_build
from .rawfiles import parse_plays, read_lines

SHA = "0" * 39 + "1"
BAD_PLAYS = {
    f"{SHA}\tabc\tonly three fields": "wrong field count: expected 4 tab-separated fields, got 3",
    "": "wrong field count: expected 4 tab-separated fields, got 1",
    f"{SHA}\t\tsome artist\t-5": "plays is negative",
    f"{SHA}\t\tsome artist\tlots": "plays is not a whole number",
    f"{SHA}\t\t\t5": "artist name is empty",
    "NOT-A-SHA\t\tsome artist\t5": "user is not a 40-hex sha1",
}
BAD_PROFILES = {
    f"{SHA}\tx\t22\tGermany\tFeb 1, 2007": "gender is not m, f or empty",
    f"{SHA}\tm\t22\tGermany\t2007-02-01": 'signup is not a date like "Feb 1, 2007"',
    f"{SHA}\tm\t22.0\tGermany\tFeb 1, 2007": "age is not a whole number",
    f"{SHA}\tm\t22": "wrong field count: expected 5 tab-separated fields, got 3",
}
CAP = 700
ROWS_PER_ARTIST = 15


@pytest.fixture(scope="module")
def raw_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("generated")
    generate.generate(out, users=400, seed=7, crlf=True, progress=False)
    with (out / PLAYS_FILE).open("a", encoding="utf-8", newline="") as handle:
        handle.write("".join(f"{line}\r\n" for line in BAD_PLAYS))
    with (out / PROFILES_FILE).open("a", encoding="utf-8", newline="") as handle:
        handle.write("".join(f"\r\n{line}" for line in BAD_PROFILES))  # the file has no final newline
    return out


@pytest.fixture(scope="module")
def build(spark: object, raw_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Build:
    return dbt_build(
        raw_dir,
        "gen",
        tmp_path_factory.mktemp("target"),
        {"max_rows_per_artist": ROWS_PER_ARTIST, "plays_cap": CAP},
    )


@pytest.fixture(scope="module")
def expected(raw_dir: Path) -> pd.DataFrame:
    return parse_plays(raw_dir / PLAYS_FILE).valid


def to_pandas(frame: object) -> pd.DataFrame:
    return frame.toPandas()  # type: ignore[attr-defined]


def test_every_line_is_staged_or_rejected_with_its_reason(spark, build: Build, raw_dir: Path) -> None:
    manifest_fake_lines = sum(
        1 for line in read_lines(raw_dir / PLAYS_FILE) if line.startswith("sep 20, 2008")
    )
    rejected = to_pandas(build.table(spark, "stg_lastfm__rejected_rows", "staging"))
    for table, file_name, bad in (
        ("plays", PLAYS_FILE, BAD_PLAYS),
        ("profiles", PROFILES_FILE, BAD_PROFILES),
    ):
        staged = build.table(spark, f"stg_lastfm__{table}", "staging").count()
        mine = rejected[rejected.source_table == table]
        assert staged + len(mine) == count_lines(raw_dir / file_name)
        assert (mine.source_file == file_name).all()
        for line, reason in bad.items():
            assert reason in set(mine[mine.line == line].rejection_reason), (line, reason)
    plays_reasons = Counter(rejected[rejected.source_table == "plays"].rejection_reason)
    assert plays_reasons["user is not a 40-hex sha1"] == manifest_fake_lines + 1 >= 2


def test_plays_are_kept_exactly(spark, build: Build, expected: pd.DataFrame) -> None:
    staged = to_pandas(build.table(spark, "stg_lastfm__plays", "staging"))
    assert len(staged) == len(expected)
    assert staged.plays.sum() == expected.plays.sum()
    # quotes, commas, non-ASCII, mojibake and "NA"/"null" names arrive as written
    spellings = set(to_pandas(build.table(spark, "dim_artist_spellings")).artist_name)
    assert spellings == set(expected.artist_name)
    assert any('"' in name for name in spellings) and any(not name.isascii() for name in spellings)
    assert (expected.plays == 0).any() and (staged.plays == 0).sum() == (expected.plays == 0).sum()


def test_artists_merged_by_mbid_with_most_played_name(spark, build: Build, expected: pd.DataFrame) -> None:
    artists = to_pandas(build.table(spark, "dim_artists"))
    assert set(artists.artist_id) == set(expected.artist_id)
    assert sorted(artists.artist_key) == list(range(1, len(artists) + 1))
    by_spelling = (
        expected.groupby(["artist_id", "artist_name"])
        .agg(plays=("plays", "sum"), listeners=("user_sha1", "nunique"))
        .reset_index()
    )
    by_spelling = by_spelling.sort_values(
        ["artist_id", "plays", "listeners", "artist_name"], ascending=[True, False, False, True]
    )
    canonical = by_spelling.drop_duplicates("artist_id").set_index("artist_id").artist_name
    assert artists.set_index("artist_id").canonical_name.sort_index().equals(canonical.sort_index())
    merged = artists[artists.spelling_count > 1]
    assert len(merged) >= 3 and merged.has_mbid.all()
    assert (~artists.has_mbid).any()  # artists without MBID are kept, keyed by name


def test_fct_plays_caps_and_rates(spark, build: Build, expected: pd.DataFrame) -> None:
    facts = to_pandas(build.table(spark, "fct_plays"))
    pairs = expected.groupby(["user_sha1", "artist_id"]).plays.sum()
    assert len(facts) == len(pairs) and facts.plays.sum() == pairs.sum()
    assert (facts.plays_capped == facts.plays.clip(upper=CAP)).all()
    assert ((facts.rating - facts.plays_capped / CAP).abs() < 1e-12).all()
    assert facts.is_capped.sum() == (pairs > CAP).sum() > 0
    stats = to_pandas(build.table(spark, "mart_play_statistics")).set_index("stage_name")
    assert stats.loc["uncapped", "total_listens"] == pairs.sum()
    assert stats.loc["plays_capped", "total_listens"] == pairs.clip(upper=CAP).sum()
    assert stats.loc["plays_capped", "max_listens_per_row"] == CAP
    assert stats.loc["uncapped", "max_listens_per_row"] == pairs.max()
    assert stats.loc["uncapped", "artist_count"] == expected.artist_id.nunique()


def test_balanced_sample_keeps_at_most_the_cap_per_artist(spark, build: Build) -> None:
    facts = to_pandas(build.table(spark, "fct_plays"))
    balanced = to_pandas(build.table(spark, "fct_plays_balanced"))
    per_artist = facts.groupby("artist_key").size()
    assert per_artist.max() > ROWS_PER_ARTIST  # the cap bites on this data
    assert len(balanced) == per_artist.clip(upper=ROWS_PER_ARTIST).sum()
    assert balanced.groupby("artist_key").size().max() == ROWS_PER_ARTIST
    stats = to_pandas(build.table(spark, "mart_play_statistics")).set_index("stage_name")
    assert stats.loc["artist_rows_capped", "max_pairs_per_artist"] == ROWS_PER_ARTIST


def test_dim_users_cleans_age_and_one_hot_encodes_country(spark, build: Build, raw_dir: Path) -> None:
    users = to_pandas(build.table(spark, "dim_users"))
    profiles = [line.split("\t") for line in read_lines(raw_dir / PROFILES_FILE)][: -len(BAD_PROFILES)]
    ages = pd.Series([int(p[2]) if p[2] else None for p in profiles], dtype="Int64")
    valid = ages[(ages >= 5) & (ages <= 100)]
    assert len(users) == len(profiles) + 1  # + the user with plays and no profile
    assert users.user_key.is_unique and users.user_sha1.is_unique
    assert users.is_age_imputed.sum() == len(users) - len(valid)
    assert users.age.between(5, 100).all()
    assert abs(users[users.is_age_imputed].age.iloc[0] - valid.mean()) < 1e-9
    assert users.age_scaled.min() == 0 and users.age_scaled.max() == 1
    assert set(users[users.age_raw == -1337].age) == {valid.mean()}
    columns = [c.column for c in countries.load()]
    assert set(columns) <= set(users.columns) and len(columns) == 239
    one_hot = users[columns]
    assert (one_hot.sum(axis=1) == users.is_country_known.astype(int)).all()
    germans = users[users.country == "Germany"]
    assert len(germans) > 0 and (germans.country_germany == 1).all()
    assert users[~users.has_profile].country.isna().all()
