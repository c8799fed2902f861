"""Top-N unplayed artists per user by user-based kNN (pruned inverted-index search,
see lastfm_lakehouse.recommenders.knn).

Users without plays get the most-popular artists (recommendation_source = popularity_fallback).
"""

from pyspark.sql import functions as F

from lastfm_lakehouse.recommenders.enrich import user_recommendations
from lastfm_lakehouse.recommenders.explained import popularity_for_users, popularity_ranking, user_histories
from lastfm_lakehouse.recommenders.knn import KnnParams, build_features, build_index, spark_knn
from lastfm_lakehouse.recommenders.topn import lay_out_for_lookups


def model(dbt, spark):
    # dbt hands a Python model only the config keys its file names in literal dbt.config.get("...")
    # calls, so they are gathered here; the *Params.from_config methods parse and validate them.
    config = {
        "knn_k": dbt.config.get("knn_k"),
        "knn_age_weight": dbt.config.get("knn_age_weight"),
        "knn_country_weight": dbt.config.get("knn_country_weight"),
        "knn_top_artists": dbt.config.get("knn_top_artists"),
        "knn_candidates": dbt.config.get("knn_candidates"),
        "recommendations_n": dbt.config.get("recommendations_n"),
    }
    params = KnnParams.from_config(config.get)
    n = int(config["recommendations_n"])
    plays = dbt.ref("fct_plays")
    users = dbt.ref("dim_users")
    features = build_features(
        plays.select("user_key", "artist_key", "plays").toPandas(),
        users.select("user_key", "age_scaled", "country").toPandas(),
        params,
    )
    index = build_index(features, params)
    partitions = int(spark.conf.get("spark.sql.shuffle.partitions"))
    listeners = users.where("has_plays").select("user_key").repartition(partitions)
    knn = spark_knn(listeners, features, index, params, n).withColumn("recommendation_source", F.lit("knn"))
    silent = users.where("not has_plays").select("user_key")
    fallback = popularity_for_users(silent, user_histories(plays), popularity_ranking(plays), n).withColumn(
        "recommendation_source", F.lit("popularity_fallback")
    )
    rows = user_recommendations(
        knn.unionByName(fallback), users, dbt.ref("dim_artists"), ("recommendation_source",)
    )
    return lay_out_for_lookups(rows, "user_sha1", spark)
