"""Running the sidecar on stdio: the frames channel, the read loop, and a clean exit.

pygls's own ``start_io`` swallows the exit code and reads stdin from a pool thread that keeps the
process alive after ``exit`` until the host closes the pipe, and its frame reader trusts its
input (see ``framing``). So this module runs its own read loop on stdin (read per OS, see
``stdio.py``), inside one anyio task group that owns every scan; on ``exit``, end of input or
SIGTERM it stops the scan (which leaves the journal resumable and kills the probes), then returns
LSP's exit code: 0 after ``shutdown``, else 1.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
from collections.abc import Awaitable
from typing import BinaryIO

import anyio

from pluginary.server.app import PluginaryServer, create_server
from pluginary.server.framing import FrameReader
from pluginary.server.logs import setup_logging
from pluginary.server.stdio import on_stop_signals, open_stdin


class HostWriter:
    """pygls's writer for the frames channel; once the host is gone, frames are dropped."""

    def __init__(self, stream: BinaryIO) -> None:
        self._stream = stream
        self.open = True

    def write(self, data: bytes) -> None:
        if not self.open:
            return
        try:
            self._stream.write(data)
            self._stream.flush()
        except (OSError, ValueError):
            self.open = False  # The host closed its end; stdin's end of input follows.

    def close(self) -> None:
        self.open = False
        with contextlib.suppress(OSError):
            self._stream.close()


def serve() -> int:
    """Serve one client on stdin/stdout until ``exit`` or end of input; return the exit code."""
    frames = claim_stdout()
    server = create_server()
    return asyncio.run(_serve(server, sys.stdin.buffer, frames))


def claim_stdout() -> BinaryIO:
    """Keep the real stdout for frames only; anything else written to fd 1 goes to stderr.

    A stray ``print`` in this process, or output of any child that inherits fd 1, would
    otherwise corrupt the stream the host parses.
    """
    sys.stdout.flush()
    frames = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    return frames


async def _serve(server: PluginaryServer, stdin: BinaryIO, frames: BinaryIO) -> int:
    loop = asyncio.get_running_loop()
    setup_logging(server, loop)
    host = HostWriter(frames)
    server.protocol.set_writer(host)

    def read_in_thread(count: int) -> Awaitable[bytes]:
        return loop.run_in_executor(server.thread_pool, stdin.read1, count)  # type: ignore[attr-defined]

    reader = FrameReader(await open_stdin(stdin, read_in_thread))
    async with anyio.create_task_group() as tasks:
        server.tasks = tasks
        with anyio.CancelScope() as reading:
            on_stop_signals(reading.cancel)
            try:
                while (frame := await reader.next()) is not None:
                    server.receive(frame)
            except SystemExit:
                pass  # `exit`: pygls has closed stdout and asks the process to end.
        host.open = False  # Nobody is listening any more (or will be, after `exit`).
        if server.configured:
            await server.runner.stop()
        tasks.cancel_scope.cancel()
    return 0 if server.shut_down else 1
