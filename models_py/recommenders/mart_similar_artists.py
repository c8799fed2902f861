"""For every artist with ALS factors, the top-K other artists by cosine similarity of the factors."""

from pyspark.sql import functions as F

from lastfm_lakehouse.topn import Targets, lay_out_for_lookups, spark_top_n


def model(dbt, spark):
    k = int(dbt.config.get("similar_artists_k"))
    factors = dbt.ref("mart_als_artist_factors")
    targets = Targets.from_frame(factors.toPandas(), "artist_key", normalise=True)
    queries = factors.withColumn("self_key", F.array("artist_key"))
    similar = spark_top_n(
        queries,
        "artist_key",
        targets,
        "similar_artist_key",
        k,
        exclude_column="self_key",
        normalise_queries=True,
    )
    names = dbt.ref("dim_artists").select("artist_key", "canonical_name")
    return lay_out_for_lookups(
        (
            similar.withColumnRenamed("score", "cosine_similarity")
            .join(names.withColumnRenamed("canonical_name", "artist_name"), "artist_key")
            .join(
                names.select(
                    F.col("artist_key").alias("similar_artist_key"),
                    F.col("canonical_name").alias("similar_artist_name"),
                ),
                "similar_artist_key",
            )
            .select(
                "artist_key",
                "artist_name",
                "rank",
                "similar_artist_key",
                "similar_artist_name",
                "cosine_similarity",
            )
        ),
        "artist_key",
        spark,
    )
