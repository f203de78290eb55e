"""The sidecar's stdin and its stop signals, per OS, behind two functions.

- POSIX: stdin is read without blocking, through the event loop (a pipe or socket is polled, so no
  thread is left blocked in ``read`` at exit); SIGTERM, SIGINT and SIGHUP stop the sidecar.
- Portable (Windows, where the event loop can only poll overlapped pipes, which a host's stdin
  is not, and has no ``add_signal_handler``): stdin is read by a daemon thread, which never keeps
  the process alive; SIGINT, SIGTERM and SIGBREAK (the console's Ctrl-Break) stop it through
  ``signal.signal``. ``PLUGINARY_PORTABLE_IO=1`` chooses this on any OS, so that the tests prove
  it here.
"""

from __future__ import annotations

import asyncio
import os
import signal
import stat
import threading
from collections.abc import Awaitable, Callable
from typing import BinaryIO

from pluginary.interrupts import portable

Read = Callable[[int], Awaitable[bytes]]


async def open_stdin(stdin: BinaryIO, read_in_thread: Callable[[int], Awaitable[bytes]]) -> Read:
    """A reader of ``stdin`` for the frame reader. ``read_in_thread`` reads a regular file."""
    if portable():
        return _thread_reader(stdin)
    loop = asyncio.get_running_loop()
    mode = os.fstat(stdin.fileno()).st_mode
    if not (stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode) or (stat.S_ISCHR(mode) and stdin.isatty())):
        # A regular file (a replayed session) or /dev/null cannot be polled (epoll refuses
        # them); read it in a thread instead: it ends by itself at the end of the file.
        return read_in_thread
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), stdin)
    return reader.read


def on_stop_signals(callback: Callable[[], None]) -> None:
    """Call ``callback`` on the event loop when the OS asks the sidecar to stop."""
    loop = asyncio.get_running_loop()
    if not portable():
        for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            loop.add_signal_handler(signum, callback)
        return
    # SIGBREAK exists only on Windows, SIGHUP only elsewhere (the portable way, tested there).
    names = ("SIGINT", "SIGTERM", "SIGBREAK", "SIGHUP")
    wanted = [getattr(signal, name, None) for name in names]
    for signum in [s for s in wanted if s is not None]:
        signal.signal(signum, lambda *_: loop.call_soon_threadsafe(callback))


def _thread_reader(stdin: BinaryIO) -> Read:
    """Reads from a daemon thread, one chunk ahead: a blocked ``read`` never delays the exit."""
    loop = asyncio.get_running_loop()
    chunks: asyncio.Queue[bytes] = asyncio.Queue()

    # The descriptor, not the buffered file: a thread blocked inside the file's read holds its
    # lock, and the interpreter aborts at exit when it cannot take that lock.
    fd = stdin.fileno()

    def pump() -> None:
        while True:
            try:
                chunk = os.read(fd, 65536)
            except OSError:
                chunk = b""
            loop.call_soon_threadsafe(chunks.put_nowait, chunk)
            if not chunk:
                return

    threading.Thread(target=pump, name="pluginary-stdin", daemon=True).start()
    ended = False

    async def read(count: int) -> bytes:
        nonlocal ended
        if ended:
            return b""
        chunk = await chunks.get()
        ended = not chunk
        return chunk

    return read
