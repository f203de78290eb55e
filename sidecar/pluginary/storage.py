"""SQLite connections as Pluginary uses them, and moving a damaged database aside."""

from __future__ import annotations

import contextlib
import os
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path

from pluginary.errors import StorageError

# SQLite's primary result codes that matter here.
SQLITE_READONLY = 8
SQLITE_CORRUPT = 11
SQLITE_CANTOPEN = 14
SQLITE_NOTADB = 26


def connect(path: Path, *, readonly: bool = False) -> sqlite3.Connection:
    """A connection in WAL mode: readers never wait for the writer, and a kill loses nothing.

    ``synchronous=NORMAL`` keeps every committed transaction across a process crash; only a power
    cut can drop the last few, and both stores are built to redo those.
    """
    if readonly:
        db = _connect_readonly(path)
    else:
        path.parent.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        db.execute("PRAGMA journal_mode = WAL")
        db.execute("PRAGMA synchronous = NORMAL")
    db.isolation_level = None  # Explicit transactions only: `with db:` is ours to open.
    db.execute("PRAGMA foreign_keys = ON")
    db.execute("PRAGMA busy_timeout = 5000")
    return db


def _connect_readonly(path: Path) -> sqlite3.Connection:
    """A read-only connection; in a folder we cannot write, one that needs no lock files.

    Reading a WAL database needs its ``-shm`` file, which a read-only folder will not let SQLite
    create. With no ``-wal`` file there is nothing uncheckpointed to miss, so the file can be
    opened as immutable instead.
    """
    uri = path.as_uri()
    db = sqlite3.connect(f"{uri}?mode=ro", uri=True, check_same_thread=False)
    try:
        db.execute("SELECT count(*) FROM sqlite_master").fetchone()
    except sqlite3.OperationalError as error:
        if _code(error) not in (SQLITE_READONLY, SQLITE_CANTOPEN) or Path(f"{path}-wal").exists():
            db.close()
            raise
        db.close()
        db = sqlite3.connect(f"{uri}?immutable=1", uri=True, check_same_thread=False)
    return db


@contextlib.contextmanager
def transaction(db: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """BEGIN IMMEDIATE ... COMMIT, or ROLLBACK on any exception."""
    db.execute("BEGIN IMMEDIATE")
    try:
        yield db
    except BaseException:
        db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")


def create_schema(db: sqlite3.Connection, schema: str, version: int) -> None:
    """Create a schema and record its version, all or nothing."""
    db.executescript(f"BEGIN IMMEDIATE; {schema}; PRAGMA user_version = {int(version)}; COMMIT;")


def open_database(
    path: Path,
    schema: str,
    version: int,
    *,
    what: str,
    migrations: dict[int, str] | None = None,
    check: bool = False,
) -> tuple[sqlite3.Connection, str | None]:
    """Open a database, creating or migrating its schema; move it aside if it is unusable.

    ``migrations[n]`` is the SQL that takes version ``n`` to ``n + 1``; each runs in its own
    transaction together with its version bump. A file that is not a database, is damaged, or has
    a version we cannot migrate is moved aside (kept, never deleted) and a new one is created;
    the returned message then says what happened, for the log and the host. A database that is
    merely out of reach (a read-only folder, a full disk, a lock held too long) is not damaged:
    that raises StorageError and the file stays where it is.
    """
    problem: str | None = None
    db: sqlite3.Connection | None = None
    try:
        db = connect(path)
        found = db.execute("PRAGMA user_version").fetchone()[0]
        tables = db.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
        if found == 0 and tables == 0:
            found = _create_unless_raced(db, schema, version)
        if found == 0:
            problem = f"the {what} holds tables but no schema version"
        elif found < version and _can_migrate(found, version, migrations):
            _migrate(db, version, migrations or {})
        elif found != version:
            problem = f"the {what} has schema version {found}; this Pluginary uses {version}"
        if problem is None and check:
            verdict = db.execute("PRAGMA quick_check").fetchone()[0]
            if verdict != "ok":
                problem = f"the {what} is damaged ({verdict})"
    except (sqlite3.DatabaseError, OSError) as error:
        if db is not None:
            db.close()
        if not is_damage(error):
            raise _unusable(what, path, error) from error
        problem = f"the {what} is damaged ({error})"
    if problem is None and db is not None:
        return db, None
    if db is not None:
        db.close()
    try:
        moved = quarantine(path)
        db = connect(path)
        create_schema(db, schema, version)
    except (sqlite3.DatabaseError, OSError) as error:
        raise _unusable(what, path, error, problem) from error
    return db, f"{problem}; it was moved to {moved.name} and a new one started"


def migrate_database(path: Path, version: int, migrations: dict[int, str], *, what: str) -> None:
    """Bring the database at ``path`` to ``version`` in place; never move or create anything.

    StorageError says why when it cannot be done (a read-only folder, a version from a newer
    Pluginary, damage): the caller holds no lock, so repairing is not its business.
    """
    try:
        db = connect(path)
    except (sqlite3.DatabaseError, OSError) as error:
        raise _unusable(what, path, error) from error
    try:
        found = db.execute("PRAGMA user_version").fetchone()[0]
        if found == version:
            return
        if not _can_migrate(found, version, migrations):
            raise StorageError(
                f"the {what} has schema version {found}; this Pluginary uses {version} ({path})",
                path=str(path),
            )
        _migrate(db, version, migrations)
    except sqlite3.DatabaseError as error:
        raise _unusable(what, path, error) from error
    finally:
        db.close()


def _can_migrate(found: int, version: int, migrations: dict[int, str] | None) -> bool:
    return 0 < found < version and all(n in (migrations or {}) for n in range(found, version))


def _migrate(db: sqlite3.Connection, version: int, migrations: dict[int, str]) -> None:
    """Take the database up to ``version`` one step at a time, each step all or nothing.

    The version is read again inside each step's transaction: another process may have taken
    the same step while this one waited for the write lock.
    """
    while True:
        with transaction(db):
            found = int(db.execute("PRAGMA user_version").fetchone()[0])
            if found >= version:
                return
            for statement in _statements(migrations[found]):
                db.execute(statement)
            db.execute(f"PRAGMA user_version = {found + 1}")


def _statements(script: str) -> list[str]:
    """A script's statements, split where SQLite itself says a statement is complete."""
    statements: list[str] = []
    pending = ""
    for line in script.splitlines(keepends=True):
        pending += line
        if sqlite3.complete_statement(pending):
            statements.append(pending.strip())
            pending = ""
    if pending.strip() and not all(
        line.strip().startswith("--") or not line.strip() for line in pending.splitlines()
    ):
        raise ValueError(f"unterminated statement in a migration: {pending.strip()[:80]!r}")
    return statements


def _create_unless_raced(db: sqlite3.Connection, schema: str, version: int) -> int:
    """Create the schema of a new file; if another process just did, use theirs. The version."""
    try:
        create_schema(db, schema, version)
    except sqlite3.OperationalError:
        if db.in_transaction:
            db.execute("ROLLBACK")
        found = int(db.execute("PRAGMA user_version").fetchone()[0])
        if found == 0:
            raise
        return found
    return version


def _code(error: BaseException) -> int | None:
    """SQLite's primary result code for an error, if it is SQLite's."""
    code = getattr(error, "sqlite_errorcode", None)
    return None if code is None else int(code) & 0xFF


def is_damage(error: BaseException) -> bool:
    """Whether SQLite says the file itself is bad (not a database, or corrupt)."""
    return _code(error) in (SQLITE_CORRUPT, SQLITE_NOTADB)


def _unusable(
    what: str, path: Path, error: BaseException, problem: str | None = None
) -> StorageError:
    """The error for a database we can neither use nor repair: what, where and why."""
    reason = error.strerror if isinstance(error, OSError) and error.strerror else str(error)
    subject = f"{problem}, and it" if problem else f"the {what}"
    return StorageError(f"{subject} cannot be used: {reason} ({path})", path=str(path))


def quarantine(path: Path) -> Path:
    """Move a database (and its WAL files) aside, keeping it for inspection; return where."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    target = path.with_name(f"{path.name}.broken-{stamp}-{os.getpid()}")
    for suffix in ("", "-wal", "-shm"):
        source = Path(f"{path}{suffix}")
        if source.exists():
            os.replace(source, f"{target}{suffix}")
    return target
