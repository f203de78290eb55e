"""Catalogue reads off the event loop: each in a worker thread, on a read-only connection.

A read never waits for a scan: the catalogue is in WAL mode, so a reader sees the last commit
while the scanner writes the next one. Each worker thread keeps its connection between reads
(opening one costs more than most queries); it is opened again when the file is replaced.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from pluginary.catalog import SCHEMA_VERSION
from pluginary.errors import StorageError
from pluginary.storage import ImmutableConnection, connect, is_damage, wal_state, with_os_words

T = TypeVar("T")

_local = threading.local()


async def read_catalog(path: Path, read: Callable[[sqlite3.Connection], T]) -> T:
    """``read(db)`` on a read-only connection to the catalogue at ``path``, in a worker thread."""
    import anyio  # Here: the command line reads without an event loop, and starts faster.

    return await anyio.to_thread.run_sync(read_catalog_sync, path, read)


def read_catalog_sync(path: Path, read: Callable[[sqlite3.Connection], T]) -> T:
    """``read(db)`` on a read-only connection (blocking); StorageError if it cannot be read."""
    try:
        identity = _identity(path)
    except FileNotFoundError:
        # A cache that never committed reads as an empty catalogue, so every query validates
        # and answers the same way before the first scan as after it.
        return _read_empty(read)
    except OSError as error:
        raise _unreadable("open", path, error) from error
    db = _pooled(path, identity)
    try:
        return read(db)
    except sqlite3.DatabaseError as error:
        _forget(path)  # Whatever went wrong, the next read starts from a fresh connection.
        raise _unreadable("read", path, error) from error


def _identity(path: Path) -> tuple[int, int, int]:
    """Which file ``path`` is: a catalogue moved aside and rebuilt is a new file."""
    stat = os.stat(path)
    return stat.st_dev, stat.st_ino, stat.st_mtime_ns


def _pooled(path: Path, identity: tuple[int, int, int]) -> sqlite3.Connection:
    pool: dict[Path, tuple[tuple[int, ...], sqlite3.Connection]] = _local.__dict__.setdefault(
        "pool", {}
    )
    held = pool.get(path)
    # A WAL connection follows commits by itself; a changed mtime (a checkpoint, or a write in
    # a folder we only read, where the connection is immutable) just costs one reopen.
    if held is not None and held[0] == _watched(path, identity, held[1]):
        return held[1]
    _forget(path)
    try:
        db = _open(path)
    except sqlite3.Error as error:
        raise _unreadable("open", path, error) from error
    pool[path] = (_watched(path, identity, db), db)
    return db


def _watched(path: Path, identity: tuple[int, int, int], db: sqlite3.Connection) -> tuple[int, ...]:
    """What must not change for ``db`` to stay current.

    An immutable connection (made on a read-only filesystem or a full disk) never sees a
    writer's commits: a writer that starts makes a write-ahead log, and from then on it is
    reopened, as a normal reader where one can be made.
    """
    if isinstance(db, ImmutableConnection):
        return (*identity, *wal_state(path))
    return identity


def _open(path: Path) -> sqlite3.Connection:
    """A read-only connection to a catalogue of this version (an older one is upgraded first)."""
    db = connect(path, readonly=True)
    found = db.execute("PRAGMA user_version").fetchone()[0]
    if found != SCHEMA_VERSION:
        from pluginary.catalog.store import upgrade_catalog  # Rarely needed: not at start-up.

        db.close()
        upgrade_catalog(path)  # StorageError (a newer version, a read-only folder) says why.
        db = connect(path, readonly=True)
    return db


def _forget(path: Path) -> None:
    pool = _local.__dict__.get("pool", {})
    held = pool.pop(path, None)
    if held is not None:
        held[1].close()


def _unreadable(what: str, path: Path, error: sqlite3.Error | OSError) -> StorageError:
    # Reads never repair (they hold no lock); a scan moves a damaged catalogue aside.
    hint = "; the next scan moves it aside and rebuilds it" if is_damage(error) else ""
    reason = with_os_words(str(error), path, error) if isinstance(error, sqlite3.Error) else error
    return StorageError(f"cannot {what} the catalogue {path}: {reason}{hint}", path=str(path))


def _read_empty(read: Callable[[sqlite3.Connection], T]) -> T:
    from pluginary.catalog.store import catalog_schema  # Here: start-up need not import it.

    db = sqlite3.connect(":memory:")
    try:
        db.executescript(catalog_schema())
        return read(db)
    finally:
        db.close()
