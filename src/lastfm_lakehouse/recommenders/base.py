"""The contract every recommender implements, in the spirit of ``implicit``'s ``RecommenderBase``.

A recommender is *fitted* on a Spark frame of ratings - one row per (user, artist) with
``user_key``, ``artist_key``, ``rating`` in [0, 1] and the raw ``plays`` - and then *recommends*
the top ``n`` artists for given users, excluding what each user played, and names the ``n``
artists most *similar* to given artists by what it learnt. The evaluation
(``evaluation.holdout.evaluate``) is a loop over recommenders and the benchmark's head-to-head
plugs ``implicit`` in the same way; a new model is one module implementing this class and one
entry in ``recommenders.registry``, whose contract test then checks it.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import TYPE_CHECKING

from lastfm_lakehouse.settings import ARTIST_KEY, USER_KEY

if TYPE_CHECKING:
    import pandas as pd
    from pyspark.sql import DataFrame

# What ``recommend`` returns, one row per recommended artist (rank 1 = best).
RECOMMENDATION_COLUMNS = (USER_KEY, "rank", ARTIST_KEY, "score")
# What ``similar_items`` returns, one row per similar artist (rank 1 = most similar).
SIMILAR_ARTIST_KEY = "similar_artist_key"
SIMILAR_COLUMNS = (ARTIST_KEY, "rank", SIMILAR_ARTIST_KEY, "score")
# The column of ``recommend``'s ``users`` frame listing the artist keys to exclude per user.
PLAYED = "played_keys"


def user_histories(plays: DataFrame) -> DataFrame:
    """``(user_key, played_keys, played_ratings)`` from a (user_key, artist_key, rating) frame."""
    from pyspark.sql import functions as F

    ordered = plays.groupBy(USER_KEY).agg(
        F.sort_array(F.collect_list(F.struct(ARTIST_KEY, "rating"))).alias("history")
    )
    return ordered.select(
        USER_KEY,
        F.col(f"history.{ARTIST_KEY}").alias(PLAYED),
        F.col("history.rating").alias("played_ratings"),
    )


@dataclass(frozen=True)
class Diagnostic:
    """A model-specific figure the evaluation reports beside the ranking metrics (e.g. ALS's RMSE
    on held-out ratings, kNN's neighbour recall)."""

    metric: str
    k: int | None
    value: float
    users: int


class Recommender(ABC):
    """Fit on ratings, then recommend top-N unplayed artists per user.

    ``name`` labels the model's rows in ``mart_model_evaluation``; ``training_input`` says which
    rows of the hold-out split it trains on (``all`` non-held-out rows, or the per-artist
    ``balanced`` sample: ``recommenders.als.TRAINING_INPUTS``).
    """

    name: str
    training_input: str = "all"
    # True when fitted elsewhere (e.g. the served ALS read from its mart): the evaluation does not fit it
    prefitted: bool = False

    @abstractmethod
    def fit(self, ratings: DataFrame) -> None:
        """Learn from ``(user_key, artist_key, rating, plays)`` rows."""

    @abstractmethod
    def recommend(self, users: DataFrame, n: int) -> DataFrame:
        """``RECOMMENDATION_COLUMNS`` for the users of ``users`` (``user_key`` and ``played_keys``,
        an array of artist keys never to return, null for none). A user the model learnt nothing
        about gets no rows; the caller decides on a fallback."""

    @abstractmethod
    def similar_items(self, artists: DataFrame, n: int) -> DataFrame:
        """``SIMILAR_COLUMNS`` for the artists of ``artists`` (an ``artist_key`` column): the ``n``
        other artists most similar to each by this model, most similar first (score: higher is
        more similar). An artist the model learnt nothing about gets no rows."""

    @abstractmethod
    def describe(self) -> str:
        """The parameters, as one line of text (``mart_model_evaluation.parameters``)."""

    def diagnostics(self, held_out: pd.DataFrame) -> list[Diagnostic]:
        """Extra figures on the held-out ``(user_key, artist_key, rating)`` rows; none by default."""
        del held_out
        return []
