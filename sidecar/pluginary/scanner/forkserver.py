"""The warm fork server: imports pedalboard once, then forks one disposable child per probe.

Started by the scanner as ``python -m pluginary.scanner.forkserver``; it talks JSON lines over
its own stdin/stdout (never the sidecar's). Forking a warm process costs milliseconds, where a
fresh interpreter importing pedalboard costs a quarter of a second.

Requests: ``{"op": "probe", "task": N, "bundle": P, "format": "vst3"|"au",
"classes": [...]|null, "skip": [...],
"result": F, "output": F}`` and ``{"op": "kill", "task": N}``. Reports: ``{"ready": ...}``
once, then ``{"started": N, "pid": P}`` and ``{"exited": N, "code": C, "signal": S}`` per probe.

Containment, so that no plugin outlives its probe or the scanner:
- each child leads its own process group, killed whole when the child ends or times out;
- the server is a child subreaper, so descendants that escape the group (setsid, double fork)
  are re-parented here and killed when found;
- the server and each child die with their parent (PR_SET_PDEATHSIG), and the server kills every
  child group on the way out.

Single-threaded on purpose: forking a multi-threaded process can leave locks held in the child.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import selectors
import signal
import sys
import time
from typing import Any

from pluginary.scanner.checks import noise_burst
from pluginary.scanner.probe import probe_bundle

PR_SET_PDEATHSIG = 1
PR_SET_CHILD_SUBREAPER = 36


def _prctl(option: int, value: int) -> None:
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL(None, use_errno=True).prctl(option, value, 0, 0, 0)


class ForkServer:
    def __init__(self, request_fd: int, report_fd: int) -> None:
        self.request_fd = request_fd
        self.report_fd = report_fd
        self.children: dict[int, int] = {}  # pid -> task
        self.buffer = b""
        wake_read, wake_write = os.pipe()
        os.set_blocking(wake_read, False)
        os.set_blocking(wake_write, False)
        self.wake_read = wake_read
        signal.set_wakeup_fd(wake_write)
        self.stopping = False

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
        self.report({"ready": True, "pid": os.getpid()})
        while not self.stopping:
            for key, _ in selector.select():
                if key.data == "signal":
                    self.drain_signals()
                else:
                    self.read_requests()
        self.shutdown()

    def drain_signals(self) -> None:
        with contextlib.suppress(BlockingIOError):
            while os.read(self.wake_read, 512):
                pass
        self.reap()

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
            for pid, task in self.children.items():
                if task == request["task"]:
                    _kill_group(pid)
        elif request["op"] == "stop":
            self.stopping = True

    def start_probe(self, request: dict[str, Any]) -> None:
        task = request["task"]
        pid = os.fork()
        if pid == 0:
            self.become_probe(request)
        self.children[pid] = task
        # Set the group from both sides so a kill sent right after this report cannot miss it.
        with contextlib.suppress(OSError):
            os.setpgid(pid, pid)
        self.report({"started": task, "pid": pid})

    def become_probe(self, request: dict[str, Any]) -> None:
        code = 70
        try:
            os.setpgid(0, 0)
            _prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
            signal.set_wakeup_fd(-1)
            for signum in (signal.SIGCHLD, signal.SIGTERM, signal.SIGHUP, signal.SIGINT):
                signal.signal(signum, signal.SIG_DFL)
            output = os.open(request["output"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            result = os.open(request["result"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            devnull = os.open(os.devnull, os.O_RDONLY)
            os.dup2(devnull, 0)
            os.dup2(output, 1)
            os.dup2(output, 2)
            for fd in (self.request_fd, self.report_fd, self.wake_read, output, devnull):
                os.close(fd)
            probe_bundle(
                request["bundle"],
                request.get("classes"),
                result,
                request.get("skip") or [],
                format=request.get("format", "vst3"),
                audio=request.get("audio", True),
            )
            code = 0
        finally:
            # Skip interpreter teardown: plugin destructors and atexit hooks are not our business.
            os._exit(code)

    def reap(self) -> None:
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            task = self.children.pop(pid, None)
            if task is None:
                # An adopted orphan we killed; its own children were just re-parented to us.
                self.kill_adopted()
                continue
            _kill_group(pid)  # Whatever the plugin left running in its group goes with it.
            self.kill_adopted()
            message: dict[str, Any] = {"exited": task, "code": None, "signal": None}
            if os.WIFSIGNALED(status):
                message["signal"] = signal.Signals(os.WTERMSIG(status)).name
            else:
                message["code"] = os.waitstatus_to_exitcode(status)
            self.report(message)

    def kill_adopted(self) -> None:
        """Kill descendants that escaped their probe's group and were re-parented to us."""
        for pid in _child_pids():
            if pid not in self.children:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)

    def shutdown(self) -> None:
        for pid in list(self.children):
            _kill_group(pid)
        deadline = time.monotonic() + 2
        while time.monotonic() < deadline:
            self.kill_adopted()
            try:
                pid, _ = os.waitpid(-1, 0)
            except ChildProcessError:
                break
            self.children.pop(pid, None)


def _kill_group(pgid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)


def _child_pids() -> list[int]:
    try:
        with open(f"/proc/self/task/{os.getpid()}/children") as children:
            return [int(pid) for pid in children.read().split()]
    except OSError:
        return []


def main() -> None:
    # Keep the report channel private: anything pedalboard or a plugin prints goes to stderr.
    request_fd, report_fd = os.dup(0), os.dup(1)
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.dup2(2, 1)
    _prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    _prctl(PR_SET_CHILD_SUBREAPER, 1)
    # A parent that died before the death signal was armed leaves us re-parented already.
    if os.getppid() == 1:
        return
    server = ForkServer(request_fd, report_fd)

    def stop(signum: int, frame: object) -> None:
        server.stopping = True

    for signum in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):
        signal.signal(signum, stop)
    signal.signal(signal.SIGCHLD, lambda signum, frame: None)
    # numpy (under pedalboard) would start a BLAS thread pool; forking is only safe single-threaded.
    for variable in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(variable, "1")
    import pedalboard  # noqa: F401  Warm the import once; every child inherits it.

    noise_burst()  # Likewise the audio check's noise (numpy.random costs a child 10 ms).

    server.serve()


if __name__ == "__main__":
    main()
