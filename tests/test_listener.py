"""The new-listener fold-in solves the same equation as Spark ALS's own user step."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from lastfm_lakehouse.recommenders import als, listener


def test_parse_taste() -> None:
    assert listener.parse_taste("muse=3") == listener.Taste("muse", 3.0)
    assert listener.parse_taste("guns n' roses") == listener.Taste("guns n' roses", 1.0)
    assert listener.parse_taste("a=b") == listener.Taste("a=b", 1.0)
    with pytest.raises(ValueError, match="must be > 0"):
        listener.parse_taste("muse=0")


def test_fold_in_reproduces_spark_user_factors(spark) -> None:
    rng = np.random.default_rng(5)
    rows = [
        (u, int(a), float(rng.random())) for u in range(60) for a in rng.choice(30, size=8, replace=False)
    ]
    ratings = pd.DataFrame(rows, columns=["user_key", "artist_key", "rating"])
    params = als.AlsParams(rank=4, max_iter=15, reg_param=0.1, alpha=10.0, seed=1)
    users, artists = als.train(spark.createDataFrame(ratings), params)
    user_f = users.toPandas().set_index("user_key")["factors"]
    artist_f = artists.toPandas().sort_values("artist_key")
    keys = artist_f["artist_key"].to_numpy()
    y = np.stack(artist_f["factors"].to_numpy())
    for user in (0, 7, 33):
        mine = ratings[ratings.user_key == user]
        x = listener.fold_in(y, np.searchsorted(keys, mine.artist_key), mine.rating.to_numpy(), 10.0, 0.1)
        spark_x = np.asarray(user_f[user])
        cosine = x @ spark_x / np.linalg.norm(x) / np.linalg.norm(spark_x)
        assert cosine > 0.999, (user, cosine)


def test_recommend_names_artists_and_refuses_unknown_ones() -> None:
    factors = pd.DataFrame(
        {"artist_key": [1, 2, 3, 4], "factors": [[1.0, 0.0], [0.9, 0.1], [0.0, 1.0], [0.1, 0.9]]}
    )
    artists = pd.DataFrame(
        {"artist_key": [1, 2, 3, 4], "canonical_name": ["a", "b", "c", "d"], "listeners": [5, 5, 5, 5]}
    )
    spellings = pd.DataFrame({"artist_key": [1, 2, 3, 4, 1], "artist_name": ["a", "b", "c", "d", "A."]})
    result = listener.recommend(
        [listener.Taste("A.", 1.0)],
        factors,
        spellings,
        artists,
        {"rank": "2", "max_iter": "5", "reg_param": "0.01", "alpha": "10.0", "seed": "1"},
        n=2,
    )
    assert result.artist_name.tolist()[0] == "b" and (result.because == "a").all()
    assert 1 not in result.artist_key.tolist()
    with pytest.raises(listener.UnknownArtistError, match="did you mean 'a'"):
        listener.recommend(
            [listener.Taste("aa", 1.0)], factors, spellings, artists, {"alpha": "1", "reg_param": "1"}, n=2
        )
