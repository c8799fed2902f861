"""Top-N by inner product of factor vectors, blocked so memory stays bounded at full scale.

One routine serves every "best N targets for each query" question of the project:
recommendations (user factors x artist factors, played artists excluded), audiences (artist x user,
listeners excluded) and similar artists (normalised artist x artist, itself excluded). In Spark it
runs in ``mapInPandas`` over the query side with the target matrix shipped to the executors inside
the function (Spark broadcasts large closures), so it scales out with the cluster.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from lastfm_lakehouse import progress
from lastfm_lakehouse.materialised import materialise

if TYPE_CHECKING:
    from pyspark.sql import DataFrame
    from pyspark.sql.types import StructType

# Queries scored together (see TILE): 512 x 512 against 256 x 1024 took 78 core-s instead of 95 for
# the full-size similar artists (294K x 294K, rank 16) and 17 instead of 21 for the audiences,
# alternating runs on one core, identical results.
BLOCK_ROWS = 512


@dataclass(frozen=True)
class Targets:
    """Target keys (sorted) and their factor matrix, row i belonging to keys[i]."""

    keys: np.ndarray
    factors: np.ndarray

    @classmethod
    def from_frame(
        cls, frame: pd.DataFrame, key: str, factors: str = "factors", normalise: bool = False
    ) -> Targets:
        frame = frame.sort_values(key)
        matrix = (
            np.asarray(np.stack(frame[factors].to_numpy()), dtype=np.float64)
            if len(frame)
            else np.zeros((0, 1))
        )
        keys = frame[key].to_numpy(dtype=np.int64)
        require_finite(matrix, keys, f"{factors} of {key}")
        if normalise:
            matrix = normalise_rows(matrix)
        return cls(keys, compact(matrix))

    def lookup(self, keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(row indices of the ``keys`` that are targets, mask of those keys) - binary search."""
        keys = np.asarray(keys, dtype=np.int64)
        if len(self.keys) == 0:
            return np.zeros(0, dtype=np.int64), np.zeros(len(keys), dtype=bool)
        position = np.minimum(np.searchsorted(self.keys, keys), len(self.keys) - 1)
        known = self.keys[position] == keys
        return position[known], known

    def index_of(self, keys: np.ndarray) -> np.ndarray:
        """Row indices of ``keys`` that are targets (keys that are not are dropped)."""
        return self.lookup(keys)[0]


def require_finite(matrix: np.ndarray, keys: np.ndarray, what: str) -> None:
    """Fail with the keys at fault when a factor matrix holds NaN or infinity: a NaN score would
    sort anywhere and reach the marts."""
    bad = ~np.isfinite(matrix).all(axis=1) if matrix.size else np.zeros(len(matrix), dtype=bool)
    if bad.any():
        raise ValueError(
            f"{what}: {int(bad.sum())} of {len(matrix)} vectors hold NaN or infinity "
            f"(first keys: {keys[bad][:5].tolist()})"
        )


def compact(matrix: np.ndarray) -> np.ndarray:
    """``matrix`` in float32 (half the memory traffic of the products), or float64 when a value
    is beyond float32's range."""
    matrix = np.asarray(matrix)
    if matrix.size and np.abs(matrix).max() >= np.finfo(np.float32).max:
        return matrix.astype(np.float64)
    return matrix.astype(np.float32)


def normalise_rows(matrix: np.ndarray) -> np.ndarray:
    """Rows scaled to unit L2 norm, in float64 whatever the input; zero rows stay zero.

    Each row is first divided by its largest absolute value, so the squares neither underflow
    (factors of 1e-30: in float32 their squares are 0 or subnormal, and the "unit" vectors came out
    up to 0.3 % long - cosine similarities of 1.003 on real data) nor overflow (1e30 and beyond).
    """
    matrix = np.asarray(matrix, dtype=np.float64)
    if matrix.size == 0:
        return matrix
    scale = np.abs(matrix).max(axis=1, keepdims=True)
    scaled = matrix / np.where(scale > 0, scale, 1.0)
    norms = np.linalg.norm(scaled, axis=1, keepdims=True)
    return scaled / np.where(norms > 0, norms, 1.0)


# top_k_of_rows on wide rows: columns are grouped in runs of GROUP and only the k groups with the
# largest maxima are searched (every top-k entry lies in one of them), which replaces a partial sort
# of the whole row by one vectorised max pass. Used when a row has at least WIDE_ROW columns.
GROUP = 64
WIDE_ROW = 8192


def top_k_of_rows(scores: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Column indices and values of the ``k`` largest finite entries of each row, best first.

    Slots without a finite entry hold index -1 and value -inf.
    """
    best = np.full((len(scores), k), -1, dtype=np.int64)
    values = np.full((len(scores), k), -np.inf)
    take = min(k, scores.shape[1])
    if take == 0 or len(scores) == 0:
        return best, values
    columns = None
    if scores.shape[1] >= WIDE_ROW and take * GROUP * 4 <= scores.shape[1]:
        columns = _candidate_columns(scores, take)
        scores = np.take_along_axis(scores, columns, axis=1)
    part = np.argpartition(-scores, take - 1, axis=1)[:, :take]
    part_values = np.take_along_axis(scores, part, axis=1)
    order = np.argsort(-part_values, axis=1, kind="stable")
    part = np.take_along_axis(part, order, axis=1)
    part_values = np.take_along_axis(part_values, order, axis=1)
    if columns is not None:
        part = np.take_along_axis(columns, part, axis=1)
    best[:, :take] = np.where(np.isfinite(part_values), part, -1)
    values[:, :take] = part_values
    return best, values


def _candidate_columns(scores: np.ndarray, take: int) -> np.ndarray:
    """Per row, the columns of the ``take`` groups with the largest maxima, plus the ragged tail.

    Group g holds the columns g, g + G, g + 2G, ... (G = number of groups): the maxima are then a
    reduction over the middle axis, which numpy vectorises (over the last axis it does not).
    """
    rows, width = scores.shape
    groups = width // GROUP
    maxima = scores[:, : groups * GROUP].reshape(rows, GROUP, groups).max(axis=1)
    top_groups = np.argpartition(-maxima, take - 1, axis=1)[:, :take]
    columns = (top_groups[:, :, None] + groups * np.arange(GROUP)).reshape(rows, take * GROUP)
    tail = np.broadcast_to(np.arange(groups * GROUP, width), (rows, width - groups * GROUP))
    return np.concatenate([columns, tail], axis=1)


@dataclass(frozen=True)
class NormOrdered:
    """Target rows sorted by decreasing L2 norm, for top-N with early stopping.

    ``q · t <= |q| |t|`` (Cauchy-Schwarz): once a query's n-th best score is at least ``|q|`` times
    the largest norm of the targets not scored yet, none of them can enter its top N. ALS factors of
    rarely played artists have small norms (regularisation), so most of the long tail is never
    scored, and the result is still exact.
    """

    factors: np.ndarray  # rows sorted by decreasing norm
    norms: np.ndarray  # decreasing
    order: np.ndarray  # sorted position -> original row
    position: np.ndarray  # original row -> sorted position

    @classmethod
    def of(cls, targets: np.ndarray) -> NormOrdered:
        norms = np.linalg.norm(np.asarray(targets, dtype=np.float64), axis=1) if len(targets) else np.zeros(0)
        order = np.argsort(-norms, kind="stable")
        position = np.empty_like(order)
        position[order] = np.arange(len(order))
        return cls(np.ascontiguousarray(targets[order]), norms[order], order, position)


# Targets scored at a time against a block of BLOCK_ROWS queries: the scores (BLOCK_ROWS x TILE
# float32 = 1 MB) are written and scanned while they are in cache, into one preallocated buffer.
# Scoring a whole row of 294K targets at once wrote 300 MB per block into freshly allocated memory
# and then read it several times (grouped maxima, partition, sort); see _top_n_block.
TILE = 512


def top_n(
    queries: np.ndarray,
    targets: np.ndarray | NormOrdered,
    n: int,
    exclude: list[np.ndarray] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """For each query row, the ``n`` target rows with the highest inner product, best first.

    ``exclude[i]`` holds target row indices never returned for query i. Returns (indices, scores),
    both ``len(queries) x n``; slots without a valid target have index -1 and score -inf; of equal
    scores the target of larger norm (then lower row) comes first. Exact: targets are scored in
    tiles by decreasing norm and a query stops when no unscored target can beat its n-th best
    (see ``NormOrdered``).
    """
    index = targets if isinstance(targets, NormOrdered) else NormOrdered.of(np.asarray(targets))
    queries, index = _overflow_safe(np.asarray(queries), index)
    indices = np.full((len(queries), n), -1, dtype=np.int64)
    scores = np.full((len(queries), n), -np.inf, dtype=np.float64)
    for start in range(0, len(queries), BLOCK_ROWS):
        stop = start + BLOCK_ROWS
        excluded = (
            None
            if exclude is None
            else [index.position[np.asarray(e, dtype=np.int64)] for e in exclude[start:stop]]
        )
        indices[start:stop], scores[start:stop] = _top_n_block(queries[start:stop], index, n, excluded)
    return indices, scores


# Products are computed in float32 (half the memory traffic) unless they could overflow it.
FLOAT32_SAFE = 1e36


def _overflow_safe(queries: np.ndarray, index: NormOrdered) -> tuple[np.ndarray, NormOrdered]:
    """``queries`` and ``index`` in float64 when an inner product could exceed float32's range
    (|q . t| <= |q| |t|); as they are otherwise."""
    if len(queries) == 0 or len(index.norms) == 0:
        return queries, index
    largest = float(np.linalg.norm(queries.astype(np.float64), axis=1).max()) * float(index.norms[0])
    if largest < FLOAT32_SAFE:
        return queries, index
    wide = NormOrdered(index.factors.astype(np.float64), index.norms, index.order, index.position)
    return queries.astype(np.float64), wide


def _top_n_block(
    queries: np.ndarray, index: NormOrdered, n: int, excluded: list[np.ndarray] | None
) -> tuple[np.ndarray, np.ndarray]:
    """Per tile of targets: one BLAS product into the reused buffer, then the compiled scan
    (``topn_kernel.push_tile``) offers each score above the query's n-th best so far to its heap,
    so after the first tiles almost no score costs more than a comparison. Measured on
    294,000 unit vectors of 32 floats (the similar-artists shape), one core: 256 queries took
    0.38 s as whole rows (product 0.31 s, selection 0.08 s) and 0.13 s in tiles (product 0.08 s,
    scan 0.05 s). The full-size similar artists at rank 16, one core: 126 core-s with 256 x 1024
    tiles and a compiled row maximum, 99 with numpy's vectorised one, 78 with 512 x 512 tiles
    (the product alone is 64 of them)."""
    from lastfm_lakehouse.recommenders import topn_kernel

    heap_scores = np.full((len(queries), n), -np.inf, dtype=np.float64)
    heap_items = np.full((len(queries), n), -1, dtype=np.int64)
    total = len(index.norms)
    if total == 0 or n == 0 or len(queries) == 0:
        return heap_items, heap_scores
    sizes = np.zeros(len(queries), dtype=np.int64)
    lists = [np.sort(e) for e in excluded] if excluded is not None else []
    counts = [len(e) for e in lists] if lists else [0] * len(queries)
    excluded_indptr = np.zeros(len(queries) + 1, dtype=np.int64)
    np.cumsum(counts, out=excluded_indptr[1:])
    flat = np.concatenate(lists).astype(np.int64) if lists else np.zeros(0, dtype=np.int64)
    cursor = excluded_indptr[:-1].copy()
    query_norms = np.linalg.norm(queries.astype(np.float64), axis=1)
    buffer = np.empty((len(queries), min(TILE, total)), dtype=np.result_type(queries, index.factors))
    active = np.arange(len(queries))
    for low in range(0, total, TILE):
        high = min(total, low + TILE)
        block = buffer[: len(active), : high - low]
        np.matmul(queries[active], index.factors[low:high].T, out=block)
        topn_kernel.push_tile(
            block,
            block.max(axis=1),
            active,
            low,
            excluded_indptr,
            flat,
            cursor,
            heap_scores,
            heap_items,
            sizes,
        )
        if high < total:
            # float32 products: a relative margin keeps the stop rule exact despite rounding
            bound = query_norms[active] * index.norms[high] * (1 + 1e-5) + 1e-12
            done = (sizes[active] == n) & (heap_scores[active, 0] >= bound)
            active = active[~done]
            if not len(active):
                break
    # best first; equal scores by sorted position (larger norm first)
    order = np.lexsort((heap_items, -heap_scores))
    values = np.take_along_axis(heap_scores, order, axis=1)
    best = np.take_along_axis(heap_items, order, axis=1)
    return np.where(best >= 0, index.order[np.maximum(best, 0)], -1), values


# cosine_top_n takes top_n's arguments on purpose: it is top_n on normalised queries.
def cosine_top_n(
    queries: np.ndarray,
    targets: np.ndarray | NormOrdered,
    n: int,
    exclude: list[np.ndarray] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """``top_n`` by cosine similarity: ``targets`` must already be unit rows (``normalise_rows``);
    the queries are normalised here (float64, then float32 for the products) and the scores
    clamped to [-1, 1] against float32 rounding. A zero vector scores 0 against everything."""
    indices, scores = top_n(compact(normalise_rows(queries)), targets, n, exclude)
    return indices, np.clip(scores, -1.0, 1.0)


def batch_factors(batch: pd.DataFrame, key: str) -> np.ndarray:
    """The ``factors`` column of a mapInPandas batch as a float64 matrix; NaN/inf fails, naming
    the ``key`` values at fault."""
    matrix = np.asarray(np.stack(batch["factors"].to_numpy()), dtype=np.float64)
    require_finite(matrix, batch[key].to_numpy(), f"factors of {key}")
    return matrix


def ranked_rows(
    query_key: str,
    queries: np.ndarray,
    target_key: str,
    targets: np.ndarray,
    best: np.ndarray,
    scores: np.ndarray,
) -> pd.DataFrame:
    """A block of top-n results as rows of ``top_n_schema(query_key, target_key)``: ``best[i, j]``
    is query ``queries[i]``'s (j + 1)-th target, a row index into ``targets`` (-1: none), with score
    ``scores[i, j]``."""
    rows, ranks = np.nonzero(best >= 0)
    return pd.DataFrame(
        {
            query_key: queries[rows].astype(np.int32),
            "rank": (ranks + 1).astype(np.int32),
            target_key: targets[best[rows, ranks]].astype(np.int32),
            "score": scores[rows, ranks].astype(np.float64),
        }
    )


def top_n_schema(query_key: str, target_key: str) -> StructType:
    """Spark schema of top-N rows: (query_key, rank, target_key, score)."""
    from pyspark.sql.types import DoubleType, IntegerType, StructField, StructType

    return StructType(
        [
            StructField(query_key, IntegerType(), False),
            StructField("rank", IntegerType(), False),
            StructField(target_key, IntegerType(), False),
            StructField("score", DoubleType(), False),
        ]
    )


def spark_top_n(
    queries: DataFrame,
    query_key: str,
    targets: Targets,
    target_key: str,
    n: int,
    exclude_column: str | None = None,
    normalise_queries: bool = False,
) -> DataFrame:
    """``(query_key, rank, target_key, score)`` for the top ``n`` targets of every query row.

    ``queries`` has ``query_key``, ``factors`` and optionally ``exclude_column`` (array of target
    keys never to return for that row, e.g. the artists a user already played). With
    ``normalise_queries`` (and targets built with ``normalise=True``) the scores are cosine
    similarities, clamped to [-1, 1] against float32 rounding.
    """
    schema = top_n_schema(query_key, target_key)
    columns = [query_key, "factors", *([exclude_column] if exclude_column else [])]
    ordered = NormOrdered.of(targets.factors)

    def score(batches: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        for batch in batches:
            if batch.empty:
                continue
            matrix = batch_factors(batch, query_key)
            exclude = None
            if exclude_column:
                exclude = [
                    targets.index_of(np.asarray(e if e is not None else [])) for e in batch[exclude_column]
                ]
            if normalise_queries:
                indices, scores = cosine_top_n(matrix, ordered, n, exclude)
            else:
                indices, scores = top_n(compact(matrix), ordered, n, exclude)
            keys = batch[query_key].to_numpy()
            yield ranked_rows(query_key, keys, target_key, targets.keys, indices, scores)

    return spread(queries.select(*columns)).mapInPandas(score, schema)


def similar_by_cosine(queries: DataFrame, key: str, targets: Targets, similar_key: str, n: int) -> DataFrame:
    """``(key, rank, similar_key, score)``: for each row of ``queries`` (``key``, ``factors``) the
    ``n`` rows of ``targets`` (built with ``normalise=True``) nearest by cosine of the factors,
    itself excluded. Similar artists by ALS factors: mart_similar_artists and ``Als.similar_items``."""
    from pyspark.sql import functions as F

    with_self = queries.select(key, "factors").withColumn("self_key", F.array(key))
    return spark_top_n(
        with_self, key, targets, similar_key, n, exclude_column="self_key", normalise_queries=True
    )


def spread(frame: DataFrame) -> DataFrame:
    """``frame`` in ``spark.sql.shuffle.partitions`` even partitions, for the CPU-heavy mapInPandas
    steps: read as is, a small table (factors) is one or two files, so one or two tasks - and
    adaptive execution coalesces small shuffles - leaving cores idle (seen at full size: one busy
    worker on 2 cores). A repartition to an explicit count is not coalesced."""
    partitions = int(frame.sparkSession.conf.get("spark.sql.shuffle.partitions"))
    return frame.repartition(partitions)


def lay_out_for_lookups(frame: DataFrame, key: str, spark: object) -> DataFrame:
    """Range-partition by ``key`` and sort within files by (key, rank), so a point lookup of one key
    reads one file's row groups (Parquet min/max statistics) instead of the whole table.

    Measured on a full-size table (359,347 users x 20 = 7.2M rows, 8 files, embedded Spark on 2
    cores): one user's top-10 went from p50 1,387 ms / p95 1,963 ms unsorted to p50 119 ms /
    p95 153 ms; smaller row groups (4 MB) gained only 9 ms more.

    ``frame`` is materialised first (``materialised.materialise``, on disk): a range exchange samples
    its input with a job of its own before it shuffles, and without that job reading stored rows it
    computed the whole top-N a second time (seen in Spark's event log: two MapInPandas stages of
    27.6 and 23.5 s of executor time for the full-size audiences). On disk, not in memory: the rows
    then take no room in the driver JVM's heap, whose peak sits beside kNN's Python workers.
    """
    partitions = int(spark.conf.get("spark.sql.shuffle.partitions"))  # type: ignore[attr-defined]
    progress.step("compute the lists (stored on disk)")
    computed = materialise(frame)
    progress.step(f"lay out by {key} and write the table")
    return computed.repartitionByRange(partitions, key).sortWithinPartitions(key, "rank")
