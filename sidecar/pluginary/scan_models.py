"""What a scan is asked and what it reports, and the sidecar's status.

Plain dataclasses with snake_case fields, like the catalogue's answers in :mod:`pluginary.models`.
They are apart from those so that reading the catalogue (the command line's ``list`` and
``show``) does not build the classes only a scan uses: every dataclass costs start-up time.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from pluginary.models import CatalogCounts


@dataclass(frozen=True)
class ScanOptions:
    """What a scan should do. Every field has a default."""

    folders: tuple[str, ...] = ()
    only_folders: bool = False
    rescan: bool = False
    retry_failed: bool = False
    workers: int | None = None  # None: one per core
    timeout_seconds: float = 30.0
    audio_check: bool = True  # Make each loaded plugin process audio (channels, latency, state).
    memory_limit_mib: float = 4096.0  # Private memory a probe may take before it is stopped.
    output_limit_mib: float = 64.0  # Bytes a probe may write to any one file (its output too).


# How many plugins that did not load a summary names; its counts give the whole number.
MAX_PROBLEMS = 20


@dataclass(frozen=True)
class ScanProblem:
    """A plugin this scan probed that did not load: which, how, and why."""

    id: str
    name: str
    status: str  # failed, timeout or crashed
    path: str
    error: str | None


@dataclass(frozen=True)
class ScanSummary:
    """What a scan did. ``discovered == probed + unchanged + ignored + kept``."""

    scan_id: str
    discovered: int
    probed: int
    ok: int
    failed: int
    timed_out: int
    crashed: int
    unchanged: int
    removed: int
    duration_ms: float
    ignored: int  # Bundles the ignore list excludes.
    kept: int  # Bundles an interrupted scan had finished, carried over (not probed again).
    retried: int  # Bundles probed again with a longer limit because they timed out before.
    folders: list[str]  # The folders searched.
    problems: list[ScanProblem]  # The first MAX_PROBLEMS plugins probed that did not load.
    catalog_by_status: dict[str, int]  # The catalogue's plugins by status after the commit.


@dataclass(frozen=True)
class CatalogChange:
    """Plugin ids a commit added, updated and removed."""

    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class ScanResult:
    summary: ScanSummary
    change: CatalogChange


@dataclass(frozen=True)
class ScanProgress:
    """Where a running scan is: ``done`` of ``total`` settled (classes, where a bundle is listed;
    else bundles); what just happened."""

    done: int
    total: int
    message: str

    @property
    def percentage(self) -> int:
        """Whole percent of the probes settled; an empty plan is done."""
        return 100 if self.total <= 0 else min(100, self.done * 100 // self.total)


@dataclass(frozen=True)
class CacheInfo:
    root: str
    catalog: str
    journal: str
    ignore_list: str


@dataclass(frozen=True)
class RunningScan:
    """A scan holding the cache's lock; counts are known only for this sidecar's own scan."""

    scan_id: str | None
    pid: int | None
    host: str | None
    done: int | None
    total: int | None
    message: str | None


@dataclass(frozen=True)
class InterruptedScan:
    """A scan the journal holds and nobody runs: ``pluginary/resume`` finishes it."""

    scan_id: str
    state: str
    started_at: float
    roots: list[str]
    done: int
    total: int


@dataclass(frozen=True)
class ServerStatus:
    version: str
    cache: CacheInfo
    counts: CatalogCounts
    running: RunningScan | None
    interrupted: InterruptedScan | None
    last_scan: ScanSummary | None
