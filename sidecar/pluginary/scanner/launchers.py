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
from dataclasses import dataclass
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
    if kind == "forkserver" and not system.startswith("linux"):
        raise ValueError(f"{LAUNCHER_ENV}=forkserver works only on Linux")
    return kind


def launcher_works(kind: str, system: str = sys.platform) -> bool:
    """Whether ``kind`` names a launcher that runs on ``system`` (a host's setting, checked)."""
    try:
        launcher_kind({LAUNCHER_ENV: kind}, system)
    except ValueError:
        return False
    return True


def recycle_after(environ: dict[str, str] | None = None) -> int:
    """Probes a pool worker runs before it is replaced; ValueError names a wrong setting."""
    from pluginary.scanner.pool import RECYCLE_AFTER

    raw = (environ if environ is not None else os.environ).get(RECYCLE_ENV) or str(RECYCLE_AFTER)
    try:
        value = int(raw)
    except ValueError:
        value = 0
    if value < 1:
        raise ValueError(f"{RECYCLE_ENV} must be a whole number of probes, 1 or more, not {raw!r}")
    return value


@dataclass(frozen=True)
class ChosenLauncher:
    """A launcher factory that says what it starts (for a log line)."""

    kind: str
    recycle_after: int | None
    log: Callable[[str], None]

    def __call__(self, scratch: Path) -> AbstractAsyncContextManager[ProbeLauncher]:
        if self.kind == "pool":
            from pluginary.scanner.pool import RECYCLE_AFTER, WorkerPoolLauncher

            recycle = self.recycle_after or RECYCLE_AFTER
            return WorkerPoolLauncher(scratch, recycle_after=recycle, log=self.log)
        from pluginary.scanner.launcher import ForkServerLauncher

        return ForkServerLauncher(scratch, log=self.log)

    def __str__(self) -> str:
        if self.kind != "pool":
            return "the fork server"
        count = self.recycle_after
        return f"the worker pool (each worker replaced after {count} probe{'s' * (count != 1)})"


def default_launcher(
    log: Callable[[str], None], kind: str | None = None, recycle: int | None = None
) -> ChosenLauncher:
    """A factory of this machine's launcher, logging through ``log``; ``kind`` and ``recycle``
    (a host's settings, checked already) override the environment's."""
    if kind is None:
        try:
            kind = launcher_kind()
        except ValueError as error:
            # A wrong setting must not stop a scan the default launcher can run: said, and used.
            kind = launcher_kind({})
            log(f"{error}; using {kind}")
    if kind == "pool" and recycle is None:
        try:
            recycle = recycle_after()
        except ValueError as error:
            from pluginary.scanner.pool import RECYCLE_AFTER

            recycle = RECYCLE_AFTER
            log(f"{error}; using {recycle}")
    return ChosenLauncher(kind, recycle, log)
