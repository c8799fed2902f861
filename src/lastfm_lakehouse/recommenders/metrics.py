"""Ranking metrics of top-k recommendations against a per-user hold-out.

Definitions (binary relevance; R_u = the model's top-k list for user u, best first, never containing
an artist from u's training rows; T_u = u's held-out artists; U = users with at least one held-out
artist; users the model has no list for count with R_u empty, i.e. zero):

* precision@k = mean over U of |R_u ∩ T_u| / k — divided by k even when R_u is shorter, as Spark's
  ``RankingMetrics.precisionAt`` does;
* recall@k    = mean over U of |R_u ∩ T_u| / |T_u|;
* NDCG@k      = mean over U of DCG_u / IDCG_u, DCG_u = sum over positions i = 1..k of
  rel_i / log2(i + 1), IDCG_u = sum over i = 1..min(|T_u|, k) of 1 / log2(i + 1);
* MAP@k       = mean over U of (sum over i = 1..k of rel_i * precision@i) / min(|T_u|, k), as
  Spark's ``RankingMetrics.meanAveragePrecisionAt``;
* coverage    = distinct artists recommended to anyone / artists in the training rows;
* RMSE        = sqrt(mean over held-out (u, a) of (prediction - rating)^2), ALS only, with
  prediction = user factors · artist factors and rating = fct_plays.rating in [0, 1]; pairs whose
  user or artist has no factors are left out.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

METRICS = ("precision", "recall", "ndcg", "map")


@dataclass(frozen=True)
class RankingScores:
    precision: float
    recall: float
    ndcg: float
    map: float
    users: int

    def as_dict(self) -> dict[str, float]:
        return {name: getattr(self, name) for name in METRICS}


def user_scores(recommended: Sequence[int], relevant: set[int], k: int) -> tuple[float, float, float, float]:
    """(precision, recall, ndcg, average precision) at k for one user."""
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    if not relevant:
        raise ValueError("a user without held-out artists cannot be scored")
    top = list(recommended[:k])
    hits = [1 if item in relevant else 0 for item in top]
    found = sum(hits)
    dcg = sum(hit / math.log2(position + 2) for position, hit in enumerate(hits))
    ideal = sum(1 / math.log2(position + 2) for position in range(min(len(relevant), k)))
    precision_sum, running = 0.0, 0
    for position, hit in enumerate(hits):
        if hit:
            running += 1
            precision_sum += running / (position + 1)
    return found / k, found / len(relevant), dcg / ideal, precision_sum / min(len(relevant), k)


def ranking_scores(
    recommendations: Mapping[int, Sequence[int]], held_out: Mapping[int, Iterable[int]], k: int
) -> RankingScores:
    """Mean metrics over every user with held-out artists (missing lists score zero)."""
    totals = [0.0, 0.0, 0.0, 0.0]
    users = 0
    for user, items in held_out.items():
        relevant = set(items)
        if not relevant:
            continue
        users += 1
        for i, value in enumerate(user_scores(recommendations.get(user, ()), relevant, k)):
            totals[i] += value
    if users == 0:
        raise ValueError("no user has held-out artists: nothing to evaluate")
    return RankingScores(*(t / users for t in totals), users=users)


def coverage(recommendations: Mapping[int, Sequence[int]], catalogue_size: int, k: int) -> float:
    if catalogue_size < 1:
        raise ValueError("empty catalogue")
    recommended = {item for items in recommendations.values() for item in items[:k]}
    return len(recommended) / catalogue_size


def rmse(pairs: Iterable[tuple[float, float]]) -> float:
    """Root mean squared error of (prediction, rating) pairs."""
    errors = [(p - r) ** 2 for p, r in pairs]
    if not errors:
        raise ValueError("no (prediction, rating) pairs")
    return math.sqrt(sum(errors) / len(errors))
