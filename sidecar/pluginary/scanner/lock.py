"""The scan lock: one scan at a time per cache folder, across processes.

An advisory ``flock`` on ``scan.lock`` is the mutex; the kernel drops it when its owner dies, so a
lock left by a SIGKILLed scanner is taken over by the next one without any staleness guesswork.
The file's content (pid, host, start time) only names the owner in the error a loser gets.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from pluginary.errors import ScanInProgress


def read_owner(path: Path) -> dict[str, Any] | None:
    """The owner recorded in the lock file, or None if there is none to read."""
    try:
        owner = json.loads(path.read_text() or "null")
    except (OSError, ValueError):
        return None
    return owner if isinstance(owner, dict) else None


def lock_holder(path: Path) -> dict[str, Any] | None:
    """The owner of a held lock, or None when nobody holds it (whatever the file says)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return read_owner(path) or {"pid": None}
    finally:
        os.close(fd)
    return None


@contextlib.contextmanager
def scan_lock(path: Path, scan_id: str) -> Iterator[None]:
    """Hold the cache's scan lock for the duration of the block, or raise ScanInProgress."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            owner = read_owner(path) or {}
            raise ScanInProgress(
                f"a scan is already running (pid {owner.get('pid', '?')}"
                f" on {owner.get('host', '?')}, scan {owner.get('scanId', '?')})",
                owner=owner,
            ) from None
        owner = {
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "scanId": scan_id,
            "startedAt": time.time(),
        }
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(owner).encode(), 0)
        try:
            yield
        finally:
            os.ftruncate(fd, 0)
    finally:
        os.close(fd)  # Closing the descriptor releases the flock.
