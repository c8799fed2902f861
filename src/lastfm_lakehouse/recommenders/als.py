"""Spark ALS (implicit preferences) on the (user_key, artist_key, rating) facts.

Ratings are ``fct_plays*.rating`` in [0, 1]; Spark's implicit ALS turns them into confidences
``1 + alpha * rating`` (Hu, Koren & Volinsky 2008).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from lastfm_lakehouse.recommenders import metrics
from lastfm_lakehouse.recommenders.base import PLAYED, SIMILAR_ARTIST_KEY, Diagnostic, Recommender
from lastfm_lakehouse.recommenders.params import ModelParams
from lastfm_lakehouse.recommenders.topn import Targets, similar_by_cosine, spark_top_n
from lastfm_lakehouse.settings import ARTIST_KEY, RATING, USER_KEY

if TYPE_CHECKING:
    import pandas as pd
    from pyspark.sql import DataFrame


@dataclass(frozen=True)
class AlsParams(ModelParams):
    # the dbt var holding these as one mapping (als: {key: value}); the defaults are written here only
    VAR: ClassVar[str] = "als"

    rank: int = 16
    max_iter: int = 10
    reg_param: float = 0.1
    alpha: float = 40.0
    seed: int = 42
    blocks: int = 0  # user and item blocks; 0 = one per core (Spark's own default: 10)

    def __post_init__(self) -> None:
        if self.rank < 1 or self.max_iter < 1:
            raise ValueError(f"ALS rank and max_iter must be >= 1, got {self.rank} and {self.max_iter}")
        if self.blocks < 0:
            raise ValueError(f"ALS blocks must be >= 0 (0 = one per core), got {self.blocks}")
        if self.reg_param < 0 or self.alpha < 0:
            raise ValueError(f"ALS reg_param and alpha must be >= 0, got {self.reg_param} and {self.alpha}")


SPARK_DEFAULT_BLOCKS = 10

# What ALS trains on (var als_training_input): every (user, artist) row of fct_plays (ratings capped
# by plays_cap), or fct_plays_balanced (at most max_rows_per_artist rows per artist, a seeded sample).
# Measured at full size (make bench, "ALS training input"): the balanced sample drops 48 % of the
# rows, all of popular artists, and ALS trained on it ranks held-out artists far worse.
TRAINING_INPUTS = ("all", "balanced")


def parse_training_input(value: Any) -> str:
    """The validated var als_training_input."""
    text = str(value).strip().lower()
    if text not in TRAINING_INPUTS:
        raise ValueError(f"als_training_input must be one of {', '.join(TRAINING_INPUTS)}, got {value!r}")
    return text


def netlib_implementations(spark: Any) -> tuple[str, str]:
    """(BLAS, LAPACK) classes Spark's JVM loaded: JNIBLAS / JNILAPACK = native (e.g. OpenBLAS),
    VectorBLAS = Java's Vector API, F2jLAPACK = Java; "unknown" over Spark Connect (no JVM handle)."""
    try:
        netlib = spark.sparkContext._jvm.dev.ludovic.netlib
        return (
            str(netlib.blas.BLAS.getInstance().getClass().getSimpleName()),
            str(netlib.lapack.LAPACK.getInstance().getClass().getSimpleName()),
        )
    except Exception:
        return "unknown", "unknown"


def _cores(spark: Any) -> int | None:
    """Cores Spark runs tasks on; None over Spark Connect (no SparkContext there)."""
    try:
        return int(spark.sparkContext.defaultParallelism)
    except Exception:
        return None


def train(ratings: DataFrame, params: AlsParams) -> tuple[DataFrame, DataFrame]:
    """Fit ALS; return (user factors, artist factors) as ``(key, factors array<float>)`` frames."""
    from pyspark.ml.recommendation import ALS

    for column in (USER_KEY, ARTIST_KEY, RATING):
        if column not in ratings.columns:
            raise ValueError(f"ALS input lacks column {column!r} (has {', '.join(ratings.columns)})")
    blocks = params.blocks or _cores(ratings.sparkSession) or SPARK_DEFAULT_BLOCKS
    # one keyword per parameter (a call shaped like any other keyword-heavy call)
    als = ALS(
        numUserBlocks=blocks,
        numItemBlocks=blocks,
        rank=params.rank,
        maxIter=params.max_iter,
        regParam=params.reg_param,
        alpha=params.alpha,
        seed=params.seed,
        implicitPrefs=True,
        userCol=USER_KEY,
        itemCol=ARTIST_KEY,
        ratingCol=RATING,
        coldStartStrategy="drop",
    )
    model = als.fit(ratings.select(USER_KEY, ARTIST_KEY, RATING))
    users = model.userFactors.withColumnRenamed("id", USER_KEY).withColumnRenamed("features", "factors")
    artists = model.itemFactors.withColumnRenamed("id", ARTIST_KEY).withColumnRenamed("features", "factors")
    return users, artists


def training_fingerprint(ratings: DataFrame) -> str:
    """Which (user, artist) rows ``ratings`` holds, as ``"<rows>:<sum of 64-bit row hashes>"``:
    recorded by mart_als_factors and checked by the evaluation, which scores those factors only if
    they were trained on exactly its training rows (never on a held-out one)."""
    from pyspark.sql import functions as F

    row = ratings.agg(
        F.count("*").alias("rows"),
        F.sum(F.xxhash64(USER_KEY, ARTIST_KEY).cast("decimal(38,0)")).alias("checksum"),
    ).first()
    return f"{row['rows']}:{row['checksum'] or 0}"


# The parameters-map key under which mart_als_factors records training_fingerprint.
FINGERPRINT_KEY = "training_rows"


class Als(Recommender):
    """Spark ALS (``train``); recommends by inner product of user and artist factors."""

    def __init__(self, params: AlsParams, name: str = "als", training_input: str = "all") -> None:
        self.params = params
        self.name = name
        self.training_input = parse_training_input(training_input)
        self.user_factors: DataFrame | None = None
        self.artist_factors: DataFrame | None = None
        self.artists: Targets | None = None
        self.artists_normalised: Targets | None = None  # for similar_items (cosine)

    @classmethod
    def from_factors(
        cls,
        params: AlsParams,
        factors: DataFrame,
        ratings: DataFrame,
        name: str = "als",
        training_input: str = "all",
    ) -> Als:
        """The ALS of mart_als_factors (``entity_type``, ``entity_key``, ``factors``, ``parameters``),
        already fitted, for the evaluation to score without training again. Refused unless it was
        trained with ``params`` on exactly ``ratings`` (``training_fingerprint``): a factor table
        left from another split or other vars would score rows it had trained on."""
        from pyspark.sql import functions as F

        model = cls(params, name, training_input)
        first = factors.select("parameters").first()
        recorded = dict(first["parameters"]) if first else {}
        expected = params.as_map(training_input=model.training_input)
        expected[FINGERPRINT_KEY] = training_fingerprint(ratings)
        wrong = sorted(key for key, value in expected.items() if recorded.get(key) != value)
        if wrong:
            detail = ", ".join(
                f"{key}: trained {recorded.get(key)!r}, expected {expected[key]!r}" for key in wrong
            )
            raise ValueError(
                f"mart_als_factors was not trained on this build's training rows and parameters ({detail}): "
                "rebuild it (dbt build --select mart_als_factors+)"
            )
        model._use(
            factors.where(F.col("entity_type") == "user").select(
                F.col("entity_key").alias(USER_KEY), "factors"
            ),
            factors.where(F.col("entity_type") == "artist").select(
                F.col("entity_key").alias(ARTIST_KEY), "factors"
            ),
        )
        model.prefitted = True
        return model

    def fit(self, ratings: DataFrame) -> None:
        self._use(*train(ratings, self.params))

    def _use(self, user_factors: DataFrame, artist_factors: DataFrame) -> None:
        """Recommend from these factors (``train``'s two frames)."""
        self.user_factors = user_factors
        self.artist_factors = artist_factors
        collected = artist_factors.toPandas()  # artists x rank: what the driver may hold
        self.artists = Targets.from_frame(collected, ARTIST_KEY)
        self.artists_normalised = Targets.from_frame(collected, ARTIST_KEY, normalise=True)

    def _fitted(self) -> tuple[DataFrame, Targets]:
        if self.user_factors is None or self.artists is None:
            raise RuntimeError(f"{self.name}: recommend before fit")
        return self.user_factors, self.artists

    def recommend(self, users: DataFrame, n: int) -> DataFrame:
        user_factors, artists = self._fitted()
        queries = user_factors.join(users.select(USER_KEY, PLAYED), USER_KEY)
        return spark_top_n(queries, USER_KEY, artists, ARTIST_KEY, n, exclude_column=PLAYED)

    def similar_items(self, artists: DataFrame, n: int) -> DataFrame:
        """Cosine of the artist factors (as mart_similar_artists)."""
        if self.artist_factors is None or self.artists_normalised is None:
            raise RuntimeError(f"{self.name}: similar_items before fit")
        queries = self.artist_factors.join(artists.select(ARTIST_KEY), ARTIST_KEY)
        return similar_by_cosine(queries, ARTIST_KEY, self.artists_normalised, SIMILAR_ARTIST_KEY, n)

    def describe(self) -> str:
        return f"{self.params.as_text()}, training_input={self.training_input}"

    def diagnostics(self, held_out: pd.DataFrame) -> list[Diagnostic]:
        """RMSE of factor dot products against the held-out ratings, on the pairs both sides know."""
        user_factors, artists = self._fitted()
        users = Targets.from_frame(user_factors.toPandas(), USER_KEY)
        pairs = held_out[held_out[USER_KEY].isin(users.keys) & held_out[ARTIST_KEY].isin(artists.keys)]
        if pairs.empty:
            return []
        u = users.factors[users.index_of(pairs[USER_KEY].to_numpy())].astype(np.float64)
        a = artists.factors[artists.index_of(pairs[ARTIST_KEY].to_numpy())].astype(np.float64)
        predictions = np.einsum("ij,ij->i", u, a)
        error = metrics.rmse(zip(predictions.tolist(), pairs[RATING].tolist(), strict=True))
        return [Diagnostic("rmse", None, error, len(pairs))]
