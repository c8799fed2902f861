"""Frames computed once and kept (on disk) until the dbt Python model that asked for them is written.

A dbt Python model returns a DataFrame that dbt writes *after* the model function has returned, so
the model cannot unpersist what it persisted. ``materialise`` persists a frame, computes it, and
holds it in the current scope; the lakehouse adapter opens a scope around every Python model
(``held_for``) and unpersists everything held in it once dbt's write is done, or the model failed.

Why not ``DataFrame.localCheckpoint``: on Spark Connect (the ``server`` target) pyspark releases a
checkpointed frame from a ``__del__`` finalizer that makes a blocking gRPC call. At interpreter
exit that call never returns: ``dbt build`` over the server finished every node and then hung
(py-spy: ``CachedRemoteRelation.__del__`` -> grpc ``_blocking`` -> ``Thread.start``), which is
what timed CI's server build out; run by the garbage collector inside another gRPC call it can
deadlock too (apache/spark#58085, lakehq/sail#1704). ``persist``/``unpersist`` are plain calls
with no finalizer, and work the same on an embedded session and over Connect.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import TYPE_CHECKING

from lastfm_lakehouse import progress

if TYPE_CHECKING:
    from pyspark.sql import DataFrame

log = logging.getLogger(__name__)

# dbt runs each model in one worker thread, and each thread has its own context: a model sees
# only its own scope.
_held: ContextVar[list[DataFrame] | None] = ContextVar("lastfm_lakehouse_materialised", default=None)


@contextmanager
def held_for(name: str) -> Iterator[None]:
    """Every frame ``materialise``d inside is unpersisted on the way out (``name`` is for logs)."""
    token = _held.set([])
    try:
        yield
    finally:
        frames = _held.get() or []
        _held.reset(token)
        for frame in frames:
            try:
                frame.unpersist()
            except Exception as exc:  # the model's own outcome matters more than a cleanup
                log.warning("%s: could not unpersist a materialised frame: %s", name, exc)


def materialise(frame: DataFrame) -> DataFrame:
    """``frame`` persisted on disk and computed: later jobs over it (e.g. the sampling job of a
    range exchange) read the stored rows instead of recomputing its plan. On disk, not in memory:
    the rows take no room in the JVM's heap. Only inside ``held_for``, which releases it."""
    from pyspark import StorageLevel

    held = _held.get()
    if held is None:
        raise RuntimeError(
            "materialise() needs a held_for() scope to release the frame: the lakehouse adapter "
            "opens one around every dbt Python model; elsewhere, wrap the work (write included) "
            "in `with lastfm_lakehouse.materialised.held_for(name):`"
        )
    stored = frame.persist(StorageLevel.DISK_ONLY)
    held.append(stored)
    rows = stored.count()
    progress.note(f"{rows:,} rows computed")
    return stored
