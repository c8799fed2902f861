"""Progress of a long dbt Python model: its steps, logged with their times, and Spark jobs named by
model and step, so that a full-size build does not go silent for minutes and the Spark UI says
what each job is for.

The adapter opens a scope around each Python model (``model_scope``); inside it, code marks where
each step begins (``step``), which also ends the step before it:

    progress.step("fit: features and pruned index")
    knn.fit(plays)
    progress.step("search and re-rank, top-N laid out by user_sha1")
    ...

printed as

    06:41:02  lastfm.mart_recommendations_knn: fit: features and pruned index ...
    06:41:09  lastfm.mart_recommendations_knn: fit: features and pruned index done in 7.2 s
    06:41:09  lastfm.mart_recommendations_knn: search and re-rank, top-N laid out by user_sha1 ...

Spark evaluates lazily, so a step's time is the work Spark did while it was the current step (a
model's last step runs until dbt has written the table). Lines go to stderr, where dbt's own node
lines are; outside a scope (a unit test, a notebook) ``step`` only names Spark's jobs.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

_local = threading.local()  # dbt runs models in threads: one scope per thread


@dataclass
class _Scope:
    model: str
    spark: object
    started: float = field(default_factory=time.perf_counter)
    step: str | None = None
    step_started: float = 0.0


def say(line: str) -> None:
    print(f"{time.strftime('%H:%M:%S')}  {line}", file=sys.stderr, flush=True)


def _describe(spark: object, text: str | None) -> None:
    """Names the jobs this thread starts from now on, in the Spark UI (classic sessions; a Spark
    Connect session has no SparkContext here, and its jobs keep the server's names)."""
    context = getattr(spark, "_sc", None)
    if context is not None:
        context.setJobDescription(text)


def _end_step(scope: _Scope) -> None:
    if scope.step is not None:
        say(f"{scope.model}: {scope.step} done in {time.perf_counter() - scope.step_started:.1f} s")
        scope.step = None


def step(name: str) -> None:
    """Ends the current step (logging its time) and begins ``name``."""
    scope: _Scope | None = getattr(_local, "scope", None)
    if scope is None:
        return
    _end_step(scope)
    scope.step, scope.step_started = name, time.perf_counter()
    _describe(scope.spark, f"{scope.model}: {name}")
    say(f"{scope.model}: {name} ...")


def note(message: str) -> None:
    """A figure worth seeing while the model runs (counts, sizes), under the model's name."""
    scope: _Scope | None = getattr(_local, "scope", None)
    if scope is not None:
        say(f"{scope.model}: {message}")


@contextmanager
def model_scope(model: str, spark: object) -> Iterator[None]:
    """The span of one Python model (model code and dbt's write of its result)."""
    scope = _Scope(model, spark)
    _local.scope = scope
    _describe(spark, f"{model}: model code")
    try:
        yield
    finally:
        _end_step(scope)
        _describe(spark, None)
        _local.scope = None
        say(f"{model}: Python model ended after {time.perf_counter() - scope.started:.1f} s")
