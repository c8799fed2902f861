"""Score every recommender on the hold-out split: each is fitted on the training rows it asks for
and recommends k artists per evaluated user among those the user has no *training* row for;
metrics on the held-out rows (definitions: ``lastfm_lakehouse.recommenders.metrics``).

As in the production marts, a user a model has nothing for (no ALS factors) gets the most-popular
list, so the comparison is of what the marts would show.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from lastfm_lakehouse import progress
from lastfm_lakehouse.recommenders import metrics
from lastfm_lakehouse.recommenders.als import parse_training_input
from lastfm_lakehouse.recommenders.base import Recommender, user_histories
from lastfm_lakehouse.settings import ARTIST_KEY, USER_KEY

if TYPE_CHECKING:
    from pyspark.sql import DataFrame

# The model whose lists users without one of their own get (it must come first in ``evaluate``).
FALLBACK = "popularity"


@dataclass
class Row:
    model: str
    metric: str
    k: int | None
    value: float
    users_evaluated: int
    parameters: str
    seconds: float


def _ranking_rows(
    model: str,
    recs: dict[int, list[int]],
    held_out: dict[int, set[int]],
    k: int,
    catalogue: int,
    parameters: str,
    seconds: float,
) -> list[Row]:
    scores = metrics.ranking_scores(recs, held_out, k)
    rows = [
        Row(model, metric, k, value, scores.users, parameters, seconds)
        for metric, value in scores.as_dict().items()
    ]
    rows.append(
        Row(model, "coverage", k, metrics.coverage(recs, catalogue, k), scores.users, parameters, seconds)
    )
    return rows


def _as_lists(frame: pd.DataFrame) -> dict[int, list[int]]:
    frame = frame.sort_values([USER_KEY, "rank"])
    return {int(u): g[ARTIST_KEY].astype(int).tolist() for u, g in frame.groupby(USER_KEY, sort=False)}


def training_rows(split: DataFrame, training_input: str) -> DataFrame:
    """The rows of eval_plays_holdout_split a model trains on for ``training_input``
    (als.TRAINING_INPUTS): every non-held-out row, or those within the per-artist cap
    (``is_training_sample``)."""
    condition = {"all": "not is_holdout", "balanced": "is_training_sample"}[
        parse_training_input(training_input)
    ]
    return split.where(condition).select(USER_KEY, ARTIST_KEY, "plays", "rating")


@dataclass(frozen=True)
class EvaluationSample:
    """Score at most ``max_users`` of the users with held-out rows, chosen with ``seed``."""

    max_users: int = 20_000
    seed: int = 7

    def __post_init__(self) -> None:
        if self.max_users < 1:
            raise ValueError(f"evaluation_max_users must be >= 1, got {self.max_users}")

    def of(self, users: np.ndarray) -> np.ndarray:
        """Sorted sample of the sorted ``users`` (all of them when there are few enough)."""
        if len(users) <= self.max_users:
            return users
        return np.sort(np.random.default_rng(self.seed).choice(users, size=self.max_users, replace=False))


@dataclass
class Holdout:
    """The hold-out split as the evaluation reads it: the sampled users' held-out artists, and
    those users with what each played in training (``queries``, what ``recommend`` is given)."""

    split: DataFrame
    held_pdf: pd.DataFrame  # held-out rows of the evaluated users
    evaluated: np.ndarray  # sorted user keys
    held_out: dict[int, set[int]]
    catalogue: int  # artists in the training rows
    k: int
    queries: DataFrame  # (user_key, played_keys) of the evaluated users, cached

    @classmethod
    def prepare(cls, split: DataFrame, k: int, sample: EvaluationSample | None = None) -> Holdout:
        from pyspark.sql import functions as F

        held_pdf = split.where("is_holdout").select(USER_KEY, ARTIST_KEY, "rating").toPandas()
        if held_pdf.empty:
            raise ValueError(
                "the hold-out split holds no rows: lower holdout_min_artists or raise holdout_fraction"
            )
        evaluated = (sample or EvaluationSample()).of(np.unique(held_pdf[USER_KEY].to_numpy(dtype=np.int64)))
        held_pdf = held_pdf[held_pdf[USER_KEY].isin(evaluated)]
        held_out = {int(u): set(g.tolist()) for u, g in held_pdf.groupby(USER_KEY)[ARTIST_KEY]}
        catalogue = split.where("not is_holdout").select(ARTIST_KEY).distinct().count()
        # what every recommender is asked: the evaluated users and the artists of their training rows
        wanted = split.sparkSession.createDataFrame(pd.DataFrame({USER_KEY: evaluated.astype(np.int32)}))
        # the histories of the evaluated users only: a semi-join first, so the collect_list runs over
        # their rows, not all 17.5M at full size
        training = training_rows(split, "all").join(F.broadcast(wanted), USER_KEY, "left_semi")
        queries = wanted.join(user_histories(training), USER_KEY, "left").cache()
        queries.count()
        return cls(split, held_pdf, evaluated, held_out, catalogue, k, queries)

    def lists(self, recommender: Recommender) -> dict[int, list[int]]:
        """The top k of ``recommender`` (already fitted) for every evaluated user it knows."""
        return _as_lists(recommender.recommend(self.queries, self.k).toPandas())

    def score(
        self,
        model: str,
        recs: dict[int, list[int]],
        parameters: str,
        seconds: float,
        fallback: dict[int, list[int]] | None = None,
    ) -> list[Row]:
        """Ranking metrics and coverage of ``recs``; users without a list get their ``fallback`` one."""
        fallback = fallback or {}
        complete = {user: recs.get(user) or fallback.get(user, []) for user in self.held_out}
        return _ranking_rows(model, complete, self.held_out, self.k, self.catalogue, parameters, seconds)


def evaluate(
    split: DataFrame,
    recommenders: Sequence[Recommender],
    k: int,
    sample: EvaluationSample | None = None,
) -> pd.DataFrame:
    """One row per (model, metric): precision/recall/ndcg/map/coverage at k and each model's
    diagnostics (ALS RMSE, kNN neighbour recall). The first recommender must be the most-popular
    baseline (named ``FALLBACK``): its lists stand in for users another model has none for."""
    if not recommenders or recommenders[0].name != FALLBACK:
        raise ValueError(f"evaluate: the first recommender must be the {FALLBACK!r} baseline")
    progress.step("hold-out: the evaluated users' histories and held-out artists")
    holdout = Holdout.prepare(split, k, sample)
    progress.note(f"{len(holdout.held_out):,} evaluated users")
    rows: list[Row] = []
    fallback: dict[int, list[int]] = {}
    for recommender in recommenders:
        started = time.perf_counter()
        fits = "" if recommender.prefitted else "fit and "
        progress.step(f"{recommender.name}: {fits}top-{k} lists for the evaluated users, scores")
        if not recommender.prefitted:
            recommender.fit(training_rows(split, recommender.training_input))
        recs = holdout.lists(recommender)
        seconds = time.perf_counter() - started
        fallback = fallback or recs
        text = recommender.describe()
        rows += holdout.score(recommender.name, recs, text, seconds, fallback)
        rows += [
            Row(recommender.name, d.metric, d.k, d.value, d.users, text, 0.0)
            for d in recommender.diagnostics(holdout.held_pdf)
        ]
    holdout.queries.unpersist()
    return pd.DataFrame([asdict(r) for r in rows])
