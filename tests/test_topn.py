"""Blocked top-N: order, exclusions, short catalogues."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest

from lastfm_lakehouse.recommenders import topn


def test_top_n_matches_a_full_sort_and_respects_exclusions(monkeypatch) -> None:
    monkeypatch.setattr(topn, "BLOCK_ROWS", 7)  # several blocks
    rng = np.random.default_rng(0)
    queries, targets = rng.standard_normal((30, 5)), rng.standard_normal((50, 5))
    exclude = [rng.choice(50, size=10, replace=False) for _ in range(30)]
    indices, scores = topn.top_n(queries, targets, 6, exclude)
    full = queries @ targets.T
    for i in range(30):
        allowed = [j for j in np.argsort(-full[i]) if j not in set(exclude[i])]
        assert indices[i].tolist() == allowed[:6]
        assert np.allclose(scores[i], full[i, allowed[:6]])


def test_fewer_targets_than_n_leave_empty_slots() -> None:
    indices, scores = topn.top_n(np.ones((1, 2)), np.eye(2), 4, [np.array([0])])
    assert indices[0].tolist() == [1, -1, -1, -1]
    assert np.isneginf(scores[0, 1:]).all()


def test_targets_index_of_drops_unknown_keys() -> None:
    frame = pd.DataFrame({"artist_key": [30, 10, 20], "factors": [[3.0], [1.0], [2.0]]})
    targets = topn.Targets.from_frame(frame, "artist_key")
    assert targets.keys.tolist() == [10, 20, 30] and targets.factors[:, 0].tolist() == [1.0, 2.0, 3.0]
    assert targets.index_of(np.array([20, 99, 10])).tolist() == [1, 0]


def test_norm_ordered_passes_stop_early_and_stay_exact(monkeypatch) -> None:
    """Long-tail norms (as ALS gives rarely played artists): the early stop must not change results."""
    monkeypatch.setattr(topn, "TILE", 16)  # many tiles over 2,000 targets
    rng = np.random.default_rng(1)
    targets = rng.standard_normal((2_000, 8)).astype(np.float32)
    targets *= (1.0 / np.arange(1, 2_001) ** 0.8)[rng.permutation(2_000), None].astype(np.float32)
    queries = rng.standard_normal((300, 8)).astype(np.float32)
    exclude = [rng.choice(2_000, size=int(rng.integers(0, 40)), replace=False) for _ in range(300)]
    indices, scores = topn.top_n(queries, targets, 10, exclude)
    full = (queries @ targets.T).astype(np.float64)
    for i in range(300):
        full[i, exclude[i]] = -np.inf
        expected = np.sort(full[i])[::-1][:10]
        assert np.allclose(scores[i], expected, rtol=1e-5)
        assert np.allclose(full[i, indices[i]], scores[i], rtol=1e-5)
        assert not set(indices[i].tolist()) & set(exclude[i].tolist())


def test_norm_ordered_early_stop_skips_the_long_tail(monkeypatch) -> None:
    """A query aligned with the largest targets never scores the small-norm tail (one tile)."""
    from lastfm_lakehouse.recommenders import topn_kernel

    tiles = []
    original = topn_kernel.push_tile
    monkeypatch.setattr(
        topn_kernel, "push_tile", lambda scores, *rest: tiles.append(scores.shape) or original(scores, *rest)
    )
    big = np.eye(4, dtype=np.float32) * 10
    tail = np.full((10_000, 4), 1e-3, dtype=np.float32)
    index = topn.NormOrdered.of(np.vstack([tail, big]))
    assert index.norms[0] == 10 and index.order[:4].tolist() == [10_000, 10_001, 10_002, 10_003]
    indices, _ = topn.top_n(np.array([[1, 0, 0, 0]], dtype=np.float32), index, 1)
    assert indices[0].tolist() == [10_000]
    assert tiles == [(1, topn.TILE)]  # the first tile only: the tail's bound is 1e-3 * sqrt(4) < 10


def test_tiles_keep_exclusions_ties_and_short_lists_exact(monkeypatch) -> None:
    """Exclusions that fall in every tile (and before and after it), ties across tiles, queries with
    fewer allowed targets than n: the same scores as a full sort, nothing excluded."""
    monkeypatch.setattr(topn, "TILE", 5)
    monkeypatch.setattr(topn, "BLOCK_ROWS", 3)
    rng = np.random.default_rng(6)
    targets = np.round(rng.standard_normal((37, 3)), 1)  # rounded: many equal scores
    targets[20] = targets[3]  # an exact tie in another tile
    queries = np.round(rng.standard_normal((10, 3)), 1)
    exclude = [rng.choice(37, size=int(rng.integers(0, 37)), replace=False) for _ in range(10)]
    exclude[0] = np.arange(37)  # nothing allowed
    exclude[1] = np.delete(np.arange(37), [3, 20])  # only the two tied targets
    indices, scores = topn.top_n(queries, targets, 8, exclude)
    full = queries @ targets.T
    for i in range(10):
        allowed = [j for j in range(37) if j not in set(exclude[i].tolist())]
        expected = sorted(allowed, key=lambda j: -full[i, j])[:8]  # stable: ties to the lower row
        got = indices[i][indices[i] >= 0].tolist()
        assert np.allclose(full[i, got], full[i, expected]), i
        assert len(got) == len(expected) and not set(got) & set(exclude[i].tolist())
        assert np.isneginf(scores[i][len(got) :]).all()
    assert indices[0].tolist() == [-1] * 8
    assert sorted(indices[1][:2].tolist()) == [3, 20] and (indices[1][2:] == -1).all()


def test_wide_rows_take_the_grouped_path_and_match_a_full_sort() -> None:
    rng = np.random.default_rng(2)
    width = topn.WIDE_ROW * 3 + 17  # a ragged tail after the last full group
    scores = rng.standard_normal((40, width))
    scores[0, :] = -np.inf  # nothing finite
    scores[1, 5:] = -np.inf  # fewer finite entries than k
    scores[2, [3, 900, width - 1]] = 50.0  # ties at the top, one in the tail
    best, values = topn.top_k_of_rows(scores, 10)
    assert (best[0] == -1).all() and np.isneginf(values[0]).all()
    assert sorted(best[1][:5].tolist()) == [0, 1, 2, 3, 4] and (best[1][5:] == -1).all()
    assert sorted(best[2][:3].tolist()) == [3, 900, width - 1]
    for i in range(1, 40):
        finite = np.sort(scores[i][np.isfinite(scores[i])])[::-1][:10]
        assert np.array_equal(values[i][: len(finite)], finite)
        assert np.array_equal(scores[i, best[i][: len(finite)]], finite)


# --- numerics at the edges: factor vectors of any magnitude -----------------------------------------

MAGNITUDES = (0.0, 1e-30, 1e-20, 1.0, 1e20, 1e30)


def factors_of_magnitudes(rng: np.random.Generator, dim: int = 32) -> np.ndarray:
    """Rows of every magnitude, plus near-identical pairs (as near-duplicate artists give)."""
    base = rng.standard_normal((len(MAGNITUDES), dim))
    rows = [base[i] * m for i, m in enumerate(MAGNITUDES)]
    rows += [base[1] * 1e-30 * (1 + 1e-7), base[3] * (1 + 1e-7), -base[3]]
    return np.array(rows)


def test_normalise_rows_gives_unit_rows_for_any_magnitude() -> None:
    matrix = factors_of_magnitudes(np.random.default_rng(3))
    for dtype in (np.float32, np.float64):
        norms = np.linalg.norm(topn.normalise_rows(matrix.astype(dtype)), axis=1)
        assert norms[0] == 0  # the zero vector stays zero (no NaN)
        assert np.allclose(norms[1:], 1.0, rtol=0, atol=1e-12), norms


def test_cosine_similarities_stay_in_range_and_finite() -> None:
    matrix = factors_of_magnitudes(np.random.default_rng(4))
    targets = topn.compact(topn.normalise_rows(matrix))
    exclude = [np.array([i]) for i in range(len(matrix))]
    indices, scores = topn.cosine_top_n(matrix, targets, len(matrix) - 1, exclude)
    found = indices >= 0
    assert found.sum(axis=1).tolist() == [len(matrix) - 1] * len(matrix)
    assert np.isfinite(scores[found]).all()
    assert (scores[found] >= -1).all() and (scores[found] <= 1).all()
    # the near-identical tiny pair is found as each other's best match with cosine ~1
    tiny, twin = 1, len(MAGNITUDES)
    assert indices[tiny, 0] == twin and scores[tiny, 0] == pytest.approx(1.0, abs=1e-6)
    assert scores[3, -1] == pytest.approx(-1.0, abs=1e-6)  # its opposite is last


def test_huge_factors_give_finite_inner_products() -> None:
    rng = np.random.default_rng(5)
    queries, targets = rng.standard_normal((4, 8)) * 1e30, rng.standard_normal((6, 8)) * 1e30
    indices, scores = topn.top_n(topn.compact(queries), topn.compact(targets), 3)
    assert np.isfinite(scores).all()
    expected = np.argsort(-(queries @ targets.T), axis=1)[:, :3]
    assert (indices == expected).all()


def test_non_finite_factors_fail_with_the_keys_at_fault() -> None:
    frame = pd.DataFrame({"artist_key": [1, 2, 3], "factors": [[1.0, 0.0], [np.nan, 1.0], [np.inf, 0.0]]})
    with pytest.raises(ValueError, match=r"2 of 3 vectors hold NaN or infinity \(first keys: \[2, 3\]\)"):
        topn.Targets.from_frame(frame, "artist_key")


def test_lay_out_for_lookups_runs_the_top_n_once_and_releases_it(spark, tmp_path) -> None:
    """The range exchange's sampling job reads the materialised rows: each query is scored exactly
    once (an accumulator counts the rows leaving the kernel's stage), the written files hold
    disjoint key ranges sorted by (key, rank), and nothing stays persisted once the scope (the
    adapter's, one per model) closes."""
    from pyspark.sql import functions as F

    from lastfm_lakehouse import materialised

    scored = spark.sparkContext.accumulator(0)
    rng = np.random.default_rng(6)
    users = topn.Targets.from_frame(
        pd.DataFrame({"user_key": range(40), "factors": list(rng.standard_normal((40, 4)))}), "user_key"
    )
    artists = spark.createDataFrame(
        pd.DataFrame(
            {"artist_key": range(300), "factors": [v.tolist() for v in rng.standard_normal((300, 4))]}
        )
    )

    def counted(batches):
        for batch in batches:
            scored.add(len(batch))
            yield batch

    audience = topn.spark_top_n(artists, "artist_key", users, "user_key", 5)
    with materialised.held_for("test"):
        laid_out = topn.lay_out_for_lookups(
            audience.mapInPandas(counted, audience.schema), "artist_key", spark
        )
        laid_out.write.parquet(str(tmp_path / "audience"))
        assert scored.value == 300 * 5
        assert not cached_plans(spark).isEmpty()
    assert cached_plans(spark).isEmpty()

    written = spark.read.parquet(str(tmp_path / "audience")).withColumn("file", F.input_file_name())
    assert written.count() == 300 * 5
    ranges = written.groupBy("file").agg(F.min("artist_key").alias("low"), F.max("artist_key").alias("high"))
    bounds = sorted((r.low, r.high) for r in ranges.collect())
    assert len(bounds) > 1 and all(high < low for (_, high), (low, _) in itertools.pairwise(bounds))
    for path in sorted({r.file for r in ranges.collect()}):
        rows = pd.read_parquet(path.removeprefix("file:"))[["artist_key", "rank"]]
        assert rows.equals(rows.sort_values(["artist_key", "rank"], ignore_index=True))


def cached_plans(spark):
    """Spark's cache manager (the JVM's: pyspark has no public view of what is persisted)."""
    return spark._jsparkSession.sharedState().cacheManager()


def test_materialise_outside_a_scope_is_refused(spark) -> None:
    from lastfm_lakehouse import materialised

    with pytest.raises(RuntimeError, match="needs a held_for"):
        materialised.materialise(spark.range(3))
