"""Spark ALS against ``implicit``'s CPU ALS on the same ratings matrix and the same hold-out split.

What is the same for both: the training rows (``eval_plays_holdout_split``, not held out), factors,
iterations, regularisation value, alpha, thread count (Spark's ``local[*]`` cores = implicit's
``num_threads``), the evaluated users (a seeded sample of the users with held-out rows) and the
scoring code (both are ``recommenders.base.Recommender``s scored by ``evaluation.holdout.Holdout``,
each user's training artists excluded).

Two differences are inherent to the libraries and are reported, not hidden:

* confidence: Spark turns a rating r into ``c = 1 + alpha * r``; implicit takes the confidence matrix
  as given (its own ``alpha`` multiplies it), so it gets ``1 + alpha * r`` with its alpha = 1 — the
  same confidences;
* regularisation: Spark multiplies ``regParam`` by each user's / artist's number of ratings (ALS-WR),
  implicit adds it unscaled. Same value, different effective penalty;
* solver: Spark solves each normal equation exactly (Cholesky on the packed k x k matrix, built with
  one rank-1 update per rating: O(nnz k^2) per sweep); implicit runs 3 conjugate-gradient steps
  warm-started from the previous factors (O(nnz k) per step). That is most of the speed gap.

Time per iteration = fit wall time / iterations for both (Spark's includes partitioning the ratings
into blocks, implicit's includes its transpose), so setup counts against each.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from scipy import sparse

from lastfm_lakehouse.evaluation.holdout import EvaluationSample, Holdout, training_rows
from lastfm_lakehouse.recommenders import als
from lastfm_lakehouse.recommenders.base import PLAYED, SIMILAR_ARTIST_KEY, Recommender
from lastfm_lakehouse.recommenders.topn import Targets, normalise_rows, ranked_rows, top_n, top_n_schema
from lastfm_lakehouse.settings import ARTIST_KEY, RATING, USER_KEY

if TYPE_CHECKING:
    from pyspark.sql import DataFrame


@dataclass(frozen=True)
class RatingsMatrix:
    """Training ratings as a CSR matrix: row i = ``user_keys[i]``, column j = ``artist_keys[j]``."""

    user_keys: np.ndarray
    artist_keys: np.ndarray
    ratings: sparse.csr_matrix

    @classmethod
    def from_frame(cls, train: pd.DataFrame) -> RatingsMatrix:
        if train.empty:
            raise ValueError("no training rows: the hold-out split is empty")
        users, user_rows = np.unique(train[USER_KEY].to_numpy(dtype=np.int64), return_inverse=True)
        artists, artist_cols = np.unique(train[ARTIST_KEY].to_numpy(dtype=np.int64), return_inverse=True)
        ratings = sparse.csr_matrix(
            (train[RATING].to_numpy(dtype=np.float32), (user_rows, artist_cols)),
            shape=(len(users), len(artists)),
        )
        ratings.sum_duplicates()
        return cls(users, artists, ratings)

    @property
    def entries(self) -> int:
        return int(self.ratings.nnz)


class ImplicitAls(Recommender):
    """``implicit``'s CPU ALS (conjugate gradient, its default) with Spark's confidences, behind the
    project's recommender contract so the head-to-head scores it exactly as it scores Spark ALS."""

    def __init__(self, params: als.AlsParams, threads: int, name: str = "implicit") -> None:
        self.params = params
        self.threads = threads
        self.name = name
        self.matrix: RatingsMatrix | None = None
        self.user_factors = np.empty((0, params.rank), dtype=np.float32)
        self.artist_factors = np.empty((0, params.rank), dtype=np.float32)
        self.iteration_seconds: list[float] = []

    def fit(self, ratings: DataFrame) -> None:
        from implicit.cpu.als import AlternatingLeastSquares
        from threadpoolctl import threadpool_limits

        self.matrix = RatingsMatrix.from_frame(ratings.select(USER_KEY, ARTIST_KEY, RATING).toPandas())
        confidence = self.matrix.ratings.copy()
        confidence.data = 1.0 + self.params.alpha * confidence.data
        model = AlternatingLeastSquares(
            factors=self.params.rank,
            regularization=self.params.reg_param,
            alpha=1.0,
            iterations=self.params.max_iter,
            num_threads=self.threads,
            random_state=self.params.seed,
        )
        self.iteration_seconds = []
        # implicit's own advice: BLAS threads inside its parallel loops slow it down badly.
        with threadpool_limits(1, "blas"):
            model.fit(
                confidence, show_progress=False, callback=lambda _i, s, _l: self.iteration_seconds.append(s)
            )
        self.user_factors = np.asarray(model.user_factors, dtype=np.float32)
        self.artist_factors = np.asarray(model.item_factors, dtype=np.float32)

    def recommend(self, users: DataFrame, n: int) -> DataFrame:
        if self.matrix is None:
            raise RuntimeError("implicit: recommend before fit")
        matrix = self.matrix
        wanted = users.select(USER_KEY, PLAYED).toPandas()
        keys = wanted[USER_KEY].to_numpy(dtype=np.int64)
        rows, known = Targets(matrix.user_keys, self.user_factors).lookup(keys)
        artists = Targets(matrix.artist_keys, self.artist_factors)
        exclude = [artists.index_of(np.asarray(p if p is not None else [])) for p in wanted[PLAYED][known]]
        best, scores = top_n(self.user_factors[rows], artists.factors, n, exclude)
        frame = ranked_rows(USER_KEY, keys[known], ARTIST_KEY, matrix.artist_keys, best, scores)
        return users.sparkSession.createDataFrame(frame, schema=top_n_schema(USER_KEY, ARTIST_KEY))

    def similar_items(self, artists: DataFrame, n: int) -> DataFrame:
        """Cosine of implicit's artist factors, as ``Als.similar_items`` with Spark's."""
        if self.matrix is None:
            raise RuntimeError("implicit: similar_items before fit")
        keys = artists.select(ARTIST_KEY).toPandas()[ARTIST_KEY].to_numpy(dtype=np.int64)
        targets = Targets(self.matrix.artist_keys, normalise_rows(self.artist_factors).astype(np.float32))
        rows, known = targets.lookup(keys)
        best, scores = top_n(targets.factors[rows], targets.factors, n, [np.array([row]) for row in rows])
        frame = ranked_rows(ARTIST_KEY, keys[known], SIMILAR_ARTIST_KEY, targets.keys, best, scores)
        schema = top_n_schema(ARTIST_KEY, SIMILAR_ARTIST_KEY)
        return artists.sparkSession.createDataFrame(frame, schema=schema)

    def describe(self) -> str:
        return f"{self.params.as_text()}, threads={self.threads}"


def run(
    split: DataFrame,
    params: als.AlsParams,
    k: int,
    sample: EvaluationSample,
    say: Any = print,
) -> dict[str, Any]:
    """Both fits and both scores; the dict goes into the bench results."""
    from pyspark.sql import functions as F

    threads = split.sparkSession.sparkContext.defaultParallelism
    train = training_rows(split, "all")
    shape = train.agg(
        F.count("*").alias("entries"),
        F.countDistinct(USER_KEY).alias("users"),
        F.countDistinct(ARTIST_KEY).alias("artists"),
    ).first()
    if shape is None or shape["entries"] == 0:
        raise ValueError("no training rows: the hold-out split is empty")
    holdout = Holdout.prepare(split, k, sample)
    say(
        f"ALS head-to-head: {shape['entries']:,} training ratings ({shape['users']:,} users x "
        f"{shape['artists']:,} artists), {params.as_text()}, {threads} threads, "
        f"{len(holdout.held_out):,} users evaluated"
    )
    spark_als, implicit_als = als.Als(params, name="spark"), ImplicitAls(params, threads)
    results: dict[str, Any] = {
        "matrix": {**shape.asDict(), "source": "eval_plays_holdout_split where not is_holdout"},
        "parameters": {
            "factors": params.rank,
            "iterations": params.max_iter,
            "regularization": params.reg_param,
            "alpha": params.alpha,
            "threads": threads,
            "openblas_num_threads": os.environ.get("OPENBLAS_NUM_THREADS", ""),
        },
        "k": k,
        "users_evaluated": len(holdout.held_out),
    }
    details = {
        "spark": lambda: {
            "solver": "Cholesky per row (normal equations)",
            "blas": als.netlib_implementations(split.sparkSession)[0],
        },
        "implicit": lambda: {
            "solver": "conjugate gradient (3 steps)",
            "iteration_seconds": [round(s, 3) for s in implicit_als.iteration_seconds],
        },
    }
    for model in (spark_als, implicit_als):
        say(f"  fitting {model.name} ALS ...")
        started = time.perf_counter()
        model.fit(train)  # Spark's includes collecting the artist factors, implicit's its input matrix
        seconds = time.perf_counter() - started
        say(f"  {model.name}: {seconds:.1f}s, {seconds / params.max_iter:.2f}s/iteration")
        values = {row.metric: row.value for row in holdout.score(model.name, holdout.lists(model), "", 0.0)}
        results[model.name] = {
            "fit_seconds": round(seconds, 2),
            "seconds_per_iteration": round(seconds / params.max_iter, 3),
            f"ndcg_at_{k}": round(values["ndcg"], 5),
            f"precision_at_{k}": round(values["precision"], 5),
            **details[model.name](),
        }
    holdout.queries.unpersist()
    results["time_ratio_spark_over_implicit"] = round(
        results["spark"]["seconds_per_iteration"] / results["implicit"]["seconds_per_iteration"], 2
    )
    results["ndcg_ratio_spark_over_implicit"] = round(
        results["spark"][f"ndcg_at_{k}"] / max(results["implicit"][f"ndcg_at_{k}"], 1e-12), 4
    )
    return results
