"""Spark ALS against ``implicit``'s CPU ALS on the same ratings matrix and the same hold-out split.

What is the same for both: the training rows (``int_plays_holdout_split``, not held out), factors,
iterations, regularisation value, alpha, thread count (Spark's ``local[*]`` cores = implicit's
``num_threads``), the evaluated users (a seeded sample of the users with held-out rows) and the
scoring code (``topn.top_n`` with each user's training artists excluded, ``metrics.ranking_scores``).

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
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from scipy import sparse

from lastfm_lakehouse.evaluation import metrics
from lastfm_lakehouse.evaluation.holdout import EvaluationSample
from lastfm_lakehouse.recommenders import als
from lastfm_lakehouse.recommenders.topn import Targets, top_n
from lastfm_lakehouse.settings import ARTIST_KEY, RATING, USER_KEY

if TYPE_CHECKING:
    from pyspark.sql import DataFrame

LIBRARIES = ("spark", "implicit")


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


@dataclass
class Fit:
    library: str
    seconds: float
    iterations: int
    user_factors: np.ndarray  # aligned with RatingsMatrix.user_keys
    artist_factors: np.ndarray  # aligned with RatingsMatrix.artist_keys
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def seconds_per_iteration(self) -> float:
        return self.seconds / self.iterations


def fit_implicit(matrix: RatingsMatrix, params: als.AlsParams, threads: int) -> Fit:
    """implicit's CPU ALS (conjugate gradient, its default) with Spark's confidences."""
    from implicit.cpu.als import AlternatingLeastSquares
    from threadpoolctl import threadpool_limits

    confidence = matrix.ratings.copy()
    confidence.data = 1.0 + params.alpha * confidence.data
    model = AlternatingLeastSquares(
        factors=params.rank,
        regularization=params.reg_param,
        alpha=1.0,
        iterations=params.max_iter,
        num_threads=threads,
        random_state=params.seed,
    )
    iteration_seconds: list[float] = []
    # implicit's own advice: BLAS threads inside its parallel loops slow it down badly.
    with threadpool_limits(1, "blas"):
        started = time.perf_counter()
        model.fit(confidence, show_progress=False, callback=lambda _i, s, _l: iteration_seconds.append(s))
        seconds = time.perf_counter() - started
    return Fit(
        "implicit",
        seconds,
        params.max_iter,
        np.asarray(model.user_factors, dtype=np.float32),
        np.asarray(model.item_factors, dtype=np.float32),
        {
            "solver": "conjugate gradient (3 steps)",
            "iteration_seconds": [round(s, 3) for s in iteration_seconds],
        },
    )


def fit_spark(train: DataFrame, matrix: RatingsMatrix, params: als.AlsParams) -> Fit:
    """The project's Spark ALS (``als.train``, with the build's settings) on the same rows."""
    started = time.perf_counter()
    users, artists = als.train(train, params)
    user_pdf, artist_pdf = users.toPandas(), artists.toPandas()
    seconds = time.perf_counter() - started
    return Fit(
        "spark",
        seconds,
        params.max_iter,
        _aligned(Targets.from_frame(user_pdf, USER_KEY), matrix.user_keys, params.rank),
        _aligned(Targets.from_frame(artist_pdf, ARTIST_KEY), matrix.artist_keys, params.rank),
        {
            "solver": "Cholesky per row (normal equations)",
            "blas": als.netlib_implementations(train.sparkSession)[0],
        },
    )


def _aligned(targets: Targets, keys: np.ndarray, rank: int) -> np.ndarray:
    """Factors in the order of ``keys`` (zeros for keys Spark returned no factors for)."""
    out = np.zeros((len(keys), rank), dtype=np.float32)
    rows, known = targets.lookup(keys)
    out[known] = targets.factors[rows]
    return out


def evaluation_users(
    held_out: dict[int, set[int]], matrix: RatingsMatrix, sample: EvaluationSample
) -> np.ndarray:
    """Users with held-out artists and training rows, sampled as mart_model_evaluation samples."""
    candidates = np.array(sorted(held_out), dtype=np.int64)
    return sample.of(candidates[np.isin(candidates, matrix.user_keys)])


def score(
    fit: Fit, matrix: RatingsMatrix, held_out: dict[int, set[int]], users: np.ndarray, k: int
) -> metrics.RankingScores:
    """Top-k of each user among artists without a training row; metrics on the held-out artists."""
    rows = np.searchsorted(matrix.user_keys, users)
    indptr, indices = matrix.ratings.indptr, matrix.ratings.indices
    exclude = [indices[indptr[r] : indptr[r + 1]] for r in rows]
    best, _ = top_n(fit.user_factors[rows], fit.artist_factors, k, exclude)
    recommendations = {
        int(user): [int(matrix.artist_keys[j]) for j in picks if j >= 0]
        for user, picks in zip(users, best, strict=True)
    }
    return metrics.ranking_scores(recommendations, {int(u): held_out[int(u)] for u in users}, k)


def run(
    split: DataFrame,
    params: als.AlsParams,
    k: int,
    sample: EvaluationSample,
    say: Any = print,
) -> dict[str, Any]:
    """Both fits and both scores; the dict goes into the bench results."""
    threads = split.sparkSession.sparkContext.defaultParallelism
    columns = [USER_KEY, ARTIST_KEY, RATING, "is_holdout"]
    rows = split.select(*columns).toPandas()
    train_pdf = rows.loc[~rows["is_holdout"], [USER_KEY, ARTIST_KEY, RATING]]
    held = rows.loc[rows["is_holdout"], [USER_KEY, ARTIST_KEY]]
    held_out = {int(u): set(g.tolist()) for u, g in held.groupby(USER_KEY)[ARTIST_KEY]}
    matrix = RatingsMatrix.from_frame(train_pdf)
    users = evaluation_users(held_out, matrix, sample)
    say(
        f"ALS head-to-head: {matrix.entries:,} training ratings ({len(matrix.user_keys):,} users x "
        f"{len(matrix.artist_keys):,} artists), {params.as_text()}, {threads} threads, "
        f"{len(users):,} users evaluated"
    )
    train = split.where("not is_holdout").select(USER_KEY, ARTIST_KEY, RATING)
    fits = []
    for library in LIBRARIES:
        say(f"  fitting {library} ALS ...")
        fit = (
            fit_spark(train, matrix, params) if library == "spark" else fit_implicit(matrix, params, threads)
        )
        say(f"  {library}: {fit.seconds:.1f}s, {fit.seconds_per_iteration:.2f}s/iteration")
        fits.append(fit)
    results: dict[str, Any] = {
        "matrix": {
            "entries": matrix.entries,
            "users": len(matrix.user_keys),
            "artists": len(matrix.artist_keys),
            "source": "int_plays_holdout_split where not is_holdout",
        },
        "parameters": {
            "factors": params.rank,
            "iterations": params.max_iter,
            "regularization": params.reg_param,
            "alpha": params.alpha,
            "threads": threads,
            "openblas_num_threads": os.environ.get("OPENBLAS_NUM_THREADS", ""),
        },
        "k": k,
        "users_evaluated": len(users),
    }
    for fit in fits:
        scores = score(fit, matrix, held_out, users, k)
        results[fit.library] = {
            "fit_seconds": round(fit.seconds, 2),
            "seconds_per_iteration": round(fit.seconds_per_iteration, 3),
            f"ndcg_at_{k}": round(scores.ndcg, 5),
            f"precision_at_{k}": round(scores.precision, 5),
            **fit.details,
        }
    spark_fit, implicit_fit = fits
    results["time_ratio_spark_over_implicit"] = round(
        spark_fit.seconds_per_iteration / implicit_fit.seconds_per_iteration, 2
    )
    results["ndcg_ratio_spark_over_implicit"] = round(
        results["spark"][f"ndcg_at_{k}"] / max(results["implicit"][f"ndcg_at_{k}"], 1e-12), 4
    )
    return results
