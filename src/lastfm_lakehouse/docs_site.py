"""``make docs``: the documentation site (MkDocs) from ``README.md`` and ``docs/``, with a
configuration reference generated from the code, so that it cannot drift from it.

    python -m lastfm_lakehouse.docs_site build [--out docs/site]

    python -m lastfm_lakehouse.docs_site generate         # only the generated pages (make bench does it)

The pages stay plain Markdown that reads well on a forge; this module regenerates
``docs/configuration.md`` and ``docs/bench-results.md`` from the code and the bench results, copies
the pages into a build folder, turns the README's ``docs/<page>.md`` links into site links, copies the
images they show and runs ``mkdocs build --strict`` (a broken link fails the build).
MkDocs refuses a ``docs_dir`` that contains its own config file, and the design keeps the top level
fixed, so the config is written here rather than kept as a ``mkdocs.yml`` at the root.

The reference has two tables:

- every dbt var in ``dbt_project/dbt_project.yml``: its default and the comment above it;
- every environment variable the code reads (``LAKEHOUSE_*``; dbt's ``DBT_*``; Superset's own)
  in ``src/``, ``profiles/`` and the ``Makefile``: the defaults written where it is read, and where.
"""

from __future__ import annotations

import argparse
import ast
import json
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
DOCS = REPO / "docs"
NAV = (
    ("Home", "index.md"),
    ("Data", "data.md"),
    ("Models", "models.md"),
    ("Recommenders", "recommenders.md"),
    ("Batches and erasure", "batches.md"),
    ("Delta Lake", "delta.md"),
    ("Serving and security", "serving.md"),
    ("Dashboards", "dashboards.md"),
    ("Operations", "operations.md"),
    ("Configuration reference", "configuration.md"),
    ("Performance", "performance.md"),
    ("Bench results", "bench-results.md"),
    ("Development", "development.md"),
)
ENV_NAME = re.compile(r"\b((?:LAKEHOUSE|LASTFM|SUPERSET|DBT_ENV_SECRET|DBT)_[A-Z0-9_]+)\b")
ENV_VAR_CALL = re.compile(r"env_var\(\s*'([A-Z0-9_]+)'\s*(?:,\s*'([^']*)')?")
IMAGE_LINK = re.compile(r"\]\((\.\./)?(src/[^)]+\.png)\)")


@dataclass(frozen=True)
class DbtVar:
    name: str
    default: str
    meaning: str


@dataclass
class EnvVar:
    name: str
    defaults: set[str] = field(default_factory=set)
    places: set[str] = field(default_factory=set)


def dbt_vars(project_file: Path = REPO / "dbt_project" / "dbt_project.yml") -> list[DbtVar]:
    """The ``vars:`` block, each var with the comment lines just above it; a var right below another
    shares that one's comment (``age_min`` and ``age_max``)."""
    found: list[DbtVar] = []
    comment: list[str] = []
    previous_was_var = False
    inside = False
    for line in project_file.read_text().splitlines():
        if line.startswith("vars:"):
            inside = True
            continue
        if not inside:
            continue
        if line and not line.startswith(" "):
            break
        text = line.strip()
        is_var = (
            line.startswith("  ") and not line.startswith("   ") and ":" in text and not text.startswith("#")
        )
        if is_var:
            name, _, value = text.partition(":")
            meaning = " ".join(comment) or (found[-1].meaning if previous_was_var and found else "")
            found.append(DbtVar(name.strip(), value.strip().strip('"'), meaning))
            comment = []
        elif text.startswith("#") and not text.startswith("# ---"):
            comment.append(text.lstrip("#").strip())
        else:
            comment = []
        previous_was_var = is_var
    return found


def env_vars(root: Path = REPO) -> list[EnvVar]:
    """Every environment variable named in the code, with the defaults given where it is read."""
    found: dict[str, EnvVar] = {}

    def note(name: str, place: str, default: str | None = None) -> None:
        entry = found.setdefault(name, EnvVar(name))
        entry.places.add(place)
        if default is not None:
            entry.defaults.add(default)

    for path in sorted((root / "src").rglob("*.py")):
        place = str(path.relative_to(root))
        tree = ast.parse(path.read_text(), filename=str(path))
        constants = {
            target.id: node.value.value
            for node in ast.walk(tree)
            if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant)
            for target in node.targets
            if isinstance(target, ast.Name)
        }
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                for name in ENV_NAME.findall(node.value):
                    if name == node.value:
                        note(name, place)
            if isinstance(node, ast.Call) and _is_environ_get(node) and len(node.args) >= 2:
                key, default = node.args[:2]
                name = key.value if isinstance(key, ast.Constant) else constants.get(getattr(key, "id", ""))
                if isinstance(name, str) and ENV_NAME.fullmatch(name):
                    named = getattr(default, "id", None)
                    given = repr(str(constants[named])) if named in constants else ast.unparse(default)
                    note(name, place, given)
    from lastfm_lakehouse.settings import ENV_DEFAULTS, RENAMED_ENV

    for name, default in ENV_DEFAULTS.items():  # read with `or DEFAULT_...`, which the walk cannot see
        note(name, "src/lastfm_lakehouse/settings.py", repr(default))
    for path in [*sorted((root / "profiles").glob("*.yml")), root / "dbt_project" / "dbt_project.yml"]:
        for match in ENV_VAR_CALL.finditer(path.read_text()):
            note(match.group(1), str(path.relative_to(root)), repr(match.group(2) or ""))
    makefile = (root / "Makefile").read_text()
    internal = set(re.findall(r"^([A-Z0-9_]+) :=", makefile, flags=re.MULTILINE))
    for name in set(ENV_NAME.findall(makefile)) - internal:
        note(name, "Makefile")
    return sorted((e for e in found.values() if e.name not in RENAMED_ENV), key=lambda entry: entry.name)


def _is_environ_get(node: ast.Call) -> bool:
    """``os.environ.get(name, default)``, ``os.getenv(...)`` or ``settings.env_number(name, default)``."""
    function = node.func
    if isinstance(function, ast.Name):
        return function.id == "env_number"
    return isinstance(function, ast.Attribute) and (
        (function.attr == "get" and ast.unparse(function.value).endswith("environ"))
        or function.attr == "getenv"
    )


def model_params() -> list[type]:
    """The parameter classes behind the mapping vars (``recommenders.params.ModelParams``)."""
    from lastfm_lakehouse.recommenders.als import AlsParams
    from lastfm_lakehouse.recommenders.knn import KnnParams
    from lastfm_lakehouse.recommenders.lsh import LshParams

    return [AlsParams, KnnParams, LshParams]


def configuration_page() -> str:
    def cell(text: str) -> str:
        return text.replace("|", "\\|").replace("\n", " ")

    lines = [
        "# Configuration reference",
        "",
        "Generated by `make docs` from the code (`lastfm_lakehouse.docs_site`): do not edit.",
        "",
        "## dbt vars",
        "",
        "Set with `--vars` (`make build DBT_ARGS=\"--vars '{plays_cap: 500}'\"`). From "
        "`dbt_project/dbt_project.yml`.",
        "",
        "| var | default | meaning |",
        "|---|---|---|",
    ]
    lines += [f"| `{v.name}` | `{cell(v.default)}` | {cell(v.meaning)} |" for v in dbt_vars()]
    lines += [
        "",
        "## Model parameters",
        "",
        "A model family's parameters are one mapping var (`--vars '{als: {rank: 32}}'`); a key left "
        "out keeps its default, defined once in the model's parameter class, listed here from it.",
        "",
        "| var | key | default |",
        "|---|---|---|",
    ]
    for params in model_params():
        lines += [f"| `{params.VAR}` | `{key}` | `{value}` |" for key, value in params.defaults().items()]
    lines += [
        "",
        "## Environment variables",
        "",
        "Keep your own values in `.env` at the repository's top (copy `.env.example`, generated from "
        "this list): every `lastfm-lakehouse` command, and so every make target that runs one, reads "
        "it; a variable already set in the environment wins. "
        "Every variable the code reads, the defaults written where it is read (none: unset means off, "
        "or the value comes from elsewhere), and where. What each one does is in the page of its "
        "subject ([Operations](operations.md), [Serving and security](serving.md), "
        "[Dashboards](dashboards.md)).",
        "",
        "| variable | default | read in |",
        "|---|---|---|",
    ]
    for entry in env_vars():
        defaults = ", ".join(f"`{cell(d)}`" for d in sorted(entry.defaults)) or "—"
        lines.append(f"| `{entry.name}` | {defaults} | {', '.join(sorted(entry.places))} |")
    from lastfm_lakehouse.settings import RENAMED_ENV

    lines += [
        "",
        "### Renamed",
        "",
        "One prefix: these names are retired. `lastfm-lakehouse` (and so `make`) still takes an old "
        "name, with a warning; `dbt` run on its own stops and names the new one.",
        "",
        "| was | now |",
        "|---|---|",
        *(f"| `{old}` | `{new}` |" for old, new in RENAMED_ENV.items()),
    ]
    return "\n".join(lines) + "\n"


def bench_results_page(results: Path = REPO / "bench" / "results") -> str:
    """Every ``make bench`` and ``make bench-serve`` result file as a table row: when, which commit
    (older files did not record it), what was measured and the headline figures."""

    def load(path: Path) -> dict:
        return json.loads(path.read_text(encoding="utf-8"))

    builds = [
        "| file | date | commit | format | users | build | peak RSS | exit | calibration |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    serves = [
        "| file | date | clients | session per query | q/s | p50 | p95 | errors |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for path in sorted(results.glob("*.json")):
        data = load(path)
        link = f"`{path.name}`"
        if path.name.startswith("serve-"):
            serves.append(
                f"| {link} | {data.get('date', '')} | {data.get('clients', '')} | "
                f"{'yes' if data.get('session_per_query') else 'no'} | "
                f"{data.get('queries_per_second', 0):.1f} | {data.get('p50_ms', 0):.0f} ms | "
                f"{data.get('p95_ms', 0):.0f} ms | {data.get('errors', '')} |"
            )
            continue
        build = data.get("build", {})
        peak = build.get("memory", {}).get("tree_peak_rss_mb")
        timed = data.get("machine", {}).get("calibration", {}).get("seconds")
        builds.append(
            f"| {link} | {data.get('date', '')} | {str(data.get('commit', '—'))[:10]} | "
            f"{data.get('table_format', 'parquet')} | {data.get('dataset', {}).get('users', 0):,} | "
            f"{build.get('wall_seconds', 0):,.0f} s | "
            f"{f'{peak / 1000:.2f} GB' if peak else '—'} | {build.get('exit_code', '')} | "
            f"{f'{timed:.3f} s' if timed else '—'} |"
        )
    return "\n".join(
        [
            "# Bench results",
            "",
            "Generated by `make docs` from `bench/results/*.json` (`lastfm_lakehouse.docs_site`).",
            "What each run changed and why is in [Performance](performance.md); each file's `.md` twin",
            "has every figure. Peak RSS: the build's process tree (dbt, the JVM, Python workers),",
            "1 GB = 1,000 MB.",
            "Files before 2026-12-07 record no commit and ran on Parquet (the only format then).",
            "Calibration: a fixed single-threaded workload timed before the build (`bench.calibration`);",
            "compare runs of different days or machines as build / calibration.",
            "",
            "## `make bench`: the build",
            "",
            *builds,
            "",
            "## `make bench-serve`: point lookups over Thrift",
            "",
            *serves,
            "",
        ]
    )


GENERATED = {"configuration.md": configuration_page, "bench-results.md": bench_results_page}
# Read in the code but not a user's to set in .env: passwords (secrets live in files under
# $LAKEHOUSE_HOME/secrets), Superset's own variables (the project sets them), a make variable.
NOT_FOR_ENV_FILE = re.compile(r"(PASSWORD$|^DBT_ENV_SECRET_|^SUPERSET_(HOME|CONFIG_PATH)$|^DBT_ARGS$)")


def env_example() -> str:
    """``.env.example``: every setting a user may keep in ``.env`` (which ``lastfm-lakehouse``
    reads), commented out at its default, with where it is read; generated from ``env_vars``."""
    lines = [
        "# The settings of lastfm-lakehouse. Copy to .env and uncomment what you change: every",
        "# lastfm-lakehouse command (and so every make target that runs one) reads .env; a variable",
        "# already set in the environment wins. Generated by make docs from the code: do not edit.",
        "# Defaults are those written where each is read (docs/configuration.md); passwords are",
        "# never set here: they live in files under $LAKEHOUSE_HOME/secrets/.",
    ]
    for entry in env_vars():
        if NOT_FOR_ENV_FILE.search(entry.name):
            continue
        literal = sorted({str(v) for v in map(_literal, entry.defaults) if v not in (None, "")})
        default = literal[0] if literal else ""
        lines += ["", f"# read in {', '.join(sorted(entry.places))}", f"# {entry.name}={default}"]
    return "\n".join(lines) + "\n"


def _literal(source: str) -> object:
    """A default as written in the code (``'8088'``, ``3389``), None when it is an expression."""
    try:
        return ast.literal_eval(source)
    except (ValueError, SyntaxError):
        return None


def generate_env_example(path: Path = REPO / ".env.example") -> bool:
    """Writes ``.env.example``; True when it changed."""
    text = env_example()
    if path.exists() and path.read_text() == text:
        return False
    path.write_text(text)
    return True


def generate(docs: Path | None = None) -> list[Path]:
    """Writes the generated pages into ``docs/`` (kept in git, so they read on a forge too; the
    test suite fails when one differs from what the code generates now). Returns those changed."""
    folder = docs or DOCS
    changed = []
    for name, page in GENERATED.items():
        path = folder / name
        text = page()
        if not path.exists() or path.read_text() != text:
            path.write_text(text)
            changed.append(path)
    if docs is None and generate_env_example():
        changed.append(REPO / ".env.example")
    return changed


def stage(into: Path) -> Path:
    """The pages, ready for MkDocs, in ``into``: its docs folder."""
    pages = into / "pages"
    pages.mkdir(parents=True)
    (pages / "img").mkdir()

    def with_images(text: str) -> str:
        def copy(match: re.Match[str]) -> str:
            source = REPO / match.group(2)
            shutil.copyfile(source, pages / "img" / source.name)
            return f"](img/{source.name})"

        return IMAGE_LINK.sub(copy, text)

    readme = (REPO / "README.md").read_text().replace("](docs/", "](")
    (pages / "index.md").write_text(with_images(readme))
    for page in DOCS.glob("*.md"):
        (pages / page.name).write_text(with_images(page.read_text()))
    return pages


def build(out: Path) -> None:
    for path in generate():
        print(f"regenerated {path.relative_to(REPO)}")
    with tempfile.TemporaryDirectory(prefix="lakehouse-docs-") as work:
        pages = stage(Path(work))
        nav = "\n".join(f"  - {title!r}: {page}" for title, page in NAV)
        config = Path(work) / "mkdocs.yml"
        config.write_text(
            "site_name: Last.fm 360K lakehouse\n"
            f"docs_dir: {pages}\n"
            f"site_dir: {out.resolve()}\n"
            "use_directory_urls: false\n"
            "theme: readthedocs\n"
            f"nav:\n{nav}\n"
        )
        subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "-f", str(config)], check=True)
    print(f"documentation site: {out.resolve() / 'index.html'}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m lastfm_lakehouse.docs_site", description=__doc__)
    parser.add_argument("command", choices=["build", "generate", "configuration"])
    parser.add_argument("--out", type=Path, default=DOCS / "site", help="site folder (default docs/site)")
    args = parser.parse_args(argv)
    if args.command == "configuration":
        print(configuration_page(), end="")
        return 0
    if args.command == "generate":
        for path in generate():
            print(f"regenerated {path.relative_to(REPO)}")
        return 0
    try:
        build(args.out)
    except subprocess.CalledProcessError as exc:
        print(f"mkdocs build failed (exit {exc.returncode}): see its messages above", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
