"""The process table, read from /proc: who is alive, in which group, carrying which marker."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path

import pytest


def proc_stat(pid: int) -> tuple[str, int, int, int] | None:
    """(state, ppid, pgrp, session) of a process, or None once it is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name may hold spaces and parentheses; the fields after its last ')' cannot.
    state, ppid, pgrp, session = stat[stat.rindex(")") + 2 :].split()[:4]
    return state, int(ppid), int(pgrp), int(session)


def alive(pid: int) -> bool:
    """Whether a process exists and is not a zombie (a zombie runs no code; our init may not
    reap the ones whose parent we killed)."""
    facts = proc_stat(pid)
    return facts is not None and facts[0] != "Z"


def pids() -> list[int]:
    return [int(entry) for entry in os.listdir("/proc") if entry.isdigit()]


def group_members(pgid: int) -> set[int]:
    return {
        pid for pid in pids() if (facts := proc_stat(pid)) and facts[0] != "Z" and facts[2] == pgid
    }


def processes_with_env(entry: str) -> set[int]:
    found = set()
    for pid in pids():
        try:
            environ = Path(f"/proc/{pid}/environ").read_bytes()
        except OSError:
            continue
        if entry.encode() in environ.split(b"\0") and alive(pid):
            found.add(pid)
    return found


def wait_until(condition: Callable[[], bool], what: str, timeout: float = 10.0) -> None:
    """Poll the process table (or a file) until ``condition`` holds; fail after ``timeout``."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout} s waiting until {what}")
        time.sleep(0.01)
