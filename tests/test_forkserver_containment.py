"""The fork server contains misbehaving native plugins: crashes, hangs, stdio noise, leftovers.

Every process the fork server starts inherits a unique token in its environment, so a scan of
/proc finds anything a probe left behind, however it escaped its process group.
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pluginary.scanner.containment import NO_NAMESPACE_ENV
from processes import (
    alive,
    group_members,
    proc_stat,
    processes_with_env,
    wait_until,
)

pytestmark = pytest.mark.worker

REPORT_TIMEOUT = 20.0  # generous: a loaded CI machine must not turn a slow report into a failure
TOKEN_VARIABLE = "PLUGINARY_TEST_TOKEN"
HIJACK_FRAME = (
    b"Content-Length: 85\r\n\r\n"
    b'{"jsonrpc":"2.0","method":"window/logMessage","params":{"type":1,"message":"HIJACK"}}'
)


ISOLATIONS = ("pid-namespace", "process-group")


class ForkServer:
    """The real fork server process, with deadline-bounded reads of its report stream."""

    def __init__(self, tmp_path: Path, isolation: str = "pid-namespace") -> None:
        self.tmp_path = tmp_path
        self.token = uuid.uuid4().hex
        self.stderr_path = tmp_path / "forkserver.stderr"
        env = {**os.environ, TOKEN_VARIABLE: self.token}
        if isolation == "process-group":
            env[NO_NAMESPACE_ENV] = "1"
        with self.stderr_path.open("wb") as stderr:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "pluginary.scanner.forkserver"],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=stderr,
                env=env,
                start_new_session=True,  # As the launcher starts it.
            )
        assert self.process.stdin and self.process.stdout
        self.stdin = self.process.stdin
        self.report_fd = self.process.stdout.fileno()
        self.pending = b""
        self.raw = b""  # every byte ever read from the report stream
        ready = self.report()
        assert (ready["ready"], ready["isolation"]) == (True, isolation)
        # In a namespace the server is the outer process's child, the namespace's init.
        if isolation == "process-group":
            assert ready["pid"] == self.process.pid
        else:
            assert proc_stat(ready["pid"]) is not None
            assert proc_stat(ready["pid"])[1] == self.process.pid  # type: ignore[index]
        self.server_pids = {self.process.pid, ready["pid"]}

    def send(self, request: dict[str, Any]) -> None:
        self.stdin.write(json.dumps(request).encode() + b"\n")
        self.stdin.flush()

    def read_line(self, timeout: float) -> bytes | None:
        """The next report line; None if none arrives within ``timeout``; b"" at end of stream."""
        deadline = time.monotonic() + timeout
        while b"\n" not in self.pending:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not select.select([self.report_fd], [], [], remaining)[0]:
                return None
            chunk = os.read(self.report_fd, 65536)
            if not chunk:
                return b""
            self.raw += chunk
            self.pending += chunk
        line, _, self.pending = self.pending.partition(b"\n")
        return line

    def report(self, timeout: float = REPORT_TIMEOUT) -> dict[str, Any]:
        """The next report other than the server's heartbeat."""
        while True:
            line = self.read_line(timeout)
            assert line, f"no report within {timeout} s (got {line!r})"
            report: dict[str, Any] = json.loads(line)
            if report != {"alive": True}:
                return report

    def ends(self) -> bool:
        """Whether the report stream ends (within the limit) with nothing but heartbeats left."""
        while (line := self.read_line(REPORT_TIMEOUT)) == b'{"alive": true}':
            pass
        return line == b""

    def probe(self, task: int, bundle: Path, classes: list[str] | None = None) -> int:
        """Start a probe and return its pid (also its process group)."""
        self.send(
            {
                "op": "probe",
                "task": task,
                "bundle": str(bundle),
                "classes": classes,
                "result": str(self.result_path(task)),
                "output": str(self.output_path(task)),
            }
        )
        started = self.report()
        assert started["started"] == task
        pid: int = started["pid"]
        return pid

    def result_path(self, task: int) -> Path:
        return self.tmp_path / f"result-{task}.jsonl"

    def output_path(self, task: int) -> Path:
        return self.tmp_path / f"output-{task}.log"

    def events(self, task: int) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.result_path(task).read_text().splitlines()]

    def leftovers(self) -> set[int]:
        """Live processes started by this server, other than the server itself."""
        return processes_with_env(f"{TOKEN_VARIABLE}={self.token}") - self.server_pids

    def close(self) -> int:
        """Close the request stream (the scanner going away) and return the exit code."""
        if not self.stdin.closed:
            self.stdin.close()
        try:
            return self.process.wait(timeout=REPORT_TIMEOUT)
        finally:
            if self.process.poll() is None:
                self.process.kill()
                self.process.wait()


@pytest.fixture(params=ISOLATIONS)
def forkserver(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[ForkServer]:
    server = ForkServer(tmp_path, request.param)
    try:
        yield server
    finally:
        server.close()  # On its way out the server kills whatever a failed test left running.
        # Should containment itself be broken, still leave no hanging plugin behind.
        for pid in server.leftovers():
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


def _wait_for_hang(server: ForkServer, task: int) -> None:
    output = server.output_path(task)
    # hang.c writes this to stderr just before it stops forever in GetPluginFactory; the probe
    # creates the file itself, possibly after reporting it started.
    wait_until(
        lambda: output.exists() and b"pluginary-hang: hanging" in output.read_bytes(),
        "the plugin reports it is hanging",
        timeout=REPORT_TIMEOUT,
    )


def test_segfault_while_enumerating_leaves_no_classes(
    forkserver: ForkServer,
    misbehaving_plugins: dict[str, Path],
) -> None:
    pid = forkserver.probe(1, misbehaving_plugins["segfault"])
    assert forkserver.report() == {"exited": 1, "code": None, "signal": "SIGSEGV", "limit": None}
    # Enumerating the classes already asks for the factory, so the crash precedes any event.
    assert forkserver.events(1) == []
    assert not alive(pid)
    assert forkserver.leftovers() == set()


def test_segfault_while_loading_a_known_class_blames_it(
    forkserver: ForkServer,
    misbehaving_plugins: dict[str, Path],
) -> None:
    forkserver.probe(1, misbehaving_plugins["segfault"], classes=["Crasher"])
    assert forkserver.report() == {"exited": 1, "code": None, "signal": "SIGSEGV", "limit": None}
    events = forkserver.events(1)
    # The probe's time when the class began: a measurement, only its type is the contract.
    elapsed = events[-1].pop("elapsed_ms", None) if events else None
    assert isinstance(elapsed, float)
    assert events == [
        {"event": "classes", "names": ["Crasher"]},
        # Where its output starts in the probe's output file: nothing was printed before it.
        {"event": "begin", "class": "Crasher", "output_at": 0},
    ]


def test_hanging_probe_runs_until_killed_then_its_group_is_gone(
    forkserver: ForkServer,
    misbehaving_plugins: dict[str, Path],
) -> None:
    pid = forkserver.probe(1, misbehaving_plugins["hang"])
    _wait_for_hang(forkserver, 1)
    # Still hanging: nothing to report but that the server is alive.
    assert forkserver.read_line(timeout=0.5) in (None, b'{"alive": true}')
    assert pid in group_members(pid)

    forkserver.send({"op": "kill", "task": 1})
    assert forkserver.report() == {"exited": 1, "code": None, "signal": "SIGKILL", "limit": None}
    wait_until(lambda: not group_members(pid), f"process group {pid} is empty")
    assert forkserver.leftovers() == set()
    assert forkserver.events(1) == []


def test_plugin_stdio_noise_never_reaches_the_report_stream(
    forkserver: ForkServer,
    misbehaving_plugins: dict[str, Path],
) -> None:
    bundle = misbehaving_plugins["noise"]
    forkserver.probe(1, bundle)
    assert forkserver.report() == {"exited": 1, "code": 0, "signal": None, "limit": None}
    result, done = forkserver.events(1)
    assert done == {"event": "done"}
    assert result["status"] == "failed"
    assert result["class"] is None
    assert result["error_type"] == "ImportError"
    assert result["error"] == (
        f"Unable to scan plugin {bundle}: unsupported plugin format or scan failure."
    )
    assert result["diagnosis"] is None  # the binary itself loads fine; it is just not a plugin

    output = forkserver.output_path(1).read_bytes()
    assert HIJACK_FRAME in output
    assert b"pluginary-noise: stderr chatter" in output

    assert forkserver.close() == 0
    assert forkserver.ends()  # the whole stream is read
    reports = [json.loads(line) for line in forkserver.raw.splitlines()]
    assert [sorted(report) for report in reports if report != {"alive": True}] == [
        ["isolation", "pid", "ready"],
        ["pid", "started"],
        ["code", "exited", "limit", "signal"],
    ]
    assert b"HIJACK" not in forkserver.raw
    assert b"HIJACK" not in forkserver.stderr_path.read_bytes()


def _leftoverpids(output: Path) -> list[int]:
    # grandchild.c and escape_tree.c write one "pluginary-gc PID" line per process they leave.
    return [
        int(line.split()[1])
        for line in output.read_text().splitlines()
        if line.startswith("pluginary-gc ")
    ]


def _is_leftover(pid: int) -> bool:
    try:
        return alive(pid) and Path(f"/proc/{pid}/comm").read_text() == "pluginary-gc\n"
    except OSError:
        return False


def test_grandchildren_outlive_a_plain_process_that_loads_the_plugin(
    tmp_path: Path,
    misbehaving_plugins: dict[str, Path],
) -> None:
    """The control for the next test: without the fork server the grandchildren do survive."""
    binary = next((misbehaving_plugins["grandchild"] / "Contents").glob("*/grandchild.so"))
    output = tmp_path / "output.log"
    load = f"import ctypes; ctypes.CDLL({str(binary)!r}).GetPluginFactory()"
    # A file, not a pipe: the grandchildren hold the stream open, so a pipe would never end.
    with output.open("wb") as stream:
        subprocess.run([sys.executable, "-c", load], stderr=stream, check=True)
    pids = _leftoverpids(output)
    try:
        assert len(pids) == 3
        assert all(_is_leftover(pid) for pid in pids)
        # Two stayed in the loader's process group, one escaped into a session of its own.
        stats = {pid: proc_stat(pid) for pid in pids}
        in_group = {pid for pid, stat in stats.items() if stat and stat[2] == os.getpgrp()}
        escaped = {pid for pid, stat in stats.items() if stat and stat[3] == pid}
        assert (len(in_group), len(escaped), in_group | escaped) == (2, 1, set(pids))
    finally:
        for pid in pids:
            if _is_leftover(pid):
                os.kill(pid, signal.SIGKILL)


def test_no_grandchild_outlives_its_probe(
    forkserver: ForkServer,
    misbehaving_plugins: dict[str, Path],
) -> None:
    pid = forkserver.probe(1, misbehaving_plugins["grandchild"])
    assert forkserver.report() == {"exited": 1, "code": 0, "signal": None, "limit": None}
    result, done = forkserver.events(1)
    assert done == {"event": "done"}
    assert result["status"] == "failed"

    # Enumeration asks for the factory once; it fails, so nothing asks again.
    leftovers = _leftoverpids(forkserver.output_path(1))
    assert len(leftovers) == 3
    wait_until(
        lambda: not any(_is_leftover(child) for child in leftovers),
        f"leftovers {leftovers} are gone",
    )
    wait_until(lambda: not forkserver.leftovers(), "no process of the probe remains")
    # A killed process leaves the process table a moment after its environment is gone.
    wait_until(lambda: not group_members(pid), f"process group {pid} is empty")


def test_no_descendant_of_an_escaped_grandchild_outlives_its_probe(
    forkserver: ForkServer,
    misbehaving_plugins: dict[str, Path],
) -> None:
    forkserver.probe(1, misbehaving_plugins["escape_tree"])
    assert forkserver.report() == {"exited": 1, "code": 0, "signal": None, "limit": None}
    leftovers = _leftoverpids(forkserver.output_path(1))
    assert len(leftovers) == 2
    # Short: the server kills before it reports, so whatever lives on this long was missed.
    wait_until(lambda: not forkserver.leftovers(), "no process of the probe remains", timeout=2)


def test_closing_requests_stops_the_server_and_kills_a_hanging_probe(
    forkserver: ForkServer,
    misbehaving_plugins: dict[str, Path],
) -> None:
    pid = forkserver.probe(1, misbehaving_plugins["hang"])
    _wait_for_hang(forkserver, 1)
    assert alive(pid)

    assert forkserver.close() == 0
    assert forkserver.ends()
    wait_until(lambda: not group_members(pid), f"process group {pid} is empty")
    assert forkserver.leftovers() == set()


def test_killing_the_server_kills_a_hanging_probe(
    forkserver: ForkServer,
    misbehaving_plugins: dict[str, Path],
) -> None:
    pid = forkserver.probe(1, misbehaving_plugins["hang"])
    _wait_for_hang(forkserver, 1)
    assert alive(pid)

    forkserver.process.kill()  # SIGKILL: the server gets no chance to clean up
    assert forkserver.process.wait(timeout=REPORT_TIMEOUT) == -signal.SIGKILL
    # Only the probe's death signal (PR_SET_PDEATHSIG) can end it now.
    wait_until(lambda: not alive(pid), f"probe {pid} is dead")
    assert not group_members(pid)
    assert forkserver.leftovers() == set()
