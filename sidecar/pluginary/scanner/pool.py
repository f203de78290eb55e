"""The worker-pool launcher: probes in long-lived workers started by spawn and exec.

The portable isolation path (the default on macOS and Windows, selectable on Linux): forking a
process that has loaded pedalboard (CoreFoundation, AppKit, AudioToolbox on macOS) is unsafe
outside Linux, so each worker is a fresh interpreter (``poolworker.py``) that imports pedalboard
once and then probes one bundle after another with the fork server's child-side code, writing
the same events to the same files: the engine's ``interpret()`` cannot tell the two launchers
apart.

A worker is used for at most ``recycle_after`` probes (1: a fresh process for every probe), and
replaced at once when a probe ends it: a crash, a plugin calling ``exit``, a probe over its time
limit (killed here, with everything it started, see ``processtree.py``). A crash in a worker that
had probed other bundles first may be those bundles' doing (a plugin's static state, a thread it
left running), so that bundle is probed once more in a fresh worker before the crash is believed.

Portable: nothing here, and nothing in a worker, calls anything Linux-only.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio
from anyio.abc import Process
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

from pluginary.errors import StorageError
from pluginary.scanner.classclock import ClassClock
from pluginary.scanner.nanny import PEAK_FILE_ENV
from pluginary.scanner.probe import RESULT_UNWRITABLE
from pluginary.scanner.processtree import (
    WORKER_TOKEN_ENV,
    ProcessTrees,
    kill_marked,
    process_trees,
)
from pluginary.scanner.reports import parse_report
from pluginary.scanner.runs import (
    ProbeLimits,
    ProbeRequest,
    ProbeRun,
    check_scratch,
    ran_out_of_memory,
    read_result,
    read_tails,
)

# How many probes a worker runs before it is replaced by a fresh one (a leak, or a plugin's
# static state, then lasts no longer than that).
RECYCLE_AFTER = 32
START_SECONDS = 60.0
# A worker's reports are a few dozen bytes; a longer line is not one of them.
MAX_REPORT_LINE = 4096
# Signals a probe brings on itself by breaking a limit the worker set.
SELF_INFLICTED = {"SIGXFSZ": "output"}
# A probe's deadline is checked this often; a check that came this much later than asked was a
# stall of the scanner's (stopped, or the machine froze), which is not the probe's time.
TICK_SECONDS = 1.0
STALL_SLACK_SECONDS = 1.0


class WorkerStartFailed(RuntimeError):
    """A probe worker could not be started: the machine's state, nobody's plugin."""


@dataclass(eq=False)
class _Worker:
    process: Process  # The worker, or its nanny on POSIX (see processtree.py).
    reports: MemoryObjectReceiveStream[dict[str, Any] | str]
    token: str = ""  # In the environment of every process the worker starts.
    pid: int | None = None  # The worker's own, as it reported it.
    probes: int = 0
    dead: bool = False
    peak_file: Path = field(default_factory=Path)  # Where its nanny tells its peak memory.


@dataclass
class _Ending:
    """How one probe ended, before its files are read."""

    code: int | None = None
    signal: str | None = None
    limit: str | None = None
    problem: str | None = None
    reported: bool = False  # The worker said the probe returned (the worker lives on).
    extra: dict[str, Any] = field(default_factory=dict)


class WorkerPoolLauncher:
    """Probes through a pool of spawned workers; use as ``async with``."""

    def __init__(
        self,
        scratch: Path,
        *,
        recycle_after: int = RECYCLE_AFTER,
        log: Callable[[str], None] | None = None,
        command: Sequence[str] = (sys.executable, "-m", "pluginary.scanner.poolworker"),
        trees: ProcessTrees | None = None,
    ) -> None:
        if recycle_after < 1:
            raise ValueError("recycle_after must be 1 or more")
        self.scratch = scratch
        self.recycle_after = recycle_after
        self.command = list(command)
        self.log = log or _log_to_stderr
        self.trees = trees or process_trees()
        self._idle: list[_Worker] = []
        self._workers: set[_Worker] = set()
        self._exit_stack = contextlib.AsyncExitStack()
        self._task_group: anyio.abc.TaskGroup | None = None

    async def __aenter__(self) -> WorkerPoolLauncher:
        self._task_group = await self._exit_stack.enter_async_context(anyio.create_task_group())
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def probe(self, request: ProbeRequest, limits: ProbeLimits) -> ProbeRun:
        """Probe one bundle in a worker; crashes after other probes are checked in a fresh one."""
        wire = {**request.wire(), "memory_mib": limits.memory_mib, "output_mib": limits.output_mib}
        worker = self._idle.pop() if self._idle else await self._start()
        run, worker_ended = await self._run(worker, wire, limits)
        if worker_ended and run.limit is None and worker.probes > 1:
            self.log(
                f"{request.bundle} crashed a worker that had probed {worker.probes - 1} other"
                " bundle(s) before; probing it again in a fresh worker"
            )
            run, _ = await self._run(await self._start(), wire, limits)
        return run

    async def _run(
        self, worker: _Worker, request: dict[str, Any], limits: ProbeLimits
    ) -> tuple[ProbeRun, bool]:
        """One probe in ``worker``; its run, and whether the worker ended with it."""
        task = request["task"]
        result_path = self.scratch / f"{task}.result"
        output_path = self.scratch / f"{task}.output"
        self._check_scratch_folder()
        worker.probes += 1
        started = time.perf_counter()
        try:
            await _send(worker.process, {**request, "result": str(result_path),
                                         "output": str(output_path)})  # fmt: skip
            clock = ClassClock(
                result_path, limits.timeout_seconds, time.monotonic(), request.get("classes")
            )
            ending = await self._await_end(worker, task, clock, limits.memory_mib)
            if ending.code == RESULT_UNWRITABLE:
                check_scratch(self.scratch, result_path)  # A plugin may exit with that status too.
            events, problem = parse_report(read_result(self.scratch, result_path))
            output_tail, class_tails = read_tails(output_path, events)
            run = ProbeRun(
                events=events,
                exit_code=ending.code,
                signal=ending.signal,
                limit=ending.limit,
                problem=ending.problem or problem,
                output_tail=output_tail,
                class_tails=class_tails,
                duration_ms=round((time.perf_counter() - started) * 1000, 3),
            )
        except BaseException:
            # Cancelled or failed: this probe must not outlive us, nor wait for a plugin.
            await self._retire(worker, busy=True)
            raise
        finally:
            for path in (result_path, output_path):
                with contextlib.suppress(OSError):
                    path.unlink()
        if not ending.reported or worker.probes >= self.recycle_after:
            await self._retire(worker)
        else:
            # Nothing a plugin started outlives its probe (a daemon would also hold the
            # worker's report channel open): all but the worker and its nanny go.
            keep = frozenset(pid for pid in (worker.pid, worker.process.pid) if pid is not None)
            await anyio.to_thread.run_sync(kill_marked, worker.token, keep)
            self._idle.append(worker)
        return run, not ending.reported

    async def _await_end(
        self, worker: _Worker, task: int, clock: ClassClock, memory_mib: float | None
    ) -> _Ending:
        """How the probe ended; its time limit is each class's (``clock``), checked each tick."""
        while True:
            now = time.monotonic()
            clock.poll(now)  # A class begun since the last tick gets its own limit.
            remaining = clock.deadline - now
            if remaining <= 0:
                break
            step = min(remaining, TICK_SECONDS)
            asked = time.monotonic() + step
            with anyio.move_on_after(step):
                try:
                    report = await worker.reports.receive()
                except anyio.EndOfStream:  # Its reports ended: so did the worker.
                    return await self._exit_status(worker, memory_mib)
                if isinstance(report, str):  # Only a plugin could have written it.
                    await self._kill_tree(worker)
                    await worker.process.wait()
                    # Killed for what it wrote: that, not our kill, is how it ended.
                    return _Ending(problem=f"its worker's channel got {report}")
                if report.get("exited") == task and _is_code(report.get("code")):
                    return _Ending(code=report["code"], reported=True)
                continue
            overslept = time.monotonic() - asked
            if overslept > STALL_SLACK_SECONDS:
                # The scanner was stopped (or the machine froze): the probe was not slow.
                clock.delay(overslept)
        await self._kill_tree(worker)
        await worker.process.wait()
        return _Ending(signal="SIGKILL", limit="time")

    async def _exit_status(self, worker: _Worker, memory_mib: float | None) -> _Ending:
        self.trees.wake(worker.process.pid)  # A stopped nanny could not tell how it ended.
        returncode = await worker.process.wait()
        worker.dead = True
        await self._kill_tree(worker)  # What it started goes with it.
        code, name = self.trees.ending(returncode)
        limit = SELF_INFLICTED.get(name or "")
        if limit is None and ran_out_of_memory(_read_peak(worker.peak_file), memory_mib):
            limit = "memory"  # Its allocation failed at the limit: it did not just crash.
        return _Ending(code=None if name else code, signal=name, limit=limit)

    async def _start(self) -> _Worker:
        if self._task_group is None:
            raise RuntimeError("WorkerPoolLauncher is used outside its `async with` block")
        try:
            token = uuid.uuid4().hex
            peak_file = self.scratch / f"worker-{token}.peak"
            process = await anyio.open_process(
                self.trees.command(self.command),
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=None,
                env={
                    **os.environ,
                    WORKER_TOKEN_ENV: token,
                    PEAK_FILE_ENV: str(peak_file),
                },
                **self.trees.spawn_options(),
            )
        except OSError as error:
            raise WorkerStartFailed(f"cannot start a probe worker: {error}") from error
        self.trees.adopt(process.pid, token)
        send, receive = anyio.create_memory_object_stream[dict[str, Any] | str](16)
        worker = _Worker(process, receive, token, peak_file=peak_file)
        self._workers.add(worker)
        self._task_group.start_soon(self._read_reports, worker, send)
        with anyio.move_on_after(START_SECONDS):
            async for report in worker.reports:
                if isinstance(report, dict) and report.get("ready") is True:
                    worker.pid = report["pid"] if _is_code(report.get("pid")) else None
                    return worker
                break
        await self._retire(worker)
        raise WorkerStartFailed("a probe worker did not start (it never said it was ready)")

    async def _read_reports(
        self, worker: _Worker, send: MemoryObjectSendStream[dict[str, Any] | str]
    ) -> None:
        assert worker.process.stdout is not None
        buffer = b""
        async with send:
            with contextlib.suppress(anyio.BrokenResourceError, anyio.ClosedResourceError):
                async for chunk in worker.process.stdout:
                    buffer += chunk
                    *lines, buffer = buffer.split(b"\n")
                    if len(buffer) > MAX_REPORT_LINE:
                        lines.append(buffer)
                    for line in lines:
                        await send.send(_parse(line))

    async def _retire(self, worker: _Worker, *, busy: bool = False) -> None:
        """End a worker: an idle one is asked to stop (then killed if it does not), a ``busy``
        one killed at once; either way gone with everything it started."""
        if worker in self._idle:
            self._idle.remove(worker)
        self._workers.discard(worker)
        with anyio.CancelScope(shield=True):
            with contextlib.suppress(Exception):
                assert worker.process.stdin is not None
                await worker.process.stdin.aclose()  # End of input: an idle worker exits.
            if not worker.dead and not busy:
                with anyio.move_on_after(5):
                    await worker.process.wait()
            await self._kill_tree(worker)
            # Its pipes too (the reader stops at their end), before the event loop closes.
            with contextlib.suppress(Exception):
                await worker.process.aclose()
            worker.dead = True
            await worker.reports.aclose()
            with contextlib.suppress(OSError):
                worker.peak_file.unlink()

    async def _kill_tree(self, worker: _Worker) -> None:
        # In a thread: the sweep for the worker's token reads every process's environment.
        await anyio.to_thread.run_sync(
            self.trees.kill, worker.process.pid, worker.pid, worker.token
        )

    def _check_scratch_folder(self) -> None:
        if not self.scratch.is_dir():
            raise StorageError(
                f"cannot start a probe: its folder {self.scratch} is gone", path=str(self.scratch)
            )

    async def aclose(self) -> None:
        """Stop every worker (and whatever they started)."""
        with anyio.CancelScope(shield=True):
            for worker in list(self._workers):
                await self._retire(worker, busy=worker not in self._idle)
            self.trees.close()
        self._task_group = None
        await self._exit_stack.aclose()


def _read_peak(path: Path) -> int | None:
    """The peak memory a dead worker's nanny left (POSIX), or None."""
    try:
        return int(path.read_text())
    except (OSError, ValueError):
        return None


def _parse(line: bytes) -> dict[str, Any] | str:
    """A worker's report, or what was wrong with the line (a plugin wrote it)."""
    if len(line) > MAX_REPORT_LINE:
        return f"a line over {MAX_REPORT_LINE} bytes"
    try:
        report = json.loads(line)
    except ValueError:
        return f"a line that is not JSON: {line[:200]!r}"
    return report if isinstance(report, dict) else f"a report that is not an object: {line!r}"


def _is_code(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


async def _send(process: Process, message: dict[str, Any]) -> None:
    assert process.stdin is not None
    with contextlib.suppress(anyio.BrokenResourceError, anyio.ClosedResourceError):
        await process.stdin.send((json.dumps(message) + "\n").encode())


def _log_to_stderr(message: str) -> None:
    print(f"pluginary: {message}", file=sys.stderr, flush=True)
