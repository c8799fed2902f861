"""The shape every command shares (``python -m lastfm_lakehouse.<module> <command>``, behind
``make serve``, ``make metastore``, ``make directory``, ``make tls``, ``make dashboards``...): one
subcommand word, the module's docstring as ``--help``, and the module's own errors printed as one
``ERROR:`` line; and how the background services this project starts are found and stopped
(``Service``)."""

from __future__ import annotations

import argparse
import os
import signal
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path


def parse(
    module: str,
    doc: str | None,
    commands: Sequence[str],
    argv: list[str] | None,
    options: Callable[[argparse.ArgumentParser], None] | None = None,
) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog=f"python -m {module}", description=doc, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("command", choices=tuple(commands))
    if options is not None:
        options(parser)
    return parser.parse_args(argv)


def run(action: Callable[[], int | None], errors: tuple[type[BaseException], ...]) -> int:
    """``action``'s exit code (None is 0); one of ``errors`` is printed and exits 1."""
    try:
        return action() or 0
    except errors as exc:
        print(f"ERROR: {exc}", file=sys.stderr)
        return 1


def pid_from(pid_file: Path, marker: str) -> int | None:
    """The pid in ``pid_file`` when that process runs and is ours: its command line holds
    ``marker``. A pid the system has since given to another program (a stale file after a crash or
    a reboot) is None, so that stopping never signals a process that is not the one started."""
    try:
        pid = int(pid_file.read_text().strip())
        os.kill(pid, 0)
    except (FileNotFoundError, ValueError, ProcessLookupError, PermissionError):
        return None
    proc = Path("/proc") / str(pid) / "cmdline"
    if not Path("/proc/self").exists():
        return pid  # no /proc to ask (not Linux): trust the file
    try:
        command = proc.read_bytes().replace(b"\0", b" ").decode(errors="replace")
        state = (proc.parent / "stat").read_text().rsplit(")", 1)[-1].split()[0]
    except (OSError, IndexError):
        return None
    if not command.strip():
        # no command line: a zombie (it has exited), or a process in the middle of exec (just
        # started: its new command line is not there yet)
        return None if state in ("Z", "X") else pid
    return pid if marker in command else None


def terminate(pid: int, running: Callable[[], bool], group: bool = False, seconds: float = 30) -> None:
    """SIGTERM ``pid`` (its whole process group when ``group``), SIGKILL when ``running()`` still
    holds after ``seconds``."""
    send = os.killpg if group else os.kill
    send(pid, signal.SIGTERM)
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not running():
            return
        time.sleep(0.5)
    send(pid, signal.SIGKILL)


@dataclass(frozen=True)
class Service:
    """A background process this project starts (the server, the LDAP directory, Superset): the
    file that keeps its pid and a word of its command line, so that finding and stopping it is
    written once. The PostgreSQL metastore is PostgreSQL's own to start and stop (``pg_ctl``)."""

    name: str
    pid_file: Path
    marker: str
    group: bool = False  # stop its whole process group (gunicorn's master and its workers)

    def pid(self) -> int | None:
        """Its pid while it runs (``pid_from``: never another program that reuses the number)."""
        return pid_from(self.pid_file, self.marker)

    def stop(self, seconds: float = 30) -> int:
        """SIGTERM (SIGKILL after ``seconds``) and forget its pid file; says what it did."""
        pid = self.pid()
        if pid is None:
            print(f"{self.name} not running", flush=True)
        else:
            terminate(pid, lambda: self.pid() is not None, group=self.group, seconds=seconds)
            print(f"{self.name} stopped (pid {pid})", flush=True)
        self.pid_file.unlink(missing_ok=True)
        return 0
