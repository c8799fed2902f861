"""Metric arithmetic on a tiny hand-computed case, and agreement with Spark's RankingMetrics."""

from __future__ import annotations

import math

import numpy as np
import pytest

from lastfm_lakehouse.recommenders import metrics


def test_hand_computed_case() -> None:
    # user 1: recommended [10, 20, 30], held out {20, 40}; k = 3
    #   hits at positions 2 -> precision 1/3, recall 1/2
    #   DCG = 1/log2(3); IDCG = 1/log2(2) + 1/log2(3); AP = (1/2) / min(2, 3) = 0.25
    # user 2: recommended [40], held out {40}; k = 3 (list shorter than k)
    #   precision 1/3 (divided by k), recall 1, NDCG 1, AP 1
    # user 3: no list at all, held out {50}: zeros
    recs = {1: [10, 20, 30], 2: [40]}
    held = {1: {20, 40}, 2: {40}, 3: {50}}
    scores = metrics.ranking_scores(recs, held, k=3)
    ndcg_1 = (1 / math.log2(3)) / (1 + 1 / math.log2(3))
    assert scores.users == 3
    assert scores.precision == pytest.approx((1 / 3 + 1 / 3 + 0) / 3)
    assert scores.recall == pytest.approx((1 / 2 + 1 + 0) / 3)
    assert scores.ndcg == pytest.approx((ndcg_1 + 1 + 0) / 3)
    assert scores.map == pytest.approx((0.25 + 1 + 0) / 3)
    assert metrics.coverage(recs, catalogue_size=8, k=3) == pytest.approx(4 / 8)
    assert metrics.rmse([(1.0, 0.5), (0.0, 0.5)]) == pytest.approx(0.5)


def test_only_the_first_k_count() -> None:
    assert metrics.user_scores([1, 2, 3], {3}, k=2) == (0.0, 0.0, 0.0, 0.0)


def test_bad_input_is_refused() -> None:
    with pytest.raises(ValueError, match="k must be"):
        metrics.user_scores([1], {1}, k=0)
    with pytest.raises(ValueError, match="nothing to evaluate"):
        metrics.ranking_scores({1: [1]}, {}, k=5)


def test_agrees_with_spark_ranking_metrics(spark) -> None:
    from pyspark.mllib.evaluation import RankingMetrics

    rng = np.random.default_rng(3)
    recs, held = {}, {}
    for user in range(60):
        recs[user] = rng.permutation(40)[: rng.integers(3, 15)].tolist()
        held[user] = set(rng.choice(40, size=rng.integers(1, 8), replace=False).tolist())
    pairs = [(recs[u], sorted(held[u])) for u in range(60)]
    theirs = RankingMetrics(spark.sparkContext.parallelize(pairs, 2))
    ours = metrics.ranking_scores(recs, held, k=10)
    assert ours.precision == pytest.approx(theirs.precisionAt(10))
    assert ours.ndcg == pytest.approx(theirs.ndcgAt(10))
    assert ours.map == pytest.approx(theirs.meanAveragePrecisionAt(10))
    assert ours.recall == pytest.approx(theirs.recallAt(10))
