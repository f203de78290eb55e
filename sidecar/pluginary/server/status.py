"""``pluginary/status``: one snapshot of the cache, the catalogue and the scans, read off the loop.

:func:`collect_status` blocks (SQLite, the scan lock); the server runs it in a worker thread. The
``pluginary`` command asks :func:`status_snapshot` in its own process, with no scanner: it never
imports the scan engine (a scan running elsewhere is seen through the scan lock).
"""

from __future__ import annotations

import os
import socket
import sqlite3
from typing import TYPE_CHECKING, Any

from pluginary.catalog.query import catalog_counts
from pluginary.catalog.store import read_meta
from pluginary.errors import StorageError
from pluginary.models import CatalogCounts
from pluginary.paths import CachePaths
from pluginary.scan_models import (
    CacheInfo,
    InterruptedScan,
    RunningScan,
    ScanProblem,
    ScanSummary,
    ServerStatus,
)
from pluginary.scanner.journal import SCHEMA_VERSION as JOURNAL_VERSION
from pluginary.scanner.journal import Journal
from pluginary.scanner.lock import lock_holder
from pluginary.server.reads import read_catalog_sync
from pluginary.storage import connect, is_damage, is_storage_failure, storage_errors, unusable

if TYPE_CHECKING:
    from pluginary.scanner.engine import Scanner


def collect_status(scanner: Scanner, version: str) -> ServerStatus:
    """Everything ``pluginary/status`` reports (blocking: call it from a worker thread)."""
    return status_snapshot(scanner.paths, version, scanner)


def status_snapshot(
    paths: CachePaths, version: str, scanner: Scanner | None = None
) -> ServerStatus:
    """The status of the cache at ``paths``; ``scanner`` is this process's, if it has one."""
    running = _running(scanner, paths)
    counts, last_scan = _catalog(paths)
    return ServerStatus(
        version=version,
        cache=CacheInfo(
            root=str(paths.root),
            catalog=str(paths.catalog),
            journal=str(paths.journal),
            ignore_list=str(paths.ignore_list),
        ),
        counts=counts,
        running=running,
        # While a scan runs, the journal's scan is that scan, not an interrupted one.
        interrupted=None if running is not None else _interrupted(paths),
        last_scan=last_scan,
    )


def _running(scanner: Scanner | None, paths: CachePaths) -> RunningScan | None:
    with storage_errors("scan lock", paths.scan_lock):
        owner = lock_holder(paths.scan_lock)
    if owner is None:
        return None
    progress = None if scanner is None else scanner.running
    if (
        scanner is not None
        and owner.get("pid") == os.getpid()
        and scanner.running_scan_id is not None
    ):
        return RunningScan(
            scan_id=scanner.running_scan_id,
            pid=os.getpid(),
            host=socket.gethostname(),
            done=None if progress is None else progress.done,
            total=None if progress is None else progress.total,
            message=None if progress is None else progress.message,
        )
    return RunningScan(
        scan_id=_str_or_none(owner.get("scanId")),
        pid=owner.get("pid") if isinstance(owner.get("pid"), int) else None,
        host=_str_or_none(owner.get("host")),
        done=None,
        total=None,
        message=None,
    )


def _catalog(paths: CachePaths) -> tuple[CatalogCounts, ScanSummary | None]:
    return read_catalog_sync(
        paths.catalog, lambda db: (catalog_counts(db), _summary(read_meta(db, "last_scan")))
    )


def _interrupted(paths: CachePaths) -> InterruptedScan | None:
    """The journal's scan, read without writing: repairing the journal is a scan's job.

    Status holds no lock, so it must not create, migrate or move aside a journal that a scan
    starting at this moment may be opening; a journal it cannot read shows no interrupted scan.
    """
    found = peek_journal(paths)
    return found if isinstance(found, InterruptedScan) else None


def peek_journal(paths: CachePaths) -> InterruptedScan | str | None:
    """The journal's scan, read without writing; None if there is none to read.

    A journal that cannot be read as this version's journal is ``"unusable"``: the next holder
    of the scan lock moves it aside. Storage that fails (an I/O error, a folder where the file
    should be) is StorageError: no scan could use that journal either.
    """
    if not paths.journal.exists():
        return None
    try:
        db = connect(paths.journal, readonly=True)
    except sqlite3.Error as error:
        return _unusable_journal(paths, error)
    try:
        version = db.execute("PRAGMA user_version").fetchone()[0]
        tables = db.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
        if version == 0 and tables == 0:
            return None  # Just created: nothing in it yet.
        if version != JOURNAL_VERSION:
            return "unusable"
        journal = Journal(db, paths.journal)
        plan = journal.current()
        if plan is None:
            return None
        progress = journal.progress(plan.id)
    except (sqlite3.Error, StorageError, ValueError) as error:
        return _unusable_journal(paths, error)  # Damaged (or half-written JSON).
    finally:
        db.close()
    return InterruptedScan(
        scan_id=plan.id,
        state=plan.state,
        started_at=plan.started_at,
        roots=list(plan.roots),
        done=progress.settled,
        total=progress.total,
    )


def _unusable_journal(paths: CachePaths, error: Exception) -> str:
    """``"unusable"`` for a journal a scan would replace; StorageError for failing storage."""
    cause = error.__cause__ if isinstance(error, StorageError) else error
    if cause is not None and is_storage_failure(cause) and not is_damage(cause):
        raise unusable("journal", paths.journal, cause) from error
    return "unusable"


# What a summary stored before these fields existed reads as (no folders, no names known).
_OLDER_SUMMARY = {
    "ignored": 0,
    "kept": 0,
    "retried": 0,
    "folders": [],
    "problems": [],
    "catalog_by_status": {},
}


def _summary(stored: Any) -> ScanSummary | None:
    """The last scan's summary as the catalogue stored it; None if absent or of another shape."""
    if not isinstance(stored, dict):
        return None
    try:
        fields = {**_OLDER_SUMMARY, **stored}
        fields["problems"] = [ScanProblem(**problem) for problem in fields["problems"]]
        return ScanSummary(**fields)
    except TypeError:
        return None


def _str_or_none(value: Any) -> str | None:
    return value if isinstance(value, str) else None
