"""Running the sidecar on stdio: the frames channel, the read loop, and a clean exit.

pygls's own ``start_io`` swallows the exit code and reads stdin from a pool thread that keeps the
process alive after ``exit`` until the host closes the pipe. So this module runs pygls's read
loop (``run_async``) itself, on a non-blocking stdin pipe, inside one anyio task group that owns
every scan; on ``exit``, end of input or SIGTERM it stops the scan (which leaves the journal
resumable and kills the probes), then returns LSP's exit code: 0 after ``shutdown``, else 1.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import sys
import threading
from typing import BinaryIO

import anyio
from pygls.io_ import StdinAsyncReader, run_async

from pluginary.server.app import PluginaryServer, create_server
from pluginary.server.logs import setup_logging


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
    reader = await _stdin_reader(stdin, server)
    async with anyio.create_task_group() as tasks:
        server.tasks = tasks
        with anyio.CancelScope() as reading:
            for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
                loop.add_signal_handler(signum, reading.cancel)
            try:
                await run_async(
                    stop_event=threading.Event(),
                    reader=reader,
                    protocol=server.protocol,
                    logger=logging.getLogger("pygls.io_"),
                    error_handler=server.report_server_error,
                )
            except SystemExit:
                pass  # `exit`: pygls has closed stdout and asks the process to end.
            except asyncio.IncompleteReadError:
                pass  # The host went away in the middle of a frame.
        host.open = False  # Nobody is listening any more (or will be, after `exit`).
        if server.configured:
            await server.runner.stop()
        tasks.cancel_scope.cancel()
    return 0 if server.shut_down else 1


async def _stdin_reader(
    stdin: BinaryIO, server: PluginaryServer
) -> asyncio.StreamReader | StdinAsyncReader:
    """A non-blocking reader on stdin, so no thread is left blocked in ``read`` at exit."""
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    try:
        await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), stdin)
    except ValueError:
        # A regular file (a replayed session) cannot be a pipe; it ends by itself.
        return StdinAsyncReader(stdin, server.thread_pool)
    return reader
