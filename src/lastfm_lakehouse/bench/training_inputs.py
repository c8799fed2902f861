"""``make bench``: what ALS should train on, measured on the build's hold-out split.

ALS (the project's parameters) is trained on the training rows of ``eval_plays_holdout_split``
capped at each of several row counts per artist - the seeded hash sample ``fct_plays_balanced``
takes, ``max_rows_per_artist`` = 180, 1,000, 5,000 - and on all of them, and each fit is scored
on the same sampled users with the evaluation's code: NDCG@k, precision@k and catalogue coverage,
beside the most-popular baseline. The default ``als_training_input`` is chosen from this table.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from lastfm_lakehouse.evaluation.holdout import EvaluationSample, Holdout, training_rows
from lastfm_lakehouse.recommenders.als import Als, AlsParams
from lastfm_lakehouse.recommenders.popularity import MostPopular
from lastfm_lakehouse.settings import ARTIST_KEY, USER_KEY

if TYPE_CHECKING:
    from pyspark.sql import DataFrame

CAPS = (180, 1_000, 5_000)


def capped(train: DataFrame, cap: int, seed: int) -> DataFrame:
    """At most ``cap`` rows per artist, chosen as fct_plays_balanced chooses them."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    order = Window.partitionBy(ARTIST_KEY).orderBy(F.xxhash64(F.lit(seed), USER_KEY, ARTIST_KEY), USER_KEY)
    return train.withColumn("sample_rank", F.row_number().over(order)).where(F.col("sample_rank") <= cap)


def run(
    split: DataFrame,
    params: AlsParams,
    k: int,
    sample: EvaluationSample,
    sample_seed: int,
    caps: tuple[int, ...] = CAPS,
    say: Callable[[str], None] = print,
) -> dict[str, Any]:
    """One row per training input (each cap, then all rows) and one for the popularity baseline."""
    holdout = Holdout.prepare(split, k, sample)
    train = training_rows(split, "all").cache()
    total = train.count()
    baseline = MostPopular()
    baseline.fit(train)
    popular = holdout.lists(baseline)
    rows = [_row("most popular (baseline)", None, total, holdout.score("popularity", popular, "", 0.0))]
    for cap in (*caps, None):
        name = f"fct_plays_balanced, {cap:,} rows per artist" if cap else "fct_plays (all rows)"
        rows_in = capped(train, cap, sample_seed).cache() if cap else train
        count = rows_in.count()
        say(f"ALS training input: {name} ({count:,} of {total:,} training rows)")
        started = time.perf_counter()
        model = Als(params)
        model.fit(rows_in)
        recs = holdout.lists(model)
        seconds = time.perf_counter() - started
        scores = holdout.score("als", recs, model.describe(), seconds, popular)
        rows.append(_row(name, cap, count, scores, seconds))
        if cap:
            rows_in.unpersist()
    train.unpersist()
    baseline = rows[0]["ndcg"]
    for row in rows:
        row["ndcg_over_popularity"] = round(row["ndcg"] / baseline, 3) if baseline else None
    return {
        "k": k,
        "users_evaluated": len(holdout.held_out),
        "training_rows": total,
        "parameters": params.as_text(),
        "inputs": rows,
    }


def _row(name: str, cap: int | None, count: int, scores: list[Any], seconds: float = 0.0) -> dict[str, Any]:
    values = {row.metric: row.value for row in scores}
    return {
        "input": name,
        "max_rows_per_artist": cap,
        "rows": count,
        "ndcg": round(values["ndcg"], 4),
        "precision": round(values["precision"], 4),
        "coverage": round(values["coverage"], 4),
        "seconds": round(seconds, 1),
    }
