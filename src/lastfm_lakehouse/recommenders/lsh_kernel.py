"""Exact Jaccard distances of the artist pairs MinHash LSH proposes (see ``lsh``), compiled.

numba, not numpy or Spark: each distance is a merge of two sorted listener lists, a scalar and
data-dependent loop. In Spark it needs both lists beside the pair, and joining the lists to the
candidate pairs shuffled 4.4 GB at full size; here the lists are one CSR array pair every task holds.
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True, nogil=True)
def jaccard_distances(indptr: np.ndarray, indices: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """1 - |A and B| / |A or B| for each pair of rows (a[i], b[i]) of a CSR set matrix whose rows
    are sorted and free of repeats; the same arithmetic as pyspark's ``MinHashLSHModel.keyDistance``
    (an integer ratio in double, subtracted from 1). Empty rows are at distance 1."""
    out = np.empty(len(a), dtype=np.float64)
    for p in range(len(a)):
        i, i_end = indptr[a[p]], indptr[a[p] + 1]
        j, j_end = indptr[b[p]], indptr[b[p] + 1]
        size_a, size_b = i_end - i, j_end - j
        if size_a == 0 or size_b == 0:
            out[p] = 1.0
            continue
        both = 0
        while i < i_end and j < j_end:
            x, y = indices[i], indices[j]
            if x == y:
                both += 1
                i += 1
                j += 1
            elif x < y:
                i += 1
            else:
                j += 1
        out[p] = 1.0 - both / (size_a + size_b - both)
    return out
