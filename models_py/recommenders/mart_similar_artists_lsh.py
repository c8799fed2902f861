"""Similar artists by co-listening: MinHash LSH on each artist's set of listeners
(lastfm_lakehouse.recommenders.lsh).
"""

from lastfm_lakehouse import progress
from lastfm_lakehouse.recommenders.enrich import artist_pairs
from lastfm_lakehouse.recommenders.lsh import LshParams, similar_artists
from lastfm_lakehouse.recommenders.topn import lay_out_for_lookups


def model(dbt, spark):
    # dbt hands a Python model only the config keys its file names in literal dbt.config.get("...")
    # calls; a model family's parameters are one mapping var (LshParams.from_var reads and checks it).
    params = LshParams.from_var(dbt.config.get("lsh"))
    k = int(dbt.config.get("similar_artists_k"))
    progress.step("MinHash LSH: listener sets, candidate pairs and Jaccard distances")
    top = similar_artists(dbt.ref("fct_plays"), params, k)
    return lay_out_for_lookups(
        artist_pairs(top, dbt.ref("dim_artists"), "jaccard_distance"), "artist_key", spark
    )
