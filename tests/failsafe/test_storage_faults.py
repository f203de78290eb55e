"""Storage under faults, without processes: damage is moved aside, anything else is an error.

Only a file SQLite calls damaged (not a database, corrupt) or of a foreign schema is moved aside;
a database that is merely out of reach stays where it is and the caller gets StorageError. Two
processes creating the same new file at once both end up using it. Status never repairs.
"""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest

from pluginary import storage
from pluginary.errors import StorageError
from pluginary.paths import cache_paths
from pluginary.scanner.engine import Scanner
from pluginary.scanner.journal import Journal
from pluginary.server.status import collect_status

pytestmark = pytest.mark.failsafe


def test_a_database_out_of_reach_is_an_error_and_stays_where_it_is(tmp_path: Path) -> None:
    # Regression: every SQLite error counted as damage, so this folder was "moved aside".
    folder = tmp_path / "journal.sqlite"
    folder.mkdir()
    with pytest.raises(StorageError) as refused:
        Journal.open(folder)
    assert refused.value.data == {"path": str(folder)}
    assert "cannot be used" in str(refused.value)
    assert folder.is_dir() and [p.name for p in tmp_path.iterdir()] == ["journal.sqlite"]


def test_a_file_with_tables_but_no_version_is_foreign(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite"
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE scans (id TEXT)")
    db.close()
    journal, problem = Journal.open(path)
    journal.close()
    assert problem is not None and "no schema version" in problem
    assert len(list(tmp_path.glob("j.sqlite.broken-*"))) == 1


def test_two_openers_of_a_new_file_both_use_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Regression: the slower opener found the schema created under it, called the file
    # damaged, and moved the other's live database aside.
    path = tmp_path / "d.sqlite"
    first = storage.connect(path)
    first.execute("BEGIN IMMEDIATE")  # The first opener is mid-way through creating it.
    first.execute("CREATE TABLE t (x)")
    first.execute("PRAGMA user_version = 1")
    looked = threading.Event()
    real_create = storage.create_schema

    def create_after_looking(db: sqlite3.Connection, schema: str, version: int) -> None:
        looked.set()  # The second opener saw an empty file and is about to create the schema.
        real_create(db, schema, version)

    monkeypatch.setattr(storage, "create_schema", create_after_looking)
    opened: list[tuple[sqlite3.Connection, str | None]] = []
    second = threading.Thread(
        target=lambda: opened.append(storage.open_database(path, "CREATE TABLE t (x)", 1, what="d"))
    )
    second.start()
    assert looked.wait(10)
    first.execute("COMMIT")  # Its CREATE TABLE waited for this; now it finds the table made.
    second.join(10)
    ((db, problem),) = opened
    assert problem is None
    assert db.execute("SELECT count(*) FROM t").fetchone() == (0,)
    db.close()
    first.close()
    assert not list(tmp_path.glob("d.sqlite.broken-*"))


@pytest.mark.parametrize("content", [b"garbage" * 1000, b""])
def test_status_reads_the_journal_and_never_repairs_it(tmp_path: Path, content: bytes) -> None:
    paths = cache_paths(tmp_path / "cache").ensure()
    paths.journal.write_bytes(content)
    status = collect_status(Scanner(paths), "test")
    assert status.interrupted is None and status.running is None
    assert paths.journal.read_bytes() == content  # Untouched: repairing is a scan's job.
    assert sorted(p.name for p in paths.root.iterdir()) == ["journal.sqlite", "probes"]
