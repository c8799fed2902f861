"""For every artist with ALS factors, the top-K other artists by cosine similarity of the factors."""

from lastfm_lakehouse import progress
from lastfm_lakehouse.recommenders.enrich import artist_pairs
from lastfm_lakehouse.recommenders.topn import Targets, lay_out_for_lookups, similar_by_cosine


def model(dbt, spark):
    k = int(dbt.config.get("similar_artists_k"))
    factors = dbt.ref("mart_als_artist_factors")
    progress.step("collect the artist factors")
    targets = Targets.from_frame(factors.toPandas(), "artist_key", normalise=True)
    similar = similar_by_cosine(factors, "artist_key", targets, "similar_artist_key", k)
    pairs = similar.withColumnRenamed("score", "cosine_similarity")
    return lay_out_for_lookups(
        artist_pairs(pairs, dbt.ref("dim_artists"), "cosine_similarity"), "artist_key", spark
    )
