"""A fixed reference workload, timed in every ``make bench`` run, so that builds measured on different
machines or days compare as ratios (build seconds / calibration seconds).

The same commit's full-size build took 804 s in one run and 1,130 s in another, every node 1.3-1.5x
slower: the machine's speed varies by the day and the hour. The workload is single-threaded CPU work
of the kinds a build does (sorting numbers, hashing strings, interpreted Python), fixed in size and
seeded, so its time moves with the machine and with nothing in this project.
"""

from __future__ import annotations

import hashlib
import time
from typing import Any

import numpy as np

WORKLOAD = "sort 4M float64 + sha1 of 400K strings + 2M interpreted additions (seeded; best of 3)"


def _once() -> float:
    started = time.perf_counter()
    values = np.random.default_rng(360).random(4_000_000)
    np.sort(values, kind="quicksort")
    for i in range(400_000):
        hashlib.sha1(f"user-{i}".encode()).hexdigest()
    total = 0
    for i in range(2_000_000):
        total += i % 7
    return time.perf_counter() - started


def calibrate(repeats: int = 3) -> dict[str, Any]:
    """The workload's best time of ``repeats`` runs (best: the least disturbed by other work)."""
    runs = [_once() for _ in range(repeats)]
    return {"workload": WORKLOAD, "seconds": round(min(runs), 3), "runs": [round(r, 3) for r in runs]}
