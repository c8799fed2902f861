"""The compiled inner loops of top-N selection (``topn``, and the kNN search in ``knn_kernel``):
a bounded min-heap of the best (score, item) pairs, and the scan of a block of scores into one heap
per query.

numba, not numpy: the scan is one pass with a data-dependent branch (is this score above the query's
n-th best so far?), which numpy can only express as several passes over the block (compare, find,
gather, partition); see ``topn._top_n_block`` for what that saved.
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True, nogil=True, inline="always")
def _swap(heap_scores: np.ndarray, heap_items: np.ndarray, i: int, j: int) -> None:
    heap_scores[i], heap_scores[j] = heap_scores[j], heap_scores[i]
    heap_items[i], heap_items[j] = heap_items[j], heap_items[i]


@njit(cache=True, nogil=True)
def push(heap_scores: np.ndarray, heap_items: np.ndarray, size: int, score: float, item: int) -> int:
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
            _swap(heap_scores, heap_items, parent, i)
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
        _swap(heap_scores, heap_items, child, i)
        i = child
    return size


@njit(cache=True, nogil=True)
def push_tile(
    scores: np.ndarray, row_max: np.ndarray, rows: np.ndarray, low: int,
    excluded_indptr: np.ndarray, excluded: np.ndarray, cursor: np.ndarray,
    heap_scores: np.ndarray, heap_items: np.ndarray, sizes: np.ndarray,
) -> None:  # fmt: skip
    """Offer row r of ``scores`` (the scores of targets ``low``, ``low + 1``, ...) to the heap of
    query ``rows[r]`` (``heap_*[q]``, ``sizes[q]`` entries; a target enters as ``low + column``).

    ``excluded[excluded_indptr[q]:excluded_indptr[q + 1]]`` are query q's excluded targets, sorted;
    ``cursor[q]`` is the first of them not yet passed, so over all the tiles of a query each
    exclusion is visited once. Excluded and -inf scores never enter; a score equal to the heap's
    smallest does not displace it (the earlier target wins ties).

    ``row_max[r]`` is the largest score of row r before exclusions (numpy's vectorised
    ``scores.max(axis=1)``: 0.13 ns per score against 0.60 for a compiled scalar loop, measured on
    256 x 1024 float32 tiles): an upper bound, so a full heap whose smallest is at least that bound
    skips the row without looking at a score.
    """
    width = scores.shape[1]
    capacity = heap_scores.shape[1]
    for r in range(scores.shape[0]):
        q = rows[r]
        c = cursor[q]
        end = excluded_indptr[q + 1]
        while c < end and excluded[c] < low + width:
            if excluded[c] >= low:
                scores[r, excluded[c] - low] = -np.inf
            c += 1
        cursor[q] = c
        size = sizes[q]
        threshold = heap_scores[q, 0] if size == capacity else -np.inf
        if size == capacity and row_max[r] <= threshold:
            continue  # past the first tiles, most rows: one pass, and no heap branch per score
        for j in range(width):
            score = scores[r, j]
            if score > threshold:
                size = push(heap_scores[q], heap_items[q], size, score, low + j)
                if size == capacity:
                    threshold = heap_scores[q, 0]
        sizes[q] = size
