"""Similar artists by co-listening: MinHash LSH (pyspark.ml ``MinHashLSH``) on each artist's set of
listeners.

Jaccard distance = 1 - |listeners of both| / |listeners of either|, exact for the pairs LSH
proposes (computed on the sets); pairs LSH misses are the price of not comparing all
pairs of artists. Artists with fewer than ``min_listeners`` listeners are left out (a single
listener makes every artist they played look identical).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

import numpy as np
import pandas as pd

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
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    pairs = similar_pairs(plays, params)
    order = Window.partitionBy(ARTIST_KEY).orderBy(
        F.col("jaccard_distance").asc(), F.col("similar_artist_key").asc()
    )
    ranked = pairs.withColumn("rank", F.row_number().over(order).cast("int"))
    return ranked.where(F.col("rank") <= k).select(
        ARTIST_KEY, "rank", "similar_artist_key", "jaccard_distance"
    )


def similar_pairs(plays: DataFrame, params: LshParams) -> DataFrame:
    """``(artist_key, similar_artist_key, jaccard_distance)`` for every ordered pair of different
    artists that share a MinHash bucket in some hash table and are closer than ``max_distance``:
    what ``MinHashLSHModel.approxSimilarityJoin`` of the artists with themselves returns, minus the
    pairs of an artist with itself (tests/test_lsh.py compares the two).

    The hashes are pyspark's (``MinHashLSH`` fitted with the seed). The rest is done here because
    pyspark's join is the model's main cost at full size (107 s of 187 s): it joins whole rows
    (listener vectors and hashes) and runs ``distinct`` over them. Here the buckets are joined on
    the artist keys alone, and each candidate pair's distance is a compiled merge of the two
    listener lists (``lsh_kernel``), which every task holds as one CSR array pair.
    """
    from pyspark.ml.feature import MinHashLSH
    from pyspark.ml.functions import vector_to_array
    from pyspark.ml.linalg import SparseVector, VectorUDT
    from pyspark.sql import functions as F
    from pyspark.sql.types import DoubleType, IntegerType, StructField, StructType

    size = (plays.agg(F.max(USER_KEY)).first()[0] or 0) + 1

    @F.udf(VectorUDT())
    def listener_set(keys: list[int]) -> SparseVector:
        return SparseVector(size, keys, [1.0] * len(keys))

    artists = (
        plays.groupBy(ARTIST_KEY)
        .agg(F.array_sort(F.collect_set(USER_KEY)).alias("keys"))
        .where(F.size("keys") >= params.min_listeners)
    )
    vectors = artists.select(ARTIST_KEY, listener_set("keys").alias("listeners"))
    lsh = MinHashLSH(
        inputCol="listeners", outputCol="hashes", numHashTables=params.hash_tables, seed=params.seed
    ).fit(vectors)
    # one row per (artist, hash table): the bucket is the table's hash value
    buckets = (
        lsh.transform(vectors)
        .select(ARTIST_KEY, F.posexplode("hashes").alias("hash_table", "hash"))
        .select(ARTIST_KEY, "hash_table", vector_to_array("hash")[0].alias("bucket"))
    )
    candidates = (
        buckets.alias("a")
        .join(buckets.alias("b"), ["hash_table", "bucket"])
        .where(F.col(f"a.{ARTIST_KEY}") != F.col(f"b.{ARTIST_KEY}"))
        .select(
            F.col(f"a.{ARTIST_KEY}").alias(ARTIST_KEY),
            F.col(f"b.{ARTIST_KEY}").alias("similar_artist_key"),
        )
        .distinct()
    )
    sets = ListenerSets.of(artists.select(ARTIST_KEY, "keys").toPandas())
    max_distance = params.max_distance
    schema = StructType(
        [
            StructField(ARTIST_KEY, IntegerType(), False),
            StructField("similar_artist_key", IntegerType(), False),
            StructField("jaccard_distance", DoubleType(), False),
        ]
    )

    def distances(batches: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        from lastfm_lakehouse.recommenders.lsh_kernel import jaccard_distances

        for batch in batches:
            a = batch[ARTIST_KEY].to_numpy(dtype=np.int64)
            b = batch["similar_artist_key"].to_numpy(dtype=np.int64)
            distance = jaccard_distances(sets.indptr, sets.indices, sets.rows(a), sets.rows(b))
            near = distance < max_distance
            yield pd.DataFrame(
                {
                    ARTIST_KEY: a[near].astype(np.int32),
                    "similar_artist_key": b[near].astype(np.int32),
                    "jaccard_distance": distance[near],
                }
            )

    return candidates.mapInPandas(distances, schema)


@dataclass(frozen=True)
class ListenerSets:
    """Each artist's listeners as one CSR row: ``indices[indptr[r]:indptr[r + 1]]`` are the sorted,
    distinct user keys of the artist ``keys[r]`` (keys sorted)."""

    keys: np.ndarray
    indptr: np.ndarray
    indices: np.ndarray

    @classmethod
    def of(cls, frame: pd.DataFrame) -> ListenerSets:
        """From (artist_key, keys) rows, ``keys`` an array of sorted distinct user keys."""
        frame = frame.sort_values(ARTIST_KEY)
        lists = [np.asarray(k, dtype=np.int32) for k in frame["keys"]]
        indptr = np.zeros(len(lists) + 1, dtype=np.int64)
        np.cumsum([len(k) for k in lists], out=indptr[1:])
        indices = np.concatenate(lists) if lists else np.zeros(0, dtype=np.int32)
        return cls(frame[ARTIST_KEY].to_numpy(dtype=np.int64), indptr, indices)

    def rows(self, artist_keys: np.ndarray) -> np.ndarray:
        """Row of each artist key; a key without a row is an error (the candidates come from these
        artists)."""
        rows = np.searchsorted(self.keys, artist_keys)
        found = rows < len(self.keys)
        found[found] = self.keys[rows[found]] == artist_keys[found]
        if not found.all():
            raise ValueError(f"artist keys without listeners: {artist_keys[~found][:5].tolist()}")
        return rows
