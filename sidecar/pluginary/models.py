"""The catalogue's value types: plugins, their parameters, queries and pages of answers.

What a scan is asked and reports is in :mod:`pluginary.scan_models`. Both are plain dataclasses
with snake_case fields; the sidecar's wire layer (one module) turns them into the camelCase JSON
of ``protocol/``, and a test checks the two agree field by field.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

STATUSES = ("ok", "failed", "timeout", "crashed")
KINDS = ("effect", "instrument")
# The channel counts a probe offers ``process()``; ``channels`` answers among these: every count
# up to 8 (mono to 7.1), then full-sphere Ambisonics of orders 2 to 7.
CHANNEL_COUNTS = (1, 2, 3, 4, 5, 6, 7, 8, 9, 16, 25, 36, 49, 64)


def channel_bit(count: int) -> int:
    """``count``'s bit in a catalogue row's channel mask: its place in :data:`CHANNEL_COUNTS`
    (64 channels would not fit a 64-bit integer as bit 64)."""
    return 1 << CHANNEL_COUNTS.index(count)


RANGE_PROBLEMS = ("degenerate", "unbounded", "suspectSteps")


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
class BusLayout:
    """The channel counts of a plugin's main input and output buses."""

    inputs: int
    outputs: int


@dataclass(frozen=True)
class PluginState:
    """Whether ``raw_state`` reads and writes back, and its size in bytes."""

    readable: bool
    writable: bool
    size: int | None
    error: str | None


@dataclass(frozen=True)
class ProbeTimes:
    """Where the probe's time went, in milliseconds (``audio`` None when it did not run), and
    what described the parameters ("fast" or "pedalboard"; None in records from before)."""

    load: float | None
    parameters: float | None
    audio: float | None
    describer: str | None = None


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
    # Set when pedalboard refused to host the plugin's buses (it needs as many in as out).
    bus_layout: BusLayout | None = None


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
