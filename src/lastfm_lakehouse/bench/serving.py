"""Serving benchmark: concurrent BI-style point lookups (one user's top-10) against the Thrift server.

    python -m lastfm_lakehouse.bench.serving --clients 8 --seconds 60      (make bench-serve)

Each client is its own PyHive connection (as each BI user is) and loops, for a bounded time, over
random users of ``mart_recommendations_als``. Prints queries/s, latency percentiles and errors, and
writes them to ``bench/results/serve-<date>.json``. Only talks to the given host (default loopback).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import statistics
import threading
import time
from pathlib import Path

from lastfm_lakehouse.serving.clients import hive_connection
from lastfm_lakehouse.settings import repo_root

LOOKUP = (
    "select rank, artist_name, score, because_artist_name from {schema}.mart_recommendations_als "
    "where user_sha1 = '{user}' and rank <= 10 order by rank"
)


def client(
    host: str,
    port: int,
    schema: str,
    users: list[str],
    deadline: float,
    seed: int,
    latencies: list[float],
    errors: list[str],
) -> None:
    rng = random.Random(seed)
    for attempt in range(5):  # session opening can fail transiently when many clients connect at once
        try:
            connection = hive_connection(host, port)
            break
        except Exception as exc:
            errors.append(f"connect: {type(exc).__name__}: {str(exc)[:200]}")
            time.sleep(0.5 * (attempt + 1))
    else:
        return
    cursor = connection.cursor()
    while time.monotonic() < deadline:
        started = time.perf_counter()
        try:
            cursor.execute(LOOKUP.format(schema=schema, user=rng.choice(users)))
            rows = cursor.fetchall()
            if not rows:
                raise RuntimeError("empty result")
            latencies.append(time.perf_counter() - started)
        except Exception as exc:  # counted and reported, the client goes on
            errors.append(f"{type(exc).__name__}: {str(exc)[:200]}")
    connection.close()


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m lastfm_lakehouse.bench.serving",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--host", default=os.environ.get("LAKEHOUSE_SERVER_HOST", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=int(os.environ.get("LAKEHOUSE_THRIFT_PORT", "10000")))
    parser.add_argument("--schema", default=os.environ.get("LASTFM_SCHEMA", "lastfm"))
    parser.add_argument(
        "--out", type=Path, default=None, help="JSON results (default bench/results/serve-<date>.json)"
    )
    args = parser.parse_args(argv)
    if args.clients < 1 or not 0 < args.seconds <= 3600:
        parser.error("--clients must be >= 1 and --seconds in (0, 3600]")
    cursor = hive_connection(args.host, args.port).cursor()
    cursor.execute(f"select distinct user_sha1 from {args.schema}.mart_recommendations_als limit 5000")
    users = [row[0] for row in cursor.fetchall()]
    if not users:
        parser.error(f"{args.schema}.mart_recommendations_als is empty: build the lakehouse first")
    latencies: list[float] = []
    errors: list[str] = []
    print(
        f"{args.clients} clients x {args.seconds:.0f}s of point lookups on {len(users)} users at "
        f"{args.host}:{args.port} ...",
        flush=True,
    )
    deadline = time.monotonic() + args.seconds
    started = time.monotonic()
    threads = [
        threading.Thread(
            target=client, args=(args.host, args.port, args.schema, users, deadline, seed, latencies, errors)
        )
        for seed in range(args.clients)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - started
    result = {
        "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "clients": args.clients,
        "seconds": round(elapsed, 1),
        "queries": len(latencies),
        "queries_per_second": round(len(latencies) / elapsed, 2),
        "p50_ms": round(statistics.median(latencies) * 1000, 1) if latencies else None,
        "p95_ms": round(percentile(latencies, 0.95) * 1000, 1) if latencies else None,
        "p99_ms": round(percentile(latencies, 0.99) * 1000, 1) if latencies else None,
        "errors": len(errors),
        "first_errors": errors[:5],
    }
    out = args.out or repo_root() / "bench" / "results" / f"serve-{dt.date.today().isoformat()}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(
        f"queries/s {result['queries_per_second']}  p50 {result['p50_ms']} ms  p95 {result['p95_ms']} ms  "
        f"p99 {result['p99_ms']} ms  errors {result['errors']}  -> {out}"
    )
    return 0 if latencies else 1


if __name__ == "__main__":
    raise SystemExit(main())
