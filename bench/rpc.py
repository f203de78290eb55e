"""A minimal JSON-RPC client for the LSP base protocol, driving a server process over its pipes.

Deliberately small (no pygls, no lsprotocol types) so that what the benchmarks time is the
server, plus the unavoidable cost of one client encoding requests and parsing frames. Every
message the server sends is kept with the ``time.perf_counter()`` of its arrival.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import time
from dataclasses import dataclass
from typing import Any

LIMIT = 64 * 1024 * 1024  # A 1000-plugin query page is well under this.


class RpcError(Exception):
    """An error response: ``code``, ``message`` and ``data`` as the server sent them."""

    def __init__(self, error: dict[str, Any]) -> None:
        super().__init__(f"{error.get('code')}: {error.get('message')}")
        self.code = error.get("code")
        self.data = error.get("data")


@dataclass
class Received:
    at: float  # time.perf_counter() when the frame was parsed
    message: dict[str, Any]


class Client:
    """One server process and its pipes. Create with :meth:`spawn`."""

    def __init__(self, process: asyncio.subprocess.Process, spawned_at: float) -> None:
        self.process = process
        self.spawned_at = spawned_at
        self.received: list[Received] = []
        self._ids = itertools.count(1)
        self._waiting: dict[int | str, asyncio.Future[Any]] = {}
        self._reader = asyncio.ensure_future(self._read())
        self.arrived = asyncio.Event()
        self.answered_at: dict[int | str, float] = {}  # Request id -> when its response arrived.
        self.initialized_at: float | None = None  # When the `initialize` result arrived.

    @classmethod
    async def spawn(
        cls, command: list[str], env: dict[str, str] | None = None, stderr: Any = None
    ) -> Client:
        spawned_at = time.perf_counter()
        process = await asyncio.create_subprocess_exec(
            *command,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.DEVNULL if stderr is None else stderr,
            env={**os.environ, **(env or {})},
            limit=LIMIT,
        )
        return cls(process, spawned_at)

    @property
    def pid(self) -> int:
        return self.process.pid

    # -- sending ----------------------------------------------------------------------------

    def _write(self, message: dict[str, Any]) -> None:
        assert self.process.stdin is not None
        body = json.dumps(message).encode()
        self.process.stdin.write(b"Content-Length: %d\r\n\r\n%s" % (len(body), body))

    def send(self, method: str, params: Any = None) -> tuple[int, asyncio.Future[Any]]:
        """Send a request now; its id and a future for its result (or RpcError)."""
        ident = next(self._ids)
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._waiting[ident] = future
        message: dict[str, Any] = {"jsonrpc": "2.0", "id": ident, "method": method}
        if params is not None:
            message["params"] = params
        self._write(message)
        return ident, future

    async def request(self, method: str, params: Any = None) -> Any:
        _, future = self.send(method, params)
        return await future

    async def timed(self, method: str, params: Any = None) -> tuple[float, Any]:
        """(seconds from sending the request to parsing its response, result)."""
        started = time.perf_counter()
        ident, future = self.send(method, params)
        result = await future
        return self.answered_at.pop(ident) - started, result

    def notify(self, method: str, params: Any = None) -> None:
        message: dict[str, Any] = {"jsonrpc": "2.0", "method": method}
        if params is not None:
            message["params"] = params
        self._write(message)

    async def initialize(self, options: dict[str, Any] | None = None) -> Any:
        """``initialize`` (then ``initialized``), as a client declaring work-done progress."""
        ident, future = self.send(
            "initialize",
            {
                "processId": os.getpid(),
                "rootUri": None,
                "capabilities": {"window": {"workDoneProgress": True}},
                "initializationOptions": options,
            },
        )
        result = await future
        self.initialized_at = self.answered_at[ident]
        self.notify("initialized", {})
        return result

    async def close(self, timeout: float = 30.0) -> int:
        """``shutdown`` then ``exit``; the exit status (the process is killed if it lingers)."""
        try:
            await asyncio.wait_for(self.request("shutdown"), timeout)
            self.notify("exit")
            assert self.process.stdin is not None
            self.process.stdin.close()
            return await asyncio.wait_for(self.process.wait(), timeout)
        except (TimeoutError, ConnectionError, RpcError):
            return await self.kill()
        finally:
            self._reader.cancel()

    async def kill(self) -> int:
        if self.process.returncode is None:
            self.process.kill()
        self._reader.cancel()
        return await self.process.wait()

    # -- receiving --------------------------------------------------------------------------

    def notifications(self, method: str) -> list[Received]:
        return [r for r in self.received if r.message.get("method") == method]

    async def _read(self) -> None:
        stdout = self.process.stdout
        assert stdout is not None
        try:
            while True:
                length = None
                while True:
                    line = await stdout.readline()
                    if not line:
                        raise EOFError
                    if line in (b"\r\n", b"\n"):
                        break
                    name, _, value = line.decode("ascii").partition(":")
                    if name.strip().lower() == "content-length":
                        length = int(value)
                assert length is not None, "a frame without Content-Length"
                message = json.loads(await stdout.readexactly(length))
                at = time.perf_counter()
                self.received.append(Received(at, message))
                if "id" in message and "method" not in message:
                    self.answered_at[message["id"]] = at
                self._dispatch(message)
                self.arrived.set()
        except (EOFError, asyncio.IncompleteReadError):
            pass
        finally:
            for future in self._waiting.values():
                if not future.done():
                    future.set_exception(ConnectionError("the server closed its output"))

    def _dispatch(self, message: dict[str, Any]) -> None:
        if "method" in message and "id" in message:
            # A request from the server (window/workDoneProgress/create): accept it.
            self._write({"jsonrpc": "2.0", "id": message["id"], "result": None})
            return
        if "id" not in message:
            return
        future = self._waiting.pop(message["id"], None)
        if future is None or future.done():
            return
        if "error" in message:
            future.set_exception(RpcError(message["error"]))
        else:
            future.set_result(message.get("result"))
