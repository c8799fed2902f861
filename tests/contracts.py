"""The contract every top-N mart meets, written once and applied to each (see test_build_generated)."""

from __future__ import annotations

import pandas as pd


def assert_top_n_contract(
    mart: pd.DataFrame,
    query: str,
    item: str,
    n: int,
    score: str = "score",
    excluded: set[tuple[int, int]] | None = None,
    higher_is_better: bool = True,
) -> None:
    assert not mart.empty
    # one row per (query, rank), ranks 1..m without gaps, m <= n
    assert not mart.duplicated([query, "rank"]).any()
    for key, group in mart.groupby(query):
        ranks = sorted(group["rank"])
        assert ranks == list(range(1, len(ranks) + 1)) and len(ranks) <= n, key
        ordered = group.sort_values("rank")[score].to_numpy()
        steps = ordered[1:] - ordered[:-1]
        assert (steps <= 1e-12).all() if higher_is_better else (steps >= -1e-12).all(), key
    assert not mart.duplicated([query, item]).any()
    if excluded is not None:
        pairs = set(zip(mart[query].astype(int), mart[item].astype(int), strict=True))
        assert not pairs & excluded, sorted(pairs & excluded)[:5]
