"""Blocked top-N: order, exclusions, short catalogues."""

from __future__ import annotations

import numpy as np
import pandas as pd

from lastfm_lakehouse import topn


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
