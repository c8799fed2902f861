"""ALS grid search (lastfm_lakehouse.tuning); disabled unless var als_tuning is true:

dbt build --select mart_als_tuning --vars '{als_tuning: true}'
"""

from pyspark.sql import functions as F

from lastfm_lakehouse.als import AlsParams, training_input
from lastfm_lakehouse.tuning import grid_search


def model(dbt, spark):
    base = AlsParams(
        rank=int(dbt.config.get("als_rank")),
        max_iter=int(dbt.config.get("als_max_iter")),
        reg_param=float(dbt.config.get("als_reg_param")),
        alpha=float(dbt.config.get("als_alpha")),
        seed=int(dbt.config.get("als_seed")),
        blocks=int(dbt.config.get("als_num_blocks")),
    )
    ranks = str(dbt.config.get("als_tuning_ranks"))
    reg_params = str(dbt.config.get("als_tuning_reg_params"))
    alphas = str(dbt.config.get("als_tuning_alphas"))
    results = grid_search(
        dbt.ref("int_plays_holdout_split"),
        base,
        ranks=[int(v) for v in ranks.split(",")],
        reg_params=[float(v) for v in reg_params.split(",")],
        alphas=[float(v) for v in alphas.split(",")],
        k=int(dbt.config.get("evaluation_k")),
        fraction=float(dbt.config.get("holdout_fraction")),
        training_input=training_input(dbt.config.get("als_training_input")),
    )
    return spark.createDataFrame(results).withColumn("built_at", F.current_timestamp())
