"""Scans in the command line's own process: the sidecar's engine, lock and encoding, no server.

``pluginary scan`` and ``resume`` run the same :class:`~pluginary.scanner.engine.Scanner` the
sidecar runs for ``pluginary/scan`` and ``pluginary/resume``, under the same scan lock, and
encode its summary with the same rule (:mod:`pluginary.encoding`), so ``--json`` prints what the
sidecar would answer. Starting no server saves a no-change scan most of its time. Probes still
run in their own processes, contained the same way.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pluginary.encoding import to_wire
from pluginary.paths import CachePaths
from pluginary.scan_models import ScanOptions, ScanProgress

JSON = dict[str, Any]


async def scan(
    paths: CachePaths,
    options: ScanOptions,
    progress: Callable[[ScanProgress], None],
    log: Callable[[str], None],
) -> JSON:
    """Run one scan to its commit; its summary as ``pluginary/scan`` answers it."""
    from pluginary.scanner.engine import Scanner

    result = await Scanner(paths, log=log).scan(options, progress)
    summary: JSON = to_wire(result.summary)
    return summary


async def resume(
    paths: CachePaths, progress: Callable[[ScanProgress], None], log: Callable[[str], None]
) -> JSON:
    """Finish the interrupted scan (NothingToResume if there is none); its summary."""
    from pluginary.scanner.engine import Scanner

    result = await Scanner(paths, log=log).resume(progress)
    summary: JSON = to_wire(result.summary)
    return summary
