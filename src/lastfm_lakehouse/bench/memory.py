"""Peak resident memory of a process tree (the dbt process, its Spark driver JVM, Python workers).

Read from Linux's /proc: psutil is not a dependency of the stack, and the two numbers needed are
one file each. A background thread samples the tree every ``interval`` seconds and keeps

* the peak of the **sum** of RSS over the tree (what the machine had to hold at once), and
* each process's own kernel-tracked peak (``VmHWM``, exact even between samples), by command.

The JVM starts each Python worker daemon through ``posix_spawn``: for a moment the child is a copy of
the JVM that has not yet exec'd, and its VmRSS is the JVM's own pages. Counting it doubled the JVM
in the sum (a one-percent bench's "peak" held two ``java`` of 3.3 GB each, with the JVM's VmHWM at
3.3 GB), so a child still running its parent's ``java`` is left out.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

PROC = Path("/proc")
PAGE_KB = 1024


def _status_kb(pid: int, key: str) -> int:
    try:
        for line in (PROC / str(pid) / "status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return 0


def _children(pid: int) -> list[int]:
    found: list[int] = []
    try:
        tasks = list((PROC / str(pid) / "task").iterdir())
    except OSError:
        return found
    for task in tasks:
        try:
            found += [int(child) for child in (task / "children").read_text().split()]
        except (OSError, ValueError):
            continue
    return found


def process_tree(root: int) -> list[int]:
    """``root`` and all its descendants that are alive now."""
    tree, pending = [], [root]
    while pending:
        pid = pending.pop()
        tree.append(pid)
        pending += _children(pid)
    return tree


def command_name(pid: int) -> str:
    """``java``, ``dbt``, ``python3 -m pyspark.daemon``: the program (and module) a process runs."""
    try:
        argv = (PROC / str(pid) / "cmdline").read_bytes().split(b"\0")
    except OSError:
        return "?"
    words = [a.decode(errors="replace") for a in argv if a]
    if not words:
        return "?"
    name = Path(words[0]).name
    if "-m" in words[1:-1]:
        name += f" -m {words[words.index('-m', 1) + 1]}"
    elif name.startswith("python"):
        scripts = [w for w in words[1:] if not w.startswith("-")]
        name = Path(scripts[0]).name if scripts else name
    return name


@dataclass
class MemoryPeaks:
    tree_peak_kb: int = 0
    # per command name ("java", "python3.11", ...): the largest VmHWM seen for that command
    process_peak_kb: dict[str, int] = field(default_factory=dict)
    samples: int = 0
    # what the tree held at its peak: per command name, (processes, summed RSS in kB)
    at_peak_kb: dict[str, tuple[int, int]] = field(default_factory=dict)
    # when the peak was sampled, in seconds after sampling began (to match with the nodes running)
    peak_after_seconds: float = 0.0
    peak_at: str = ""  # UTC, ISO 8601

    def as_dict(self) -> dict[str, object]:
        return {
            "tree_peak_rss_mb": round(self.tree_peak_kb / PAGE_KB, 1),
            "process_peak_rss_mb": {
                k: round(v / PAGE_KB, 1) for k, v in sorted(self.process_peak_kb.items())
            },
            "at_peak": {
                k: {"processes": n, "rss_mb": round(kb / PAGE_KB, 1)}
                for k, (n, kb) in sorted(self.at_peak_kb.items(), key=lambda item: -item[1][1])
            },
            "peak_after_seconds": round(self.peak_after_seconds, 1),
            "peak_at": self.peak_at,
            "samples": self.samples,
        }


class MemorySampler:
    """``with MemorySampler(pid) as sampler: ...`` then ``sampler.peaks``."""

    def __init__(self, root: int, interval: float = 0.25) -> None:
        if not PROC.is_dir():
            raise RuntimeError("memory sampling needs Linux /proc")
        self.root = root
        self.interval = interval
        self.peaks = MemoryPeaks()
        self._started = time.monotonic()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="memory-sampler", daemon=True)

    def sample(self) -> None:
        total = 0
        by_name: dict[str, tuple[int, int]] = {}
        names = {pid: command_name(pid) for pid in process_tree(self.root)}
        for pid, name in names.items():
            if name == "java" and names.get(_status_kb(pid, "PPid")) == "java":
                continue  # the JVM mid-spawn (module doc): its pages are the parent's
            rss = _status_kb(pid, "VmRSS")
            if rss == 0:  # exited between listing and reading
                continue
            total += rss
            count, kb = by_name.get(name, (0, 0))
            by_name[name] = (count + 1, kb + rss)
            self.peaks.process_peak_kb[name] = max(
                self.peaks.process_peak_kb.get(name, 0), _status_kb(pid, "VmHWM")
            )
        if total > self.peaks.tree_peak_kb:
            self.peaks.tree_peak_kb = total
            self.peaks.at_peak_kb = by_name
            self.peaks.peak_after_seconds = time.monotonic() - self._started
            self.peaks.peak_at = dt.datetime.now(dt.UTC).isoformat()
        self.peaks.samples += 1

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.sample()

    def __enter__(self) -> MemorySampler:
        self.sample()
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()
