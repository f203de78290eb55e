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

from pluginary.errors import ScanInProgress, StorageError


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


class HeldLock:
    """The scan lock while it is held; ``name`` changes the scan id it shows other processes."""

    def __init__(self, fd: int, owner: dict[str, Any]) -> None:
        self._fd = fd
        self._owner = owner
        self._write()

    def name(self, scan_id: str) -> None:
        self._owner["scanId"] = scan_id
        self._write()

    def _write(self) -> None:
        # The flock is the lock; this only names its owner. On a full or failing disk the scan
        # goes on unnamed (the journal says StorageError if it cannot go on either).
        with contextlib.suppress(OSError):
            os.ftruncate(self._fd, 0)
            os.pwrite(self._fd, json.dumps(self._owner).encode(), 0)


@contextlib.contextmanager
def scan_lock(path: Path, scan_id: str) -> Iterator[HeldLock]:
    """Hold the cache's scan lock for the duration of the block, or raise ScanInProgress.

    A lock file that cannot be opened (a read-only cache) raises StorageError.
    """
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as error:
        raise StorageError(
            f"cannot take the scan lock {path}: {error.strerror or error}", path=str(path)
        ) from error
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
        try:
            yield HeldLock(fd, owner)
        finally:
            os.ftruncate(fd, 0)
    finally:
        os.close(fd)  # Closing the descriptor releases the flock.
