"""MinHash LSH similar artists (recommenders.lsh): parameters, exact distances, exclusions."""

from __future__ import annotations

import pandas as pd
import pytest

from lastfm_lakehouse.recommenders.lsh import LshParams, similar_artists

LISTENERS = {
    1: {1, 2, 3},
    2: {1, 2, 3},  # the same listeners as artist 1: distance 0
    3: {1, 2},  # 1 - 2/3 from artists 1 and 2
    4: {7},  # one listener: left out (min_listeners 2)
    5: {8, 9},  # nobody in common with anyone: distance 1, beyond max_distance
}


def test_params_come_from_config_and_bad_values_name_the_var() -> None:
    config = {"lsh_hash_tables": "3", "lsh_max_distance": "0.5", "lsh_min_listeners": "4", "lsh_seed": "9"}
    assert LshParams.from_config(config.get) == LshParams(3, 0.5, 4, 9)
    with pytest.raises(ValueError, match="lsh_hash_tables"):
        LshParams(hash_tables=0)
    with pytest.raises(ValueError, match="lsh_max_distance"):
        LshParams(max_distance=1.5)
    with pytest.raises(ValueError, match="lsh_min_listeners"):
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
