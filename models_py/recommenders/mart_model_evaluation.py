"""ALS, kNN and the most-popular baseline scored on the per-user hold-out (eval_plays_holdout_split).

``als`` is the served ALS (mart_als_factors, trained on the split's training rows of the input var
als_training_input names), scored without training it again; the other input is trained here and
scored beside it (``als_balanced`` or ``als_all``, ``als_comparison_max_iter`` iterations) so every
build shows the trade-off.

See lastfm_lakehouse.recommenders.metrics for the exact metric definitions; the dbt test
assert_recommenders_beat_popularity fails the build when ALS or kNN NDCG@k is not above the baseline's.
"""

from pyspark.sql import functions as F

from lastfm_lakehouse import progress
from lastfm_lakehouse.evaluation.holdout import EvaluationSample, evaluate, training_rows
from lastfm_lakehouse.recommenders.als import TRAINING_INPUTS, Als, AlsParams, parse_training_input
from lastfm_lakehouse.recommenders.knn import KnnParams, UserKnn
from lastfm_lakehouse.recommenders.popularity import MostPopular


def model(dbt, spark):
    # dbt hands a Python model only the config keys its file names in literal dbt.config.get("...")
    # calls, so they are gathered here; a model family's parameters are one mapping var each
    # (AlsParams / KnnParams.from_var read and check them).
    config = {
        "als": dbt.config.get("als"),
        "als_training_input": dbt.config.get("als_training_input"),
        "als_comparison_max_iter": dbt.config.get("als_comparison_max_iter"),
        "knn": dbt.config.get("knn"),
        "evaluation_k": dbt.config.get("evaluation_k"),
        "evaluation_max_users": dbt.config.get("evaluation_max_users"),
        "holdout_seed": dbt.config.get("holdout_seed"),
    }
    als_params = AlsParams.from_var(config["als"])
    knn_params = KnnParams.from_var(config["knn"])
    production = parse_training_input(config["als_training_input"])
    other = next(name for name in TRAINING_INPUTS if name != production)
    # one line per model: the baseline first (its lists stand in for users a model has none for)
    split = dbt.ref("eval_plays_holdout_split")
    recommenders = [
        MostPopular(),
        # the served ALS, scored as it is (it never trained on a held-out row): no second fit
        Als.from_factors(
            als_params,
            dbt.ref("mart_als_factors"),
            training_rows(split, production),
            name="als",
            training_input=production,
        ),
        # the other input, trained here: fewer iterations by default (var als_comparison_max_iter)
        Als(
            als_params.with_var("max_iter", "als_comparison_max_iter", config["als_comparison_max_iter"]),
            name=f"als_{other}",
            training_input=other,
        ),
        UserKnn(knn_params, dbt.ref("dim_users")),
    ]
    sample = EvaluationSample(int(config["evaluation_max_users"]), int(config["holdout_seed"]))
    results = evaluate(split, recommenders, int(config["evaluation_k"]), sample)
    progress.step("write the evaluation")
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
