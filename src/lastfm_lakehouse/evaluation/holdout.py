"""Train ALS, kNN and the most-popular baseline on the training rows of the hold-out split and score
them on the held-out rows (metric definitions: ``lastfm_lakehouse.evaluation.metrics``).

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

from lastfm_lakehouse.evaluation import metrics
from lastfm_lakehouse.recommenders import als, knn
from lastfm_lakehouse.recommenders.explained import popular_unplayed, popularity_ranking, user_histories
from lastfm_lakehouse.recommenders.topn import Targets, spark_top_n
from lastfm_lakehouse.settings import ARTIST_KEY, USER_KEY

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
    scores = metrics.ranking_scores(recs, held_out, k)
    rows = [
        Row(model, metric, k, value, scores.users, parameters, seconds)
        for metric, value in scores.as_dict().items()
    ]
    rows.append(
        Row(model, "coverage", k, metrics.coverage(recs, catalogue, k), scores.users, parameters, seconds)
    )
    return rows


def _as_lists(frame: pd.DataFrame) -> dict[int, list[int]]:
    frame = frame.sort_values([USER_KEY, "rank"])
    return {int(u): g[ARTIST_KEY].astype(int).tolist() for u, g in frame.groupby(USER_KEY, sort=False)}


def training_rows(split: DataFrame, training_input: str) -> DataFrame:
    """The rows of int_plays_holdout_split ALS trains on for ``training_input`` (als.TRAINING_INPUTS):
    every non-held-out row, or those within the per-artist cap (``is_training_sample``)."""
    condition = {"all": "not is_holdout", "balanced": "is_training_sample"}[
        als.training_input(training_input)
    ]
    return split.where(condition)


@dataclass(frozen=True)
class AlsFit:
    """ALS trained on some training rows, with what the evaluation asks of it."""

    user_factors: DataFrame
    artists: Targets

    @classmethod
    def train(cls, rows: DataFrame, params: als.AlsParams) -> AlsFit:
        user_factors, artist_factors = als.train(rows, params)
        return cls(user_factors, Targets.from_frame(artist_factors.toPandas(), ARTIST_KEY))

    def recommend(self, wanted: DataFrame, exclusions: DataFrame, k: int) -> dict[int, list[int]]:
        """Top k per wanted user (column user_key) that has factors, minus ``exclusions.exclude``."""
        queries = self.user_factors.join(wanted, USER_KEY).join(exclusions, USER_KEY, "left")
        return _as_lists(
            spark_top_n(queries, USER_KEY, self.artists, ARTIST_KEY, k, exclude_column="exclude").toPandas()
        )

    def rmse(self, held: pd.DataFrame) -> tuple[float, int]:
        """RMSE of factor dot products against the held-out ratings, and the pairs it covers."""
        users = Targets.from_frame(self.user_factors.toPandas(), USER_KEY)
        pairs = held[held[USER_KEY].isin(users.keys) & held[ARTIST_KEY].isin(self.artists.keys)]
        if pairs.empty:
            return 0.0, 0
        u = users.factors[users.index_of(pairs[USER_KEY].to_numpy())].astype(np.float64)
        a = self.artists.factors[self.artists.index_of(pairs[ARTIST_KEY].to_numpy())].astype(np.float64)
        predictions = np.einsum("ij,ij->i", u, a)
        error = metrics.rmse(zip(predictions.tolist(), pairs["rating"].tolist(), strict=True))
        return error, len(pairs)


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


@dataclass
class Holdout:
    """The hold-out split as the evaluation reads it: training rows, the sampled users' held-out
    artists, what each played in training, and the most-popular list each would get."""

    split: DataFrame
    train: DataFrame  # every non-held-out row (user_key, artist_key, plays, rating)
    train_pdf: pd.DataFrame
    held_pdf: pd.DataFrame  # held-out rows of the evaluated users
    evaluated: np.ndarray  # sorted user keys
    held_out: dict[int, set[int]]
    catalogue: int  # artists in the training rows
    popular: dict[int, list[int]]  # most-popular unplayed artists per evaluated user
    k: int

    @classmethod
    def prepare(cls, split: DataFrame, k: int, sample: EvaluationSample | None = None) -> Holdout:
        train = split.where("not is_holdout").select(USER_KEY, ARTIST_KEY, "plays", "rating")
        train_pdf = train.toPandas()
        held_pdf = split.where("is_holdout").select(USER_KEY, ARTIST_KEY, "rating").toPandas()
        if held_pdf.empty:
            raise ValueError(
                "the hold-out split holds no rows: lower holdout_min_artists or raise holdout_fraction"
            )
        evaluated = (sample or EvaluationSample()).of(np.unique(held_pdf[USER_KEY].to_numpy(dtype=np.int64)))
        held_pdf = held_pdf[held_pdf[USER_KEY].isin(evaluated)]
        held_out = {int(u): set(g.tolist()) for u, g in held_pdf.groupby(USER_KEY)[ARTIST_KEY]}
        in_sample = train_pdf[train_pdf[USER_KEY].isin(evaluated)]
        played = {int(u): set(g.tolist()) for u, g in in_sample.groupby(USER_KEY)[ARTIST_KEY]}
        ranking = popularity_ranking(train)
        popular = {u: popular_unplayed(ranking, played.get(u, set()), k) for u in held_out}
        catalogue = train_pdf[ARTIST_KEY].nunique()
        return cls(split, train, train_pdf, held_pdf, evaluated, held_out, catalogue, popular, k)

    def wanted(self) -> DataFrame:
        """The evaluated users as a one-column (user_key) frame."""
        return self.split.sparkSession.createDataFrame(
            pd.DataFrame({USER_KEY: self.evaluated.astype(np.int32)})
        )

    def exclusions(self) -> DataFrame:
        """(user_key, exclude): the artists each user has training rows for."""
        return user_histories(self.train).withColumnRenamed("played_keys", "exclude")

    def score(self, model: str, recs: dict[int, list[int]], parameters: str, seconds: float) -> list[Row]:
        """Ranking metrics and coverage of ``recs``; users without a list get the popular one."""
        complete = {user: recs.get(user) or self.popular[user] for user in self.held_out}
        return _ranking_rows(model, complete, self.held_out, self.k, self.catalogue, parameters, seconds)


def evaluate(
    split: DataFrame,
    users: DataFrame,
    als_params: als.AlsParams,
    knn_params: knn.KnnParams,
    k: int,
    sample: EvaluationSample | None = None,
    training_input: str = "all",
) -> pd.DataFrame:
    """One row per (model, metric): precision/recall/ndcg/map/coverage at k, ALS RMSE, kNN recall.

    ``als`` trains on ``training_input`` rows (as the production ALS), ``als_<other>`` on the other
    input: all training rows, or the per-artist-capped sample (``is_training_sample``)."""
    started = time.perf_counter()
    holdout = Holdout.prepare(split, k, sample)
    rows = holdout.score(
        "popularity", holdout.popular, "listeners in training rows", time.perf_counter() - started
    )

    wanted, exclusions = holdout.wanted(), holdout.exclusions()
    alternative = next(name for name in als.TRAINING_INPUTS if name != training_input)
    for model, rows_in in (("als", training_input), (f"als_{alternative}", alternative)):
        started = time.perf_counter()
        fitted = AlsFit.train(training_rows(split, rows_in), als_params)
        recs = fitted.recommend(wanted, exclusions, k)
        text = f"{als_params.as_text()}, training_input={rows_in}"
        rows += holdout.score(model, recs, text, time.perf_counter() - started)
        error, pairs = fitted.rmse(holdout.held_pdf)
        if pairs:
            rows.append(Row(model, "rmse", None, error, pairs, text, 0.0))

    started = time.perf_counter()
    features = knn.build_features(
        holdout.train_pdf, users.select(USER_KEY, "age_scaled", "country").toPandas(), knn_params
    )
    index = knn.build_index(features, knn_params)
    knn_recs = _as_lists(knn.spark_knn(wanted, features, index, knn_params, k).toPandas())
    knn_text = knn_params.as_text()
    rows += holdout.score("knn", knn_recs, knn_text, time.perf_counter() - started)
    rng = np.random.default_rng(knn_params.seed)
    recall_users = rng.choice(
        len(features.user_keys), size=min(RECALL_SAMPLE, len(features.user_keys)), replace=False
    )
    approx, _ = knn.search(index, recall_users, knn_params.k)
    exact, _ = knn.exact_search(features, recall_users, knn_params.k)
    recall = knn.neighbour_recall(approx, exact)
    rows.append(Row("knn", "neighbour_recall", knn_params.k, recall, len(recall_users), knn_text, 0.0))
    return pd.DataFrame([asdict(r) for r in rows])
