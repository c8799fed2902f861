"""ALS grid search (lastfm_lakehouse.evaluation.tuning); disabled unless var als_tuning is true:

dbt build --select mart_als_tuning --vars '{als_tuning: true}'
"""

from pyspark.sql import functions as F

from lastfm_lakehouse.evaluation.tuning import grid_search
from lastfm_lakehouse.recommenders.als import AlsParams, parse_training_input


def model(dbt, spark):
    # dbt hands a Python model only the config keys its file names in literal dbt.config.get("...")
    # calls, so they are gathered here; the ALS parameters are one mapping var (AlsParams.from_var).
    config = {
        "als": dbt.config.get("als"),
        "als_training_input": dbt.config.get("als_training_input"),
        "als_tuning_ranks": dbt.config.get("als_tuning_ranks"),
        "als_tuning_reg_params": dbt.config.get("als_tuning_reg_params"),
        "als_tuning_alphas": dbt.config.get("als_tuning_alphas"),
        "evaluation_k": dbt.config.get("evaluation_k"),
        "holdout_fraction": dbt.config.get("holdout_fraction"),
    }
    base = AlsParams.from_var(config["als"])
    ranks = str(config["als_tuning_ranks"])
    reg_params = str(config["als_tuning_reg_params"])
    alphas = str(config["als_tuning_alphas"])
    results = grid_search(
        dbt.ref("eval_plays_holdout_split"),
        base,
        ranks=[int(v) for v in ranks.split(",")],
        reg_params=[float(v) for v in reg_params.split(",")],
        alphas=[float(v) for v in alphas.split(",")],
        k=int(config["evaluation_k"]),
        fraction=float(config["holdout_fraction"]),
        training_input=parse_training_input(config["als_training_input"]),
    )
    return spark.createDataFrame(results).withColumn("built_at", F.current_timestamp())
