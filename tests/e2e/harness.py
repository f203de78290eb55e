"""End-to-end harness: the real ``pluginary serve`` over pipes, driven by pytest-lsp's client.

Every message a sidecar sends is recorded raw, to be validated against
``protocol/pluginary.schema.json`` by ``wirecheck`` (responses by the method they answer).
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from lsprotocol import types
from pytest_lsp import ClientServerConfig, LanguageClient, LanguageClientProtocol
from pytest_lsp.client import register_lsp_features

import wirecheck
from pluginary.server import wire

DEADLINE = 120.0  # A safety net against a hung test, never a timing assertion.
# Every end-to-end test runs twice: as on Linux (stdin polled, signals through the event loop,
# the fork server) and as on macOS and Windows (stdin read by a thread, signals through
# ``signal.signal``, the worker pool: issue 14), which is all this machine can prove of them.
# The environment each gives its sidecars, by name.
PLATFORMS: dict[str, dict[str, str]] = {
    "linux": {},
    "portable": {"PLUGINARY_PORTABLE_IO": "1", "PLUGINARY_LAUNCHER": "pool"},
}


class RecordingProtocol(LanguageClientProtocol):
    """pytest-lsp's client protocol, keeping every server message raw and each request's method."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.received: list[dict[str, Any]] = []
        self.methods: dict[Any, str] = {}
        self.arrived = asyncio.Event()

    def structure_message(self, data: dict[str, Any]) -> Any:
        if "jsonrpc" in data:  # The envelope (nested objects are structured first).
            self.received.append(json.loads(json.dumps(data)))
            self.arrived.set()
        return super().structure_message(data)

    def send_request(  # type: ignore[override]
        self, method: str, params: Any = None, callback: Any = None, msg_id: Any = None
    ) -> Any:
        msg_id = msg_id if msg_id is not None else str(uuid.uuid4())
        self.methods[msg_id] = method
        return super().send_request(method, params, callback, msg_id)


class Sidecar:
    """One running ``pluginary serve`` and the client talking to it."""

    def __init__(self, client: LanguageClient, cache: Path) -> None:
        self.client = client
        self.cache = cache

    @property
    def protocol(self) -> RecordingProtocol:
        return self.client.protocol  # type: ignore[return-value]

    @property
    def process(self) -> asyncio.subprocess.Process:
        assert self.client._server is not None
        return self.client._server

    @property
    def received(self) -> list[dict[str, Any]]:
        return self.protocol.received

    async def initialize(
        self, options: Any = None, *, work_done_progress: bool = True
    ) -> types.InitializeResult:
        window = types.WindowClientCapabilities(work_done_progress=work_done_progress)
        params = types.InitializeParams(
            capabilities=types.ClientCapabilities(window=window),
            initialization_options=options,
        )
        return await asyncio.wait_for(self.client.initialize_session(params), DEADLINE)

    def send(self, method: str, params: Any = None, msg_id: Any = None) -> asyncio.Task[Any]:
        """Send a request now; its task resolves to the result or raises the error."""
        if params is not None and "workDoneToken" in params:
            # pytest-lsp warns about tokens it did not see created; ours are the client's own.
            self.client.progress_reports.setdefault(params["workDoneToken"], [])
        request = self.protocol.send_request_async(method, params, msg_id=msg_id)
        return asyncio.ensure_future(asyncio.wait_for(request, DEADLINE))

    async def request(self, method: str, params: Any = None) -> Any:
        return await self.send(method, params)

    async def raw_request(self, method: str, params: Any) -> dict[str, Any]:
        """Send a request exactly as given, bypassing the client's types; the raw response."""
        msg_id = str(uuid.uuid4())
        self.protocol.methods[msg_id] = method
        self.protocol._send_data(
            {"jsonrpc": "2.0", "id": msg_id, "method": method, "params": params}
        )
        return await self.wait_for(
            lambda: next((m for m in self.received if m.get("id") == msg_id), None)
        )

    def notify(self, method: str, params: Any) -> None:
        self.protocol.notify(method, params)

    async def wait_for(self, condition: Callable[[], Any]) -> Any:
        """Wait until ``condition()`` is true, re-checking as each message arrives."""

        async def waiting() -> Any:
            while not (found := condition()):
                self.protocol.arrived.clear()
                await self.protocol.arrived.wait()
            return found

        return await asyncio.wait_for(waiting(), DEADLINE)

    async def until(self, condition: Callable[[], Any], what: str) -> None:
        """Poll ``condition`` (a fact no message announces, e.g. in /proc) until it holds."""
        deadline = asyncio.get_running_loop().time() + DEADLINE
        while not condition():
            if asyncio.get_running_loop().time() > deadline:
                pytest.fail(f"timed out waiting until {what}")
            await asyncio.sleep(0.02)

    def notifications(self, method: str) -> list[Any]:
        return [m["params"] for m in self.received if m.get("method") == method and "id" not in m]

    def progress(self, token: Any) -> list[dict[str, Any]]:
        """The ``$/progress`` values sent on ``token``, in order."""
        return [p["value"] for p in self.notifications("$/progress") if p["token"] == token]

    async def shutdown(self) -> int:
        """``shutdown`` then ``exit``; the exit status."""
        await asyncio.wait_for(self.client.shutdown_async(None), DEADLINE)
        self.client.exit(None)
        return await asyncio.wait_for(self.process.wait(), DEADLINE)

    async def close_stdin(self) -> int:
        """The host vanishes: its end of stdin closes. The exit status."""
        assert self.process.stdin is not None
        self.process.stdin.close()
        return await asyncio.wait_for(self.process.wait(), DEADLINE)


def check_messages(protocol: RecordingProtocol) -> None:
    """Every message the server sent must fit the schema."""
    wirecheck.check_messages(protocol.received, protocol.methods)


Launch = Callable[..., Awaitable[Sidecar]]


async def start_sidecar(cache: Path) -> Sidecar:
    """Spawn ``python -m pluginary serve`` on ``cache`` with a recording pytest-lsp client."""
    client = LanguageClient(protocol_cls=RecordingProtocol, converter_factory=wire.converter)
    register_lsp_features(client)
    config = ClientServerConfig(
        server_command=[sys.executable, "-m", "pluginary", "serve"],
        client_factory=lambda: client,
        server_env={**os.environ, "PLUGINARY_CACHE_DIR": str(cache)},
    )
    await config.start()
    return Sidecar(client, cache)
