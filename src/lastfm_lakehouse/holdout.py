"""Train ALS, kNN and the most-popular baseline on the training rows of the hold-out split and score
them on the held-out rows (metric definitions: ``lastfm_lakehouse.evaluation``).

Every model recommends k artists per evaluated user among those the user has no *training* row for.
As in the production marts, a user a model has nothing for (no ALS factors) gets the most-popular
list, so the comparison is of what the marts would show.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from lastfm_lakehouse import als, evaluation, knn
from lastfm_lakehouse.recommend import popular_unplayed, popularity_ranking, user_histories
from lastfm_lakehouse.settings import ARTIST_KEY, USER_KEY
from lastfm_lakehouse.topn import Targets, spark_top_n

if TYPE_CHECKING:
    from pyspark.sql import DataFrame

RECALL_SAMPLE = 200


@dataclass
class Row:
    model: str
    metric: str
    k: int | None
    value: float
    users_evaluated: int
    parameters: str
    seconds: float


def _ranking_rows(
    model: str,
    recs: dict[int, list[int]],
    held_out: dict[int, set[int]],
    k: int,
    catalogue: int,
    parameters: str,
    seconds: float,
) -> list[Row]:
    scores = evaluation.ranking_scores(recs, held_out, k)
    rows = [
        Row(model, metric, k, value, scores.users, parameters, seconds)
        for metric, value in scores.as_dict().items()
    ]
    rows.append(
        Row(model, "coverage", k, evaluation.coverage(recs, catalogue, k), scores.users, parameters, seconds)
    )
    return rows


def _as_lists(frame: pd.DataFrame) -> dict[int, list[int]]:
    frame = frame.sort_values([USER_KEY, "rank"])
    return {int(u): g[ARTIST_KEY].astype(int).tolist() for u, g in frame.groupby(USER_KEY, sort=False)}


@dataclass(frozen=True)
class EvaluationSample:
    """Score at most ``max_users`` of the users with held-out rows, chosen with ``seed``."""

    max_users: int = 20_000
    seed: int = 7

    def __post_init__(self) -> None:
        if self.max_users < 1:
            raise ValueError(f"evaluation_max_users must be >= 1, got {self.max_users}")

    def of(self, users: np.ndarray) -> np.ndarray:
        """Sorted sample of the sorted ``users`` (all of them when there are few enough)."""
        if len(users) <= self.max_users:
            return users
        return np.sort(np.random.default_rng(self.seed).choice(users, size=self.max_users, replace=False))


def evaluate(
    split: DataFrame,
    users: DataFrame,
    als_params: als.AlsParams,
    knn_params: knn.KnnParams,
    k: int,
    sample: EvaluationSample | None = None,
) -> pd.DataFrame:
    """One row per (model, metric): precision/recall/ndcg/map/coverage at k, ALS RMSE, kNN recall."""
    train = split.where("not is_holdout").select(USER_KEY, ARTIST_KEY, "plays", "rating")
    train_pdf = train.toPandas()
    held_pdf = split.where("is_holdout").select(USER_KEY, ARTIST_KEY, "rating").toPandas()
    if held_pdf.empty:
        raise ValueError(
            "the hold-out split holds no rows: lower holdout_min_artists or raise holdout_fraction"
        )
    sample = sample or EvaluationSample()
    evaluated = sample.of(np.unique(held_pdf[USER_KEY].to_numpy(dtype=np.int64)))
    held_pdf = held_pdf[held_pdf[USER_KEY].isin(evaluated)]
    held_out = {int(u): set(g.tolist()) for u, g in held_pdf.groupby(USER_KEY)[ARTIST_KEY]}
    in_sample = train_pdf[train_pdf[USER_KEY].isin(evaluated)]
    played = {int(u): set(g.tolist()) for u, g in in_sample.groupby(USER_KEY)[ARTIST_KEY]}
    catalogue = train_pdf[ARTIST_KEY].nunique()
    rows: list[Row] = []

    started = time.perf_counter()
    ranking = popularity_ranking(train)
    popular = {u: popular_unplayed(ranking, played.get(u, set()), k) for u in held_out}
    rows += _ranking_rows(
        "popularity",
        popular,
        held_out,
        k,
        catalogue,
        "listeners in training rows",
        time.perf_counter() - started,
    )

    started = time.perf_counter()
    user_factors, artist_factors = als.train(split.where("is_training_sample"), als_params)
    targets = Targets.from_frame(artist_factors.toPandas(), ARTIST_KEY)
    spark = split.sparkSession
    wanted = spark.createDataFrame(pd.DataFrame({USER_KEY: evaluated.astype(np.int32)}))
    queries = user_factors.join(wanted, USER_KEY).join(
        user_histories(train).withColumnRenamed("played_keys", "exclude"), USER_KEY, "left"
    )
    als_recs = _as_lists(
        spark_top_n(queries, USER_KEY, targets, ARTIST_KEY, k, exclude_column="exclude").toPandas()
    )
    for user in held_out:
        als_recs.setdefault(user, popular[user])
    rows += _ranking_rows(
        "als", als_recs, held_out, k, catalogue, als_params.as_text(), time.perf_counter() - started
    )
    user_matrix = Targets.from_frame(user_factors.toPandas(), USER_KEY)
    pairs = held_pdf[held_pdf[USER_KEY].isin(user_matrix.keys) & held_pdf[ARTIST_KEY].isin(targets.keys)]
    if not pairs.empty:
        u = user_matrix.factors[user_matrix.index_of(pairs[USER_KEY].to_numpy())]
        a = targets.factors[targets.index_of(pairs[ARTIST_KEY].to_numpy())]
        predictions = np.einsum("ij,ij->i", u, a)
        error = evaluation.rmse(zip(predictions.tolist(), pairs["rating"].tolist(), strict=True))
        rows.append(Row("als", "rmse", None, error, len(pairs), als_params.as_text(), 0.0))

    started = time.perf_counter()
    features = knn.build_features(
        train_pdf, users.select(USER_KEY, "age_scaled", "country").toPandas(), knn_params
    )
    index = knn.build_index(features, knn_params)
    knn_recs = _as_lists(knn.spark_knn(wanted, features, index, knn_params, k).toPandas())
    for user in held_out:
        knn_recs.setdefault(user, popular[user])
    knn_text = ", ".join(f"{key}={value}" for key, value in asdict(knn_params).items())
    rows += _ranking_rows("knn", knn_recs, held_out, k, catalogue, knn_text, time.perf_counter() - started)
    rng = np.random.default_rng(knn_params.seed)
    sample = rng.choice(
        len(features.user_keys), size=min(RECALL_SAMPLE, len(features.user_keys)), replace=False
    )
    approx, _ = knn.search(index, sample, knn_params.k)
    exact, _ = knn.exact_search(features, sample, knn_params.k)
    rows.append(
        Row(
            "knn",
            "neighbour_recall",
            knn_params.k,
            knn.neighbour_recall(approx, exact),
            len(sample),
            knn_text,
            0.0,
        )
    )
    return pd.DataFrame([asdict(r) for r in rows])
