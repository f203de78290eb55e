"""The scan lock: one scan at a time per cache folder, across processes, on every OS.

The mutex is the OS's own lock on ``scan.lock``, taken with ``filelock.lock_descriptor`` on a
descriptor we open and own: ``flock`` on Linux and macOS, ``LockFileEx`` on Windows. The OS drops
it when its owner dies, so a lock left by a killed scanner is taken over by the next one without
any staleness guesswork.

Who holds it (pid, host, scan id, start time) is kept in a second file, ``scan.owner``, beside it.
Windows locks are mandatory: while held, the locked bytes of ``scan.lock`` cannot be read by any
other process, and the owner must stay readable to every loser and to ``lock_holder``. The owner
file is only a name, never the lock: it is believed only while ``scan.lock`` is held.

Why ``filelock``: its descriptor primitive is the same lock its ``FileLock`` takes, uses nothing
outside the standard library on any OS (portalocker needs pywin32 for a shared lock on Windows),
and leaves opening, truncating and deleting files to us, so a loser never touches the winner's
files. It is imported only when a lock is taken or tested (some 15 ms), never by the sidecar's
start-up or a catalogue read.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from pluginary.errors import ScanInProgress, StorageError


def owner_path(lock: Path) -> Path:
    """The file naming the holder of ``lock``: ``scan.owner`` beside ``scan.lock``."""
    return lock.with_suffix(".owner")


def read_owner(lock: Path) -> dict[str, Any] | None:
    """The owner recorded for ``lock``, or None if there is none to read."""
    try:
        owner = json.loads(owner_path(lock).read_text() or "null")
    except (OSError, ValueError):
        return None
    return owner if isinstance(owner, dict) else None


def lock_holder(path: Path) -> dict[str, Any] | None:
    """The owner of a held lock, or None when nobody holds it (whatever the owner file says).

    Tested by taking the lock for an instant, so a scan starting in that instant is refused as if
    this were one; the same was true of the shared ``flock`` this used before.
    """
    try:
        fd = _open_to_test(path)
    except FileNotFoundError:
        return None
    from filelock import lock_descriptor, unlock_descriptor

    try:
        if not lock_descriptor(fd, blocking=False):
            return read_owner(path) or {"pid": None}
        unlock_descriptor(fd)  # Windows may drop a lock late after close; unlock it now.
    finally:
        os.close(fd)
    return None


def _open_to_test(path: Path) -> int:
    # For writing if we may: NFS emulates flock with byte-range locks, and an exclusive one
    # needs a descriptor open for writing. Read-only otherwise (a cache we cannot write, or a
    # folder in the lock's place), which local file systems and Windows lock all the same.
    try:
        return os.open(path, os.O_RDWR)
    except OSError as error:
        if error.errno not in (errno.EACCES, errno.EPERM, errno.EROFS, errno.EISDIR):
            raise
    return os.open(path, os.O_RDONLY)


class HeldLock:
    """The scan lock while it is held; ``name`` changes the scan id it shows other processes."""

    def __init__(self, lock: Path, owner: dict[str, Any]) -> None:
        self._owner_file = owner_path(lock)
        self._owner = owner
        self._write()

    def name(self, scan_id: str) -> None:
        self._owner["scanId"] = scan_id
        self._write()

    def _write(self) -> None:
        # The lock is the lock; this only names its owner. On a full or failing disk the scan
        # goes on unnamed (the journal says StorageError if it cannot go on either).
        data = json.dumps(self._owner)
        staged = self._owner_file.with_suffix(".owner.tmp")
        try:
            staged.write_text(data)
            os.replace(staged, self._owner_file)  # Readers see the old name or the new one.
        except OSError:
            # Windows refuses to replace a file another process has open: write it in place.
            with contextlib.suppress(OSError):
                self._owner_file.write_text(data)
            with contextlib.suppress(OSError):
                staged.unlink(missing_ok=True)

    def _forget(self) -> None:
        with contextlib.suppress(OSError):
            self._owner_file.unlink(missing_ok=True)


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
    from filelock import lock_descriptor, unlock_descriptor

    try:
        try:
            locked = lock_descriptor(fd, blocking=False)
        except OSError as error:  # No locking here (ENOLCK on some network file systems).
            raise StorageError(
                f"cannot take the scan lock {path}: {error.strerror or error}", path=str(path)
            ) from error
        if not locked:
            owner = read_owner(path) or {}
            raise ScanInProgress(
                f"a scan is already running (pid {owner.get('pid', '?')}"
                f" on {owner.get('host', '?')}, scan {owner.get('scanId', '?')})",
                owner=owner,
            )
        owner = {
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "scanId": scan_id,
            "startedAt": time.time(),
        }
        held = HeldLock(path, owner)
        try:
            yield held
        finally:
            held._forget()  # Still holding the lock: no new owner can be named yet.
            unlock_descriptor(fd)
    finally:
        os.close(fd)  # Closing the descriptor releases the lock too, whatever happened.
