"""The real ``dbt build`` on a small generated dataset (CRLF endings, extra broken lines), checked
against an independent Python reading of the same files."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pandas as pd
import pytest

from lastfm_lakehouse.data import countries, generate
from lastfm_lakehouse.data.raw_files import count_lines
from lastfm_lakehouse.settings import PLAYS_FILE, PROFILES_FILE

from .conftest import Build, dbt_build, invoke_dbt
from .contracts import assert_top_n_contract
from .rawfiles import parse_plays, read_lines

SHA = "0" * 39 + "1"
BAD_PLAYS = {
    f"{SHA}\tabc\tonly three fields": "wrong field count: expected 4 tab-separated fields, got 3",
    "": "blank line",
    f"{SHA}\t\tsome artist\t-5": "plays is negative",
    f"{SHA}\t\tsome artist\tlots": "plays is not a whole number",
    f"{SHA}\t\t\t5": "artist name is empty",
    "NOT-A-SHA\t\tsome artist\t5": "user is not a 40-hex sha1",
}
# (unreadable fields - gender x, age 22.5, signup junk - no longer reject a profile line: see
# test_hostile_lines.py)
BAD_PROFILES = {
    "NOT-A-SHA\tm\t22\tGermany\tFeb 1, 2007": "user is not a 40-hex sha1",
    "   ": "blank line",
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
        unit_tests=True,  # the one build of the suite that runs dbt's unit tests (conftest.invoke_dbt)
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


# --- recommenders (dbt Python models run by the lakehouse adapter in the same build) --------------

RECOMMENDATION_MARTS = {
    # mart: (query column, item column, score column, higher is better, excludes played pairs)
    "mart_recommendations_als": ("user_key", "artist_key", "score", True, True),
    "mart_recommendations_knn": ("user_key", "artist_key", "score", True, True),
    "mart_artist_audience": ("artist_key", "user_key", "score", True, True),
    "mart_similar_artists": ("artist_key", "similar_artist_key", "cosine_similarity", True, False),
    "mart_similar_artists_lsh": ("artist_key", "similar_artist_key", "jaccard_distance", False, False),
}


def test_sql_and_python_models_ran_in_one_build(build: Build) -> None:
    languages = {r.node.name: r.node.language for r in build.results if hasattr(r.node, "language")}
    assert languages["fct_plays"] == "sql"
    for name in (*RECOMMENDATION_MARTS, "mart_als_factors", "mart_model_evaluation"):
        assert languages[name] == "python"
    built = [r for r in build.results if r.node.resource_type in ("model", "seed", "test", "unit_test")]
    assert built and all(str(r.status) in ("success", "pass") for r in built)
    # make build leaves the unit tests out (lastfm_lakehouse.cli); the builds of make test run them
    assert {"unit_test", "test"} <= {r.node.resource_type for r in built}
    exposures = [r for r in build.results if r.node.resource_type == "exposure"]
    assert {r.node.name for r in exposures} >= {"listener_recommendations", "recommender_quality"}


def test_every_table_is_one_delta_commit_naming_this_build(spark, build: Build) -> None:
    """Delta by default: SQL models, Python models (DataFrameWriterV2) and the seed are Delta
    tables whose current version was written by this build's invocation, as the commit records."""
    tables = [
        r.node
        for r in build.results
        if r.node.resource_type in ("model", "seed") and r.node.config.materialized != "view"
    ]
    assert {t.language for t in tables if t.resource_type == "model"} == {"sql", "python"}
    written_by = set()
    for node in tables:
        name = f"{node.schema}.{node.alias}"
        assert spark.sql(f"describe detail {name}").collect()[0].format == "delta", name
        said = {r.key: r.value for r in spark.sql(f"show tblproperties {name}").collect()}
        assert said["lakehouse.dbt.node"] == node.unique_id, name
        written_by.add(said["lakehouse.dbt.invocation_id"])
    assert len(written_by) == 1  # one build wrote them all (dbt_build in conftest: one invocation)


@pytest.mark.parametrize("mart", sorted(RECOMMENDATION_MARTS))
def test_recommendation_mart_contract(spark, build: Build, mart: str) -> None:
    query, item, score, higher, excludes_played = RECOMMENDATION_MARTS[mart]
    frame = to_pandas(build.table(spark, mart))
    facts = to_pandas(build.table(spark, "fct_plays"))
    played = set(zip(facts.user_key, facts.artist_key, strict=True))
    if query == "artist_key" and item == "user_key":
        played = {(a, u) for u, a in played}
    assert_top_n_contract(frame, query, item, 20, score, played if excludes_played else None, higher)
    if item == "similar_artist_key":
        assert (frame.artist_key != frame.similar_artist_key).all()


def test_every_listener_gets_recommendations_explained_by_an_artist_they_played(spark, build: Build) -> None:
    recs = to_pandas(build.table(spark, "mart_recommendations_als"))
    users = to_pandas(build.table(spark, "dim_users"))
    facts = to_pandas(build.table(spark, "fct_plays"))
    assert set(recs.user_key) == set(users[users.has_plays].user_key)
    assert (recs.groupby("user_key").size() == 20).all()
    played = set(zip(facts.user_key, facts.artist_key, strict=True))
    explained = recs[recs.recommendation_source == "als"]
    assert all(
        (u, b) in played for u, b in zip(explained.user_key, explained.because_artist_key, strict=True)
    )
    knn_recs = to_pandas(build.table(spark, "mart_recommendations_knn"))
    assert set(knn_recs.user_key) == set(users.user_key)  # users without plays get the popularity list


def test_lsh_distances_are_exact_jaccard(spark, build: Build) -> None:
    similar = to_pandas(build.table(spark, "mart_similar_artists_lsh")).head(200)
    facts = to_pandas(build.table(spark, "fct_plays"))
    listeners = facts.groupby("artist_key").user_key.apply(set)
    for a, b, distance in zip(
        similar.artist_key, similar.similar_artist_key, similar.jaccard_distance, strict=True
    ):
        expected = 1 - len(listeners[a] & listeners[b]) / len(listeners[a] | listeners[b])
        assert distance == pytest.approx(expected)


def test_evaluation_beats_popularity_and_reports_every_metric(spark, build: Build) -> None:
    evaluation = to_pandas(build.table(spark, "mart_model_evaluation"))
    table = evaluation.set_index(["model", "metric"]).value
    for model in ("als", "als_balanced", "knn", "popularity"):
        for metric in ("precision", "recall", "ndcg", "map", "coverage"):
            assert 0 <= table[(model, metric)] <= 1
    assert table[("als", "ndcg")] > table[("popularity", "ndcg")]
    assert table[("knn", "ndcg")] > table[("popularity", "ndcg")]
    assert table[("als", "rmse")] > 0
    assert 0 < table[("knn", "neighbour_recall")] <= 1
    # the comparison ALS trains var als_comparison_max_iter iterations, the served one als.max_iter
    parameters = evaluation.set_index("model").parameters
    assert "max_iter=5," in parameters["als_balanced"].iloc[0]
    assert "max_iter=10," in parameters["als"].iloc[0]
    gate = [r for r in build.results if r.node.name == "assert_recommenders_beat_popularity"]
    assert gate and str(gate[0].status) == "pass"


def test_tuning_model_builds_on_a_one_point_grid(spark, build: Build, tmp_path: Path) -> None:
    """mart_als_tuning is off by default; asked for with a 1 x 1 x 1 grid it trains one ALS on the
    validation split and marks it best."""
    grid = {
        "max_rows_per_artist": ROWS_PER_ARTIST,
        "plays_cap": CAP,
        "als_tuning": True,
        "als_tuning_ranks": [4],
        "als_tuning_reg_params": [0.05],
        "als_tuning_alphas": [10],
        "als": {"max_iter": 2},
    }
    dbt_build(build.raw_dir, build.schema, tmp_path / "target", grid, select="mart_als_tuning")
    tuning = to_pandas(build.table(spark, "mart_als_tuning"))
    assert len(tuning) == 1
    row = tuning.iloc[0]
    assert (row["rank"], row["reg_param"], row["alpha"], row["max_iter"]) == (4, 0.05, 10.0, 2)
    assert bool(row["is_best"]) and 0 <= row["ndcg"] <= 1 and row["users_evaluated"] > 0


def test_evaluation_refuses_factors_not_trained_on_its_split(spark, build: Build, tmp_path: Path) -> None:
    """mart_model_evaluation scores the served ALS without training it again, so it must refuse
    factors that may have seen a held-out row: the split rebuilt with another seed, mart_als_factors
    not, fails and names the fix. (It leaves the split on the other seed.)"""
    variables = {"max_rows_per_artist": ROWS_PER_ARTIST, "plays_cap": CAP, "holdout_seed": 8}
    result = invoke_dbt(
        "run",
        build.raw_dir,
        build.schema,
        tmp_path / "target",
        variables,
        select="eval_plays_holdout_split mart_model_evaluation",
    )
    messages = {r.node.name: str(r.message) for r in result.result}  # type: ignore[attr-defined]
    assert not result.success  # type: ignore[attr-defined]
    assert (
        "mart_als_factors was not trained on this build's training rows" in messages["mart_model_evaluation"]
    )
    assert "training_rows" in messages["mart_model_evaluation"]
    assert "dbt build --select mart_als_factors+" in messages["mart_model_evaluation"]
