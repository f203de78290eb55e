"""The domain's value types: what a scan reports and what the catalogue answers.

Plain dataclasses with snake_case fields; the sidecar's wire layer (one module) turns them into
the camelCase JSON of ``protocol/``, and a test checks the two agree field by field.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

STATUSES = ("ok", "failed", "timeout", "crashed")
KINDS = ("effect", "instrument")
# The channel counts a probe offers ``process()``; ``channels`` answers among these.
CHANNEL_COUNTS = (1, 2, 4, 6, 8)
RANGE_PROBLEMS = ("degenerate", "unbounded", "suspectSteps")


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
    """Where a running scan is: ``done`` of ``total`` probes settled; what just happened."""

    done: int
    total: int
    message: str


@dataclass(frozen=True)
class ParameterSample:
    """A parameter's display text at one normalised (raw) value, and that text's value."""

    raw: float
    value: float | bool | str | None
    text: str | None


@dataclass(frozen=True)
class Parameter:
    index: int
    name: str
    key: str
    units: str | None
    type: str
    min: float | None
    max: float | None
    step: float | None
    approximate_step: float | None
    default_raw: float | None
    default_text: str | None
    plugin_default_raw: float | None
    boolean: bool
    discrete: bool
    num_steps: int
    automatable: bool
    values: list[Any] | None
    values_truncated: bool
    range_problem: str | None  # One of RANGE_PROBLEMS.
    samples: list[ParameterSample] | None  # None: probed before samples were taken.


@dataclass(frozen=True)
class AudioCheck:
    """What processing a short noise burst (a MIDI note for an instrument) showed."""

    ok: bool
    peak: float | None
    non_finite: bool | None
    silent: bool | None
    error: str | None


@dataclass(frozen=True)
class PluginState:
    """Whether ``raw_state`` reads and writes back, and its size in bytes."""

    readable: bool
    writable: bool
    size: int | None
    error: str | None


@dataclass(frozen=True)
class ProbeTimes:
    """Where the probe's time went, in milliseconds (``audio`` None when it did not run)."""

    load: float | None
    parameters: float | None
    audio: float | None


@dataclass(frozen=True)
class PluginSummary:
    id: str
    name: str
    vendor: str | None
    version: str | None
    category: str | None
    kind: str | None
    format: str
    status: str
    path: str
    class_name: str | None
    parameter_count: int
    channels: list[int] | None  # None: not checked (audio checks off, or the plugin failed)
    latency_samples: int | None
    audio_ok: bool | None


@dataclass(frozen=True)
class PluginRecord(PluginSummary):
    """A plugin with its parameters and the outcome of its last probe."""

    identifier: str | None
    error: str | None
    diagnosis: str | None
    signal: str | None
    exit_code: int | None
    output_tail: str
    duration_ms: float | None
    scan_id: str
    scanned_at: float
    audio_check: AudioCheck | None
    state: PluginState | None
    probe_ms: ProbeTimes | None
    parameters: list[Parameter]


@dataclass(frozen=True)
class PluginQuery:
    text: str | None = None
    vendor: str | None = None
    format: str | None = None
    category: str | None = None
    kind: str | None = None
    parameter: str | None = None
    status: str | None = None
    channels: int | None = None
    max_latency: int | None = None
    audio_ok: bool | None = None
    limit: int = 50
    cursor: str | None = None


@dataclass(frozen=True)
class QueryPage:
    plugins: list[PluginSummary]
    total: int
    next_cursor: str | None


@dataclass(frozen=True)
class CatalogCounts:
    plugins: int
    bundles: int
    by_status: dict[str, int]
    by_kind: dict[str, int]


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
