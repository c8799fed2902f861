"""Similar artists by co-listening: MinHash LSH (pyspark.ml ``MinHashLSH``'s hash functions) on each
artist's set of listeners.

Jaccard distance = 1 - |listeners of both| / |listeners of either|, exact for the pairs LSH
proposes (computed on the sets); pairs LSH misses are the price of not comparing all
pairs of artists. Artists with fewer than ``min_listeners`` listeners are left out (a single
listener makes every artist they played look identical).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

import numpy as np
import pandas as pd

from lastfm_lakehouse.recommenders.params import ModelParams
from lastfm_lakehouse.settings import ARTIST_KEY, USER_KEY

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession


@dataclass(frozen=True)
class LshParams(ModelParams):
    # the dbt var holding these as one mapping (lsh: {key: value}); the defaults are written here only
    VAR: ClassVar[str] = "lsh"

    hash_tables: int = 5
    max_distance: float = 0.95
    min_listeners: int = 2
    seed: int = 42

    def __post_init__(self) -> None:
        if self.hash_tables < 1:
            raise ValueError(f"hash_tables must be >= 1, got {self.hash_tables}")
        if not 0 <= self.max_distance <= 1:
            raise ValueError(f"max_distance must be in [0, 1], got {self.max_distance}")
        if self.min_listeners < 1:
            raise ValueError(f"min_listeners must be >= 1, got {self.min_listeners}")


# MinHashLSH.HASH_PRIME of Spark's MinHashLSH.scala: the hash of a set S under coefficients (a, b)
# is min over s in S of ((1 + s) * a + b) mod HASH_PRIME, in 64-bit integers.
HASH_PRIME = 2_038_074_743


def similar_artists(plays: DataFrame, params: LshParams, k: int) -> DataFrame:
    """``(artist_key, rank, similar_artist_key, jaccard_distance)``: per artist, the ``k`` proposed
    artists nearest by Jaccard distance of their listener sets (ties by key), itself excluded."""
    pairs = similar_pair_rows(plays, params)
    # grouped by artist, nearest first, then by key: the rank is the position in the group
    order = np.lexsort((pairs["similar_artist_key"], pairs["jaccard_distance"], pairs[ARTIST_KEY]))
    pairs = pairs.iloc[order].reset_index(drop=True)
    first = _run_starts(pairs[ARTIST_KEY].to_numpy())
    pairs.insert(1, "rank", (_ranges(np.diff(np.r_[first, len(pairs)])) + 1).astype(np.int32))
    top = pairs[pairs["rank"] <= k]
    return _frame(plays.sparkSession, top, ["rank"])


def similar_pairs(plays: DataFrame, params: LshParams) -> DataFrame:
    """``(artist_key, similar_artist_key, jaccard_distance)`` for every ordered pair of different
    artists that share a MinHash bucket in some hash table and are closer than ``max_distance``:
    what ``MinHashLSHModel.approxSimilarityJoin`` of the artists with themselves returns, minus the
    pairs of an artist with itself (tests/test_lsh.py compares the two)."""
    return _frame(plays.sparkSession, similar_pair_rows(plays, params), [])


def similar_pair_rows(plays: DataFrame, params: LshParams) -> pd.DataFrame:
    """``similar_pairs`` as a pandas frame.

    The hash functions are pyspark's (``minhash_coefficients``: ``MinHashLSH`` fitted with the
    seed); the rest runs here, on the (artist, user) pairs read once. Through pyspark's own model
    the sets went to the JVM as SparseVectors built by a Python UDF and were aggregated again for
    each of its jobs (the model's fit, its transform, the sets the distances need), and the
    candidate pairs were a shuffled self-join: the model took ~80 s on 2 cores at full size; this
    way 13-17 s, mostly on one core (pairs through Arrow 2-4 s, sets 1-3 s, hashes 1 s, candidates
    1 s, distances 6 s), with an identical mart (527,868 rows), measured. Each candidate pair's
    distance is a compiled merge of the two listener lists (``lsh_kernel``, which releases the GIL
    for kNN's driver code, running beside it in the same dbt process), once for both directions.
    """
    from lastfm_lakehouse.recommenders.lsh_kernel import jaccard_distances

    pairs = plays.select(ARTIST_KEY, USER_KEY).toPandas()
    sets = ListenerSets.of(pairs[ARTIST_KEY].to_numpy(), pairs[USER_KEY].to_numpy(), params.min_listeners)
    coefficients = minhash_coefficients(plays.sparkSession, params)
    a, b = candidate_pairs(sets.minhashes(coefficients))
    distance = jaccard_distances(sets.indptr, sets.indices, a, b)
    near = distance < params.max_distance
    a, b, distance = sets.keys[a[near]].astype(np.int32), sets.keys[b[near]].astype(np.int32), distance[near]
    # both directions of each pair: the Jaccard distance is symmetric
    return pd.DataFrame(
        {
            ARTIST_KEY: np.concatenate([a, b]),
            "similar_artist_key": np.concatenate([b, a]),
            "jaccard_distance": np.concatenate([distance, distance]),
        }
    )


def minhash_coefficients(spark: SparkSession, params: LshParams) -> np.ndarray:
    """``(hash_tables, 2)`` int64: the (a, b) of each hash function of pyspark's ``MinHashLSH``
    fitted with ``params.seed``, read back from the model itself (its coefficients depend on the
    seed and the table count only, and the model does not expose them): the one-element sets {0}
    and {1} hash to (a + b) mod p and (2a + b) mod p, which give a and b (1 <= a < p - 1, 0 <= b < p - 1)."""
    from pyspark.ml.feature import MinHashLSH
    from pyspark.ml.linalg import SparseVector

    probes = spark.createDataFrame(
        [(0, SparseVector(2, [0], [1.0])), (1, SparseVector(2, [1], [1.0]))], ["probe", "members"]
    )
    model = MinHashLSH(
        inputCol="members", outputCol="hashes", numHashTables=params.hash_tables, seed=params.seed
    ).fit(probes)
    rows = sorted(model.transform(probes).collect(), key=lambda row: row["probe"])
    h0, h1 = (np.array([vector[0] for vector in row["hashes"]], dtype=np.int64) for row in rows)
    a = (h1 - h0) % HASH_PRIME
    return np.stack([a, (h0 - a) % HASH_PRIME], axis=1)


def candidate_pairs(hashes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Row pairs ``(a, b)``, a < b, with equal hashes in some row of ``hashes`` (tables x rows),
    each pair once, sorted by (a, b): unordered, so each distance is computed once for both
    directions. The pairs are sorted as 64-bit codes and repeats dropped: at full size 6.4M pairs
    from 5 tables in 0.6 s, where ``np.unique`` took 7 s (measured)."""
    rows = hashes.shape[1]
    codes = [np.zeros(0, dtype=np.int64)]
    for table in hashes:
        order = np.argsort(table, kind="stable")
        starts = _run_starts(table[order])
        sizes = np.diff(np.r_[starts, rows])
        shared = sizes > 1  # a bucket of one artist proposes nothing
        starts, sizes = starts[shared], sizes[shared]
        # member i of a bucket of size m against its m members: m * m (left, right) positions
        start_of_member = np.repeat(starts, sizes)
        size_of_member = np.repeat(sizes, sizes)
        left = np.repeat(start_of_member + _ranges(sizes), size_of_member)
        right = np.repeat(start_of_member, size_of_member) + _ranges(size_of_member)
        keep = left < right
        one, other = order[left[keep]].astype(np.int64), order[right[keep]].astype(np.int64)
        codes.append(np.minimum(one, other) * rows + np.maximum(one, other))
    code = np.concatenate(codes)
    code.sort()
    code = code[_run_starts(code)]
    return code // rows, code % rows


def _run_starts(values: np.ndarray) -> np.ndarray:
    """Positions where a run of equal ``values`` begins (``values`` sorted: each distinct value's
    first position)."""
    return np.flatnonzero(np.r_[True, values[1:] != values[:-1]]) if len(values) else np.zeros(0, np.int64)


def _ranges(lengths: np.ndarray) -> np.ndarray:
    """0, 1, ..., n - 1 for each n of ``lengths``, concatenated."""
    ends = np.cumsum(lengths)
    return np.arange(ends[-1] if len(ends) else 0) - np.repeat(ends - lengths, lengths)


def _frame(spark: SparkSession, rows: pd.DataFrame, extra: list[str]) -> DataFrame:
    from pyspark.sql.types import DoubleType, IntegerType, StructField, StructType

    fields = [StructField(ARTIST_KEY, IntegerType(), False)]
    fields += [StructField(name, IntegerType(), False) for name in extra]
    fields += [
        StructField("similar_artist_key", IntegerType(), False),
        StructField("jaccard_distance", DoubleType(), False),
    ]
    return spark.createDataFrame(rows[[field.name for field in fields]], StructType(fields))


@dataclass(frozen=True)
class ListenerSets:
    """Each artist's listeners as one CSR row: ``indices[indptr[r]:indptr[r + 1]]`` are the sorted,
    distinct user keys of the artist ``keys[r]`` (keys sorted)."""

    keys: np.ndarray
    indptr: np.ndarray
    indices: np.ndarray

    @classmethod
    def of(cls, artist_keys: np.ndarray, user_keys: np.ndarray, min_listeners: int = 1) -> ListenerSets:
        """From (artist, user) pairs, repeats allowed (keys below 2^31), keeping the artists with at
        least ``min_listeners`` distinct listeners: one sort of the pairs packed in 64-bit codes
        (at full size 1.4 s; collect_set per artist in Spark and its arrays through Arrow took
        10-15 s, measured)."""
        columns = {ARTIST_KEY: np.asarray(artist_keys), USER_KEY: np.asarray(user_keys)}
        for name, keys in columns.items():
            if len(keys) and (keys.dtype.kind not in "iu" or keys.min() < 0 or keys.max() >= 2**31):
                raise ValueError(f"MinHash LSH: {name} must hold non-null integers in [0, 2^31)")
        code = columns[ARTIST_KEY].astype(np.int64) << 32 | columns[USER_KEY].astype(np.int64)
        code.sort()
        code = code[_run_starts(code)]
        artist = code >> 32
        starts = _run_starts(artist)
        keys, counts = artist[starts], np.diff(np.r_[starts, len(code)])
        kept = counts >= min_listeners
        rows = np.repeat(kept, counts)
        indptr = np.zeros(int(kept.sum()) + 1, dtype=np.int64)
        np.cumsum(counts[kept], out=indptr[1:])
        return cls(keys[kept], indptr, (code[rows] & 0xFFFFFFFF).astype(np.int32))

    def minhashes(self, coefficients: np.ndarray) -> np.ndarray:
        """``(tables, artists)``: each artist's MinHash per (a, b) of ``coefficients``, computed as
        pyspark's ``MinHashLSHModel`` does (every set is non-empty)."""
        members = self.indices.astype(np.int64) + 1
        hashes = np.empty((len(coefficients), len(self.keys)), dtype=np.int64)
        for table, (a, b) in enumerate(coefficients):
            hashes[table] = np.minimum.reduceat((members * a + b) % HASH_PRIME, self.indptr[:-1])
        return hashes
