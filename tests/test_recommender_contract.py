"""The recommender contract (``recommenders.base``), one test applied to every model of the registry:
fitted on the same small ratings in a real Spark session, each recommends ranked, unplayed artists
and names ranked similar artists, never the artist itself."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from lastfm_lakehouse.recommenders import registry
from lastfm_lakehouse.recommenders.base import (
    PLAYED,
    RECOMMENDATION_COLUMNS,
    SIMILAR_ARTIST_KEY,
    SIMILAR_COLUMNS,
    Recommender,
)
from lastfm_lakehouse.settings import ARTIST_KEY, USER_KEY

from .contracts import assert_top_n_contract

pytestmark = pytest.mark.spark

N = 5
# small and fast: the parameters' own checks still apply (registry.build reads them as dbt hands them)
CONFIG = {
    "als": {"rank": 4, "max_iter": 3},
    "knn": {"k": 5, "top_artists": 3, "candidates": 10},
}


@pytest.fixture(scope="module")
def ratings(spark: object) -> tuple[object, object, pd.DataFrame]:
    """40 listeners, 30 artists, each listener 4-12 artists drawn by popularity (seeded)."""
    rng = np.random.default_rng(7)
    weights = 1 / np.arange(1, 31)
    rows = []
    for user in range(1, 41):
        artists = rng.choice(
            np.arange(1, 31), size=rng.integers(4, 13), replace=False, p=weights / weights.sum()
        )
        rows += [(user, int(a), int(rng.integers(1, 500))) for a in artists]
    plays = pd.DataFrame(rows, columns=[USER_KEY, ARTIST_KEY, "plays"]).astype("int32")
    plays["rating"] = plays.plays / plays.groupby(USER_KEY).plays.transform("max")
    users = pd.DataFrame(
        {USER_KEY: np.arange(1, 41, dtype="int32"), "age_scaled": rng.random(40), "country": ["A", "B"] * 20}
    )
    return spark.createDataFrame(plays), spark.createDataFrame(users), plays  # type: ignore[attr-defined]


def bench_implicit(users: object) -> Recommender:
    """The bench's head-to-head model (``implicit``'s ALS) keeps the contract too."""
    from lastfm_lakehouse.bench.head_to_head import ImplicitAls
    from lastfm_lakehouse.recommenders.als import AlsParams

    return ImplicitAls(AlsParams.from_var(CONFIG["als"]), threads=1)


@pytest.mark.parametrize("name", [*sorted(registry.MODELS), "bench: implicit"])
def test_every_model_recommends_unplayed_artists_and_names_similar_ones(ratings: tuple, name: str) -> None:
    frame, users, plays = ratings
    model = bench_implicit(users) if name == "bench: implicit" else registry.build(name, CONFIG.get, users)
    model.fit(frame)
    assert model.describe()

    played = plays.groupby(USER_KEY)[ARTIST_KEY].apply(lambda keys: sorted(keys.astype(int)))
    queries = frame.sparkSession.createDataFrame(
        pd.DataFrame({USER_KEY: played.index.astype("int32"), PLAYED: played.to_list()})
    )
    lists = model.recommend(queries, N).toPandas()
    assert tuple(lists.columns) == RECOMMENDATION_COLUMNS
    pairs = set(zip(plays[USER_KEY].astype(int), plays[ARTIST_KEY].astype(int), strict=True))
    assert_top_n_contract(lists, USER_KEY, ARTIST_KEY, N, excluded=pairs)
    assert set(lists[USER_KEY]) == set(plays[USER_KEY])  # every fitted listener gets a list

    artists = (
        frame.select(ARTIST_KEY)
        .distinct()
        .union(frame.sparkSession.range(1000, 1001).selectExpr("cast(id as int) as artist_key"))
    )
    similar = model.similar_items(artists, N).toPandas()
    assert tuple(similar.columns) == SIMILAR_COLUMNS
    itself = {(int(a), int(a)) for a in plays[ARTIST_KEY].unique()}
    assert_top_n_contract(similar, ARTIST_KEY, SIMILAR_ARTIST_KEY, N, excluded=itself)
    assert 1000 not in set(similar[ARTIST_KEY])  # an artist the model never saw: no rows
    assert set(similar[SIMILAR_ARTIST_KEY]) <= set(plays[ARTIST_KEY])
    assert len(set(similar[ARTIST_KEY])) > len(set(plays[ARTIST_KEY])) // 2


def test_an_unknown_model_is_named() -> None:
    with pytest.raises(ValueError, match="no recommender named 'svd': the models are popularity, als, knn"):
        registry.build("svd", CONFIG.get, None)  # type: ignore[arg-type]
