"""Spark ALS speed levers, each measured on its own on the same ratings (``make bench`` step).

Which BLAS the JVM uses is fixed when the JVM starts (netlib's ``BLAS.getInstance()``), so every
configuration is fitted in a fresh child process with its own local SparkSession (no metastore: it
reads the ratings from a Parquet file the bench exports). Levers:

* BLAS: native through JNI (``libblas.so.3`` = OpenBLAS from Debian's ``libopenblas0``; LAPACK
  likewise) or, with the native library names pointed at nothing, what Spark 4 uses on a machine
  without OpenBLAS: Java's Vector API (``VectorBLAS``; Spark 4's launcher adds
  ``--add-modules=jdk.incubator.vector`` itself) and F2J's Java LAPACK;
* user / item blocks (Spark's default 10 + 10);
* intermediate storage level of the in/out blocks (default MEMORY_AND_DISK);
* caching the ratings before the fit;
* checkpointing every few iterations (lineage truncation; costs a write).

    python -m lastfm_lakehouse.bench.levers fit --ratings R.parquet --rank 32 --iterations 3 [--blas java] ...
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from lastfm_lakehouse.recommenders.als import netlib_implementations
from lastfm_lakehouse.settings import ARTIST_KEY, RATING, USER_KEY, SparkSettings

BLAS_CHOICES = ("native", "vector")
# netlib tries these library names for its JNI BLAS/LAPACK; names that do not exist disable them.
NO_NATIVE = (
    "-Ddev.ludovic.netlib.blas.nativeLib=lakehouse-no-native-blas.so "
    "-Ddev.ludovic.netlib.lapack.nativeLib=lakehouse-no-native-lapack.so"
)


@dataclass(frozen=True)
class LeverConfig:
    name: str
    blas: str = "vector"
    blocks: int = 10  # 0: one per core, as als.train does by default
    storage: str = "MEMORY_AND_DISK"
    cache_ratings: bool = False
    checkpoint_interval: int = 0  # 0: no checkpoint directory, Spark skips checkpointing

    def java_options(self) -> str:
        return "" if self.blas == "native" else NO_NATIVE


# Spark's defaults first, then one lever at a time, then the combination the project uses (als.py).
SWEEP = (
    LeverConfig("Spark defaults without OpenBLAS (VectorBLAS, F2J LAPACK)"),
    LeverConfig("native OpenBLAS (BLAS + LAPACK)", blas="native"),
    LeverConfig("2 + 2 blocks (= cores)", blocks=2),
    LeverConfig("ratings cached", cache_ratings=True),
    LeverConfig("storage MEMORY_ONLY", storage="MEMORY_ONLY"),
    LeverConfig("checkpoint every 2 iterations", checkpoint_interval=2),
    LeverConfig("project setting: native OpenBLAS, blocks = cores", blas="native", blocks=0),
)


def fit_once(
    ratings: Path, config: LeverConfig, rank: int, iterations: int, reg: float, alpha: float
) -> dict[str, Any]:
    """Runs in the child: one ALS fit with ``config``; returns seconds and the BLAS in use."""
    from pyspark import StorageLevel
    from pyspark.ml.recommendation import ALS
    from pyspark.sql import SparkSession

    with tempfile.TemporaryDirectory(prefix="als-levers-") as scratch:
        spark = (
            SparkSession.builder.master("local[*]")
            .appName(f"als-lever {config.name}")
            .config("spark.driver.memory", SparkSettings.from_env().driver_memory)
            .config("spark.driver.extraJavaOptions", config.java_options())
            .config("spark.local.dir", scratch)
            .config("spark.ui.enabled", "false")
            .config("spark.sql.shuffle.partitions", "8")
            .getOrCreate()
        )
        spark.sparkContext.setLogLevel("ERROR")
        if config.checkpoint_interval:
            spark.sparkContext.setCheckpointDir(str(Path(scratch) / "checkpoints"))
        frame = spark.read.parquet(str(ratings)).select(USER_KEY, ARTIST_KEY, RATING)
        if config.cache_ratings:
            frame = frame.persist(StorageLevel.MEMORY_ONLY)
            frame.count()
        als = ALS(
            rank=rank,
            maxIter=iterations,
            regParam=reg,
            alpha=alpha,
            implicitPrefs=True,
            userCol=USER_KEY,
            itemCol=ARTIST_KEY,
            ratingCol=RATING,
            numUserBlocks=config.blocks or spark.sparkContext.defaultParallelism,
            numItemBlocks=config.blocks or spark.sparkContext.defaultParallelism,
            intermediateStorageLevel=config.storage,
            checkpointInterval=config.checkpoint_interval or 10,
            seed=42,
        )
        started = time.perf_counter()
        als.fit(frame)
        seconds = time.perf_counter() - started
        blas, lapack = netlib_implementations(spark)
        spark.stop()
    return {
        "seconds": round(seconds, 2),
        "seconds_per_iteration": round(seconds / iterations, 3),
        "blas": blas,
        "lapack": lapack,
    }


def chosen(numbers: str | None) -> tuple[LeverConfig, ...]:
    """The levers of SWEEP numbered in ``numbers`` ("1,2": 1-based, in SWEEP's order), or all."""
    if not numbers:
        return SWEEP
    try:
        picked = sorted({int(n) for n in numbers.split(",") if n.strip()})
    except ValueError:
        raise ValueError(f"--levers {numbers!r}: lever numbers 1..{len(SWEEP)}, comma-separated") from None
    if not picked or picked[0] < 1 or picked[-1] > len(SWEEP):
        raise ValueError(f"--levers {numbers!r}: lever numbers 1..{len(SWEEP)}, comma-separated")
    return tuple(SWEEP[n - 1] for n in picked)


def sweep(
    ratings: Path,
    rank: int,
    iterations: int,
    reg: float,
    alpha: float,
    say: Any = print,
    configs: tuple[LeverConfig, ...] = SWEEP,
) -> list[dict[str, Any]]:
    """Every configuration of ``configs`` (SWEEP) in its own process, in order."""
    rows = []
    for i, config in enumerate(configs, start=1):
        say(f"  lever {i}/{len(configs)}: {config.name}")
        command = [
            sys.executable, "-m", "lastfm_lakehouse.bench.levers", "fit", "--ratings", str(ratings),
            "--config", json.dumps(asdict(config)), "--rank", str(rank), "--iterations", str(iterations),
            "--reg", str(reg), "--alpha", str(alpha),
        ]  # fmt: skip
        env = {**os.environ, "OPENBLAS_NUM_THREADS": "1"}
        done = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
        if done.returncode != 0:
            tail = " | ".join(done.stderr.strip().splitlines()[-3:])
            rows.append({**asdict(config), "error": tail})
            say(f"    failed: {tail}")
            continue
        result = json.loads(done.stdout.strip().splitlines()[-1])
        rows.append({**asdict(config), **result})
        say(
            f"    {result['seconds_per_iteration']:.2f} s/iteration "
            f"(BLAS {result['blas']}, LAPACK {result['lapack']})"
        )
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m lastfm_lakehouse.bench.levers", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    fit = commands.add_parser("fit", help="one fit (run by sweep in a child process)")
    fit.add_argument("--ratings", type=Path, required=True)
    fit.add_argument("--config", required=True, help="LeverConfig as JSON")
    fit.add_argument("--rank", type=int, default=32)
    fit.add_argument("--iterations", type=int, default=3)
    fit.add_argument("--reg", type=float, default=0.1)
    fit.add_argument("--alpha", type=float, default=40.0)
    args = parser.parse_args(argv)
    config = replace(LeverConfig(name=""), **json.loads(args.config))
    if config.blas not in BLAS_CHOICES:
        parser.error(f"blas must be one of {', '.join(BLAS_CHOICES)}, got {config.blas!r}")
    print(json.dumps(fit_once(args.ratings, config, args.rank, args.iterations, args.reg, args.alpha)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
