"""Which probe launcher a scan uses: the fork server on Linux, the worker pool elsewhere.

``PLUGINARY_LAUNCHER`` chooses on any OS: ``forkserver`` (Linux only: it forks a warm process
and contains probes with Linux calls) or ``pool`` (spawned workers, portable: see ``pool.py``).
``PLUGINARY_RECYCLE_AFTER`` sets how many probes a pool worker runs before it is replaced (1: a
fresh process for every probe). Each launcher is imported only when chosen, so that no
Linux-only module is imported where it cannot work.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from pathlib import Path

from pluginary.scanner.runs import ProbeLauncher

LAUNCHER_ENV = "PLUGINARY_LAUNCHER"
RECYCLE_ENV = "PLUGINARY_RECYCLE_AFTER"
KINDS = ("forkserver", "pool")

LauncherFactory = Callable[[Path], AbstractAsyncContextManager[ProbeLauncher]]


def launcher_kind(environ: dict[str, str] | None = None, system: str = sys.platform) -> str:
    """The launcher asked for, else this OS's default; ValueError names a wrong choice."""
    kind = (environ if environ is not None else os.environ).get(LAUNCHER_ENV) or (
        "forkserver" if system.startswith("linux") else "pool"
    )
    if kind not in KINDS:
        raise ValueError(f"{LAUNCHER_ENV} must be one of {', '.join(KINDS)}, not {kind!r}")
    return kind


def default_launcher(log: Callable[[str], None]) -> LauncherFactory:
    """A factory of this machine's launcher, logging through ``log``."""
    try:
        kind = launcher_kind()
    except ValueError as error:
        # A wrong setting must not stop a scan that the default launcher can run: said, and used.
        kind = launcher_kind({})
        log(f"{error}; using {kind}")
    if kind == "pool":
        from pluginary.scanner.pool import RECYCLE_AFTER, WorkerPoolLauncher

        recycle = int(os.environ.get(RECYCLE_ENV) or RECYCLE_AFTER)
        return lambda scratch: WorkerPoolLauncher(scratch, recycle_after=recycle, log=log)
    from pluginary.scanner.launcher import ForkServerLauncher

    return lambda scratch: ForkServerLauncher(scratch, log=log)
