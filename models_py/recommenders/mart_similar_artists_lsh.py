"""Similar artists by co-listening: MinHash LSH on each artist's set of listeners
(lastfm_lakehouse.recommenders.lsh).
"""

from lastfm_lakehouse import progress
from lastfm_lakehouse.recommenders.enrich import artist_pairs
from lastfm_lakehouse.recommenders.lsh import LshParams, similar_artists
from lastfm_lakehouse.recommenders.topn import lay_out_for_lookups


def model(dbt, spark):
    # dbt hands a Python model only the config keys its file names in literal dbt.config.get("...")
    # calls, so they are gathered here (the same lines in every model that needs a key: a shared
    # helper would hide the keys from dbt); LshParams.from_config parses and validates them.
    config = {
        "similar_artists_k": dbt.config.get("similar_artists_k"),
        "lsh_hash_tables": dbt.config.get("lsh_hash_tables"),
        "lsh_max_distance": dbt.config.get("lsh_max_distance"),
        "lsh_min_listeners": dbt.config.get("lsh_min_listeners"),
        "lsh_seed": dbt.config.get("lsh_seed"),
    }
    params = LshParams.from_config(config.get)
    progress.step("MinHash LSH: listener sets, candidate pairs and Jaccard distances")
    top = similar_artists(dbt.ref("fct_plays"), params, int(config["similar_artists_k"]))
    return lay_out_for_lookups(
        artist_pairs(top, dbt.ref("dim_artists"), "jaccard_distance"), "artist_key", spark
    )
