"""Recommendation lists from factor tables: per user top-N with an explanation, plus the popularity
baseline for users a model has nothing for.

"Because you played X": for a recommended artist i and the user's played artists j with ratings
r_j, X is the j maximising cosine(artist factors i, artist factors j) * r_j — the played artist
whose factors are closest to the recommendation, weighted by how much the user played it.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from lastfm_lakehouse.recommenders.topn import (
    NormOrdered,
    Targets,
    compact,
    normalise_rows,
    require_finite,
    spread,
    top_n,
    top_n_schema,
)
from lastfm_lakehouse.settings import ARTIST_KEY, USER_KEY

if TYPE_CHECKING:
    from pyspark.sql import DataFrame


def user_histories(plays: DataFrame) -> DataFrame:
    """``(user_key, played_keys, played_ratings)`` from a (user_key, artist_key, rating) frame."""
    from pyspark.sql import functions as F

    ordered = plays.groupBy(USER_KEY).agg(
        F.sort_array(F.collect_list(F.struct(ARTIST_KEY, "rating"))).alias("history")
    )
    return ordered.select(
        USER_KEY,
        F.col(f"history.{ARTIST_KEY}").alias("played_keys"),
        F.col("history.rating").alias("played_ratings"),
    )


def recommend_with_reasons(
    user_factors: DataFrame, histories: DataFrame, artists: Targets, n: int
) -> DataFrame:
    """``(user_key, rank, artist_key, score, because_artist_key)``: top ``n`` unplayed artists per user."""
    from pyspark.sql.types import DoubleType, IntegerType, StructField, StructType

    normalised = compact(normalise_rows(artists.factors))
    schema = StructType(
        [
            StructField(USER_KEY, IntegerType(), False),
            StructField("rank", IntegerType(), False),
            StructField(ARTIST_KEY, IntegerType(), False),
            StructField("score", DoubleType(), False),
            StructField("because_artist_key", IntegerType(), True),
        ]
    )

    ordered = NormOrdered.of(artists.factors)

    def score(batches: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        for batch in batches:
            if batch.empty:
                continue
            users = np.asarray(np.stack(batch["factors"].to_numpy()), dtype=np.float64)
            require_finite(users, batch[USER_KEY].to_numpy(), f"factors of {USER_KEY}")
            users = compact(users)
            played_keys = [
                np.asarray(k if k is not None else [], dtype=np.int64) for k in batch["played_keys"]
            ]
            played_ratings = [
                np.asarray(r if r is not None else [], dtype=np.float64) for r in batch["played_ratings"]
            ]
            lookups = [artists.lookup(keys) for keys in played_keys]
            indices, scores = top_n(users, ordered, n, [rows for rows, _ in lookups])
            out: dict[str, list] = {
                USER_KEY: [],
                "rank": [],
                ARTIST_KEY: [],
                "score": [],
                "because_artist_key": [],
            }
            for i, user in enumerate(batch[USER_KEY].to_numpy()):
                valid = indices[i] >= 0
                chosen = indices[i][valid]
                if chosen.size == 0:
                    continue
                keys, ratings = played_keys[i], played_ratings[i]
                rows, known = lookups[i]
                because: list[int | None] = [None] * chosen.size
                if known.any():
                    weight = (normalised[chosen] @ normalised[rows].T) * ratings[known]
                    because = keys[known][np.argmax(weight, axis=1)].tolist()
                out[USER_KEY] += [int(user)] * chosen.size
                out["rank"] += list(range(1, chosen.size + 1))
                out[ARTIST_KEY] += artists.keys[chosen].tolist()
                out["score"] += scores[i][valid].tolist()
                out["because_artist_key"] += because
            yield pd.DataFrame(out).astype({USER_KEY: "int32", "rank": "int32", ARTIST_KEY: "int32"})

    queries = user_factors.join(histories, USER_KEY, "left")
    columns = queries.select(USER_KEY, "factors", "played_keys", "played_ratings")
    return spread(columns).mapInPandas(score, schema)


def popularity_ranking(plays: DataFrame) -> pd.DataFrame:
    """Artists by distinct listeners (then total rating, then key): the most-popular baseline."""
    from pyspark.sql import functions as F

    ranking = plays.groupBy(ARTIST_KEY).agg(
        F.countDistinct(USER_KEY).alias("listeners"), F.sum("rating").alias("total_rating")
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


def popularity_for_users(users: DataFrame, histories: DataFrame, ranking: pd.DataFrame, n: int) -> DataFrame:
    """``(user_key, rank, artist_key, score)``: most popular unplayed artists, score = listeners."""
    top = ranking.head(n + 2_000)
    listeners = dict(zip(top[ARTIST_KEY].astype(int), top["listeners"].astype(float), strict=True))
    schema = top_n_schema(USER_KEY, ARTIST_KEY)

    def score(batches: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        for batch in batches:
            rows = []
            for user, played in zip(batch[USER_KEY], batch["played_keys"], strict=True):
                chosen = popular_unplayed(top, set(played if played is not None else []), n)
                rows += [(int(user), rank, key, listeners[key]) for rank, key in enumerate(chosen, start=1)]
            yield pd.DataFrame(rows, columns=[USER_KEY, "rank", ARTIST_KEY, "score"]).astype(
                {USER_KEY: "int32", "rank": "int32", ARTIST_KEY: "int32"}
            )

    return users.select(USER_KEY).join(histories, USER_KEY, "left").mapInPandas(score, schema)
