"""The compiled inner loop of the kNN search (see ``knn``): per query, accumulate partial dot
products over the pruned inverted index, keep the best candidates, re-rank them by exact cosine.

numba, not numpy: the loops are scalar, data-dependent and branchy (a first-touch list, a threshold
selection, a bounded min-heap), which numpy cannot vectorise and plain Python runs ~100x slower.
Arrays are CSR triplets (indptr, indices, data) as scipy stores them.
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True, nogil=True)
def _push(heap_scores: np.ndarray, heap_items: np.ndarray, size: int, score: float, item: int) -> int:
    """Keep the len(heap) best (score, item) in a min-heap; returns the new size."""
    capacity = len(heap_scores)
    if size < capacity:
        i = size
        size += 1
        heap_scores[i] = score
        heap_items[i] = item
        while i > 0:
            parent = (i - 1) // 2
            if heap_scores[parent] <= heap_scores[i]:
                break
            heap_scores[parent], heap_scores[i] = heap_scores[i], heap_scores[parent]
            heap_items[parent], heap_items[i] = heap_items[i], heap_items[parent]
            i = parent
        return size
    if score <= heap_scores[0]:
        return size
    heap_scores[0] = score
    heap_items[0] = item
    i = 0
    while True:
        child = 2 * i + 1
        if child >= capacity:
            break
        if child + 1 < capacity and heap_scores[child + 1] < heap_scores[child]:
            child += 1
        if heap_scores[i] <= heap_scores[child]:
            break
        heap_scores[child], heap_scores[i] = heap_scores[i], heap_scores[child]
        heap_items[child], heap_items[i] = heap_items[i], heap_items[child]
        i = child
    return size


@njit(cache=True, nogil=True)
def _write_best(
    heap_scores: np.ndarray,
    heap_items: np.ndarray,
    size: int,
    q: int,
    out_items: np.ndarray,
    out_scores: np.ndarray,
) -> None:
    """Row q of the outputs: the heap's items best first, then -1 / -inf."""
    order = np.argsort(-heap_scores[:size])
    for i in range(out_items.shape[1]):
        if i < size:
            out_items[q, i] = heap_items[order[i]]
            out_scores[q, i] = heap_scores[order[i]]
        else:
            out_items[q, i] = -1
            out_scores[q, i] = -np.inf


@njit(cache=True, nogil=True)
def _dot(
    dense_query: np.ndarray, indptr: np.ndarray, indices: np.ndarray, data: np.ndarray, row: int
) -> float:
    total = 0.0
    for j in range(indptr[row], indptr[row + 1]):
        total += dense_query[indices[j]] * data[j]
    return total


@njit(cache=True, nogil=True)
def neighbours(
    queries: np.ndarray,
    p_indptr: np.ndarray, p_indices: np.ndarray, p_data: np.ndarray,
    pt_indptr: np.ndarray, pt_indices: np.ndarray, pt_data: np.ndarray,
    x_indptr: np.ndarray, x_indices: np.ndarray, x_data: np.ndarray,
    extra: np.ndarray, extra_indptr: np.ndarray, country: np.ndarray,
    k: int, candidates: int, out_rows: np.ndarray, out_sims: np.ndarray,
) -> None:  # fmt: skip
    """Fill out_rows / out_sims (queries x k, best first; -1 / -inf when fewer) for each query."""
    n = len(country)
    partial = np.zeros(n, np.float64)
    touched = np.empty(n, np.int64)
    seen_by = np.full(n, -1, np.int64)
    # float32 like x: half the cache footprint for the random reads of the re-ranking
    dense_query = np.zeros(int(x_indices.max()) + 1 if len(x_indices) else 1, np.float32)
    heap_scores = np.empty(k, np.float64)
    heap_items = np.empty(k, np.int64)
    for q in range(len(queries)):
        u = queries[q]
        for j in range(x_indptr[u], x_indptr[u + 1]):
            dense_query[x_indices[j]] = x_data[j]
        # 1. partial dot products over the query's pruned artists (first touch recorded; written
        #    out here and in predict: as a shared helper this loop ran 1.6x slower, measured)
        m = 0
        for j in range(p_indptr[u], p_indptr[u + 1]):
            artist = p_indices[j]
            weight = p_data[j]
            for b in range(pt_indptr[artist], pt_indptr[artist + 1]):
                v = pt_indices[b]
                if seen_by[v] != q:
                    seen_by[v] = q
                    partial[v] = 0.0
                    touched[m] = v
                    m += 1
                partial[v] += weight * pt_data[b]
        # 2. the `candidates` touched users with the largest partial scores (threshold selection)
        threshold = -1.0
        if m > candidates:
            values = np.empty(m, np.float64)
            for t in range(m):
                values[t] = partial[touched[t]]
            threshold = np.partition(values, m - candidates)[m - candidates]
        size = 0
        taken = 0
        for t in range(m):
            v = touched[t]
            if v != u and partial[v] >= threshold and taken < candidates:
                taken += 1
                size = _push(
                    heap_scores, heap_items, size, _dot(dense_query, x_indptr, x_indices, x_data, v), v
                )
        # 3. demographic candidates (global list, then the query's country list), not yet scored
        for group in (0, country[u] + 1):
            for t in range(extra_indptr[group], extra_indptr[group + 1]):
                v = extra[t]
                if v != u and (seen_by[v] != q or partial[v] < threshold):
                    seen_by[v] = q
                    partial[v] = np.inf  # scored now; not again from the second list
                    size = _push(
                        heap_scores, heap_items, size, _dot(dense_query, x_indptr, x_indices, x_data, v), v
                    )
        for j in range(x_indptr[u], x_indptr[u + 1]):
            dense_query[x_indices[j]] = 0.0
        _write_best(heap_scores, heap_items, size, q, out_rows, out_sims)


@njit(cache=True, nogil=True)
def predict(
    queries: np.ndarray, neighbours: np.ndarray, sims: np.ndarray,
    plays_indptr: np.ndarray, plays_indices: np.ndarray, plays_data: np.ndarray,
    played_indptr: np.ndarray, played_indices: np.ndarray, artists: int,
    out_columns: np.ndarray, out_scores: np.ndarray,
) -> None:  # fmt: skip
    """Top len(out) artists per query by the similarity-weighted mean of its neighbours' plays,
    leaving out what the query played and artists no neighbour played (score 0)."""
    n = out_columns.shape[1]
    total_by_artist = np.zeros(artists, np.float64)
    touched = np.empty(artists, np.int64)
    seen_by = np.full(artists, -1, np.int64)
    played_by = np.full(artists, -1, np.int64)
    heap_scores = np.empty(n, np.float64)
    heap_items = np.empty(n, np.int64)
    for q in range(len(queries)):
        u = queries[q]
        for j in range(played_indptr[u], played_indptr[u + 1]):
            played_by[played_indices[j]] = q
        weight_sum = 0.0
        m = 0
        for i in range(neighbours.shape[1]):
            v = neighbours[q, i]
            if v < 0:
                continue
            weight = max(sims[q, i], 0.0)
            weight_sum += weight
            for j in range(plays_indptr[v], plays_indptr[v + 1]):
                artist = plays_indices[j]
                if seen_by[artist] != q:
                    seen_by[artist] = q
                    total_by_artist[artist] = 0.0
                    touched[m] = artist
                    m += 1
                total_by_artist[artist] += weight * plays_data[j]
        size = 0
        if weight_sum > 0:
            for t in range(m):
                artist = touched[t]
                if played_by[artist] != q and total_by_artist[artist] > 0:
                    size = _push(heap_scores, heap_items, size, total_by_artist[artist] / weight_sum, artist)
        _write_best(heap_scores, heap_items, size, q, out_columns, out_scores)
