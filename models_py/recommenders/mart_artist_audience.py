"""For every artist with ALS factors, the users most likely to play it who have not yet."""

from pyspark.sql import functions as F

from lastfm_lakehouse import progress
from lastfm_lakehouse.recommenders.topn import Targets, lay_out_for_lookups, spark_top_n


def model(dbt, spark):
    n = int(dbt.config.get("audience_n"))
    listeners = (
        dbt.ref("fct_plays").groupBy("artist_key").agg(F.collect_list("user_key").alias("listener_keys"))
    )
    artist_factors = dbt.ref("mart_als_artist_factors").join(listeners, "artist_key", "left")
    progress.step("collect the user factors")
    users = Targets.from_frame(dbt.ref("mart_als_user_factors").toPandas(), "user_key")
    audience = spark_top_n(artist_factors, "artist_key", users, "user_key", n, exclude_column="listener_keys")
    return lay_out_for_lookups(
        (
            audience.join(dbt.ref("dim_users").select("user_key", "user_sha1"), "user_key")
            .join(
                dbt.ref("dim_artists").select("artist_key", F.col("canonical_name").alias("artist_name")),
                "artist_key",
            )
            .select("artist_key", "artist_name", "rank", "user_key", "user_sha1", "score")
        ),
        "artist_key",
        spark,
    )
