"""Which code produced a result: the git commit of a checkout, recorded in every Delta commit a build
makes (the adapter's ``project_commit``) and in every bench results file."""

from __future__ import annotations

import functools
import subprocess


@functools.cache
def git_commit(directory: str) -> str:
    """HEAD of the checkout holding ``directory`` (``+dirty`` with uncommitted changes to tracked
    files), or ``unknown`` outside a checkout or without git."""

    def git(*args: str) -> str:
        done = subprocess.run(
            ["git", "-C", directory, *args], capture_output=True, text=True, timeout=30, check=False
        )
        return done.stdout.strip() if done.returncode == 0 else ""

    try:
        commit = git("rev-parse", "HEAD")
        dirty = bool(git("status", "--porcelain", "--untracked-files=no"))
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"
    return f"{commit}{'+dirty' if dirty else ''}" if commit else "unknown"
