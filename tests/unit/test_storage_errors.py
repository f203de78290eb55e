"""Storage failing, without a mount: SQLite's own limits stand in for a full disk.

``PRAGMA max_page_count`` makes SQLite answer SQLITE_FULL ("database or disk is full") exactly
where a full disk would; a folder in place of a file stands in for a path that cannot be opened.
Each failure must be StorageError naming the file, leave the failed step rolled back whole and
the connection usable; and anyio's exception groups must answer as the domain error they carry.
"""

from __future__ import annotations

import logging
import sqlite3
from pathlib import Path

import anyio
import pytest

from pluginary.catalog.store import CommitBundle, commit_scan, committed_scan_id, open_catalog
from pluginary.errors import StorageError, plain_errors
from pluginary.paths import cache_paths
from pluginary.scanner.engine import Scanner
from pluginary.scanner.journal import Journal, PlannedTask
from pluginary.server.errors import to_rpc_error
from pluginary.server.reads import read_catalog_sync
from pluginary.server.status import collect_status
from pluginary.storage import ImmutableConnection, is_storage_failure, transaction

RECORD = {"name": "Big", "parameters": [], "output_tail": "x" * 20000}


def full(db: sqlite3.Connection) -> None:
    """No page more for this database: the next write that needs one fails as a full disk."""
    pages = db.execute("PRAGMA page_count").fetchone()[0]
    db.execute(f"PRAGMA max_page_count = {pages}")


def planned(journal: Journal) -> None:
    task = PlannedTask(bundle="/p/A.vst3", real_path="/p/A.vst3", format="vst3", fingerprint="f")
    journal.begin("s1", {}, ["/p"], [task], removed=[], discovered=1, unchanged=0, ignored=0)


def test_a_full_journal_is_a_storage_error_and_the_failed_step_rolls_back(tmp_path: Path) -> None:
    journal, _ = Journal.open(tmp_path / "journal.sqlite")
    planned(journal)
    (task,) = journal.pending("s1")
    journal.start(task.id)
    full(journal.db)
    with pytest.raises(StorageError) as refused:
        journal.settle(task, "ok", [("Big", "ok", RECORD)])
    assert "database or disk is full" in str(refused.value)
    assert refused.value.data == {"path": str(tmp_path / "journal.sqlite")}
    assert str(tmp_path / "journal.sqlite") in str(refused.value)
    # Nothing of the step is kept, the task is not blamed, and the connection is not stuck.
    assert not journal.db.in_transaction
    assert [t.state for t in journal.tasks("s1")] == ["running"]
    assert journal.db.execute("SELECT count(*) FROM results").fetchone() == (0,)
    journal.db.execute("PRAGMA max_page_count = 1000000")  # Space again.
    journal.settle(task, "ok", [("Big", "ok", RECORD)])
    assert [t.state for t in journal.tasks("s1")] == ["ok"]
    journal.close()


def test_a_full_catalogue_refuses_the_commit_and_stays_as_it_was(tmp_path: Path) -> None:
    db, _ = open_catalog(tmp_path / "catalog.sqlite")
    full(db)
    bundle = CommitBundle("/p/A.vst3", "/p/A.vst3", "vst3", "f", [("Big", "ok", RECORD)])
    with pytest.raises(StorageError) as refused:
        commit_scan(db, "s1", [bundle], [], lambda _: {})
    assert "database or disk is full" in str(refused.value)
    assert refused.value.data == {"path": str(tmp_path / "catalog.sqlite")}
    assert not db.in_transaction
    assert committed_scan_id(db) is None
    assert db.execute("SELECT count(*) FROM plugins").fetchone() == (0,)
    db.close()


def test_a_failed_commit_leaves_no_transaction_open(tmp_path: Path) -> None:
    # A COMMIT that fails (here a deferred constraint) must not leave the connection inside
    # the transaction, or every later step would fail with "within a transaction".
    db = sqlite3.connect(tmp_path / "d.sqlite", isolation_level=None)
    db.execute("PRAGMA foreign_keys = ON")
    db.execute("CREATE TABLE a (id INTEGER PRIMARY KEY)")
    db.execute("CREATE TABLE b (a INTEGER REFERENCES a(id) DEFERRABLE INITIALLY DEFERRED)")
    with pytest.raises(sqlite3.IntegrityError), transaction(db):
        db.execute("INSERT INTO b VALUES (7)")
    assert not db.in_transaction
    assert db.execute("SELECT count(*) FROM b").fetchone() == (0,)
    db.close()


def test_what_counts_as_the_storage_failing() -> None:
    db = sqlite3.connect(":memory:")
    with pytest.raises(sqlite3.OperationalError) as missing:
        db.execute("SELECT * FROM nowhere")
    assert not is_storage_failure(missing.value)  # A bug, not the disk.
    db.execute("CREATE TABLE t (x UNIQUE)")
    db.execute("INSERT INTO t VALUES (1)")
    with pytest.raises(sqlite3.IntegrityError) as twice:
        db.execute("INSERT INTO t VALUES (1)")
    assert not is_storage_failure(twice.value)
    assert is_storage_failure(OSError(28, "No space left on device"))
    assert not is_storage_failure(OSError(11, "Resource temporarily unavailable"))


def test_a_catalogue_whose_lock_file_cannot_be_made_is_read_from_the_file_alone(
    tmp_path: Path,
) -> None:
    # Where SQLite can neither create nor grow ``-shm`` (a read-only filesystem, a full disk;
    # here a symbolic link it refuses to follow), a catalogue with no write-ahead log is read
    # immutable, and a writer that starts later is seen: its log makes the reader open afresh.
    path = tmp_path / "catalog.sqlite"
    db, _ = open_catalog(path)
    db.close()
    Path(f"{path}-shm").symlink_to(tmp_path / "nowhere")

    def names(read: sqlite3.Connection) -> tuple[bool, list[str]]:
        rows = read.execute("SELECT key FROM meta ORDER BY key").fetchall()
        return isinstance(read, ImmutableConnection), [row[0] for row in rows]

    immutable, before = read_catalog_sync(path, names)
    assert immutable and "committed_scan" not in before
    Path(f"{path}-shm").unlink()
    writer, _ = open_catalog(path)
    writer.execute("INSERT INTO meta (key, value) VALUES ('committed_scan', 's1')")
    immutable, after = read_catalog_sync(path, names)
    assert not immutable and "committed_scan" in after
    writer.close()


@pytest.mark.parametrize("name", ["catalog", "journal"])
def test_status_answers_storage_error_for_a_folder_where_a_database_should_be(
    tmp_path: Path, name: str
) -> None:
    paths = cache_paths(tmp_path / "cache").ensure()
    folder = getattr(paths, name)
    folder.mkdir()
    with pytest.raises(StorageError) as refused:
        collect_status(Scanner(paths), "test")
    assert refused.value.data == {"path": str(folder)}
    assert "Is a directory" in str(refused.value)


def test_a_task_groups_storage_error_leaves_as_itself() -> None:
    async def failing() -> None:
        raise StorageError("the journal cannot be used: database or disk is full (/j)", path="/j")

    async def main() -> None:
        with plain_errors():
            async with anyio.create_task_group() as outer:
                async with anyio.create_task_group() as inner:
                    inner.start_soon(failing)
                outer.start_soon(anyio.sleep, 0)

    with pytest.raises(StorageError) as raised:
        anyio.run(main)
    assert raised.value.data == {"path": "/j"}


def test_groups_answer_as_their_domain_error_or_as_a_clean_internal_error(
    caplog: pytest.LogCaptureFixture,
) -> None:
    storage = StorageError("the journal cannot be used: database or disk is full (/j)", path="/j")
    nested = ExceptionGroup("outer", [ExceptionGroup("unhandled errors in a TaskGroup", [storage])])
    answer = to_rpc_error(nested)
    assert (answer.code, answer.message, answer.data) == (1004, str(storage), {"path": "/j"})

    with caplog.at_level(logging.ERROR):
        bug = to_rpc_error(ExceptionGroup("unhandled errors in a TaskGroup", [ValueError("bad")]))
        mixed = to_rpc_error(ExceptionGroup("two", [storage, KeyError("k")]))
    assert bug.code == mixed.code == -32603
    assert bug.message == "internal error: ValueError: bad"
    assert "ExceptionGroup" not in mixed.message and "KeyError: 'k'" in mixed.message
    logged = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert len(logged) == 2 and all(r.exc_info for r in logged)
