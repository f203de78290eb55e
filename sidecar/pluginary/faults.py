"""Fault injection for tests: die abruptly at a named point of a scan.

Set ``PLUGINARY_FAULT`` to a point name and the process SIGKILLs itself when it reaches that
point, the way a power cut or the OOM killer would stop it. Points: ``probe:started`` (a task was
just marked running), ``probe:after-result`` (a probe's result was journaled), ``commit:before``,
``commit:mid`` (inside the catalogue transaction), ``commit:after`` (committed, journal not yet
retired). ``NAME@N`` dies at the N-th time only, counting from 1. Never set in production; costs
one environment lookup when unset.
"""

from __future__ import annotations

import os
import signal

FAULT_ENV = "PLUGINARY_FAULT"


def fault_point(name: str, count: int | None = None) -> None:
    """Die here if ``PLUGINARY_FAULT`` names this point (and, if given, this count)."""
    wanted = os.environ.get(FAULT_ENV)
    if not wanted:
        return
    point, _, at = wanted.partition("@")
    if point != name:
        return
    if at and (count is None or int(at) != count):
        return
    os.kill(os.getpid(), signal.SIGKILL)
