"""MinHash LSH similar artists (recommenders.lsh): parameters, exact distances, exclusions."""

from __future__ import annotations

import pandas as pd
import pytest

from lastfm_lakehouse.recommenders.lsh import LshParams, similar_artists, similar_pairs

LISTENERS = {
    1: {1, 2, 3},
    2: {1, 2, 3},  # the same listeners as artist 1: distance 0
    3: {1, 2},  # 1 - 2/3 from artists 1 and 2
    4: {7},  # one listener: left out (min_listeners 2)
    5: {8, 9},  # nobody in common with anyone: distance 1, beyond max_distance
}


def test_params_come_from_the_var_and_bad_values_name_it() -> None:
    given = {"hash_tables": "3", "max_distance": "0.5", "min_listeners": "4", "seed": "9"}
    assert LshParams.from_var(given) == LshParams(3, 0.5, 4, 9)
    with pytest.raises(ValueError, match="var lsh: hash_tables"):
        LshParams.from_var({"hash_tables": 0})
    with pytest.raises(ValueError, match="max_distance"):
        LshParams(max_distance=1.5)
    with pytest.raises(ValueError, match="min_listeners"):
        LshParams(min_listeners=0)


def test_similar_artists_have_exact_jaccard_distances_nearest_first(spark) -> None:
    rows = [(user, artist) for artist, users in LISTENERS.items() for user in sorted(users)]
    plays = spark.createDataFrame(pd.DataFrame(rows, columns=["user_key", "artist_key"]))
    found = similar_artists(plays, LshParams(hash_tables=5, seed=1), k=20).toPandas()
    assert not found.empty
    for artist, similar, distance in zip(
        found.artist_key, found.similar_artist_key, found.jaccard_distance, strict=True
    ):
        a, b = LISTENERS[artist], LISTENERS[similar]
        assert distance == pytest.approx(1 - len(a & b) / len(a | b))
    assert (found.artist_key != found.similar_artist_key).all()
    assert not ({4, 5} & (set(found.artist_key) | set(found.similar_artist_key)))
    best = found[(found.artist_key == 1) & (found["rank"] == 1)]
    assert best.similar_artist_key.tolist() == [2] and best.jaccard_distance.tolist() == [0.0]
    for _, group in found.groupby("artist_key"):
        assert group.sort_values("rank").jaccard_distance.is_monotonic_increasing


def test_pairs_are_pysparks_approx_similarity_join_without_self_pairs(spark) -> None:
    """The key-only join gives exactly what MinHashLSHModel.approxSimilarityJoin gives (same
    candidates, same distances to the bit), on listener sets of every size from 1 to 60 with
    overlaps and repeated plays rows; only an artist's pair with itself is left out."""
    import numpy as np
    from pyspark.ml.feature import MinHashLSH
    from pyspark.ml.linalg import SparseVector
    from pyspark.sql import functions as F

    rng = np.random.default_rng(5)
    sets = {
        artist: set(rng.choice(80, size=rng.integers(1, 60), replace=False).tolist()) for artist in range(150)
    }
    rows = [(user, artist) for artist, users in sets.items() for user in users]
    rows += rows[:40]  # a repeated (user, artist) row counts once in the set
    plays = spark.createDataFrame(pd.DataFrame(rows, columns=["user_key", "artist_key"]))
    params = LshParams(hash_tables=3, max_distance=0.8, min_listeners=2, seed=11)

    found = similar_pairs(plays, params).toPandas()

    size = max(user for user, _ in rows) + 1
    kept = [(a, SparseVector(size, sorted(s), [1.0] * len(s))) for a, s in sets.items() if len(s) >= 2]
    vectors = spark.createDataFrame(kept, ["artist_key", "listeners"])
    model = MinHashLSH(inputCol="listeners", outputCol="hashes", numHashTables=3, seed=11).fit(vectors)
    expected = (
        model.approxSimilarityJoin(vectors, vectors, 0.8, distCol="d")
        .select(
            F.col("datasetA.artist_key").alias("artist_key"),
            F.col("datasetB.artist_key").alias("similar_artist_key"),
            F.col("d").alias("jaccard_distance"),
        )
        .where("artist_key != similar_artist_key")
        .toPandas()
    )
    assert len(expected) > 100  # the comparison covers many pairs
    columns = ["artist_key", "similar_artist_key", "jaccard_distance"]
    got = found.sort_values(columns).reset_index(drop=True)[columns]
    want = expected.sort_values(columns).reset_index(drop=True)[columns]
    pd.testing.assert_frame_equal(got, want, check_dtype=False, check_exact=True)


def test_listener_sets_drop_repeats_and_artists_below_min_listeners() -> None:
    import numpy as np

    from lastfm_lakehouse.recommenders.lsh import ListenerSets

    sets = ListenerSets.of(np.array([5, 3, 5, 5, 9, 3, 3]), np.array([2, 7, 1, 2, 4, 7, 0]), min_listeners=2)
    assert sets.keys.tolist() == [3, 5]  # 9 has one listener
    assert sets.indptr.tolist() == [0, 2, 4] and sets.indices.tolist() == [0, 7, 1, 2]
    empty = ListenerSets.of(np.array([], dtype=np.int64), np.array([], dtype=np.int64), min_listeners=2)
    assert empty.keys.tolist() == [] and empty.indptr.tolist() == [0]
    with pytest.raises(ValueError, match="user_key must hold non-null integers"):
        ListenerSets.of(np.array([1]), np.array([np.nan]))
    with pytest.raises(ValueError, match="artist_key must hold non-null integers"):
        ListenerSets.of(np.array([-1]), np.array([1]))


def test_candidate_pairs_share_a_bucket_in_some_table_once_each() -> None:
    import numpy as np

    from lastfm_lakehouse.recommenders.lsh import candidate_pairs

    hashes = np.array([[1, 2, 1, 3, 2, 1], [5, 5, 6, 7, 8, 9]])
    a, b = candidate_pairs(hashes)
    assert list(zip(a.tolist(), b.tolist(), strict=True)) == [(0, 1), (0, 2), (0, 5), (1, 4), (2, 5)]
    assert [len(side) for side in candidate_pairs(np.zeros((3, 0), dtype=np.int64))] == [0, 0]
