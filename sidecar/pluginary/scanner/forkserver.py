"""The warm fork server: imports pedalboard once, then forks one disposable child per probe.

Started by the scanner as ``python -m pluginary.scanner.forkserver``, in a session of its own; it
talks JSON lines over its own stdin/stdout (never the sidecar's). Forking a warm process costs
milliseconds, where a fresh interpreter importing pedalboard costs a quarter of a second.

Requests: ``{"op": "probe", "task": N, "bundle": P, "format": "vst3"|"au", "classes": [...]|null,
"skip": [...], "audio": bool, "split": bool, "result": F, "output": F, "timeout": S,
"memory_mib": M|null, "output_mib": M|null}``, ``{"op": "kill", "task": N}`` (cancel) and
``{"op": "stop"}``.
``timeout`` is each class's limit: the deadline restarts when the probe begins another class
(``classclock.py`` reads its result file as it grows).
Reports: ``{"ready": true, "pid": P, "isolation": I}`` once; per probe ``{"started": N, "pid": P}``
then ``{"exited": N, "code": C, "signal": S, "limit": "time"|"memory"|"output"|null}`` — or
``{"refused": N, "error": E, "path": F}`` when the probe cannot start (its files cannot be
created, ``path`` names the one; or no process can be forked): our failure, not the plugin's;
and ``{"alive": true}`` every second while probes run, so a stopped server is noticed.

The limits are enforced here, not by the scanner: this loop reaps the children that finished
before it looks at any deadline, and a stall of this process (SIGSTOP, a frozen machine) moves the
deadlines on by its length, so a stall can never turn a probe that finished into a timeout.

Containment, so that no plugin outlives its probe or the scanner, and none can signal us:
- in a PID namespace of its own when the kernel allows it (see ``containment.py``): this server is
  the namespace's init, which plugins cannot signal and whose end kills every process they left;
- each child leads its own process group, killed whole (and by pid) when it ends or times out;
- the server is a child subreaper, so descendants that escape the group (setsid, double fork)
  are re-parented here and killed when found;
- the server and each child die with their parent (PR_SET_PDEATHSIG).

Single-threaded on purpose: forking a multi-threaded process can leave locks held in the child.
"""

from __future__ import annotations

import contextlib
import json
import os
import resource
import selectors
import signal
import sys
import time
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pluginary.scanner import containment, runs
from pluginary.scanner.classclock import ClassClock
from pluginary.scanner.probe import PROBE_FAILED, run_request, warm_up

HEARTBEAT_SECONDS = 1.0
# A loop turn that took this much longer than it asked to sleep was a stall, not work.
STALL_SLACK_SECONDS = 1.0
MIB = 1024 * 1024
SELF_INFLICTED = {"SIGXFSZ": "output"}


@dataclass
class Child:
    """A running probe, as the server tracks it."""

    task: int
    host_pid: int
    clock: ClassClock  # The deadline of the class it is on.
    memory_bytes: int | None
    limit: str | None = None  # Set when this server killed it for exceeding one.
    peak_bytes: int = 0


class ForkServer:
    def __init__(self, request_fd: int, report_fd: int, isolation: str) -> None:
        self.request_fd = request_fd
        self.report_fd = report_fd
        self.isolation = isolation
        self.host_pid = containment.host_pid()
        self.children: dict[int, Child] = {}  # pid (in our namespace) -> child
        self.buffer = b""
        wake_read, wake_write = os.pipe()
        os.set_blocking(wake_read, False)
        os.set_blocking(wake_write, False)
        self.wake_read, self.wake_write = wake_read, wake_write
        # A full pipe already wakes us: no warning (a plugin may have filled it, or many children
        # ended at once).
        signal.set_wakeup_fd(wake_write, warn_on_full_buffer=False)
        self.stopping = False
        self.next_heartbeat = 0.0

    def report(self, message: dict[str, Any]) -> None:
        data = (json.dumps(message) + "\n").encode()
        try:
            while data:
                data = data[os.write(self.report_fd, data) :]
        except BrokenPipeError:
            # The scanner is gone: nobody reads reports any more. Stop (and clean up) instead.
            self.stopping = True

    def serve(self) -> None:
        selector = selectors.DefaultSelector()
        selector.register(self.request_fd, selectors.EVENT_READ, "request")
        selector.register(self.wake_read, selectors.EVENT_READ, "signal")
        self.report({"ready": True, "pid": self.host_pid, "isolation": self.isolation})
        while not self.stopping:
            wait = self.wait_seconds()
            before = time.monotonic()
            ready = selector.select(wait)
            if wait is not None:
                self.forgive_stall(time.monotonic() - before - wait)
            for key, _ in ready:
                if key.data == "signal":
                    self.drain_signals()
                else:
                    self.read_requests()
            # Completions first: a probe that finished is never judged by its deadline.
            self.reap()
            self.enforce_limits()
            self.heartbeat()
        self.shutdown()

    def wait_seconds(self) -> float | None:
        if not self.children:
            return None
        nearest = min(child.clock.deadline for child in self.children.values())
        return max(0.0, min(HEARTBEAT_SECONDS, nearest - time.monotonic()))

    def forgive_stall(self, overslept: float) -> None:
        """This process was stopped (or the machine froze): move every deadline on by as much."""
        if overslept > STALL_SLACK_SECONDS:
            for child in self.children.values():
                child.clock.delay(overslept)

    def heartbeat(self) -> None:
        now = time.monotonic()
        if self.children and now >= self.next_heartbeat:
            self.next_heartbeat = now + HEARTBEAT_SECONDS
            self.report({"alive": True})

    def drain_signals(self) -> None:
        with contextlib.suppress(BlockingIOError):
            while os.read(self.wake_read, 512):
                pass

    def read_requests(self) -> None:
        chunk = os.read(self.request_fd, 65536)
        if not chunk:  # The scanner is gone: nobody will read our reports.
            self.stopping = True
            return
        self.buffer += chunk
        *lines, self.buffer = self.buffer.split(b"\n")
        for line in lines:
            if line.strip():
                self.handle(json.loads(line))

    def handle(self, request: dict[str, Any]) -> None:
        if request["op"] == "probe":
            self.start_probe(request)
        elif request["op"] == "kill":
            for pid, child in self.children.items():
                if child.task == request["task"]:
                    containment.kill_process_and_group(pid)
        elif request["op"] == "stop":
            self.stopping = True

    def start_probe(self, request: dict[str, Any]) -> None:
        task = request["task"]
        # Opened here, not in the child: a missing or unwritable scratch folder is our failure,
        # and must be reported as such rather than as the plugin's exit status.
        try:
            files = [
                os.open(request[key], os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
                for key in ("output", "result")
            ]
        except OSError as error:
            self.report(
                {
                    "refused": task,
                    "error": f"cannot create {error.filename}: {error.strerror}",
                    "path": error.filename,
                }
            )
            return
        memory = request.get("memory_mib")
        try:
            pid = os.fork()
        except OSError as error:  # Out of processes or memory: the machine's state, not a plugin.
            self.report({"refused": task, "error": f"cannot fork a probe: {error}"})
            pid = -1
        if pid == 0:
            self.become_probe(request, *files)
        for fd in files:
            os.close(fd)
        if pid < 0:
            return
        # Set the group from both sides so a kill sent right after this report cannot miss it.
        with contextlib.suppress(OSError):
            os.setpgid(pid, pid)
        host = self.host_pid_of(pid)
        self.children[pid] = Child(
            task=task,
            host_pid=host,
            clock=ClassClock(
                Path(request["result"]),
                float(request.get("timeout") or 30),
                time.monotonic(),
                request.get("classes"),
            ),
            memory_bytes=None if memory is None else int(memory * MIB),
        )
        self.report({"started": task, "pid": host})

    def host_pid_of(self, pid: int) -> int:
        if self.isolation != "pid-namespace":
            return pid
        for host in containment.child_host_pids(self.host_pid):
            if containment.namespace_pid(host) == pid:
                return host
        return pid  # Already gone; the id is only informative then.

    def become_probe(self, request: dict[str, Any], output: int, result: int) -> None:
        code = PROBE_FAILED
        try:
            os.setpgid(0, 0)
            containment.set_death_signal(signal.SIGKILL)
            signal.set_wakeup_fd(-1)
            for signum in (signal.SIGCHLD, signal.SIGTERM, signal.SIGHUP, signal.SIGINT):
                signal.signal(signum, signal.SIG_DFL)
            signal.signal(signal.SIGXFSZ, signal.SIG_DFL)  # The output limit ends the probe.
            memory, written = request.get("memory_mib"), request.get("output_mib")
            containment.limit_resources(
                memory_bytes=None if memory is None else int(memory * MIB),
                output_bytes=None if written is None else int(written * MIB),
            )
            devnull = os.open(os.devnull, os.O_RDONLY)
            os.dup2(devnull, 0)
            os.dup2(output, 1)
            os.dup2(output, 2)
            os.close(devnull)
            for fd in (self.request_fd, self.report_fd, self.wake_read, self.wake_write, output):
                os.close(fd)
            code = run_request(request, result)
        except BaseException:
            with contextlib.suppress(Exception):
                traceback.print_exc()
                sys.stderr.flush()
        finally:
            # Skip interpreter teardown: plugin destructors and atexit hooks are not our business.
            os._exit(code)

    def reap(self) -> None:
        while True:
            try:
                pid, status, usage = os.wait4(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            child = self.children.pop(pid, None)
            if child is None:
                # An adopted orphan we killed; its own children were just re-parented to us.
                self.kill_adopted()
                continue
            containment.kill_process_and_group(pid)  # What it left in its group goes with it.
            self.kill_adopted()
            self.report(self.exit_report(child, status, usage))

    def exit_report(
        self, child: Child, status: int, usage: resource.struct_rusage
    ) -> dict[str, Any]:
        message: dict[str, Any] = {"exited": child.task, "code": None, "signal": None}
        if os.WIFSIGNALED(status):
            message["signal"] = signal.Signals(os.WTERMSIG(status)).name
        else:
            message["code"] = os.waitstatus_to_exitcode(status)
        limit = child.limit or SELF_INFLICTED.get(message["signal"] or "")
        peak = max(child.peak_bytes, usage.ru_maxrss * 1024)
        near_limit = (
            child.memory_bytes is not None
            and peak >= child.memory_bytes * runs.MEMORY_VERDICT_SHARE
        )
        if limit is None and message["code"] != 0 and near_limit:
            limit = "memory"
        message["limit"] = limit
        return message

    def enforce_limits(self) -> None:
        now = time.monotonic()
        for pid, child in self.children.items():
            if child.limit is not None:
                continue  # Killed already; its exit is on the way.
            if child.memory_bytes is not None:
                size = containment.data_bytes(child.host_pid) or 0
                child.peak_bytes = max(child.peak_bytes, size)
                if size > child.memory_bytes:
                    child.limit = "memory"
            # Every turn (at least each second): a class begun gets its own limit from about then.
            child.clock.poll(now)
            if child.limit is None and now >= child.clock.deadline:
                child.limit = "time"
            if child.limit is not None:
                containment.kill_process_and_group(pid)

    def kill_adopted(self) -> None:
        """Kill descendants that escaped their probe's group and were re-parented to us."""
        for host in containment.child_host_pids(self.host_pid):
            pid = containment.namespace_pid(host) if self.isolation == "pid-namespace" else host
            if pid is not None and pid not in self.children:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)

    def shutdown(self) -> None:
        for pid in list(self.children):
            containment.kill_process_and_group(pid)
        deadline = time.monotonic() + 2
        while time.monotonic() < deadline:
            self.kill_adopted()
            try:
                pid, _ = os.waitpid(-1, 0)
            except ChildProcessError:
                break
            self.children.pop(pid, None)


def _run_namespace_init(request_fd: int, report_fd: int) -> None:
    """Fork the namespace's init (which serves) and wait for it; never returns."""
    pid = os.fork()
    if pid == 0:
        containment.set_death_signal(signal.SIGKILL)
        _serve(request_fd, report_fd, "pid-namespace")
        os._exit(0)
    # This outer process only waits: the pipes are the server's, and its end ends ours.
    for fd in (request_fd, report_fd):
        os.close(fd)
    while True:
        try:
            _, status = os.waitpid(pid, 0)
        except InterruptedError:
            continue
        os._exit(os.waitstatus_to_exitcode(status) & 0xFF)


def _serve(request_fd: int, report_fd: int, isolation: str) -> None:
    server = ForkServer(request_fd, report_fd, isolation)
    if isolation != "pid-namespace":
        # Outside a namespace these may come from a plugin too; stopping cleanly is the best
        # answer then (the scanner restarts us). As a namespace's init we leave them unhandled:
        # the kernel then drops them from plugins, and the scanner stops us by closing our input.
        def stop(signum: int, frame: object) -> None:
            server.stopping = True

        for signum in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):
            signal.signal(signum, stop)
    else:
        for signum in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):
            signal.signal(signum, signal.SIG_DFL)
    signal.signal(signal.SIGCHLD, lambda signum, frame: None)
    server.serve()


def main() -> None:
    # Keep the report channel private: anything pedalboard or a plugin prints goes to stderr.
    request_fd, report_fd = os.dup(0), os.dup(1)
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.dup2(2, 1)
    containment.set_death_signal(signal.SIGKILL)
    containment.become_subreaper()
    # A parent that died before the death signal was armed left us re-parented already.
    expected_parent = os.environ.get("PLUGINARY_SCANNER_PID")
    if expected_parent and os.getppid() != int(expected_parent):
        return
    warm_up()  # Once: every child inherits it.

    if containment.enter_pid_namespace():
        _run_namespace_init(request_fd, report_fd)
    _serve(request_fd, report_fd, "process-group")


if __name__ == "__main__":
    main()
