"""Top-N unplayed artists per user from the ALS factors, with the played artist that explains each.

Users without ALS factors (only possible with als_training_input = balanced: every one of their
artists was sampled out of fct_plays_balanced) get the most-popular baseline instead, flagged by
recommendation_source.
"""

from pyspark.sql import functions as F

from lastfm_lakehouse import progress
from lastfm_lakehouse.recommenders.base import user_histories
from lastfm_lakehouse.recommenders.enrich import user_recommendations
from lastfm_lakehouse.recommenders.explained import recommend_with_reasons
from lastfm_lakehouse.recommenders.popularity import MostPopular
from lastfm_lakehouse.recommenders.topn import Targets, lay_out_for_lookups


def model(dbt, spark):
    n = int(dbt.config.get("recommendations_n"))
    plays = dbt.ref("fct_plays")
    users = dbt.ref("dim_users").where("has_plays")
    artists = dbt.ref("dim_artists")
    user_factors = dbt.ref("mart_als_user_factors")
    progress.step("collect the artist factors")
    artist_targets = Targets.from_frame(dbt.ref("mart_als_artist_factors").toPandas(), "artist_key")
    histories = user_histories(plays)

    als = recommend_with_reasons(user_factors, histories, artist_targets, n).withColumn(
        "recommendation_source", F.lit("als")
    )
    cold = users.join(user_factors, "user_key", "left_anti").join(histories, "user_key", "left")
    popular = MostPopular()
    popular.fit(plays)
    fallback = popular.recommend(cold, n).select(
        "*",
        F.lit(None).cast("int").alias("because_artist_key"),
        F.lit("popularity_fallback").alias("recommendation_source"),
    )
    recommendations = als.unionByName(fallback)
    because = artists.select(
        F.col("artist_key").alias("because_artist_key"), F.col("canonical_name").alias("because_artist_name")
    )
    extra = ("because_artist_key", "because_artist_name", "recommendation_source")
    rows = user_recommendations(
        recommendations.join(because, "because_artist_key", "left"), users, artists, extra
    )
    return lay_out_for_lookups(rows, "user_sha1", spark)
