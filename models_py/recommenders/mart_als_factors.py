"""ALS factors of every user and artist, trained with Spark ALS (implicit) on fct_plays_balanced."""

from pyspark.sql import functions as F

from lastfm_lakehouse.als import AlsParams, train


def model(dbt, spark):
    params = AlsParams(
        rank=int(dbt.config.get("als_rank")),
        max_iter=int(dbt.config.get("als_max_iter")),
        reg_param=float(dbt.config.get("als_reg_param")),
        alpha=float(dbt.config.get("als_alpha")),
        seed=int(dbt.config.get("als_seed")),
        blocks=int(dbt.config.get("als_num_blocks")),
    )
    users, artists = train(dbt.ref("fct_plays_balanced"), params)
    users = users.select(F.lit("user").alias("entity_type"), F.col("user_key").alias("entity_key"), "factors")
    artists = artists.select(
        F.lit("artist").alias("entity_type"), F.col("artist_key").alias("entity_key"), "factors"
    )
    return users.unionByName(artists).select(
        "entity_type",
        "entity_key",
        "factors",
        F.lit(params.as_text()).alias("parameters"),
        F.current_timestamp().alias("trained_at"),
    )
