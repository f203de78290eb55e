"""What the engine asks of a probe launcher, and what a probe run brings back: for every launcher.

The fork server (``launcher.py``, Linux) and the worker pool (``pool.py``, every OS) both
implement :class:`ProbeLauncher` and return :class:`ProbeRun`: the engine's ``interpret()`` reads
a run the same way whichever launcher made it. Nothing here is specific to an OS.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from pluginary.errors import StorageError

# The end of a probe's output kept with its record (a crash's last words).
OUTPUT_TAIL_BYTES = 16 * 1024
# A probe whose memory came this close to its limit and then died unclean exceeded it. Not
# closer: the limit (RLIMIT_DATA) also counts reserved, untouched memory (thread stacks, malloc
# arenas: some 70 MiB in a probe) that the peak resident size measured never shows.
MEMORY_VERDICT_SHARE = 0.75


def ran_out_of_memory(peak_bytes: int | None, memory_mib: float | None) -> bool:
    """Whether a probe that died unclean did so at its memory limit (a failed allocation)."""
    if peak_bytes is None or memory_mib is None:
        return False
    return peak_bytes >= memory_mib * 1024 * 1024 * MEMORY_VERDICT_SHARE


@dataclass(frozen=True)
class ProbeLimits:
    """What one probe may take: wall time, private memory, and bytes written to any file."""

    timeout_seconds: float = 30.0
    memory_mib: float | None = None
    output_mib: float | None = None


@dataclass(frozen=True)
class ProbeRequest:
    """One probe to run: the task it is for, which bundle and classes, and how.

    ``split``: a bundle of several classes is listed whole but only its first class probed
    (``probe.probe_bundle``); the engine hands the rest to other probes.
    """

    task: int
    bundle: str
    classes: list[str] | None = None  # None: every class of the bundle.
    skip: list[str] = field(default_factory=list)  # Classes never to load (the ignore list).
    format: str = "vst3"
    audio: bool = True  # Check audio, channels, latency and state after loading.
    split: bool = False

    def wire(self) -> dict[str, Any]:
        """The request as a launcher sends it to its fork server or worker."""
        return {
            "op": "probe",
            "task": self.task,
            "bundle": self.bundle,
            "format": self.format,
            "classes": self.classes,
            "skip": self.skip,
            "audio": self.audio,
            "split": self.split,
        }


@dataclass
class ProbeRun:
    """What one probe process did: its events, how it ended, and the tail of what it printed."""

    events: list[dict[str, Any]]
    exit_code: int | None
    signal: str | None
    output_tail: str
    duration_ms: float
    limit: str | None = None  # "time", "memory" or "output" when the probe was stopped at one.
    problem: str | None = None  # What was malformed in its report, if anything.
    lost: str | None = None  # Why the fork server went away while this probe ran, if it did.
    # What each class begun printed (the first also what listing the classes printed); a class
    # not here (or a record of the bundle as a whole) keeps ``output_tail``.
    class_tails: dict[str, str] = field(default_factory=dict)

    @property
    def finished(self) -> bool:
        """The probe wrote its last event, exited 0, and broke no limit and no rule."""
        return (
            self.exit_code == 0
            and self.limit is None
            and self.problem is None
            and self.lost is None
            and any(event.get("event") == "done" for event in self.events)
        )


class ProbeLauncher(Protocol):
    """Runs one probe in isolation; swappable so the scan logic can be tested without plugins."""

    async def probe(self, request: ProbeRequest, limits: ProbeLimits) -> ProbeRun: ...

    async def aclose(self) -> None: ...


def read_tail(path: Path) -> str:
    try:
        with open(path, "rb") as output:
            size = output.seek(0, os.SEEK_END)
            return _tail(output, 0, size)
    except OSError:
        return ""


def read_tails(path: Path, events: list[dict[str, Any]]) -> tuple[str, dict[str, str]]:
    """The probe's output tail, and each begun class's own: the bytes from its ``begin`` event's
    ``output_at`` to the next class's (the first class's from the start: the listing that
    preceded it was for its sake too)."""
    marks: list[tuple[str, int]] = []
    for event in events:
        if event.get("event") == "begin" and isinstance(event.get("class"), str):
            at = event.get("output_at")
            if not isinstance(at, int):
                marks = []  # A class without its mark: the output stays the probe's.
                break
            marks.append((event["class"], at))
    try:
        with open(path, "rb") as output:
            size = output.seek(0, os.SEEK_END)
            whole = _tail(output, 0, size)
            if not marks:
                return whole, {}
            starts = [0, *(max(0, min(at, size)) for _, at in marks[1:])]
            ends = [*starts[1:], size]
            # A plugin that moved the file's offset back makes its marks useless, not harmful.
            return whole, {
                name: _tail(output, start, max(start, end))
                for (name, _), start, end in zip(marks, starts, ends, strict=True)
            }
    except OSError:
        return "", {}


def _tail(output: Any, start: int, end: int) -> str:
    start = max(start, end - OUTPUT_TAIL_BYTES)
    output.seek(start)
    return str(output.read(end - start).decode("utf-8", errors="replace"))


def read_result(scratch: Path, path: Path) -> bytes:
    """A probe's result file; StorageError when our folder, not the plugin, lost or broke it."""
    try:
        return path.read_bytes()
    except FileNotFoundError:
        # Gone with the scratch folder is our failure; gone alone, the plugin removed it.
        check_scratch(scratch, path)
        return b""
    except OSError as error:
        raise StorageError(
            f"cannot read the probe's result {path}: {error.strerror or error}",
            path=str(path),
        ) from error


def check_scratch(scratch: Path, path: Path) -> None:
    """Raise StorageError if the scratch folder cannot take a probe's files right now."""
    check = scratch / f".check-{os.getpid()}"
    try:
        with open(check, "wb") as file:
            file.write(b"\0" * 65536)
            file.flush()
            os.fsync(file.fileno())
    except OSError as error:
        raise StorageError(
            f"cannot write the probe's result {path}: {error.strerror or error}",
            path=str(path),
        ) from error
    finally:
        with contextlib.suppress(OSError):
            check.unlink()
