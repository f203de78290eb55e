"""SQLite connections as Pluginary uses them, storage failures as StorageError, and moving a
damaged database aside."""

from __future__ import annotations

import contextlib
import errno
import os
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path

from pluginary.errors import StorageError

# SQLite's primary result codes that matter here.
SQLITE_PERM = 3
SQLITE_BUSY = 5
SQLITE_LOCKED = 6
SQLITE_READONLY = 8
SQLITE_IOERR = 10
SQLITE_CORRUPT = 11
SQLITE_FULL = 13
SQLITE_CANTOPEN = 14
SQLITE_NOTADB = 26

# What the storage itself answers when it fails (a full disk, a read-only or failing
# filesystem, a file we may not or cannot open, a lock held too long, damage): not bugs.
STORAGE_CODES = frozenset(
    {
        SQLITE_PERM,
        SQLITE_BUSY,
        SQLITE_LOCKED,
        SQLITE_READONLY,
        SQLITE_IOERR,
        SQLITE_CORRUPT,
        SQLITE_FULL,
        SQLITE_CANTOPEN,
        SQLITE_NOTADB,
    }
)
# The same from the OS, for the files SQLite does not handle (the lock, the ignore list).
STORAGE_ERRNOS = frozenset(
    {
        errno.ENOSPC,
        errno.EDQUOT,
        errno.EROFS,
        errno.EIO,
        errno.EACCES,
        errno.EPERM,
        errno.EISDIR,
        errno.ENOTDIR,
        errno.ENAMETOOLONG,
        errno.ELOOP,
        errno.EMFILE,
        errno.ENFILE,
        errno.ENXIO,
    }
)
# In a folder we may not write, or on a full disk, a reader cannot make or grow the ``-shm``
# file a WAL database is read through; these are what SQLite then answers.
_NO_SHM = frozenset({SQLITE_READONLY, SQLITE_CANTOPEN, SQLITE_IOERR, SQLITE_FULL})


class ImmutableConnection(sqlite3.Connection):
    """A read-only connection that reads the database file alone (``immutable=1``).

    Only made when there is no write-ahead log to miss; it does not notice a writer that starts
    later, so a holder keeps watching the ``-wal`` file (see ``wal_state``).
    """


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
    """A read-only connection; where we cannot write, one that needs no lock files.

    Reading a WAL database needs its ``-shm`` file, which a read-only folder will not let SQLite
    create and a full disk will not let it grow. With no write-ahead log, or an empty one, there
    is nothing uncheckpointed to miss, so the file can be opened as immutable instead: reads
    then work on a read-only filesystem and on a full disk alike.
    """
    uri = path.as_uri()
    db = sqlite3.connect(f"{uri}?mode=ro", uri=True, check_same_thread=False)
    try:
        db.execute("SELECT count(*) FROM sqlite_master").fetchone()
    except sqlite3.OperationalError as error:
        db.close()
        if _code(error) not in _NO_SHM or wal_state(path)[1] > 0:
            raise
        db = sqlite3.connect(
            f"{uri}?immutable=1",
            uri=True,
            check_same_thread=False,
            factory=ImmutableConnection,
        )
    return db


def wal_state(path: Path) -> tuple[bool, int, int]:
    """Whether the database at ``path`` has a ``-wal`` file, its size and its mtime."""
    try:
        stat = os.stat(f"{path}-wal")
    except FileNotFoundError:
        return False, 0, 0
    return True, stat.st_size, stat.st_mtime_ns


@contextlib.contextmanager
def transaction(db: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """BEGIN IMMEDIATE ... COMMIT, or ROLLBACK on any exception (a failed COMMIT included).

    SQLite may already have rolled the transaction back itself (it does on a full disk or an
    I/O error), and a ROLLBACK can fail on a failing disk: the error that stopped the
    transaction is the one raised, never the rollback's.
    """
    db.execute("BEGIN IMMEDIATE")
    try:
        yield db
        db.execute("COMMIT")
    except BaseException:
        _rollback(db)
        raise


def _rollback(db: sqlite3.Connection) -> None:
    if db.in_transaction:
        with contextlib.suppress(sqlite3.Error):
            db.execute("ROLLBACK")


def create_schema(db: sqlite3.Connection, schema: str, version: int) -> None:
    """Create a schema and record its version, all or nothing."""
    try:
        db.executescript(
            f"BEGIN IMMEDIATE; {schema}; PRAGMA user_version = {int(version)}; COMMIT;"
        )
    except BaseException:
        _rollback(db)
        raise


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
            raise unusable(what, path, error) from error
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
        raise unusable(what, path, error, problem) from error
    return db, f"{problem}; it was moved to {moved.name} and a new one started"


def migrate_database(path: Path, version: int, migrations: dict[int, str], *, what: str) -> None:
    """Bring the database at ``path`` to ``version`` in place; never move or create anything.

    StorageError says why when it cannot be done (a read-only folder, a version from a newer
    Pluginary, damage): the caller holds no lock, so repairing is not its business.
    """
    try:
        db = connect(path)
    except (sqlite3.DatabaseError, OSError) as error:
        raise unusable(what, path, error) from error
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
        raise unusable(what, path, error) from error
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


def is_storage_failure(error: BaseException) -> bool:
    """Whether ``error`` is the storage failing (full, read-only, I/O, unopenable, damaged),
    as opposed to a bug in how it is used (a missing table, a constraint, a closed connection)."""
    if isinstance(error, sqlite3.Error):
        return _code(error) in STORAGE_CODES
    return isinstance(error, OSError) and error.errno in STORAGE_ERRNOS


def unusable(
    what: str, path: Path | str, error: BaseException, problem: str | None = None
) -> StorageError:
    """The error for a file of the cache we cannot use: what, why in the OS's or SQLite's
    words, and where (``data.path``)."""
    reason = error.strerror if isinstance(error, OSError) and error.strerror else str(error)
    if isinstance(error, sqlite3.Error):
        reason = with_os_words(reason, Path(path), error)
    subject = f"{problem}, and it" if problem else f"the {what}"
    return StorageError(f"{subject} cannot be used: {reason} ({path})", path=str(path))


def with_os_words(reason: str, path: Path, error: sqlite3.Error) -> str:
    """SQLite's reason, and the OS's words for what lies behind it when the OS can tell.

    SQLite says "disk I/O error" when a full disk stops it growing a lock file or a folder
    stands where the file should be, and "readonly database" on a read-only filesystem.
    """
    if _code(error) == SQLITE_FULL:
        return reason
    found = os.strerror(errno.EISDIR) if path.is_dir() else _filesystem_state(path.parent)
    return reason if found is None else f"{reason} ({found})"


def _filesystem_state(folder: Path) -> str | None:
    """The OS's words for a filesystem that is read-only or has no space left, else None."""
    try:
        found = os.statvfs(folder)
    except OSError:
        return None
    if found.f_flag & os.ST_RDONLY:
        return os.strerror(errno.EROFS)
    if (found.f_bavail == 0 and os.geteuid() != 0) or found.f_bfree == 0:
        return os.strerror(errno.ENOSPC)
    return None


@contextlib.contextmanager
def storage_errors(what: str, path: Path | str | sqlite3.Connection) -> Iterator[None]:
    """Turn the storage failing inside the block into StorageError naming the file.

    ``path`` may be the connection itself: its main database file is then named. Bugs (any
    other exception) pass through unchanged.
    """
    try:
        yield
    except (sqlite3.Error, OSError) as error:
        if not is_storage_failure(error):
            raise
        where = database_file(path) if isinstance(path, sqlite3.Connection) else path
        raise unusable(what, where, error) from error


def database_file(db: sqlite3.Connection) -> str:
    """The file a connection's main database lives in ("" for an in-memory one)."""
    try:
        for _, name, file in db.execute("PRAGMA database_list"):
            if name == "main":
                return str(file)
    except sqlite3.Error:
        pass
    return ""


def quarantine(path: Path) -> Path:
    """Move a database (and its WAL files) aside, keeping it for inspection; return where."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    target = path.with_name(f"{path.name}.broken-{stamp}-{os.getpid()}")
    for suffix in ("", "-wal", "-shm"):
        source = Path(f"{path}{suffix}")
        if source.exists():
            os.replace(source, f"{target}{suffix}")
    return target
