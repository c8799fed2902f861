"""kNN features, the pruned neighbour search against brute force, and the weighted prediction."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from lastfm_lakehouse.recommenders import knn


@pytest.fixture(scope="module")
def data() -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(1)
    rows = []
    for user in range(1, 301):
        taste = rng.integers(0, 6)
        for artist in rng.choice(40, size=12, replace=False) + taste * 40 + 1:
            rows.append((user, int(artist), int(rng.integers(1, 500))))
    plays = pd.DataFrame(rows, columns=["user_key", "artist_key", "plays"])
    users = pd.DataFrame(
        {
            "user_key": np.arange(1, 301),
            "age_scaled": rng.random(300),
            "country": rng.choice(["Germany", "Poland", None], size=300),
        }
    )
    return plays, users


def test_features_are_unit_length_l1_plays(data) -> None:
    plays, users = data
    features = knn.build_features(plays, users, knn.KnnParams())
    assert np.allclose(np.asarray(features.plays.sum(axis=1)).ravel(), 1.0)
    norms = np.sqrt(np.asarray(features.features.multiply(features.features).sum(axis=1)).ravel())
    assert np.allclose(norms, 1.0, atol=1e-5)
    assert features.features.shape[1] == features.plays.shape[1] + 1 + 2  # plays, age, two countries


def test_unpruned_search_is_exact_and_pruning_trades_recall(data) -> None:
    plays, users = data
    wide = knn.KnnParams(k=10, top_artists=12, candidates=300)  # every artist, every user
    features = knn.build_features(plays, users, wide)
    rows = np.arange(0, 300, 7)
    exact, exact_sims = knn.exact_search(features, rows, 10)
    approx, approx_sims = knn.search(knn.build_index(features, wide), rows, 10)
    assert knn.neighbour_recall(approx, exact) == 1.0
    assert np.allclose(approx_sims, exact_sims, atol=1e-6)  # same order, same cosines
    assert not (approx == rows[:, None]).any()  # never its own neighbour
    narrow = knn.KnnParams(k=10, top_artists=1, candidates=12)
    partial, _ = knn.search(knn.build_index(features, narrow), rows, 10)
    assert 0 < knn.neighbour_recall(partial, exact) < 1.0


def test_users_sharing_no_artist_still_get_neighbours_by_age_and_country() -> None:
    plays = pd.DataFrame({"user_key": [1, 2, 3, 4], "artist_key": [10, 20, 30, 40], "plays": [5, 5, 5, 5]})
    users = pd.DataFrame(
        {
            "user_key": [1, 2, 3, 4],
            "age_scaled": [0.9, 0.8, 0.1, 0.0],
            "country": ["Peru", "Peru", "Chad", None],
        }
    )
    params = knn.KnnParams(k=3, age_weight=1.0, country_weight=1.0)
    features = knn.build_features(plays, users, params)
    index = knn.build_index(features, params)
    found, sims = knn.search(index, np.arange(4), 3)
    exact, exact_sims = knn.exact_search(features, np.arange(4), 3)
    assert knn.neighbour_recall(found, exact) == 1.0
    assert found[0, 0] == 1  # same country, close age
    assert np.allclose(sims, exact_sims, atol=1e-6)


def test_artists_played_zero_times_count_as_played() -> None:
    plays = pd.DataFrame({"user_key": [1, 1, 2, 2], "artist_key": [10, 20, 10, 20], "plays": [5, 0, 1, 9]})
    users = pd.DataFrame({"user_key": [1, 2], "age_scaled": [0.5, 0.5], "country": [None, None]})
    features = knn.build_features(plays, users, knn.KnnParams())
    best, _ = knn.predict(features, np.array([0]), np.array([[1]]), np.array([[1.0]]), n=5)
    assert (best[0] < 0).all()  # user 1 has a row for both artists: nothing to recommend


def test_prediction_is_the_similarity_weighted_mean_of_neighbour_plays(data) -> None:
    plays, users = data
    features = knn.build_features(plays, users, knn.KnnParams())
    query = np.array([0])
    neighbours = np.array([[1, 2]])
    sims = np.array([[0.75, 0.25]])
    best, scores = knn.predict(features, query, neighbours, sims, n=400)
    p = features.plays.toarray()
    expected = (0.75 * p[1] + 0.25 * p[2]) / 1.0
    expected[p[0] > 0] = 0  # already played
    for column, score in zip(best[0][best[0] >= 0], scores[0][best[0] >= 0], strict=True):
        assert score == pytest.approx(expected[column])
    assert set(best[0][best[0] >= 0]) == set(np.flatnonzero(expected > 0))


def test_sorted_codes_are_numpys_unique_with_inverse() -> None:
    keys = np.random.default_rng(3).integers(-5, 10**12, size=5_000)
    keys[::7] = keys[0]  # repeats
    distinct, codes = knn.sorted_codes(keys)
    expected, inverse = np.unique(keys, return_inverse=True)
    assert np.array_equal(distinct, expected) and np.array_equal(codes, inverse)


def test_pruning_keeps_each_users_heaviest_artists_ties_to_the_lower_column() -> None:
    """The compiled selection against a lexsort of every entry by (row, -value, column)."""
    from scipy import sparse

    from lastfm_lakehouse.recommenders import knn_kernel

    rng = np.random.default_rng(5)
    artists = 30
    dense = rng.choice([0.0, 0.1, 0.2, 0.3], size=(200, artists + 3), p=[0.6, 0.2, 0.1, 0.1])  # ties
    dense[:, artists:] = rng.random((200, 3))  # the demographic columns are never pruned in
    x = sparse.csr_matrix(dense)
    x.sort_indices()
    for top in (1, 3, 50):
        kept = knn_kernel.top_entries_per_row(x.indptr, x.indices, x.data, artists, top)
        row_of = np.repeat(np.arange(x.shape[0]), np.diff(x.indptr))
        in_plays = x.indices < artists
        order = np.lexsort((x.indices, -x.data, row_of))
        order = order[in_plays[order]]
        rank = np.arange(len(order)) - np.searchsorted(row_of[order], row_of[order])
        assert np.array_equal(kept, np.sort(order[rank < top])), top


def test_queries_are_ordered_by_their_heaviest_pruned_artist(data) -> None:
    """query_order sorts queries by the artist of each one's largest pruned entry (users without
    pruned artists first, ties in the given order); the search results do not depend on it."""
    plays, users = data
    params = knn.KnnParams(k=10, top_artists=3, candidates=40)
    features = knn.build_features(plays, users, params)
    index = knn.build_index(features, params)
    pruned = index.pruned.toarray()
    expected = np.where(pruned.max(axis=1) > 0, pruned.argmax(axis=1), -1)
    assert np.array_equal(index.heaviest, expected)
    rows = np.random.default_rng(3).permutation(len(features.user_keys))[:120]
    order = knn.query_order(index, rows)
    assert sorted(order.tolist()) == list(range(len(rows)))
    heaviest = expected[rows[order]]
    assert (np.diff(heaviest) >= 0).all() and len(set(heaviest)) > 1
    for artist in set(heaviest):  # stable: the given order within one artist
        assert (np.diff(order[heaviest == artist]) > 0).all()
    found, sims = knn.search(index, rows, params.k)
    again, sims_again = knn.search(index, rows[order], params.k)
    assert np.array_equal(found[order], again) and np.array_equal(sims[order], sims_again)
