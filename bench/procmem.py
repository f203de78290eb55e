"""Memory of a process tree, read from /proc: RSS and PSS, sampled in a background thread.

RSS sums double-count the pages a forked child shares with its parent (every probe shares the
fork server's pedalboard); PSS divides each shared page among its sharers, so the PSS sum is what
the tree really costs the machine. Both are reported.
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass, field

PAGE = os.sysconf("SC_PAGE_SIZE")
MIB = 1024 * 1024


def descendants(pid: int) -> list[int]:
    """``pid`` and every process below it (via /proc/PID/task/TID/children)."""
    found = [pid]
    index = 0
    while index < len(found):
        current = found[index]
        index += 1
        try:
            tasks = os.listdir(f"/proc/{current}/task")
        except OSError:
            continue
        for task in tasks:
            try:
                with open(f"/proc/{current}/task/{task}/children") as children:
                    found.extend(int(child) for child in children.read().split())
            except OSError:
                continue
    return found


def rss(pid: int) -> int:
    """Resident set size in bytes (0 once the process is gone)."""
    try:
        with open(f"/proc/{pid}/statm") as statm:
            return int(statm.read().split()[1]) * PAGE
    except (OSError, IndexError, ValueError):
        return 0


def pss(pid: int) -> int:
    """Proportional set size in bytes (0 once the process is gone)."""
    try:
        with open(f"/proc/{pid}/smaps_rollup") as rollup:
            for line in rollup:
                if line.startswith("Pss:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError):
        pass
    return 0


@dataclass
class Peak:
    rss: int = 0  # The largest sum of RSS over the tree seen in one sample.
    pss: int = 0  # The largest sum of PSS over the tree seen in one sample.
    processes: int = 0  # The most processes seen in the tree at once.
    samples: int = 0


@dataclass
class TreeSampler:
    """Samples the tree under ``root`` every ``interval`` seconds until stopped."""

    root: int
    interval: float = 0.02
    peak: Peak = field(default_factory=Peak)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def __enter__(self) -> TreeSampler:
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()

    def _run(self) -> None:
        while not self._stop.is_set():
            pids = descendants(self.root)
            self.peak.rss = max(self.peak.rss, sum(rss(pid) for pid in pids))
            self.peak.pss = max(self.peak.pss, sum(pss(pid) for pid in pids))
            self.peak.processes = max(self.peak.processes, len(pids))
            self.peak.samples += 1
            time.sleep(self.interval)
