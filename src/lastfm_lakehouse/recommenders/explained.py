"""ALS recommendation lists with an explanation: per user top-N from the factor tables.

"Because you played X": for a recommended artist i and the user's played artists j with ratings
r_j, X is the j maximising cosine(artist factors i, artist factors j) * r_j — the played artist
whose factors are closest to the recommendation, weighted by how much the user played it.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from lastfm_lakehouse.recommenders.base import PLAYED
from lastfm_lakehouse.recommenders.topn import (
    NormOrdered,
    Targets,
    batch_factors,
    compact,
    normalise_rows,
    spread,
    top_n,
    top_n_schema,
)
from lastfm_lakehouse.settings import ARTIST_KEY, USER_KEY

if TYPE_CHECKING:
    from pyspark.sql import DataFrame


def recommend_with_reasons(
    user_factors: DataFrame, histories: DataFrame, artists: Targets, n: int
) -> DataFrame:
    """``(user_key, rank, artist_key, score, because_artist_key)``: top ``n`` unplayed artists per user."""
    from pyspark.sql.types import IntegerType

    normalised = compact(normalise_rows(artists.factors))
    schema = top_n_schema(USER_KEY, ARTIST_KEY).add("because_artist_key", IntegerType(), True)

    ordered = NormOrdered.of(artists.factors)

    def score(batches: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        for batch in batches:
            if batch.empty:
                continue
            users = compact(batch_factors(batch, USER_KEY))
            played_keys = [np.asarray(k if k is not None else [], dtype=np.int64) for k in batch[PLAYED]]
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
    columns = queries.select(USER_KEY, "factors", PLAYED, "played_ratings")
    return spread(columns).mapInPandas(score, schema)
