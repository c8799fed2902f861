"""A small ALS grid search (rank x reg_param x alpha) on a train/validation split of the training rows.

The validation rows come from the *training* side of eval_plays_holdout_split (never its held-out
rows, which stay untouched for mart_model_evaluation): each training-sample user with at least
``min_artists`` rows lends ``fraction`` of them, chosen by a seeded hash. The best row's parameters
(highest NDCG@k) can be copied into the als_* vars.
"""

from __future__ import annotations

import itertools
import time
from dataclasses import replace
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from lastfm_lakehouse.evaluation.holdout import training_rows
from lastfm_lakehouse.recommenders import als, metrics
from lastfm_lakehouse.recommenders.base import user_histories
from lastfm_lakehouse.settings import ARTIST_KEY, USER_KEY

if TYPE_CHECKING:
    from pyspark.sql import DataFrame


def validation_split(
    split: DataFrame, fraction: float, seed: int, min_artists: int = 5, training_input: str = "all"
) -> DataFrame:
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    window = Window.partitionBy(USER_KEY)
    ranked = (
        training_rows(split, training_input)
        .withColumn("n", F.count("*").over(window))
        .withColumn("r", F.row_number().over(window.orderBy(F.xxhash64(F.lit(seed), USER_KEY, ARTIST_KEY))))
    )
    held = (F.col("n") >= min_artists) & (F.col("r") <= F.greatest(F.lit(1), F.round(F.col("n") * fraction)))
    return ranked.withColumn("is_validation", held).drop("n", "r")


def grid_search(
    split: DataFrame,
    base: als.AlsParams,
    ranks: list[int],
    reg_params: list[float],
    alphas: list[float],
    k: int,
    fraction: float,
    training_input: str = "all",
) -> pd.DataFrame:
    data = validation_split(split, fraction, seed=base.seed + 1, training_input=training_input).cache()
    fit = data.where("not is_validation")
    validation = data.where("is_validation").select(USER_KEY, ARTIST_KEY).toPandas()
    if validation.empty:
        raise ValueError("no validation rows: too few users with enough training rows")
    held = {int(u): set(g[ARTIST_KEY]) for u, g in validation.groupby(USER_KEY)}
    queries = user_histories(fit)
    rows = []
    for rank, reg_param, alpha in itertools.product(ranks, reg_params, alphas):
        params = replace(base, rank=int(rank), reg_param=float(reg_param), alpha=float(alpha))
        started = time.perf_counter()
        model = als.Als(params)
        model.fit(fit)
        recs = model.recommend(queries, k).toPandas()
        lists = {int(u): g.sort_values("rank")[ARTIST_KEY].tolist() for u, g in recs.groupby(USER_KEY)}
        scores = metrics.ranking_scores(lists, held, k)
        rows.append(
            {
                "rank": params.rank,
                "reg_param": params.reg_param,
                "alpha": params.alpha,
                "max_iter": params.max_iter,
                "k": k,
                **scores.as_dict(),
                "users_evaluated": scores.users,
                "seconds": time.perf_counter() - started,
            }
        )
    data.unpersist()
    frame = pd.DataFrame(rows)
    frame["is_best"] = np.arange(len(frame)) == int(frame["ndcg"].to_numpy().argmax())
    return frame
