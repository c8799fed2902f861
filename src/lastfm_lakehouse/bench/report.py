"""The targets of the full-size benchmark and the markdown table of a bench results dict."""

from __future__ import annotations

import datetime as dt
from typing import Any

# (name, unit, limit, "max" = measured must be <= limit / "min" = measured must be >= limit)
TARGETS = (
    ("full dbt build, end to end", "s", 15 * 60, "max"),
    ("driver peak RSS (dbt + Spark JVM + Python workers)", "MB", 16 * 1024, "max"),
    ("Spark ALS / implicit ALS, time per iteration", "x", 5.0, "max"),
    ("kNN for all users (mart_recommendations_knn)", "s", 3 * 60, "max"),
    ("kNN neighbour recall vs exact (sample)", "", 0.9, "min"),
    ("Spark ALS / implicit ALS, NDCG@10", "x", 0.98, "min"),
    ("ALS / most popular, NDCG@10 (mart_model_evaluation)", "x", 3.0, "min"),
    ("kNN / most popular, NDCG@10 (mart_model_evaluation)", "x", 2.0, "min"),
)


def _metric(results: dict[str, Any], model: str, metric: str) -> float | None:
    for row in results.get("evaluation", []):
        if row["model"] == model and row["metric"] == metric:
            return float(row["value"])
    return None


def _over_popularity(results: dict[str, Any], model: str) -> float | None:
    ndcg, baseline = _metric(results, model, "ndcg"), _metric(results, "popularity", "ndcg")
    return round(ndcg / baseline, 3) if ndcg is not None and baseline else None


def _model_seconds(results: dict[str, Any], name: str) -> float | None:
    for node in results["build"]["nodes"]["models"]:
        if node["name"] == name:
            return float(node["seconds"])
    return None


def targets(results: dict[str, Any]) -> list[dict[str, Any]]:
    """Each target with what was measured, whether it is met and by how much (None: not measured)."""
    h2h = results.get("als_head_to_head", {})
    measured = (
        results["build"]["wall_seconds"],
        results["build"]["memory"]["tree_peak_rss_mb"],
        h2h.get("time_ratio_spark_over_implicit"),
        _model_seconds(results, "mart_recommendations_knn"),
        _metric(results, "knn", "neighbour_recall"),
        h2h.get("ndcg_ratio_spark_over_implicit"),
        _over_popularity(results, "als"),
        _over_popularity(results, "knn"),
    )
    rows = []
    for (name, unit, limit, sense), value in zip(TARGETS, measured, strict=True):
        if value is None:
            rows.append({"target": name, "unit": unit, "limit": limit, "sense": sense, "measured": None})
            continue
        met = value <= limit if sense == "max" else value >= limit
        rows.append(
            {
                "target": name,
                "unit": unit,
                "limit": limit,
                "sense": sense,
                "measured": value,
                "met": met,
                # > 1 means missed by that factor, < 1 met with that much room
                "measured_over_limit": round(value / limit, 3) if sense == "max" else round(limit / value, 3),
                "full_scale": results["scale"] == 1,
            }
        )
    return rows


def _at_peak(memory: dict[str, Any], nodes: list[dict[str, Any]]) -> list[str]:
    """What the process tree held at its peak, and the dbt nodes running then (older results
    have no breakdown: nothing)."""
    if not memory.get("at_peak"):
        return []
    held = ", ".join(
        f"{part['processes']} x {name} {part['rss_mb']:,.0f} MB"
        if part["processes"] > 1
        else f"{name} {part['rss_mb']:,.0f} MB"
        for name, part in memory["at_peak"].items()
    )
    running = nodes_running_at(nodes, memory.get("peak_at", ""))
    return [
        "",
        f"At the tree's peak ({memory['peak_after_seconds']:,.0f} s into the build): {held}; "
        f"dbt nodes running then: {', '.join(running) or 'none (between nodes)'}",
    ]


def nodes_running_at(nodes: list[dict[str, Any]], moment: str) -> list[str]:
    """Names of the nodes whose execution spans ``moment`` (ISO 8601 times, as dbt writes them)."""
    if not moment:
        return []
    at = dt.datetime.fromisoformat(moment)
    running = []
    for node in nodes:
        if node.get("started_at") and node.get("completed_at"):
            start = dt.datetime.fromisoformat(node["started_at"])
            end = dt.datetime.fromisoformat(node["completed_at"])
            if start <= at <= end:
                running.append(node["name"])
    return running


def _fmt(value: Any, unit: str = "") -> str:
    if value is None:
        return "not measured"
    if isinstance(value, float):
        text = f"{value:,.4f}" if abs(value) < 10 else f"{value:,.1f}"
    else:
        text = f"{value:,}"
    return f"{text} {unit}".strip()


def markdown(results: dict[str, Any]) -> str:
    build = results["build"]
    nodes = build["nodes"]
    data = results["dataset"]
    lines = [
        f"# Bench {results['date']} — scale {results['scale']:g} ({data['users']:,} users, "
        f"{data['plays_lines']:,} play lines, seed {data['seed']})",
        "",
        f"Commit {results.get('commit', 'not recorded')}, "
        f"measured {results.get('measured_at', results['date'])}, "
        f"tables in {results.get('table_format', 'parquet')} "
        f"(warehouse {build.get('warehouse_bytes', 0) / 2**30:.2f} GiB after the build). "
        f"Machine: {results['machine']['cores']} cores, {results['machine']['memory_gb']} GB"
        f"{_calibration(results)}. "
        f"`{build.get('command', 'dbt build')}` exit {build['exit_code']}, "
        f"{', '.join(f'{k} {v}' for k, v in nodes['statuses'].items())}; "
        f"bench total {results['bench_wall_seconds']:,.0f} s.",
        "",
        "## Targets",
        "",
        "| target | limit | measured | met | measured / limit |",
        "|---|---|---|---|---|",
    ]
    for row in results["targets"]:
        sign = "≤" if row["sense"] == "max" else "≥"
        if row["measured"] is None:
            lines.append(
                f"| {row['target']} | {sign} {_fmt(row['limit'], row['unit'])} | not measured | - | - |"
            )
            continue
        verdict = "yes" if row["met"] else "**NO**"
        ratio = row["measured_over_limit"]
        how = f"{ratio:.2f}" + ("" if row["met"] else f" (missed by {abs(ratio - 1) * 100:.0f} %)")
        lines.append(
            f"| {row['target']} | {sign} {_fmt(row['limit'], row['unit'])} | "
            f"{_fmt(row['measured'], row['unit'])} | {verdict} | {how} |"
        )
    memory = build["memory"]
    lines += [
        "",
        "Peak RSS per process (VmHWM): "
        + ", ".join(f"{name} {mb:,.0f} MB" for name, mb in memory["process_peak_rss_mb"].items()),
        *_at_peak(memory, nodes.get("all", [])),
        "",
        "## Wall time per dbt node type (sum of node times; 2 dbt threads overlap)",
        "",
        "| node type | nodes | seconds |",
        "|---|---|---|",
    ]
    for kind, bucket in sorted(nodes["by_type"].items(), key=lambda kv: -kv[1]["seconds"]):
        lines.append(f"| {kind} | {bucket['nodes']} | {bucket['seconds']:,.1f} |")
    lines += [
        f"| **dbt build (wall)** | | **{build['wall_seconds']:,.1f}** |",
        "",
        "## Wall time per model",
        "",
        "| model | type | seconds |",
        "|---|---|---|",
    ]
    lines += [f"| {n['name']} | {n['type']} | {n['seconds']:,.1f} |" for n in nodes["models"]]
    lines += ["", "## Rows per stage", "", "| stage | relation | rows |", "|---|---|---|"]
    lines += [f"| {r['stage']} | {r['relation']} | {r['rows']:,} |" for r in results["rows"]]
    # Each section below is a heading and a markdown table: the same shape, different columns.
    lines += [
        "",
        "## Evaluation (mart_model_evaluation)",
        "",
        "| model | metric | k | value | users |",
        "|---|---|---|---|---|",
    ]
    lines += [
        f"| {r['model']} | {r['metric']} | {'' if r['k'] is None else r['k']} | {r['value']:.4f} | "
        f"{r['users_evaluated']:,} |"
        for r in results["evaluation"]
    ]
    inputs = results.get("als_training_inputs")
    if inputs:
        lines += [
            "",
            "## ALS training input (same split, parameters and users; the evaluation's scoring code)",
            "",
            f"{inputs['training_rows']:,} training rows; {inputs['users_evaluated']:,} users scored; "
            f"{inputs['parameters']}.",
            "",
            f"| trained on | rows | NDCG@{inputs['k']} | P@{inputs['k']} | coverage | "
            "NDCG / most popular | fit + score s |",
            "|---|---|---|---|---|---|---|",
        ]
        lines += [
            f"| {r['input']} | {r['rows']:,} | {r['ndcg']:.4f} | {r['precision']:.4f} | "
            f"{r['coverage']:.4f} | {r['ndcg_over_popularity']:.2f}x | {r['seconds']:,.1f} |"
            for r in inputs["inputs"]
        ]
    h2h = results.get("als_head_to_head")
    if h2h:
        k = h2h["k"]
        p = h2h["parameters"]
        m = h2h["matrix"]
        lines += [
            "",
            "## ALS head-to-head (same matrix, split, factors, iterations, regularisation, alpha, threads)",
            "",
            f"{m['entries']:,} training ratings, {m['users']:,} users x {m['artists']:,} artists; "
            f"{p['factors']} factors, {p['iterations']} iterations, reg {p['regularization']}, "
            f"alpha {p['alpha']}, {p['threads']} threads; {h2h['users_evaluated']:,} users scored.",
            "",
            f"| library | fit s | s / iteration | NDCG@{k} | P@{k} | solver |",
            "|---|---|---|---|---|---|",
        ]
        for library in ("spark", "implicit"):
            r = h2h[library]
            solver = r.get("solver", "") + (f", BLAS {r['blas']}" if r.get("blas") else "")
            lines.append(
                f"| {library} | {r['fit_seconds']:,.1f} | {r['seconds_per_iteration']:.2f} | "
                f"{r[f'ndcg_at_{k}']:.4f} | {r[f'precision_at_{k}']:.4f} | {solver} |"
            )
        lines.append(
            f"| **spark / implicit** | | **{h2h['time_ratio_spark_over_implicit']:.2f}x** | "
            f"**{h2h['ndcg_ratio_spark_over_implicit']:.3f}** | | |"
        )
    levers = results.get("als_levers")
    if levers:
        lines += [
            "",
            f"## Spark ALS speed levers, one at a time ({levers['iterations']} iterations per fit, "
            "fresh JVM each, same ratings)",
            "",
            "| configuration | s / iteration | vs defaults | BLAS | LAPACK |",
            "|---|---|---|---|---|",
        ]
        base = next((f.get("seconds_per_iteration") for f in levers["fits"] if "error" not in f), None)
        for fit in levers["fits"]:
            if "error" in fit:
                lines.append(f"| {fit['name']} | failed: {fit['error'][:80]} | | | |")
                continue
            speed = f"{base / fit['seconds_per_iteration']:.2f}x" if base else ""
            lines.append(
                f"| {fit['name']} | {fit['seconds_per_iteration']:.2f} | {speed} | "
                f"{fit['blas']} | {fit['lapack']} |"
            )
    return "\n".join(lines) + "\n"


def _calibration(results: dict[str, Any]) -> str:
    """ ", calibration 1.234 s (build = N x)": the reference workload (bench.calibration), when timed."""
    timed = results["machine"].get("calibration")
    if not timed:
        return ""
    build = results.get("build", {}).get("wall_seconds") or 0
    ratio = f"; build = {build / timed['seconds']:,.0f} x calibration" if timed["seconds"] else ""
    return f", calibration {timed['seconds']:.3f} s ({timed['workload']}{ratio})"
