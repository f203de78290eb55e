"""The parent side of the probes: drives the warm fork server and enforces each probe's timeout.

Only this module talks to the fork server. A reader task parses its reports and wakes the probe
waiting for them; nothing else happens on the pipe (pipe readers only parse and enqueue).
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import anyio
from anyio.abc import Process

OUTPUT_TAIL_BYTES = 16 * 1024


@dataclass
class ProbeRun:
    """What one probe process did: its events, how it ended, and the tail of what it printed."""

    events: list[dict[str, Any]]
    exit_code: int | None
    signal: str | None
    timed_out: bool
    output_tail: str
    duration_ms: float

    @property
    def clean_exit(self) -> bool:
        return self.exit_code == 0 and not self.timed_out


class ProbeLauncher(Protocol):
    """Runs one probe in isolation; swappable so the scan logic can be tested without plugins."""

    async def probe(
        self,
        task: int,
        bundle: str,
        classes: list[str] | None,
        skip: list[str],
        timeout: float,
        *,
        format: str = "vst3",
        audio: bool = True,
    ) -> ProbeRun: ...

    async def aclose(self) -> None: ...


class ForkServerDied(RuntimeError):
    """The fork server went away while probes were in flight."""


@dataclass
class _Pending:
    done: anyio.Event = field(default_factory=anyio.Event)
    report: dict[str, Any] | None = None


class ForkServerLauncher:
    """Probes through one warm fork server process; use as ``async with``.

    The server starts on first use and is restarted if it dies, so one broken server costs one
    probe, not the scan.
    """

    def __init__(self, scratch: Path) -> None:
        self.scratch = scratch
        self._process: Process | None = None
        self._pending: dict[int, _Pending] = {}
        self._start_lock = anyio.Lock()
        self._exit_stack = contextlib.AsyncExitStack()
        self._task_group: anyio.abc.TaskGroup | None = None

    async def __aenter__(self) -> ForkServerLauncher:
        self._task_group = await self._exit_stack.enter_async_context(anyio.create_task_group())
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def _ensure_started(self) -> Process:
        async with self._start_lock:
            if self._process is not None and self._process.returncode is None:
                return self._process
            if self._task_group is None:
                raise RuntimeError("ForkServerLauncher is used outside its `async with` block")
            process = await anyio.open_process(
                [sys.executable, "-m", "pluginary.scanner.forkserver"],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=None,
            )
            ready = anyio.Event()
            self._task_group.start_soon(self._read_reports, process, ready)
            with anyio.fail_after(60):
                await ready.wait()
            if process.returncode is not None:
                raise ForkServerDied("the fork server exited while starting")
            self._process = process
            return process

    async def _read_reports(self, process: Process, ready: anyio.Event) -> None:
        assert process.stdout is not None
        buffer = b""
        try:
            async for chunk in process.stdout:
                buffer += chunk
                *lines, buffer = buffer.split(b"\n")
                for line in lines:
                    report = json.loads(line)
                    if "ready" in report:
                        ready.set()
                    elif "exited" in report:
                        pending = self._pending.get(report["exited"])
                        if pending is not None:
                            pending.report = report
                            pending.done.set()
        except (anyio.BrokenResourceError, anyio.ClosedResourceError):
            pass
        finally:
            # Whoever still waits learns the server is gone (report stays None).
            ready.set()
            for pending in self._pending.values():
                pending.done.set()

    async def _send(self, process: Process, message: dict[str, Any]) -> None:
        assert process.stdin is not None
        await process.stdin.send((json.dumps(message) + "\n").encode())

    async def probe(
        self,
        task: int,
        bundle: str,
        classes: list[str] | None,
        skip: list[str],
        timeout: float,
        *,
        format: str = "vst3",
        audio: bool = True,
    ) -> ProbeRun:
        """Probe one bundle in a fresh child; kill its whole process group after ``timeout``."""
        process = await self._ensure_started()
        result_path = self.scratch / f"{task}.result"
        output_path = self.scratch / f"{task}.output"
        pending = self._pending[task] = _Pending()
        started = time.perf_counter()
        timed_out = False
        try:
            await self._send(
                process,
                {
                    "op": "probe",
                    "task": task,
                    "bundle": bundle,
                    "format": format,
                    "classes": classes,
                    "skip": skip,
                    "audio": audio,
                    "result": str(result_path),
                    "output": str(output_path),
                },
            )
            with anyio.move_on_after(timeout):
                await pending.done.wait()
            if not pending.done.is_set():
                timed_out = True
                await self._send(process, {"op": "kill", "task": task})
                with anyio.fail_after(10):
                    await pending.done.wait()
            report = pending.report
            if report is None:
                raise ForkServerDied(f"the fork server died while probing {bundle}")
            return ProbeRun(
                events=_read_events(result_path),
                exit_code=report["code"],
                signal=report["signal"],
                timed_out=timed_out,
                output_tail=_read_tail(output_path),
                duration_ms=round((time.perf_counter() - started) * 1000, 3),
            )
        except BaseException:
            # Cancelled or failed: make sure this probe does not outlive us.
            with anyio.CancelScope(shield=True), contextlib.suppress(Exception):
                await self._send(process, {"op": "kill", "task": task})
            raise
        finally:
            self._pending.pop(task, None)
            for path in (result_path, output_path):
                with contextlib.suppress(OSError):
                    path.unlink()

    async def aclose(self) -> None:
        """Stop the fork server; it kills every probe group it still has."""
        process = self._process
        self._process = None
        with anyio.CancelScope(shield=True):
            if process is not None:
                with contextlib.suppress(Exception):
                    assert process.stdin is not None
                    await process.stdin.aclose()
                with anyio.move_on_after(3):
                    await process.wait()
                if process.returncode is None:
                    process.kill()
                    await process.wait()
        # The reader task ends with the server's stdout; its task group closes last, outside the
        # shield (a task group must be exited under the cancel scope it was entered under).
        self._task_group = None
        await self._exit_stack.aclose()


def _read_events(path: Path) -> list[dict[str, Any]]:
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return []
    events = []
    for line in data.splitlines():
        try:
            events.append(json.loads(line))
        except ValueError:
            break  # A line cut short by a crash ends the readable part.
    return events


def _read_tail(path: Path) -> str:
    try:
        with open(path, "rb") as output:
            size = output.seek(0, os.SEEK_END)
            output.seek(max(0, size - OUTPUT_TAIL_BYTES))
            return output.read().decode("utf-8", errors="replace")
    except FileNotFoundError:
        return ""
