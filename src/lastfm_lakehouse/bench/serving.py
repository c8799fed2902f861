"""Serving benchmark: concurrent BI-style point lookups (one user's top-10) against the Thrift server.

    python -m lastfm_lakehouse.bench.serving --clients 8 --seconds 60      (make bench-serve)
    ... --label full --during "make build DBT_ARGS='--select mart_recommendations_als'"

Each client is its own PyHive connection (as each BI user is; LDAP and TLS as the server is
configured) and loops, for a bounded time, over random users of ``mart_recommendations_als``,
asking for their top-10 as a BI tool does (``order by rank limit 10``). Prints queries/s, latency
percentiles and errors, and writes them to ``bench/results/serve-<date>[-<label>].json``. With
``--during``, that command (a rebuild) runs alongside and the figures are also given for the time
it ran. ``--session-per-query`` opens and closes a session for every lookup instead, as Superset
does (it pools no connections to an analytics database). Only talks to the given host (default
loopback).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import statistics
import subprocess
import threading
import time
from contextlib import closing
from pathlib import Path
from typing import Any

from lastfm_lakehouse.access.clients import hive_connection
from lastfm_lakehouse.settings import env_number, lakehouse_home, repo_root

LOOKUP = (
    "select rank, artist_name, score, because_artist_name from {schema}.mart_recommendations_als "
    "where user_sha1 = '{user}' order by rank limit 10"
)


def connect(host: str, port: int, errors: list[str]) -> Any | None:
    """A connection, retried: opening a session can fail transiently when many clients connect."""
    for attempt in range(5):
        try:
            return hive_connection(host, port)
        except Exception as exc:
            errors.append(f"connect: {type(exc).__name__}: {str(exc)[:200]}")
            time.sleep(0.5 * (attempt + 1))
    return None


def look_up(cursor: Any, schema: str, user: str) -> None:
    cursor.execute(LOOKUP.format(schema=schema, user=user))
    rows = cursor.fetchall()
    if not 0 < len(rows) <= 10:
        raise RuntimeError(f"{len(rows)} rows for one user's top-10")


def client(
    host: str,
    port: int,
    schema: str,
    users: list[str],
    running: threading.Event,
    seed: int,
    samples: list[tuple[float, float]],
    errors: list[str],
    session_per_query: bool = False,
) -> None:
    """Lookups until ``running`` is cleared; each answered one is ``(finished at, seconds)``. With
    ``session_per_query`` each lookup opens and closes its own session, as Superset does (it pools no
    connections to an analytics database): the figure then includes OpenSession and CloseSession,
    and a close the server fails counts as an error."""
    rng = random.Random(seed)
    connection = None if session_per_query else connect(host, port, errors)
    if connection is None and not session_per_query:
        return
    cursor = None if connection is None else connection.cursor()
    while running.is_set():
        started = time.perf_counter()
        try:
            if cursor is None:
                with closing(hive_connection(host, port)) as session:
                    look_up(session.cursor(), schema, rng.choice(users))
            else:
                look_up(cursor, schema, rng.choice(users))
            samples.append((time.monotonic(), time.perf_counter() - started))
        except Exception as exc:  # counted and reported, the client goes on
            errors.append(f"{type(exc).__name__}: {str(exc)[:200]}")
    if connection is not None:
        connection.close()


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def figures(latencies: list[float], seconds: float) -> dict[str, float | int | None]:
    def ms(value: float) -> float:
        return round(value * 1000, 1)

    return {
        "seconds": round(seconds, 1),
        "queries": len(latencies),
        "queries_per_second": round(len(latencies) / seconds, 2) if seconds > 0 else None,
        "p50_ms": ms(statistics.median(latencies)) if latencies else None,
        "p95_ms": ms(percentile(latencies, 0.95)) if latencies else None,
        "p99_ms": ms(percentile(latencies, 0.99)) if latencies else None,
    }


def summary(result: dict) -> str:
    return (
        f"queries/s {result['queries_per_second']}  p50 {result['p50_ms']} ms  p95 {result['p95_ms']} ms  "
        f"p99 {result['p99_ms']} ms"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m lastfm_lakehouse.bench.serving",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--host", default=os.environ.get("LAKEHOUSE_SERVER_HOST", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=int(env_number("LAKEHOUSE_THRIFT_PORT", 10000)))
    parser.add_argument("--schema", default=os.environ.get("LAKEHOUSE_SCHEMA", "lastfm"))
    parser.add_argument("--label", default="", help="names the results file (e.g. default, full)")
    parser.add_argument(
        "--session-per-query",
        action="store_true",
        help="each lookup opens and closes its own session, as Superset does",
    )
    parser.add_argument(
        "--during",
        default="",
        help="a shell command (a rebuild) to run alongside; lookups go on until it ends",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=None,
        help="JSON results (default bench/results/serve-<date>[-<label>].json)",
    )
    args = parser.parse_args(argv)
    if args.clients < 1 or not 0 < args.seconds <= 3600:
        parser.error("--clients must be >= 1 and --seconds in (0, 3600]")
    cursor = hive_connection(args.host, args.port).cursor()
    cursor.execute(f"select distinct user_sha1 from {args.schema}.mart_recommendations_als limit 5000")
    users = [row[0] for row in cursor.fetchall()]
    if not users:
        parser.error(f"{args.schema}.mart_recommendations_als is empty: build the lakehouse first")
    samples: list[tuple[float, float]] = []
    errors: list[str] = []
    print(
        f"{args.clients} clients x {args.seconds:.0f}s of point lookups on {len(users)} users at "
        + ("(a session per lookup) " if args.session_per_query else "")
        + f"{args.host}:{args.port}"
        + (f", while `{args.during}` runs" if args.during else "")
        + " ...",
        flush=True,
    )
    running = threading.Event()
    running.set()
    threads = [
        threading.Thread(
            target=client,
            args=(args.host, args.port, args.schema, users, running, seed, samples, errors),
            kwargs={"session_per_query": args.session_per_query},
        )
        for seed in range(args.clients)
    ]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    during = None
    if args.during:
        log = lakehouse_home() / "logs" / "bench-serve-during.log"
        log.parent.mkdir(parents=True, exist_ok=True)
        with log.open("wb") as out:
            command = subprocess.Popen(args.during, shell=True, stdout=out, stderr=subprocess.STDOUT)
            command_started = time.monotonic()
            code = command.wait()
        during = {
            "command": args.during,
            "exit_code": code,
            "log": str(log),
            "window": (command_started, time.monotonic()),
        }
    time.sleep(max(0.0, started + args.seconds - time.monotonic()))
    running.clear()
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - started
    result = {
        "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "query": LOOKUP.format(schema=args.schema, user="<user_sha1>"),
        "clients": args.clients,
        "session_per_query": args.session_per_query,
        "users": len(users),
        **figures([latency for _, latency in samples], elapsed),
        "errors": len(errors),
        "first_errors": errors[:5],
    }
    if during:
        begin, end = during.pop("window")
        inside = [latency for finished, latency in samples if begin <= finished <= end]
        result["during"] = {**during, **figures(inside, end - begin)}
    name = f"serve-{dt.date.today().isoformat()}" + (f"-{args.label}" if args.label else "")
    out = args.out or repo_root() / "bench" / "results" / f"{name}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(f"{summary(result)}  errors {result['errors']}  -> {out}")
    if during:
        print(f"while `{args.during}` ran (exit {during['exit_code']}): {summary(result['during'])}")
    return 0 if samples and (not during or during["exit_code"] == 0) else 1


if __name__ == "__main__":
    raise SystemExit(main())
