"""The parent side of the probes: drives the warm fork server and survives whatever it suffers.

Only this module talks to the fork server. A reader task parses its reports (untrusted: a plugin
may have reached the pipe) and wakes the probe waiting for them; nothing else happens on the pipe.
The fork server enforces each probe's limits itself; here a watchdog only notices a server that
died, stopped answering (its heartbeat ends) or broke the protocol. Such a server is killed and a
new one starts at the next probe: the probes it had in flight end ``lost``, which the engine
resolves (by probing them again one at a time) rather than blaming anyone on the spot.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
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

from pluginary.errors import StorageError
from pluginary.scanner import containment
from pluginary.scanner.classclock import ClassClock
from pluginary.scanner.probe import RESULT_UNWRITABLE
from pluginary.scanner.reports import parse_report
from pluginary.scanner.runs import (
    ProbeLimits,
    ProbeRequest,
    ProbeRun,
    check_scratch,
    read_result,
    read_tails,
)

# Seconds of silence (while probes run; the server says it is alive every second) after which the
# fork server counts as stopped or wedged. Stalls of the sidecar itself do not count.
WATCHDOG_SECONDS = 20.0
# How many servers a probe is sent to when each goes down before starting it.
NEVER_STARTED_RETRIES = 3
# A probe not reported ended this long after its own limit means the server lost track of it.
OVERDUE_GRACE_SECONDS = 60.0
TICK_SECONDS = 1.0
STALL_SLACK_SECONDS = 1.0
# The fork server's reports are a few hundred bytes; a longer line is not one of them.
MAX_REPORT_LINE = 64 * 1024
TOKEN_ENV = "PLUGINARY_PROBE_TOKEN"
SCANNER_PID_ENV = "PLUGINARY_SCANNER_PID"


class ForkServerDied(RuntimeError):
    """The fork server could not be started at all."""


class ProbeStartFailed(RuntimeError):
    """The machine would not start a probe (no process could be forked): nobody's plugin."""


@dataclass
class _Pending:
    done: anyio.Event = field(default_factory=anyio.Event)
    report: dict[str, Any] | None = None
    quiet_ticks: int = 0  # Sidecar-side age, in ticks that were not stalls.
    overdue_ticks: int = 0
    started: bool = False  # The server said it forked the probe.
    clock: ClassClock | None = None  # Its classes as they begin: each restarts the overdue count.


class _Server:
    """One fork server process and the probes it has in flight."""

    def __init__(self, process: Process, token: str) -> None:
        self.process = process
        self.token = token
        self.pending: dict[int, _Pending] = {}
        self.isolation = "unknown"
        self.ready = anyio.Event()
        self.heard = True  # Heard from since the watchdog's last tick.
        self.death: str | None = None  # Why it is no longer used.
        self.watch = anyio.CancelScope()  # The watchdog's, ended with the server.

    def kill(self, reason: str) -> None:
        if self.death is None:
            self.death = reason
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.process.pid, signal.SIGKILL)  # It leads its own session and group.
        with contextlib.suppress(ProcessLookupError):
            self.process.kill()


class ForkServerLauncher:
    """Probes through one warm fork server process at a time; use as ``async with``."""

    def __init__(
        self,
        scratch: Path,
        *,
        watchdog_seconds: float = WATCHDOG_SECONDS,
        log: Callable[[str], None] | None = None,
        command: Sequence[str] = (sys.executable, "-m", "pluginary.scanner.forkserver"),
    ) -> None:
        self.scratch = scratch
        self.command = list(command)
        self.log = log or _log_to_stderr
        self.watchdog_ticks = max(2, round(watchdog_seconds / TICK_SECONDS))
        self._server: _Server | None = None
        self._servers: list[_Server] = []
        self._start_lock = anyio.Lock()
        self._exit_stack = contextlib.AsyncExitStack()
        self._task_group: anyio.abc.TaskGroup | None = None

    async def __aenter__(self) -> ForkServerLauncher:
        self._task_group = await self._exit_stack.enter_async_context(anyio.create_task_group())
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def _ensure_started(self) -> _Server:
        async with self._start_lock:
            server = self._server
            if server is not None and server.death is None:
                return server
            if self._task_group is None:
                raise RuntimeError("ForkServerLauncher is used outside its `async with` block")
            token = uuid.uuid4().hex
            process = await anyio.open_process(
                self.command,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=None,
                # A session of its own: a plugin's signal to its parent's group, or the terminal's
                # Ctrl-C / Ctrl-Z, never reaches the sidecar, the CLI or the host through it.
                start_new_session=True,
                env={**os.environ, TOKEN_ENV: token, SCANNER_PID_ENV: str(os.getpid())},
            )
            server = _Server(process, token)
            self._servers.append(server)
            self._task_group.start_soon(self._read_reports, server)
            with anyio.move_on_after(60):
                await server.ready.wait()
            if server.death is not None or not server.ready.is_set():
                server.kill("it did not start")
                raise ForkServerDied(f"the fork server could not start ({server.death})")
            self._task_group.start_soon(self._watch, server)
            self._server = server
            return server

    async def _read_reports(self, server: _Server) -> None:
        assert server.process.stdout is not None
        buffer = b""
        try:
            async for chunk in server.process.stdout:
                buffer += chunk
                *lines, buffer = buffer.split(b"\n")
                if len(buffer) > MAX_REPORT_LINE:
                    lines.append(buffer)  # Judged, and refused, like any other line.
                for line in lines:
                    server.heard = True
                    problem = self._dispatch(server, line)
                    if problem is not None:
                        self.log(f"the fork server sent {problem}; restarting it")
                        server.kill(f"it sent {problem}")
                        return
        except (anyio.BrokenResourceError, anyio.ClosedResourceError):
            pass
        finally:
            with anyio.CancelScope(shield=True):
                await self._bury(server)

    def _dispatch(self, server: _Server, line: bytes) -> str | None:
        """Hand one report to whoever waits for it; say what is wrong with it, if anything."""
        if len(line) > MAX_REPORT_LINE:
            return f"a line over {MAX_REPORT_LINE} bytes"
        try:
            report = json.loads(line)
        except ValueError:
            return "a line that is not JSON"
        if not isinstance(report, dict):
            return "a report that is not an object"
        if "ready" in report:
            server.isolation = str(report.get("isolation"))
            server.ready.set()
        elif "exited" in report or "refused" in report:
            if not _well_formed_end(report):
                return f"a malformed report: {line[:200]!r}"
            task = report["exited"] if "exited" in report else report["refused"]
            pending = server.pending.get(task)
            if pending is not None:  # None: a probe we stopped waiting for (cancelled).
                pending.report = report
                pending.done.set()
        elif "started" in report:
            task = report["started"]
            pending = server.pending.get(task) if type(task) is int else None
            if pending is not None:
                pending.started = True
        elif "alive" not in report:
            return f"an unknown report: {line[:200]!r}"
        return None

    async def _bury(self, server: _Server) -> None:
        """The server's reports ended: it is dead (or killed). Its probes are lost; clean up."""
        if server.death is None:
            server.death = "it exited"
        with contextlib.suppress(Exception):
            await server.process.wait()
        code = server.process.returncode
        if code is not None and code < 0 and server.death == "it exited":
            server.death = f"it was killed by {signal.Signals(-code).name}"
        elif code and server.death == "it exited":
            server.death = f"it exited with status {code}"
        server.ready.set()
        server.watch.cancel()
        for pending in server.pending.values():
            pending.done.set()  # report stays None: lost.
        if server.isolation != "pid-namespace":
            # Outside a namespace, a descendant that cleared its death signal outlives the
            # server: find it by the token every process the server started inherits.
            await anyio.to_thread.run_sync(containment.kill_marked, TOKEN_ENV, server.token)

    async def _watch(self, server: _Server) -> None:
        """Kill a server that stopped answering, counting only ticks that were not our stalls."""
        with server.watch:
            await self._watch_ticks(server)

    async def _watch_ticks(self, server: _Server) -> None:
        silent = 0
        while server.death is None:
            before = time.monotonic()
            await anyio.sleep(TICK_SECONDS)
            if time.monotonic() - before > TICK_SECONDS + STALL_SLACK_SECONDS:
                continue  # We were stalled; what the server sent meanwhile is still unread.
            if not server.pending:
                silent = 0
                continue
            silent = 0 if server.heard else silent + 1
            server.heard = False
            if silent >= self.watchdog_ticks:
                self.log(
                    f"the fork server sent nothing for {silent} s while probing; restarting it"
                )
                server.kill(f"it stopped answering for {silent} s")
                return
            for task, pending in server.pending.items():
                pending.quiet_ticks += 1
                if pending.clock is not None and pending.clock.poll(time.monotonic()):
                    pending.quiet_ticks = 0  # Another class began: its own limit starts.
                if pending.quiet_ticks > pending.overdue_ticks > 0:
                    self.log(
                        f"the fork server never reported the end of probe {task}; restarting it"
                    )
                    server.kill("it lost track of a probe")
                    return

    async def probe(self, request: ProbeRequest, limits: ProbeLimits) -> ProbeRun:
        """Probe one bundle in a fresh child; the fork server holds it to ``limits``.

        A server that goes down before it has started the probe (a plugin of an earlier probe
        told it to stop, say) has done nothing with this bundle: it is sent to a new server
        rather than blamed for what it never did.
        """
        for _ in range(NEVER_STARTED_RETRIES):
            run, started = await self._probe_once(request, limits)
            if run.lost is None or started:
                return run
            self.log(
                f"the fork server went down before starting {request.bundle}; sending it again"
            )
        return run

    async def _probe_once(
        self, request: ProbeRequest, limits: ProbeLimits
    ) -> tuple[ProbeRun, bool]:
        """One probe on the current server; its run, and whether the server started it."""
        server = await self._ensure_started()
        task = request.task
        result_path = self.scratch / f"{task}.result"
        output_path = self.scratch / f"{task}.output"
        pending = server.pending[task] = _Pending()
        pending.clock = ClassClock(
            result_path, limits.timeout_seconds, time.monotonic(), request.classes
        )
        pending.overdue_ticks = round(
            (limits.timeout_seconds + OVERDUE_GRACE_SECONDS) / TICK_SECONDS
        )
        started = time.perf_counter()
        try:
            with contextlib.suppress(anyio.BrokenResourceError, anyio.ClosedResourceError):
                await _send(
                    server.process,
                    {
                        **request.wire(),
                        "result": str(result_path),
                        "output": str(output_path),
                        "timeout": limits.timeout_seconds,
                        "memory_mib": limits.memory_mib,
                        "output_mib": limits.output_mib,
                    },
                )
            await pending.done.wait()
            report = pending.report
            if report is None:
                report = {"code": None, "signal": None, "limit": None}
            elif "refused" in report:
                if isinstance(report.get("path"), str):
                    raise StorageError(
                        f"cannot start a probe: {report['error']}", path=report["path"]
                    )
                raise ProbeStartFailed(f"cannot start a probe: {report['error']}")
            if report["code"] == RESULT_UNWRITABLE:
                check_scratch(self.scratch, result_path)  # A plugin may exit with that status too.
            data = read_result(self.scratch, result_path)
            events, problem = parse_report(data)
            output_tail, class_tails = read_tails(output_path, events)
            run = ProbeRun(
                events=events,
                exit_code=report["code"],
                signal=report["signal"],
                limit=report["limit"],
                problem=problem,
                lost=None if pending.report is not None else server.death or "it died",
                output_tail=output_tail,
                class_tails=class_tails,
                duration_ms=round((time.perf_counter() - started) * 1000, 3),
            )
            return run, pending.started
        except BaseException:
            # Cancelled or failed: make sure this probe does not outlive us.
            if pending.report is None and server.death is None:
                with anyio.CancelScope(shield=True), contextlib.suppress(Exception):
                    await _send(server.process, {"op": "kill", "task": task})
            raise
        finally:
            server.pending.pop(task, None)
            for path in (result_path, output_path):
                with contextlib.suppress(OSError):
                    path.unlink()

    async def aclose(self) -> None:
        """Stop the fork servers; each kills every probe it still has."""
        self._server = None
        with anyio.CancelScope(shield=True):
            for server in self._servers:
                process = server.process
                with contextlib.suppress(Exception):
                    assert process.stdin is not None
                    await process.stdin.aclose()
                with anyio.move_on_after(3):
                    await process.wait()
                if process.returncode is None:
                    server.kill("the scan ended")
                    await process.wait()
                if server.death is None:
                    server.death = "the scan ended"
        # The reader tasks end with their servers' stdout; the task group closes last, outside
        # the shield (a task group must be exited under the cancel scope it was entered under).
        self._task_group = None
        await self._exit_stack.aclose()


def _well_formed_end(report: dict[str, Any]) -> bool:
    task = report.get("exited", report.get("refused"))
    if not isinstance(task, int) or isinstance(task, bool):
        return False
    if "refused" in report:
        return isinstance(report.get("error"), str) and isinstance(report.get("path"), str | None)
    code, signal_name, limit = report.get("code"), report.get("signal"), report.get("limit")
    return (
        (code is None or (isinstance(code, int) and not isinstance(code, bool)))
        and (signal_name is None or isinstance(signal_name, str))
        and limit in (None, "time", "memory", "output")
        and (code is None) != (signal_name is None)
    )


async def _send(process: Process, message: dict[str, Any]) -> None:
    assert process.stdin is not None
    await process.stdin.send((json.dumps(message) + "\n").encode())


def _log_to_stderr(message: str) -> None:
    print(f"pluginary: {message}", file=sys.stderr, flush=True)
