"""Catalogue reads off the event loop: each in a worker thread, on its own read-only connection.

A read never waits for a scan: the catalogue is in WAL mode, so a reader sees the last commit
while the scanner writes the next one.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from importlib import resources
from pathlib import Path
from typing import TypeVar

import anyio

from pluginary.errors import StorageError
from pluginary.storage import connect, is_damage

T = TypeVar("T")


async def read_catalog(path: Path, read: Callable[[sqlite3.Connection], T]) -> T:
    """``read(db)`` on a read-only connection to the catalogue at ``path``, in a worker thread."""
    return await anyio.to_thread.run_sync(read_catalog_sync, path, read)


def read_catalog_sync(path: Path, read: Callable[[sqlite3.Connection], T]) -> T:
    """``read(db)`` on a read-only connection (blocking); StorageError if it cannot be read."""
    try:
        # A cache that never committed reads as an empty catalogue, so every query validates
        # and answers the same way before the first scan as after it.
        db = connect(path, readonly=True) if path.exists() else _empty_catalog()
    except sqlite3.Error as error:
        raise _unreadable("open", path, error) from error
    try:
        return read(db)
    except sqlite3.DatabaseError as error:
        raise _unreadable("read", path, error) from error
    finally:
        db.close()


def _unreadable(what: str, path: Path, error: sqlite3.Error) -> StorageError:
    # Reads never repair (they hold no lock); a scan moves a damaged catalogue aside.
    hint = "; the next scan moves it aside and rebuilds it" if is_damage(error) else ""
    return StorageError(f"cannot {what} the catalogue {path}: {error}{hint}", path=str(path))


def _empty_catalog() -> sqlite3.Connection:
    db = sqlite3.connect(":memory:")
    db.executescript(resources.files("pluginary.catalog").joinpath("schema.sql").read_text())
    return db
