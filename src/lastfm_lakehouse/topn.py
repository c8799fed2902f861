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

if TYPE_CHECKING:
    from pyspark.sql import DataFrame
    from pyspark.sql.types import StructType

BLOCK_ROWS = 256


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
            np.asarray(np.stack(frame[factors].to_numpy()), dtype=np.float32)
            if len(frame)
            else np.zeros((0, 1))
        )
        if normalise:
            matrix = normalise_rows(matrix)
        return cls(frame[key].to_numpy(dtype=np.int64), matrix)

    def index_of(self, keys: np.ndarray) -> np.ndarray:
        """Row indices of ``keys`` that are targets (keys that are not are dropped)."""
        keys = np.asarray(keys, dtype=np.int64)
        position = np.searchsorted(self.keys, keys)
        position = np.minimum(position, max(len(self.keys) - 1, 0))
        return position[(len(self.keys) > 0) & (self.keys[position] == keys)]


def normalise_rows(matrix: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    return matrix / np.where(norms == 0, 1.0, norms)


def top_k_of_rows(scores: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Column indices and values of the ``k`` largest finite entries of each row, best first.

    Slots without a finite entry hold index -1 and value -inf.
    """
    best = np.full((len(scores), k), -1, dtype=np.int64)
    values = np.full((len(scores), k), -np.inf)
    take = min(k, scores.shape[1])
    if take == 0 or len(scores) == 0:
        return best, values
    part = np.argpartition(-scores, take - 1, axis=1)[:, :take]
    part_values = np.take_along_axis(scores, part, axis=1)
    order = np.argsort(-part_values, axis=1, kind="stable")
    part = np.take_along_axis(part, order, axis=1)
    part_values = np.take_along_axis(part_values, order, axis=1)
    best[:, :take] = np.where(np.isfinite(part_values), part, -1)
    values[:, :take] = part_values
    return best, values


def top_n(
    queries: np.ndarray, targets: np.ndarray, n: int, exclude: list[np.ndarray] | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """For each query row, the ``n`` target rows with the highest inner product, best first.

    ``exclude[i]`` holds target row indices never returned for query i. Returns (indices, scores),
    both ``len(queries) x n``; slots without a valid target have index -1 and score -inf.
    """
    indices = np.full((len(queries), n), -1, dtype=np.int64)
    scores = np.full((len(queries), n), -np.inf, dtype=np.float64)
    for start in range(0, len(queries), BLOCK_ROWS):
        block = np.asarray(queries[start : start + BLOCK_ROWS] @ targets.T, dtype=np.float64)
        if exclude is not None:
            for offset, excluded in enumerate(exclude[start : start + BLOCK_ROWS]):
                if len(excluded):
                    block[offset, excluded] = -np.inf
        indices[start : start + len(block)], scores[start : start + len(block)] = top_k_of_rows(block, n)
    return indices, scores


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
    keys never to return for that row, e.g. the artists a user already played).
    """
    from pyspark.sql.types import DoubleType, IntegerType, StructField, StructType

    schema = StructType(
        [
            StructField(query_key, IntegerType(), False),
            StructField("rank", IntegerType(), False),
            StructField(target_key, IntegerType(), False),
            StructField("score", DoubleType(), False),
        ]
    )
    columns = [query_key, "factors", *([exclude_column] if exclude_column else [])]

    def score(batches: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        for batch in batches:
            if batch.empty:
                continue
            matrix = np.asarray(np.stack(batch["factors"].to_numpy()), dtype=np.float32)
            if normalise_queries:
                matrix = normalise_rows(matrix)
            exclude = None
            if exclude_column:
                exclude = [
                    targets.index_of(np.asarray(e if e is not None else [])) for e in batch[exclude_column]
                ]
            indices, scores = top_n(matrix, targets.factors, n, exclude)
            rows, ranks = np.nonzero(indices >= 0)
            yield pd.DataFrame(
                {
                    query_key: batch[query_key].to_numpy()[rows].astype(np.int32),
                    "rank": (ranks + 1).astype(np.int32),
                    target_key: targets.keys[indices[rows, ranks]].astype(np.int32),
                    "score": scores[rows, ranks],
                }
            )

    return queries.select(*columns).mapInPandas(score, schema)


def lay_out_for_lookups(frame: DataFrame, key: str, spark: object) -> DataFrame:
    """Range-partition by ``key`` and sort within files by (key, rank), so a point lookup of one key
    reads one file's row groups (Parquet min/max statistics) instead of the whole table.

    Measured on a full-size table (359,347 users x 20 = 7.2M rows, 8 files, embedded Spark on 2
    cores): one user's top-10 went from p50 1,387 ms / p95 1,963 ms unsorted to p50 119 ms /
    p95 153 ms; smaller row groups (4 MB) gained only 9 ms more.
    """
    partitions = int(spark.conf.get("spark.sql.shuffle.partitions"))  # type: ignore[attr-defined]
    return frame.repartitionByRange(partitions, key).sortWithinPartitions(key, "rank")
