"""ALS, kNN and the most-popular baseline scored on the per-user hold-out (int_plays_holdout_split).

``als`` trains on the input the production ALS uses (var als_training_input); the other input is
scored beside it (``als_balanced`` or ``als_all``) so every build shows the trade-off.

See lastfm_lakehouse.evaluation for the exact metric definitions; the dbt test
assert_recommenders_beat_popularity fails the build when ALS or kNN NDCG@k is not above the baseline's.
"""

from pyspark.sql import functions as F

from lastfm_lakehouse.als import AlsParams, training_input
from lastfm_lakehouse.holdout import EvaluationSample, evaluate
from lastfm_lakehouse.knn import KnnParams


def model(dbt, spark):
    als_params = AlsParams(
        rank=int(dbt.config.get("als_rank")),
        max_iter=int(dbt.config.get("als_max_iter")),
        reg_param=float(dbt.config.get("als_reg_param")),
        alpha=float(dbt.config.get("als_alpha")),
        seed=int(dbt.config.get("als_seed")),
        blocks=int(dbt.config.get("als_num_blocks")),
    )
    knn_params = KnnParams(
        k=int(dbt.config.get("knn_k")),
        age_weight=float(dbt.config.get("knn_age_weight")),
        country_weight=float(dbt.config.get("knn_country_weight")),
        top_artists=int(dbt.config.get("knn_top_artists")),
        candidates=int(dbt.config.get("knn_candidates")),
    )
    k = int(dbt.config.get("evaluation_k"))
    sample = EvaluationSample(
        int(dbt.config.get("evaluation_max_users")), int(dbt.config.get("holdout_seed"))
    )
    results = evaluate(
        dbt.ref("int_plays_holdout_split"),
        dbt.ref("dim_users"),
        als_params,
        knn_params,
        k,
        sample,
        training_input(dbt.config.get("als_training_input")),
    )
    frame = spark.createDataFrame(results)
    return frame.select(
        "model",
        "metric",
        F.col("k").cast("int").alias("k"),
        F.col("value").cast("double").alias("value"),
        F.col("users_evaluated").cast("int").alias("users_evaluated"),
        "parameters",
        F.col("seconds").cast("double").alias("seconds"),
        F.current_timestamp().alias("built_at"),
    )
