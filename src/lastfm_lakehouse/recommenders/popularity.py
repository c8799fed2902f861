"""The most-popular baseline: artists ranked by distinct listeners, each user's unplayed ones first.

It is both a model the evaluation scores and the fallback the marts give users a model has
nothing for.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pandas as pd

from lastfm_lakehouse.recommenders.base import PLAYED, SIMILAR_ARTIST_KEY, Recommender
from lastfm_lakehouse.recommenders.topn import top_n_schema
from lastfm_lakehouse.settings import ARTIST_KEY, USER_KEY

if TYPE_CHECKING:
    from pyspark.sql import DataFrame

# A user's list is drawn from the head of the ranking: n + this many artists, so that only a user
# who played more than this many of the most popular artists could get fewer than n.
RANKING_HEADROOM = 2_000


def popularity_ranking(plays: DataFrame) -> pd.DataFrame:
    """Artists by distinct listeners (then total rating, then key): the most-popular baseline.
    Rows are one per (user, artist), the recommenders' contract (``base``) that fct_plays' tests
    hold, so listeners are counted as rows: a count(distinct) shuffled every row and cost the
    full-size build about 30 s of CPU per model that ranks by popularity, measured."""
    from pyspark.sql import functions as F

    ranking = plays.groupBy(ARTIST_KEY).agg(
        F.count(F.lit(1)).alias("listeners"), F.sum("rating").alias("total_rating")
    )
    frame = ranking.toPandas()
    return frame.sort_values(["listeners", "total_rating", ARTIST_KEY], ascending=[False, False, True])


def popular_unplayed(ranking: pd.DataFrame, played: set[int], n: int) -> list[int]:
    """The ``n`` most popular artists the user has not played."""
    out: list[int] = []
    for key in ranking[ARTIST_KEY].to_numpy():
        if int(key) not in played:
            out.append(int(key))
            if len(out) == n:
                break
    return out


def popularity_for_users(users: DataFrame, ranking: pd.DataFrame, n: int) -> DataFrame:
    """``(user_key, rank, artist_key, score)``: most popular unplayed artists, score = listeners.
    ``users`` has ``user_key`` and ``played_keys`` (null for none)."""
    top = ranking.head(n + RANKING_HEADROOM)
    listeners = dict(zip(top[ARTIST_KEY].astype(int), top["listeners"].astype(float), strict=True))
    schema = top_n_schema(USER_KEY, ARTIST_KEY)

    def score(batches: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        for batch in batches:
            rows = []
            for user, played in zip(batch[USER_KEY], batch[PLAYED], strict=True):
                chosen = popular_unplayed(top, set(played if played is not None else []), n)
                rows += [(int(user), rank, key, listeners[key]) for rank, key in enumerate(chosen, start=1)]
            yield pd.DataFrame(rows, columns=[USER_KEY, "rank", ARTIST_KEY, "score"]).astype(
                {USER_KEY: "int32", "rank": "int32", ARTIST_KEY: "int32"}
            )

    return users.select(USER_KEY, PLAYED).mapInPandas(score, schema)


class MostPopular(Recommender):
    """Every user gets the artists with the most listeners in the fitted rows, minus their own."""

    def __init__(self, name: str = "popularity") -> None:
        self.name = name
        self.ranking: pd.DataFrame | None = None

    def fit(self, ratings: DataFrame) -> None:
        self.ranking = popularity_ranking(ratings)

    def recommend(self, users: DataFrame, n: int) -> DataFrame:
        if self.ranking is None:
            raise RuntimeError("MostPopular.recommend before fit")
        return popularity_for_users(users, self.ranking, n)

    def similar_items(self, artists: DataFrame, n: int) -> DataFrame:
        """The baseline knows no similarity: every fitted artist gets the most popular others
        (score = listeners), the list a model that learnt nothing would give."""
        if self.ranking is None:
            raise RuntimeError("MostPopular.similar_items before fit")
        from pyspark.sql import functions as F

        fitted = artists.sparkSession.createDataFrame(self.ranking[[ARTIST_KEY]].astype("int32"))
        known = artists.select(ARTIST_KEY).join(fitted, ARTIST_KEY, "left_semi")
        queries = known.select(F.col(ARTIST_KEY).alias(USER_KEY), F.array(ARTIST_KEY).alias(PLAYED))
        lists = popularity_for_users(queries, self.ranking, n)
        return lists.select(
            F.col(USER_KEY).alias(ARTIST_KEY), "rank", F.col(ARTIST_KEY).alias(SIMILAR_ARTIST_KEY), "score"
        )

    def describe(self) -> str:
        return "listeners in training rows"
