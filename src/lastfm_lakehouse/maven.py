"""Artifacts fetched from Maven Central at set-up (``mvn dependency:copy``, which keeps its own cache
in ``~/.m2``) into a folder of the virtualenv, so that nothing needs the network afterwards.

Maven is asked for exactly the artifacts named, not their dependencies: Delta's two jars run on
Spark's own class path, and the Hive JDBC driver is the standalone build that carries its own.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

FETCH_TIMEOUT_SECONDS = 600


class FetchFailed(RuntimeError):
    """Maven is missing or could not fetch an artifact; the message names it and what to do."""


def share_dir() -> Path:
    """``<virtualenv>/share/lastfm-lakehouse``: git-ignored, beside the wheels the jars belong with."""
    return Path(sys.prefix) / "share" / "lastfm-lakehouse"


def copy(coordinates: tuple[str, ...], destination: Path, instead: str) -> Path:
    """Every artifact of ``coordinates`` (``group:artifact:version[:type:classifier]``) copied into
    ``destination``. Written to a temporary folder first and moved into place, so a fetch that fails
    half-way leaves no folder that looks complete. ``instead`` ends every error: what to do without."""
    mvn = shutil.which("mvn")
    if mvn is None:
        raise FetchFailed(
            f"mvn not found: cannot fetch {', '.join(coordinates)}. Install Maven (apt-get install "
            f"maven), or {instead}"
        )
    destination.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=destination.parent, prefix=".fetch-") as scratch:
        for coordinate in coordinates:
            print(f"fetching {coordinate} (Maven Central, cached in ~/.m2)", flush=True)
            done = subprocess.run(
                [mvn, "--batch-mode", "--quiet", "dependency:copy", f"-Dartifact={coordinate}",
                 f"-DoutputDirectory={scratch}"],
                capture_output=True,
                text=True,
                timeout=FETCH_TIMEOUT_SECONDS,
                check=False,
                cwd=scratch,
            )  # fmt: skip
            if done.returncode != 0:
                tail = "\n".join((done.stdout + done.stderr).strip().splitlines()[-8:])
                raise FetchFailed(
                    f"mvn could not fetch {coordinate} (exit {done.returncode}):\n{tail}\n{instead}"
                )
        if destination.exists():
            shutil.rmtree(destination)
        Path(scratch).rename(destination)
        # TemporaryDirectory's clean-up expects its folder: leave an empty one for it.
        Path(scratch).mkdir()
    return destination
