"""User-based kNN recommendations with an inverted-file (IVF) neighbour search on Spark.

Features of user u (all non-negative, then scaled to unit length so that similarity = cosine):
``x_u = [L1-normalised plays over artists, age_weight * age_scaled, country_weight * one-hot country]``.

Exact kNN compares every pair of users: O(n^2) sparse dot products, ruled out at 359K users. The
search here is IVF, as in FAISS's IVF-Flat, parallelised over users with ``mapInPandas``:

1. a truncated SVD of the feature matrix sketches each x_u into ``sketch_dims`` dense dimensions
   (a data-adaptive projection: on this data it keeps neighbourhoods far better than a random
   projection, 0.71 against 0.34 neighbour recall with 8 probes on the 2,000-user dataset);
2. spherical k-means on a sample of sketches gives ``cells`` centroids; each user lives in the cell
   of its nearest centroid;
3. a query looks only at the users of its ``probes`` nearest cells and ranks them by the **exact**
   cosine of x (sparse dot products), keeping the K best.

Work per query is ~ probes x n / cells instead of n. Only the candidate set is approximate, so the
quality of the search is measured as neighbour recall against exact brute force on a sample.

Prediction (for artists the user has not played): the similarity-weighted mean of the neighbours'
L1-normalised plays, ``pred(u, a) = sum_v s(u, v) p_v(a) / sum_v s(u, v)`` with s = cosine.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from scipy import sparse

from lastfm_lakehouse.settings import ARTIST_KEY, USER_KEY
from lastfm_lakehouse.topn import top_k_of_rows, top_n_schema

if TYPE_CHECKING:
    from pyspark.sql import DataFrame


@dataclass(frozen=True)
class KnnParams:
    k: int = 100
    age_weight: float = 0.05
    country_weight: float = 0.05
    cells: int = 0  # 0: about sqrt(users)
    probes: int = 16
    sketch_dims: int = 64
    seed: int = 42
    batch_rows: int = 256

    def __post_init__(self) -> None:
        if self.k < 1 or self.probes < 1 or self.sketch_dims < 1:
            raise ValueError(
                f"kNN k, probes and sketch_dims must be >= 1, got {self.k}, {self.probes}, {self.sketch_dims}"
            )
        if self.age_weight < 0 or self.country_weight < 0:
            raise ValueError("kNN age_weight and country_weight must be >= 0")


@dataclass
class UserFeatures:
    user_keys: np.ndarray  # sorted, row i of the matrices
    artist_keys: np.ndarray  # sorted, column j of ``plays``
    plays: sparse.csr_matrix  # L1-normalised plays (users x artists)
    features: sparse.csr_matrix  # unit-length x_u (users x (artists + 1 + countries))
    played: sparse.csr_matrix  # 1 where the user has a row for the artist (even with 0 plays)

    def rows_of(self, keys: np.ndarray) -> np.ndarray:
        position = np.searchsorted(self.user_keys, keys)
        position = np.minimum(position, len(self.user_keys) - 1)
        if not (self.user_keys[position] == keys).all():
            raise ValueError("some query users have no kNN features (no training plays)")
        return position


def build_features(plays: pd.DataFrame, users: pd.DataFrame, params: KnnParams) -> UserFeatures:
    """``plays``: user_key, artist_key, plays. ``users``: user_key, age_scaled, country (may be null)."""
    for column in (USER_KEY, ARTIST_KEY, "plays"):
        if column not in plays.columns:
            raise ValueError(f"kNN plays lack column {column!r}")
    if plays.empty:
        raise ValueError("kNN needs at least one play")
    user_keys = np.unique(plays[USER_KEY].to_numpy(dtype=np.int64))
    artist_keys = np.unique(plays[ARTIST_KEY].to_numpy(dtype=np.int64))
    rows = np.searchsorted(user_keys, plays[USER_KEY].to_numpy(dtype=np.int64))
    cols = np.searchsorted(artist_keys, plays[ARTIST_KEY].to_numpy(dtype=np.int64))
    values = plays["plays"].to_numpy(dtype=np.float64)
    totals = np.bincount(rows, weights=values, minlength=len(user_keys))
    counts = np.bincount(rows, minlength=len(user_keys))
    # L1 normalisation; a user whose plays are all 0 weighs each of their artists equally.
    weights = np.where(
        totals[rows] > 0, values / np.where(totals[rows] > 0, totals[rows], 1), 1.0 / counts[rows]
    )
    p = sparse.csr_matrix((weights, (rows, cols)), shape=(len(user_keys), len(artist_keys)))

    profile = users.set_index(USER_KEY).reindex(user_keys)
    age = profile["age_scaled"].fillna(0.0).to_numpy(dtype=np.float64)
    country = profile["country"].astype("category")
    codes = country.cat.codes.to_numpy()
    known = codes >= 0
    one_hot = sparse.csr_matrix(
        (np.full(int(known.sum()), params.country_weight), (np.flatnonzero(known), codes[known])),
        shape=(len(user_keys), max(len(country.cat.categories), 1)),
    )
    x = sparse.hstack([p, sparse.csr_matrix(params.age_weight * age[:, None]), one_hot], format="csr")
    norms = np.sqrt(np.asarray(x.multiply(x).sum(axis=1)).ravel())
    x = sparse.diags(1.0 / np.where(norms == 0, 1.0, norms)) @ x
    played = sparse.csr_matrix((np.ones(len(rows), dtype=np.int8), (rows, cols)), shape=p.shape)
    return UserFeatures(user_keys, artist_keys, p.tocsr(), x.tocsr().astype(np.float32), played)


@dataclass
class IvfIndex:
    sketches: np.ndarray  # unit-length sketch of every user
    centroids: np.ndarray
    cell_of: np.ndarray  # cell of every user
    members: list[np.ndarray]  # user rows of every cell
    probes: int

    def probe_cells(self, rows: np.ndarray) -> np.ndarray:
        similarity = self.sketches[rows] @ self.centroids.T
        probes = min(self.probes, len(self.centroids))
        return np.argsort(-similarity, axis=1)[:, :probes]


def build_index(features: UserFeatures, params: KnnParams) -> IvfIndex:
    rng = np.random.default_rng(params.seed)
    n = features.features.shape[0]
    dims = max(1, min(params.sketch_dims, min(features.features.shape) - 1))
    sketches = svd_sketch(features.features, dims, rng)
    sketches /= np.maximum(np.linalg.norm(sketches, axis=1, keepdims=True), 1e-12)
    cells = min(params.cells or max(1, round(np.sqrt(n))), n)
    centroids = spherical_kmeans(sketches, cells, rng)
    cell_of = np.argmax(sketches @ centroids.T, axis=1)
    members = [np.flatnonzero(cell_of == c) for c in range(cells)]
    return IvfIndex(sketches, centroids, cell_of, members, params.probes)


def svd_sketch(
    x: sparse.csr_matrix, dims: int, rng: np.random.Generator, power_iterations: int = 3
) -> np.ndarray:
    """Rows of ``x`` projected on its top ``dims`` right singular vectors (randomized SVD).

    Halko, Martinsson & Tropp (2011), algorithms 4.4 + 5.1: a range finder with power iterations,
    then an exact SVD of the small projected matrix. Hand-written (a dozen lines) rather than
    pulling scikit-learn in for ``randomized_svd`` alone.
    """
    omega = rng.standard_normal((x.shape[1], dims + 10)).astype(np.float32)
    y = np.asarray(x @ omega)
    for _ in range(power_iterations):
        q, _ = np.linalg.qr(y)
        y = np.asarray(x @ np.asarray(x.T @ q))
    q, _ = np.linalg.qr(y)
    small = np.asarray(x.T @ q).T
    _, _, vt = np.linalg.svd(small, full_matrices=False)
    return np.asarray(x @ vt[:dims].T, dtype=np.float32)


def spherical_kmeans(
    points: np.ndarray, k: int, rng: np.random.Generator, iterations: int = 12
) -> np.ndarray:
    """k-means on the unit sphere (cosine), trained on at most 50,000 points as FAISS does."""
    sample = points[rng.choice(len(points), size=min(len(points), 50_000), replace=False)]
    centroids = sample[rng.choice(len(sample), size=k, replace=False)].copy()
    for _ in range(iterations):
        assignment = np.argmax(sample @ centroids.T, axis=1)
        sums = np.zeros_like(centroids)
        np.add.at(sums, assignment, sample)
        empty = np.bincount(assignment, minlength=k) == 0
        sums[empty] = sample[rng.choice(len(sample), size=int(empty.sum()))]
        centroids = sums / np.maximum(np.linalg.norm(sums, axis=1, keepdims=True), 1e-12)
    return centroids


def search(
    features: UserFeatures, index: IvfIndex, rows: np.ndarray, k: int, batch_rows: int = 256
) -> tuple[np.ndarray, np.ndarray]:
    """Approximate K nearest users (by exact cosine among the probed cells) of user ``rows``."""
    out_rows = np.full((len(rows), k), -1, dtype=np.int64)
    out_sims = np.full((len(rows), k), -np.inf)
    probes = index.probe_cells(rows)
    order = np.argsort(probes[:, 0], kind="stable")  # batch queries that probe the same cells
    for start in range(0, len(rows), batch_rows):
        batch = order[start : start + batch_rows]
        cells = np.unique(probes[batch])
        candidates = np.concatenate([index.members[c] for c in cells])
        similarity = (features.features[rows[batch]] @ features.features[candidates].T).toarray()
        allowed = (index.cell_of[candidates][None, None, :] == probes[batch][:, :, None]).any(axis=1)
        similarity[~allowed] = -np.inf
        similarity[rows[batch][:, None] == candidates[None, :]] = -np.inf
        best, scores = top_k_of_rows(similarity, k)
        valid = best >= 0
        out_rows[batch] = np.where(valid, candidates[np.maximum(best, 0)], -1)
        out_sims[batch] = scores
    return out_rows, out_sims


def exact_search(features: UserFeatures, rows: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Brute force: exact cosine against every user (only for a sample of queries)."""
    similarity = (features.features[rows] @ features.features.T).toarray()
    similarity[np.arange(len(rows)), rows] = -np.inf
    best, values = top_k_of_rows(similarity, k)
    return np.where(best >= 0, best, -1), values


def neighbour_recall(approx: np.ndarray, exact: np.ndarray) -> float:
    """Mean over queries of |approx ∩ exact| / |exact| (ignoring empty slots, marked -1)."""
    recalls = []
    for found, truth in zip(approx, exact, strict=True):
        truth = set(truth[truth >= 0].tolist())
        if truth:
            recalls.append(len(truth & set(found[found >= 0].tolist())) / len(truth))
    if not recalls:
        raise ValueError("no query has exact neighbours")
    return float(np.mean(recalls))


def predict(
    features: UserFeatures, rows: np.ndarray, neighbours: np.ndarray, sims: np.ndarray, n: int
) -> tuple[np.ndarray, np.ndarray]:
    """Top ``n`` unplayed artists (column indices, scores) of each query row from its neighbours."""
    valid = neighbours >= 0
    weights = np.where(valid, np.maximum(sims, 0.0), 0.0)
    query_index = np.repeat(np.arange(len(rows)), valid.sum(axis=1))
    w = sparse.csr_matrix(
        (weights[valid], (query_index, neighbours[valid])), shape=(len(rows), features.plays.shape[0])
    )
    totals = np.asarray(w.sum(axis=1)).ravel()
    scores = (w @ features.plays).toarray() / np.where(totals > 0, totals, 1.0)[:, None]
    scores[features.played[rows].nonzero()] = -np.inf  # plays[rows] would miss 0-play rows
    scores[scores <= 0] = -np.inf  # only artists some neighbour played
    return top_k_of_rows(scores, n)


def spark_knn(
    queries: DataFrame, features: UserFeatures, index: IvfIndex, params: KnnParams, n: int
) -> DataFrame:
    """``(user_key, rank, artist_key, score)`` for the users of ``queries`` (a user_key column)."""
    schema = top_n_schema(USER_KEY, ARTIST_KEY)

    def recommend(batches: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        for batch in batches:
            keys = batch[USER_KEY].to_numpy(dtype=np.int64)
            if keys.size == 0:
                continue
            rows = features.rows_of(keys)
            neighbours, sims = search(features, index, rows, params.k, params.batch_rows)
            best, scores = predict(features, rows, neighbours, sims, n)
            r, c = np.nonzero(best >= 0)
            yield pd.DataFrame(
                {
                    USER_KEY: keys[r].astype(np.int32),
                    "rank": (c + 1).astype(np.int32),
                    ARTIST_KEY: features.artist_keys[best[r, c]].astype(np.int32),
                    "score": scores[r, c],
                }
            )

    return queries.select(USER_KEY).mapInPandas(recommend, schema)
