"""Similar artists by co-listening: MinHash LSH (pyspark.ml MinHashLSH) on each artist's set of listeners.

Jaccard distance = 1 - (listeners of both) / (listeners of either), exact for the
pairs LSH proposes; pairs LSH misses are the price of not comparing all pairs of artists.
"""

from pyspark.ml.feature import MinHashLSH
from pyspark.ml.linalg import SparseVector, VectorUDT
from pyspark.sql import Window
from pyspark.sql import functions as F

from lastfm_lakehouse.enrich import artist_pairs
from lastfm_lakehouse.topn import lay_out_for_lookups


def model(dbt, spark):
    k = int(dbt.config.get("similar_artists_k"))
    tables = int(dbt.config.get("lsh_hash_tables"))
    max_distance = float(dbt.config.get("lsh_max_distance"))
    min_listeners = int(dbt.config.get("lsh_min_listeners"))
    plays = dbt.ref("fct_plays")
    size = plays.agg(F.max("user_key")).first()[0] + 1

    @F.udf(VectorUDT())
    def listener_set(keys):
        keys = sorted(set(keys))
        return SparseVector(size, keys, [1.0] * len(keys))

    artists = (
        plays.groupBy("artist_key")
        .agg(F.collect_list("user_key").alias("keys"))
        .where(F.size("keys") >= min_listeners)
        .select("artist_key", listener_set("keys").alias("listeners"))
    )
    lsh = MinHashLSH(inputCol="listeners", outputCol="hashes", numHashTables=tables, seed=42).fit(artists)
    joined = lsh.approxSimilarityJoin(artists, artists, max_distance, distCol="jaccard_distance")
    # Over Spark Connect (pyspark 4.2) the distance column is named "distCol" whatever distCol says.
    distance = "jaccard_distance" if "jaccard_distance" in joined.columns else "distCol"
    pairs = joined.select(
        F.col("datasetA.artist_key").alias("artist_key"),
        F.col("datasetB.artist_key").alias("similar_artist_key"),
        F.col(distance).alias("jaccard_distance"),
    )
    ranked = pairs.where("artist_key != similar_artist_key").withColumn(
        "rank",
        F.row_number().over(
            Window.partitionBy("artist_key").orderBy(
                F.col("jaccard_distance").asc(), F.col("similar_artist_key").asc()
            )
        ),
    )
    top = ranked.where(F.col("rank") <= k).withColumn("rank", F.col("rank").cast("int"))
    return lay_out_for_lookups(
        artist_pairs(top, dbt.ref("dim_artists"), "jaccard_distance"), "artist_key", spark
    )
