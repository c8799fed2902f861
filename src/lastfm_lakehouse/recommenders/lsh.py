"""Similar artists by co-listening: MinHash LSH (pyspark.ml ``MinHashLSH``) on each artist's set of
listeners.

Jaccard distance = 1 - |listeners of both| / |listeners of either|, exact for the pairs LSH
proposes (pyspark computes it on the sets); pairs LSH misses are the price of not comparing all
pairs of artists. Artists with fewer than ``min_listeners`` listeners are left out (a single
listener makes every artist they played look identical).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

from lastfm_lakehouse.recommenders.params import ModelParams
from lastfm_lakehouse.settings import ARTIST_KEY, USER_KEY

if TYPE_CHECKING:
    from pyspark.sql import DataFrame


@dataclass(frozen=True)
class LshParams(ModelParams):
    # field -> dbt var (ModelParams.from_config); the same shape in every *Params class
    CONFIG_KEYS: ClassVar[dict[str, str]] = {
        "hash_tables": "lsh_hash_tables",
        "max_distance": "lsh_max_distance",
        "min_listeners": "lsh_min_listeners",
        "seed": "lsh_seed",
    }

    hash_tables: int = 5
    max_distance: float = 0.95
    min_listeners: int = 2
    seed: int = 42

    def __post_init__(self) -> None:
        if self.hash_tables < 1:
            raise ValueError(f"lsh_hash_tables must be >= 1, got {self.hash_tables}")
        if not 0 <= self.max_distance <= 1:
            raise ValueError(f"lsh_max_distance must be in [0, 1], got {self.max_distance}")
        if self.min_listeners < 1:
            raise ValueError(f"lsh_min_listeners must be >= 1, got {self.min_listeners}")


def similar_artists(plays: DataFrame, params: LshParams, k: int) -> DataFrame:
    """``(artist_key, rank, similar_artist_key, jaccard_distance)``: per artist, the ``k`` proposed
    artists nearest by Jaccard distance of their listener sets (ties by key), itself excluded."""
    from pyspark.ml.feature import MinHashLSH
    from pyspark.ml.linalg import SparseVector, VectorUDT
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    size = (plays.agg(F.max(USER_KEY)).first()[0] or 0) + 1

    @F.udf(VectorUDT())
    def listener_set(keys: list[int]) -> SparseVector:
        ordered = sorted(set(keys))
        return SparseVector(size, ordered, [1.0] * len(ordered))

    artists = (
        plays.groupBy(ARTIST_KEY)
        .agg(F.collect_list(USER_KEY).alias("keys"))
        .where(F.size("keys") >= params.min_listeners)
        .select(ARTIST_KEY, listener_set("keys").alias("listeners"))
    )
    lsh = MinHashLSH(
        inputCol="listeners", outputCol="hashes", numHashTables=params.hash_tables, seed=params.seed
    ).fit(artists)
    joined = lsh.approxSimilarityJoin(artists, artists, params.max_distance, distCol="jaccard_distance")
    # Over Spark Connect (pyspark 4.2) the distance column is named "distCol" whatever distCol says.
    distance = "jaccard_distance" if "jaccard_distance" in joined.columns else "distCol"
    pairs = joined.select(
        F.col(f"datasetA.{ARTIST_KEY}").alias(ARTIST_KEY),
        F.col(f"datasetB.{ARTIST_KEY}").alias("similar_artist_key"),
        F.col(distance).alias("jaccard_distance"),
    )
    order = Window.partitionBy(ARTIST_KEY).orderBy(
        F.col("jaccard_distance").asc(), F.col("similar_artist_key").asc()
    )
    ranked = pairs.where(F.col(ARTIST_KEY) != F.col("similar_artist_key")).withColumn(
        "rank", F.row_number().over(order).cast("int")
    )
    return ranked.where(F.col("rank") <= k).select(
        ARTIST_KEY, "rank", "similar_artist_key", "jaccard_distance"
    )
