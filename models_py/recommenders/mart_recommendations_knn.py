"""Top-N unplayed artists per user by user-based kNN (pruned inverted-index search,
see lastfm_lakehouse.recommenders.knn).

Users without plays get the most-popular artists (recommendation_source = popularity_fallback).
"""

from pyspark.sql import functions as F

from lastfm_lakehouse import progress
from lastfm_lakehouse.recommenders.base import PLAYED
from lastfm_lakehouse.recommenders.enrich import user_recommendations
from lastfm_lakehouse.recommenders.knn import KnnParams, UserKnn
from lastfm_lakehouse.recommenders.popularity import MostPopular
from lastfm_lakehouse.recommenders.topn import lay_out_for_lookups


def model(dbt, spark):
    # dbt hands a Python model only the config keys its file names in literal dbt.config.get("...")
    # calls; a model family's parameters are one mapping var (KnnParams.from_var reads and checks it).
    params = KnnParams.from_var(dbt.config.get("knn"))
    n = int(dbt.config.get("recommendations_n"))
    plays = dbt.ref("fct_plays")
    users = dbt.ref("dim_users")
    knn = UserKnn(params, users)
    progress.step("fit: features and pruned inverted index")
    knn.fit(plays)
    partitions = int(spark.conf.get("spark.sql.shuffle.partitions"))
    listeners = users.where("has_plays").select("user_key").repartition(partitions)
    recommended = knn.recommend(listeners, n).withColumn("recommendation_source", F.lit("knn"))
    popular = MostPopular()
    popular.fit(plays)
    # users without plays have played nothing: no history to look up (a collect_list over every
    # play, 28 s of CPU at full size, measured, to find none)
    silent = users.where("not has_plays").select("user_key", F.lit(None).cast("array<int>").alias(PLAYED))
    fallback = popular.recommend(silent, n).withColumn("recommendation_source", F.lit("popularity_fallback"))
    rows = user_recommendations(
        recommended.unionByName(fallback), users, dbt.ref("dim_artists"), ("recommendation_source",)
    )
    return lay_out_for_lookups(rows, "user_sha1", spark)
