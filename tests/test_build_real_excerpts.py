"""The real ``dbt build`` on the real Last.fm 360K excerpts in ../shared (skipped when absent)."""

from __future__ import annotations

from pathlib import Path

import pytest

from .conftest import PLAYS_SAMPLE, PROFILE_SAMPLE, Build, copy_real_excerpts, dbt_build

pytestmark = pytest.mark.real_data

EMPTY_MBID_NAMES = {
    "rock universal",
    "apes & androids",
    "fondo flamenco",
    "id software",
    "haircut 100",
    "flying lotus - (www.influencias-urbanas.blogspot.com)",
    "ambassadöör",
    "cali lewis",
}
NICK_CAVE_MBID = "172e1f1a-504d-4488-b053-6344ba63e6d0"


@pytest.fixture(scope="module")
def build(spark: object, tmp_path_factory: pytest.TempPathFactory) -> Build:
    raw = copy_real_excerpts(tmp_path_factory.mktemp("real"))
    return dbt_build(raw, "real", tmp_path_factory.mktemp("target"))


def rows(spark: object, sql: str) -> list:
    return spark.sql(sql).collect()  # type: ignore[attr-defined]


def test_header_line_is_rejected_with_a_reason_and_nothing_else(spark, build: Build) -> None:
    rejected = rows(spark, "select * from real_staging.stg_lastfm__rejected_rows")
    assert [(r.source_table, r.line, r.rejection_reason) for r in rejected] == [
        ("plays", "user\tartistid\tartistname\tplays", "header line: the original file has no header")
    ]
    assert rows(spark, "select count(*) as n from real_staging.stg_lastfm__plays")[0].n == 1000
    # 999 newlines and a last line without one: 1000 profiles
    assert PROFILE_SAMPLE.read_bytes().count(b"\n") == 999
    assert rows(spark, "select count(*) as n from real_staging.stg_lastfm__profiles")[0].n == 1000


def test_the_8_empty_mbid_rows_are_kept(spark, build: Build) -> None:
    staged = rows(spark, "select artist_name from real_staging.stg_lastfm__plays where artist_mbid is null")
    assert {r.artist_name for r in staged} == EMPTY_MBID_NAMES and len(staged) == 8
    kept = rows(
        spark,
        """
        select a.canonical_name, a.artist_id, f.source_rows
        from real.fct_plays as f inner join real.dim_artists as a on f.artist_key = a.artist_key
        where not a.has_mbid
    """,
    )
    assert {r.canonical_name for r in kept} == EMPTY_MBID_NAMES
    assert sum(r.source_rows for r in kept) == 8
    assert "name:ambassadöör" in {r.artist_id for r in kept}


def test_nick_cave_spellings_become_one_artist(spark, build: Build) -> None:
    artists = rows(spark, f"select * from real.dim_artists where artist_mbid = '{NICK_CAVE_MBID}'")
    assert len(artists) == 1
    artist = artists[0]
    assert sorted(artist.spellings) == ["nick cave & the bad seeds", "nick cave and the bad seeds"]
    plays = {}
    for line in PLAYS_SAMPLE.read_text(encoding="utf-8").splitlines()[1:]:
        _, mbid, name, count = line.split("\t")
        if mbid == NICK_CAVE_MBID:
            plays[name] = plays.get(name, 0) + int(count)
    assert artist.canonical_name == max(plays, key=plays.__getitem__)
    assert artist.total_plays == sum(plays.values())
    assert len(rows(spark, "select * from real.dim_artists where canonical_name = 'beck'")) == 2


def test_age_minus_1337_is_cleaned(spark, build: Build) -> None:
    ages = [line.split("\t")[2] for line in PROFILE_SAMPLE.read_text(encoding="utf-8").splitlines()]
    valid = [int(a) for a in ages if a and 5 <= int(a) <= 100]
    user = rows(spark, "select * from real.dim_users where age_raw = -1337")
    assert len(user) == 1 and user[0].is_age_imputed
    assert user[0].age == pytest.approx(sum(valid) / len(valid))
    imputed = rows(spark, "select count(*) as n from real.dim_users where is_age_imputed")[0].n
    assert imputed == len(ages) - len(valid)  # 222 blank + junk (-1337, 1, 2, 2, 3)


def test_dim_users_and_countries(spark, build: Build, tmp_path: Path) -> None:
    users = rows(spark, "select * from real.dim_users")
    assert len(users) == 1000  # the 21 listeners of the plays excerpt all have profiles
    assert all(u.is_country_known for u in users)
    korea = [u for u in users if u.country == "Korea, Republic of"]
    assert korea and all(u.country_korea_republic_of == 1 and u.country_germany == 0 for u in korea)
    genders = {u.gender for u in users}
    assert genders == {"m", "f", None}
    assert sum(u.gender is None for u in users) == 100


def test_non_ascii_names_survive(spark, build: Build) -> None:
    names = {r.canonical_name for r in rows(spark, "select canonical_name from real.dim_artists")}
    assert {"die Ärzte", "Океан Ельзи", "川田まみ", "blue Öyster cult"} <= names
    assert {"drop dead, gorgeous", "guns n' roses"} <= names


def test_too_few_listeners_for_the_quality_gate_warn_instead_of_failing(build: Build) -> None:
    # ~20 listeners: NDCG@10's error is as large as what the gate compares (var quality_gate_min_users)
    statuses = {r.node.name: str(r.status) for r in build.results}
    assert statuses["warn_quality_gate_has_too_few_users"] == "warn"
    assert statuses["assert_recommenders_beat_popularity"] == "pass"


def test_the_first_100_lines_of_the_real_file_build_green(spark, tmp_path: Path) -> None:
    # the tiny real file: 2 listeners, on which every model (popularity too) scores 0
    raw = copy_real_excerpts(tmp_path / "raw")
    lines = PLAYS_SAMPLE.read_bytes().splitlines(keepends=True)
    (raw / "usersha1-artmbid-artname-plays.tsv").write_bytes(b"".join(lines[:101]))  # header + 100
    tiny = dbt_build(raw, "real_tiny", tmp_path / "target")
    statuses = {r.node.name: str(r.status) for r in tiny.results}
    assert statuses["warn_quality_gate_has_too_few_users"] == "warn"
    warned = spark.sql(  # type: ignore[attr-defined]
        "select users_evaluated from real_tiny.mart_model_evaluation "
        "where model = 'popularity' and metric = 'ndcg'"
    ).collect()
    assert 0 < warned[0].users_evaluated < 100
    listeners = spark.sql("select count(*) as n from real_tiny.dim_users where has_plays").first()  # type: ignore[attr-defined]
    assert listeners.n == len({line.split(b"\t")[0] for line in lines[1:101]})
