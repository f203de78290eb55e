"""Waiting for Ctrl-C (or the OS's request to stop), per OS, for the command line's scans.

POSIX: anyio's signal receiver (SIGINT, SIGTERM). Portable (Windows, which has neither a signal
receiver nor SIGTERM from outside, and ``PLUGINARY_PORTABLE_IO=1`` anywhere, for the tests):
``signal.signal`` handlers for SIGINT, SIGTERM and SIGBREAK that wake the event loop.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys

import anyio

PORTABLE_IO_ENV = "PLUGINARY_PORTABLE_IO"


def portable() -> bool:
    """Whether this process uses the portable way (Windows, or asked for)."""
    return sys.platform == "win32" or bool(os.environ.get(PORTABLE_IO_ENV))


async def wait_for_interrupt() -> None:
    """Return once the user presses Ctrl-C or the OS asks this process to stop."""
    if not portable():
        with anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
            async for _ in signals:
                return
    loop = asyncio.get_running_loop()
    asked = anyio.Event()
    wanted = [signal.SIGINT, signal.SIGTERM, getattr(signal, "SIGBREAK", None)]
    for signum in [s for s in wanted if s is not None]:
        signal.signal(signum, lambda *_: loop.call_soon_threadsafe(asked.set))
    await asked.wait()
