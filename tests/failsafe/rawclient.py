"""A raw client for the real ``pluginary serve``: bytes over real pipes, no client library.

The failsafe tests need what a polite client library will not do: send broken frames, flood
requests, kill the sidecar or its host with real signals, and read every byte the sidecar writes.
A reader thread parses the sidecar's stdout strictly (a byte that is not part of a well-formed
frame is recorded and fails :meth:`Sidecar.check`) and answers the server's own requests
(``window/workDoneProgress/create``) with ``null``, unless the test gives its own ``answer``.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, BinaryIO, TypeVar

import pytest

from processes import alive, processes_with_env
from wirecheck import check_messages

T = TypeVar("T")
DEADLINE = 120.0  # A safety net against a hung test, never a timing assertion.
POLL = 0.01
MISSING: Any = object()
# How the client answers a request of the server's: the bytes to write, or None for silence.
Answer = Callable[[dict[str, Any]], bytes | None]


class RpcError(Exception):
    """An error response, as the sidecar sent it."""

    def __init__(self, error: dict[str, Any]) -> None:
        super().__init__(f"{error.get('code')}: {error.get('message')}")
        self.code: int = error["code"]
        self.message: str = error["message"]
        self.data: Any = error.get("data")


def frame(body: bytes) -> bytes:
    """``body`` in the LSP base protocol's framing."""
    return b"Content-Length: %d\r\n\r\n%s" % (len(body), body)


def encode(message: dict[str, Any]) -> bytes:
    return frame(json.dumps(message).encode())


def accept(request: dict[str, Any]) -> bytes:
    """A polite client's answer to the server's request: ``null``, as LSP's requests want."""
    return encode({"jsonrpc": "2.0", "id": request["id"], "result": None})


class Sidecar:
    """One ``python -m pluginary serve`` on ``cache``, spoken to byte by byte."""

    def __init__(
        self,
        cache: Path,
        log: Path,
        *,
        env: dict[str, str] | None = None,
        preexec_fn: Callable[[], None] | None = None,
        command: list[str] | None = None,
        answer: Answer = accept,
    ) -> None:
        self.cache = cache
        self.answer = answer
        self.log = log
        # Every process the sidecar starts inherits this entry: the process table finds them all.
        self.marker = f"PLUGINARY_FAILSAFE_SIDECAR={uuid.uuid4().hex}"
        key, _, value = self.marker.partition("=")
        full_env = {**os.environ, "PLUGINARY_CACHE_DIR": str(cache), key: value}
        full_env.pop("PLUGINARY_FAULT", None)  # Only a test that asks for a fault gets one.
        full_env.update(env or {})
        log.parent.mkdir(parents=True, exist_ok=True)
        self._stderr = open(log, "ab")  # noqa: SIM115  Closed in close().
        self.process = subprocess.Popen(
            command or [sys.executable, "-m", "pluginary", "serve"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            env=full_env,
            preexec_fn=preexec_fn,
        )
        self.messages: list[dict[str, Any]] = []
        self.stray: list[str] = []  # Whatever on stdout was not a well-formed frame.
        self.methods: dict[Any, str] = {}  # Request id -> method, for the schema check.
        self.eof = False
        self._ids = itertools.count(1)
        self._arrived = threading.Condition()
        self._write_lock = threading.Lock()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    @property
    def pid(self) -> int:
        return self.process.pid

    # -- the wire -------------------------------------------------------------------------

    def write(self, data: bytes) -> None:
        """Write to the sidecar's stdin; to a dead sidecar, nothing (its end of output tells)."""
        assert self.process.stdin is not None
        with self._write_lock, contextlib.suppress(BrokenPipeError):
            self.process.stdin.write(data)
            self.process.stdin.flush()

    def send(self, message: dict[str, Any]) -> None:
        if "id" in message and "method" in message:
            with contextlib.suppress(TypeError):  # An unhashable id, sent on purpose.
                self.methods[message["id"]] = message["method"]
        self.write(encode(message))

    def request(self, method: str, params: Any = MISSING, msg_id: Any = MISSING) -> Any:
        """Send a request; return its id (a fresh integer unless given)."""
        msg_id = next(self._ids) if msg_id is MISSING else msg_id
        message: dict[str, Any] = {"jsonrpc": "2.0", "id": msg_id, "method": method}
        if params is not MISSING:
            message["params"] = params
        self.send(message)
        return msg_id

    def notify(self, method: str, params: Any = MISSING) -> None:
        message: dict[str, Any] = {"jsonrpc": "2.0", "method": method}
        if params is not MISSING:
            message["params"] = params
        self.send(message)

    def response(self, msg_id: Any, timeout: float = DEADLINE) -> dict[str, Any]:
        """The response to request ``msg_id`` (waiting for it)."""
        found: dict[str, Any] = self.wait_for(
            lambda: next((m for m in self.responses() if m.get("id") == msg_id), None),
            f"the response to request {msg_id!r}",
            timeout,
        )
        return found

    def call(self, method: str, params: Any = MISSING) -> dict[str, Any]:
        """Send a request and wait for its response (result or error)."""
        return self.response(self.request(method, params))

    def result(self, method: str, params: Any = MISSING) -> Any:
        """Send a request; its result, or RpcError."""
        answer = self.call(method, params)
        if "error" in answer:
            raise RpcError(answer["error"])
        return answer["result"]

    def error(self, method: str, params: Any = MISSING) -> RpcError:
        """Send a request that must fail; its error."""
        answer = self.call(method, params)
        assert "error" in answer, f"{method} {params!r} succeeded: {answer}"
        return RpcError(answer["error"])

    # -- what came back -------------------------------------------------------------------

    def responses(self) -> list[dict[str, Any]]:
        with self._arrived:
            return [m for m in self.messages if "method" not in m]

    def notifications(self, method: str) -> list[Any]:
        with self._arrived:
            return [m.get("params") for m in self.messages if m.get("method") == method]

    def progress(self, token: Any) -> list[dict[str, Any]]:
        """The ``$/progress`` values sent on ``token``, in order."""
        return [p["value"] for p in self.notifications("$/progress") if p["token"] == token]

    def reports(self, token: Any) -> list[dict[str, Any]]:
        return [value for value in self.progress(token) if value["kind"] == "report"]

    def logs(self) -> list[str]:
        return [p["message"] for p in self.notifications("window/logMessage")]

    def wait_for(
        self, condition: Callable[[], T | None], what: str, timeout: float = DEADLINE
    ) -> T:
        """Wait until ``condition()`` is truthy, re-checking as each message arrives.

        Also re-checked every few milliseconds, for facts no message announces (``/proc``).
        """
        deadline = time.monotonic() + timeout
        with self._arrived:
            while True:
                found = condition()
                if found:
                    return found
                if self.eof:
                    pytest.fail(f"the sidecar closed its stdout before {what}\n{self.tail()}")
                left = deadline - time.monotonic()
                if left <= 0:
                    pytest.fail(f"timed out after {timeout} s waiting for {what}\n{self.tail()}")
                self._arrived.wait(min(left, POLL))

    def _read(self) -> None:
        stream = self.process.stdout
        assert stream is not None
        try:
            while (message := _read_frame(stream, self.stray)) is not None:
                if "method" in message and "id" in message:
                    # The server's own requests (progress tokens): accepted, unless told.
                    reply = self.answer(message)
                    if reply is not None:
                        self.write(reply)
                with self._arrived:
                    self.messages.append(message)
                    self._arrived.notify_all()
        except (OSError, ValueError) as error:
            self.stray.append(f"reader stopped: {error!r}")
        finally:
            with self._arrived:
                self.eof = True
                self._arrived.notify_all()

    # -- lifecycle ------------------------------------------------------------------------

    def initialize(self, options: Any = None, *, progress: bool = True) -> dict[str, Any]:
        params: dict[str, Any] = {
            "processId": os.getpid(),
            "capabilities": {"window": {"workDoneProgress": progress}},
        }
        if options is not None:
            params["initializationOptions"] = options
        result: dict[str, Any] = self.result("initialize", params)
        self.notify("initialized", {})
        return result

    def shutdown(self) -> int:
        """``shutdown`` then ``exit``; the exit status."""
        assert self.result("shutdown") is None
        self.notify("exit")
        return self.wait_exit()

    def close_stdin(self) -> None:
        assert self.process.stdin is not None
        with self._write_lock, contextlib.suppress(OSError):
            self.process.stdin.close()

    def signal(self, signum: int) -> None:
        os.kill(self.pid, signum)

    def wait_exit(self, timeout: float = DEADLINE) -> int:
        return self.process.wait(timeout)

    def processes(self) -> set[int]:
        """The live processes of this sidecar: itself and everything it started."""
        return processes_with_env(self.marker)

    def stop(self) -> None:
        """Kill whatever is left (a test that failed midway) and close the pipes."""
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(DEADLINE)
        for pid in self.processes():
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        self.close_stdin()
        self._reader.join(DEADLINE)
        self._stderr.close()

    # -- checks ---------------------------------------------------------------------------

    def stderr(self) -> str:
        return self.log.read_text(errors="replace")

    def tail(self) -> str:
        return "stderr (last 3000 characters):\n" + self.stderr()[-3000:]

    def check(self) -> None:
        """Every byte on stdout was a frame, every message fits the schema, no traceback."""
        assert not self.stray, f"stdout carried more than frames: {self.stray[:5]}"
        check_messages(self.messages, self.methods)
        assert not unknown_tracebacks(self.stderr()), self.tail()


# Tracebacks of known bugs, each reproduced by a strict xfail test; any other fails the check.
# (None today: the fork server's broken report pipe, once here, is fixed.)
KNOWN_TRACEBACKS: list[re.Pattern[str]] = []


def unknown_tracebacks(text: str) -> int:
    """How many tracebacks in ``text`` are not those of a known bug."""
    for known in KNOWN_TRACEBACKS:
        text = known.sub("", text)
    return text.count("Traceback")


def _read_frame(stream: BinaryIO, stray: list[str]) -> dict[str, Any] | None:
    """One frame from ``stream``, strictly; None at the end of the stream."""
    length: int | None = None
    while True:
        line = stream.readline()
        if not line:
            return None
        if line == b"\r\n":
            break
        name, colon, value = line.decode("ascii", errors="replace").partition(":")
        if not colon or not line.endswith(b"\r\n"):
            stray.append(f"not a header line: {line[:200]!r}")
            continue
        if name.lower() == "content-length":
            length = int(value.strip())
    if length is None:
        stray.append("a header without Content-Length")
        return {}
    body = stream.read(length)
    if len(body) < length:
        stray.append(f"a body cut short: {body[:200]!r}")
        return None
    try:
        message = json.loads(body)
    except ValueError:
        stray.append(f"a body that is not JSON: {body[:200]!r}")
        return {}
    if not isinstance(message, dict):
        stray.append(f"a message that is not an object: {body[:200]!r}")
        return {}
    return message


def wait_gone(pids: set[int], what: str, timeout: float) -> float:
    """Poll until none of ``pids`` is alive; the seconds it took. Fails after ``timeout``."""
    started = time.monotonic()
    while any(alive(pid) for pid in pids):
        if time.monotonic() - started > timeout:
            left = sorted(pid for pid in pids if alive(pid))
            pytest.fail(f"{what}: still alive after {timeout} s: {left}")
        time.sleep(0.005)
    return time.monotonic() - started


@contextlib.contextmanager
def sidecars(cache: Path, logs: Path) -> Iterator[Callable[..., Sidecar]]:
    """Start sidecars on ``cache`` (or another); on the way out stop every one and check it."""
    started: list[Sidecar] = []

    def start(on: Path | None = None, **kwargs: Any) -> Sidecar:
        sidecar = Sidecar(on or cache, logs / f"sidecar-{len(started)}.log", **kwargs)
        started.append(sidecar)
        return sidecar

    try:
        yield start
    finally:
        for sidecar in started:
            sidecar.stop()
    for sidecar in started:
        sidecar.check()
