"""The package's rooms and the direction of their imports, read from the source (no JVM).

A room imports from its own room and the rooms below it, never from one above: the platform
(settings, the Spark session, secrets and TLS trust, process helpers) knows nothing of the data,
the models, the server or the command line, so that the dbt adapter, which sits on the platform
alone, can run a build without importing the server (issue: "no arrow from a lower room back up").
"""

from __future__ import annotations

import ast
from pathlib import Path

from .conftest import REPO

SRC = REPO / "src"
# lowest first; a module's room is its first name under lastfm_lakehouse
ROOMS: list[set[str]] = [
    {
        "settings",
        "batches",
        "provenance",
        "progress",
        "maven",
        "delta_jars",
        "spark_session",
        "access",
        "commands",
        "build_args",
        "materialised",
    },
    {"data"},
    {"recommenders"},
    {"evaluation"},
    {"serving"},
    {"dashboards", "bench"},
    {"cli", "docs_site"},
]
ADAPTER = "dbt.adapters.lakehouse"


def module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path) -> set[str]:
    """Every ``lastfm_lakehouse`` module the file imports, at any depth (function-level too)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("lastfm_lakehouse"):
            found |= {f"{node.module}.{alias.name}" for alias in node.names} | {node.module}
        elif isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("lastfm_lakehouse")}
    return found


def room_of(module: str) -> int | None:
    parts = module.split(".")
    if parts[0] != "lastfm_lakehouse" or len(parts) < 2:
        return None
    return next((i for i, room in enumerate(ROOMS) if parts[1] in room), None)


def test_every_module_is_in_a_room() -> None:
    modules = {module_name(p) for p in (SRC / "lastfm_lakehouse").rglob("*.py")} - {"lastfm_lakehouse"}
    assert not {m for m in modules if room_of(m) is None}


def test_no_import_reaches_up_a_room() -> None:
    upward = []
    for path in sorted((SRC / "lastfm_lakehouse").rglob("*.py")):
        here = room_of(module_name(path))
        if here is None:
            continue
        for target in imports(path):
            there = room_of(target)
            if there is not None and there > here:
                upward.append(f"{module_name(path)} -> {target}")
    assert not upward, "\n".join(upward)


def test_the_dbt_adapter_stands_on_the_platform_alone() -> None:
    reached = {
        target
        for path in (SRC / "dbt" / "adapters" / "lakehouse").rglob("*.py")
        for target in imports(path)
        if room_of(target) is not None
    }
    assert reached and all(room_of(target) == 0 for target in reached), sorted(
        t for t in reached if room_of(t) != 0
    )


def test_the_check_sees_an_upward_import(tmp_path: Path) -> None:
    """The walk finds an import inside a function, where the adapter's used to be."""
    source = tmp_path / "example.py"
    source.write_text("def f():\n    from lastfm_lakehouse.serving import tls\n", encoding="utf-8")
    assert room_of(max(imports(source), key=len)) == 4
