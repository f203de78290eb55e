"""The benchmark's rows and the markdown table they make; figures and percentiles."""

from __future__ import annotations

import math
import os
import platform
import statistics
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass
class Row:
    key: str  # Stable identifier (the smoke test looks rows up by it).
    label: str
    ours: str = ""
    baseline: str = ""
    result: str = ""
    target: str = ""
    met: bool | None = None  # None: no target (information only).
    error: str | None = None


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else math.nan


def percentile(values: Sequence[float], fraction: float) -> float:
    """Nearest-rank percentile: the smallest value with ``fraction`` of the values at or below."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(1, math.ceil(fraction * len(ordered)))
    return ordered[rank - 1]


def spread(values: Sequence[float], unit: str, scale: float = 1.0, digits: int = 2) -> str:
    """``median unit (min to max)``: the median to quote and how noisy the runs were."""
    if not values:
        return "n/a"
    scaled = [v * scale for v in values]
    if len(scaled) == 1:
        return f"{scaled[0]:.{digits}f} {unit}"
    return f"{median(scaled):.{digits}f} {unit} ({min(scaled):.{digits}f}-{max(scaled):.{digits}f})"


def render(rows: Sequence[Row]) -> str:
    lines = [
        "| # | Measurement | Pluginary | Baseline | Result | Target | Met |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for row in rows:
        number = row.key.replace(".", "")
        if row.error is not None:
            cells = ["error", "", row.error.replace("|", "/"), row.target, "error"]
        else:
            met = "—" if row.met is None else ("yes" if row.met else "**no**")
            cells = [row.ours, row.baseline, row.result, row.target, met]
        lines.append("| " + " | ".join([number, row.label, *cells]) + " |")
    return "\n".join(lines)


def machine() -> str:
    """One line saying what this ran on."""
    model = "unknown CPU"
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    try:
        import pedalboard

        pedalboard_version = pedalboard.__version__
    except Exception:
        pedalboard_version = "?"
    return (
        f"{time.strftime('%Y-%m-%d')}, {model}, {os.cpu_count()} cores, {memory:.0f} GiB,"
        f" Linux {platform.release()}, Python {platform.python_version()},"
        f" pedalboard {pedalboard_version}, {measured()}"
    )


def measured() -> str:
    """Which pluginary was measured: its commit, and whether its sidecar/ had changes on top."""
    import pluginary

    source = os.path.dirname(os.path.dirname(os.path.abspath(pluginary.__file__)))

    def git(*args: str) -> str:
        done = subprocess.run(["git", *args], capture_output=True, text=True, cwd=source)
        return done.stdout.strip() if done.returncode == 0 else ""

    commit = git("rev-parse", "--short", "HEAD")
    if not commit:
        return f"pluginary from {source}"
    dirty = git("status", "--porcelain", "--", ".")
    return f"pluginary at {commit}" + (" + uncommitted changes in sidecar/" if dirty else "")
