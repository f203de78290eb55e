"""The scan journal: the plan and every step of one scan, in SQLite, so a scan cut short resumes.

One writer (the scanner that holds the scan lock). A scan writes its whole plan (every task
``pending``) before probing, then moves each task ``pending -> running -> ok/failed/timeout/
crashed`` in its own transaction, results included. WAL with ``synchronous=NORMAL``: every
committed step survives the death of the process; a power cut may lose the last few steps,
which resume simply probes again.

A task probes one bundle (all its classes, or a named subset when a crash left some undone).
``interrupted`` counts the times the scanner died while the task was running: a task that took
the scanner down twice is settled ``crashed`` instead of being tried forever. A task that was
running beside others when something died (the scanner, the fork server, or the probe itself of
a signal another process could have sent) is marked ``alone``: it is probed again with no other
probe running, so that only the culprit is blamed, never its neighbours.
"""

from __future__ import annotations

import functools
import itertools
import json
import sqlite3
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Concatenate, ParamSpec, TypeVar

from pluginary.fsnames import from_sql, to_sql
from pluginary.storage import open_database, storage_errors, transaction

P = ParamSpec("P")
T = TypeVar("T")

SCHEMA_VERSION = 3
MAX_INTERRUPTIONS = 2

SCHEMA = """
CREATE TABLE scans (
    id TEXT PRIMARY KEY,
    state TEXT NOT NULL CHECK (state IN ('probing', 'settled')),
    options TEXT NOT NULL,          -- JSON: the options the scan was started with
    roots TEXT NOT NULL,            -- JSON: folders searched (removal applies only under them)
    removed TEXT NOT NULL,          -- JSON: real paths of bundles that vanished
    discovered INTEGER NOT NULL,
    unchanged INTEGER NOT NULL,
    ignored INTEGER NOT NULL,
    kept INTEGER NOT NULL DEFAULT 0,  -- bundles carried over, settled, from a replaced scan
    started_at REAL NOT NULL,
    probe_ms REAL NOT NULL DEFAULT 0  -- time spent probing, summed across resumes
);
CREATE TABLE tasks (
    id INTEGER PRIMARY KEY,
    scan_id TEXT NOT NULL REFERENCES scans(id) ON DELETE CASCADE,
    bundle TEXT NOT NULL,           -- path as discovered
    real_path TEXT NOT NULL,
    format TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    module_info TEXT,               -- JSON: what moduleinfo.json said, if anything
    classes TEXT,                   -- JSON list: only these classes; NULL: all of them
    skip TEXT NOT NULL DEFAULT '[]',-- JSON list: classes the ignore list forbids
    state TEXT NOT NULL CHECK (state IN ('pending', 'running', 'ok', 'failed', 'timeout',
                                         'crashed')),
    attempts INTEGER NOT NULL DEFAULT 0,
    interrupted INTEGER NOT NULL DEFAULT 0,
    alone INTEGER NOT NULL DEFAULT 0,  -- probe with no other probe running (to find a culprit)
    timeout_scale REAL NOT NULL DEFAULT 1,  -- times the scan's timeout (a timed-out retry: 2)
    updated_at REAL NOT NULL
);
CREATE INDEX tasks_state ON tasks (scan_id, state);
CREATE TABLE results (
    task_id INTEGER NOT NULL REFERENCES tasks(id) ON DELETE CASCADE,
    seq INTEGER NOT NULL,
    class_name TEXT,
    status TEXT NOT NULL CHECK (status IN ('ok', 'failed', 'timeout', 'crashed')),
    record TEXT NOT NULL,           -- JSON: the probe's record for this plugin
    PRIMARY KEY (task_id, seq)
);
"""

# Version n -> n + 1. Journals are short-lived, but an interrupted scan is still worth keeping.
MIGRATIONS = {
    1: "ALTER TABLE tasks ADD COLUMN alone INTEGER NOT NULL DEFAULT 0;",
    2: "ALTER TABLE tasks ADD COLUMN timeout_scale REAL NOT NULL DEFAULT 1;\n"
    " ALTER TABLE scans ADD COLUMN kept INTEGER NOT NULL DEFAULT 0;",
}

SETTLED_STATES = ("ok", "failed", "timeout", "crashed")


def _journaled(
    method: Callable[Concatenate[Journal, P], T],
) -> Callable[Concatenate[Journal, P], T]:
    """The journal's storage failing inside ``method`` (a full disk, a read-only or failing
    filesystem) is StorageError naming the journal; a failed write has rolled back whole."""

    def wrapper(self: Journal, /, *args: P.args, **kwargs: P.kwargs) -> T:
        with storage_errors("journal", self.path):
            return method(self, *args, **kwargs)

    functools.update_wrapper(wrapper, method)
    return wrapper


@dataclass(frozen=True)
class PlannedTask:
    """A bundle to probe, as the planner decided it."""

    bundle: str
    real_path: str
    format: str
    fingerprint: str
    module_info: dict[str, Any] | None = None
    classes: list[str] | None = None
    skip: tuple[str, ...] = ()
    timeout_scale: float = 1.0  # 2: a bundle that timed out before, retried with a longer limit


@dataclass(frozen=True)
class Task:
    id: int
    bundle: str
    real_path: str
    format: str
    fingerprint: str
    module_info: dict[str, Any] | None
    classes: list[str] | None
    skip: list[str]
    state: str
    attempts: int
    interrupted: int
    alone: bool = False
    timeout_scale: float = 1.0


@dataclass(frozen=True)
class ScanPlan:
    """The journal's header row for one scan."""

    id: str
    state: str
    options: dict[str, Any]
    roots: list[str]
    removed: list[str]
    discovered: int
    unchanged: int
    ignored: int
    started_at: float
    probe_ms: float
    kept: int = 0  # Bundles carried over, settled, from the interrupted scan this one replaced.


@dataclass(frozen=True)
class BundleResults:
    """A probed bundle and its plugins' journaled records, in the order they were written."""

    bundle: str
    real_path: str
    format: str
    fingerprint: str
    records: list[tuple[str | None, str, dict[str, Any]]]  # (class name, status, record)
    retried: bool = False  # Probed again, with a longer limit, after timing out before.


@dataclass(frozen=True)
class Progress:
    total: int
    settled: int
    running: int


class Journal:
    """The scan journal at ``path``. Open it with :meth:`open`."""

    def __init__(self, db: sqlite3.Connection, path: Path) -> None:
        self.db = db
        self.path = path

    @classmethod
    def open(cls, path: Path) -> tuple[Journal, str | None]:
        """Open (creating or repairing) the journal; the message says what was repaired, if any.

        A journal from an older schema version is migrated in place; one from a newer version, or
        a damaged file, cannot be trusted to resume: it is moved aside (kept for inspection, never
        deleted) and a fresh journal is started.
        """
        db, problem = open_database(
            path, SCHEMA, SCHEMA_VERSION, what="journal", migrations=MIGRATIONS, check=True
        )
        return cls(db, path), problem

    def close(self) -> None:
        self.db.close()

    # -- planning -------------------------------------------------------------------------

    @_journaled
    def current(self) -> ScanPlan | None:
        """The scan this journal holds (interrupted, or settled but not committed), if any."""
        row = self.db.execute(
            "SELECT id, state, options, roots, removed, discovered, unchanged, ignored,"
            " started_at, probe_ms, kept FROM scans ORDER BY started_at DESC LIMIT 1"
        ).fetchone()
        if row is None:
            return None
        return ScanPlan(
            id=row[0],
            state=row[1],
            options=json.loads(row[2]),
            roots=json.loads(row[3]),
            removed=json.loads(row[4]),
            discovered=row[5],
            unchanged=row[6],
            ignored=row[7],
            started_at=row[8],
            probe_ms=row[9],
            kept=row[10],
        )

    @_journaled
    def begin(
        self,
        scan_id: str,
        options: dict[str, Any],
        roots: Sequence[str],
        tasks: Sequence[PlannedTask],
        *,
        removed: Sequence[str],
        discovered: int,
        unchanged: int,
        ignored: int,
        carry_failures: bool = True,
    ) -> int:
        """Write a new scan's whole plan, replacing whatever scan the journal held.

        Work an interrupted scan already finished is not thrown away: a planned bundle whose every
        task settled in the replaced scan, with the same fingerprint, moves into the new scan with
        its results instead of being probed again (failures too, unless ``carry_failures`` is
        false). Returns how many bundles were carried over.
        """
        now = time.time()
        with transaction(self.db):
            previous = self.db.execute("SELECT id FROM scans WHERE state = 'probing'").fetchone()
            self.db.execute(
                "INSERT INTO scans (id, state, options, roots, removed, discovered, unchanged,"
                " ignored, started_at) VALUES (?, 'probing', ?, ?, ?, ?, ?, ?, ?)",
                (
                    scan_id,
                    json.dumps(options),
                    json.dumps(list(roots)),
                    json.dumps(list(removed)),
                    discovered,
                    unchanged,
                    ignored,
                    now,
                ),
            )
            carried = self._carry_over(previous[0], scan_id, carry_failures) if previous else {}
            self.db.execute("DELETE FROM scans WHERE id != ?", (scan_id,))
            fresh = [t for t in tasks if carried.get(t.real_path) != t.fingerprint]
            self._insert_tasks(scan_id, fresh, now)
            self.db.execute(
                "UPDATE scans SET kept = ? WHERE id = ?", (len(tasks) - len(fresh), scan_id)
            )
        return len(tasks) - len(fresh)

    def _carry_over(self, old: str, new: str, carry_failures: bool) -> dict[str, str]:
        """Move the fully settled bundles of scan ``old`` into scan ``new``: real path -> fp."""
        outcome = "" if carry_failures else " AND sum(state != 'ok') = 0"
        settled = self.db.execute(
            "SELECT real_path, fingerprint FROM tasks WHERE scan_id = ?"
            " GROUP BY real_path, fingerprint"
            f" HAVING sum(state IN ('pending', 'running')) = 0{outcome}",
            (old,),
        ).fetchall()
        self.db.executemany(
            "UPDATE tasks SET scan_id = ? WHERE scan_id = ? AND real_path = ?",
            [(new, old, real_path) for real_path, _ in settled],
        )
        return {from_sql(real_path): fingerprint for real_path, fingerprint in settled}

    def _insert_tasks(self, scan_id: str, tasks: Sequence[PlannedTask], now: float) -> None:
        self.db.executemany(
            "INSERT INTO tasks (scan_id, bundle, real_path, format, fingerprint, module_info,"
            " classes, skip, state, updated_at, timeout_scale)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'pending', ?, ?)",
            [
                (
                    scan_id,
                    to_sql(task.bundle),
                    to_sql(task.real_path),
                    task.format,
                    task.fingerprint,
                    None if task.module_info is None else json.dumps(task.module_info),
                    None if task.classes is None else json.dumps(task.classes),
                    json.dumps(list(task.skip)),
                    now,
                    task.timeout_scale,
                )
                for task in tasks
            ],
        )

    # -- probing --------------------------------------------------------------------------

    @_journaled
    def recover(self, scan_id: str) -> list[Task]:
        """After a scanner death: requeue tasks that were running; blame repeat offenders.

        Tasks that were running beside others are not blamed yet: they are marked to run alone,
        so that a task is only ever blamed for deaths while it ran with no neighbour. Returns the
        tasks now settled ``crashed`` because they took the scanner down twice.
        """
        now = time.time()
        blamed: list[Task] = []
        with transaction(self.db):
            running = self.db.execute(
                "SELECT count(*) FROM tasks WHERE scan_id = ? AND state = 'running'", (scan_id,)
            ).fetchone()[0]
            self.db.execute(
                "UPDATE tasks SET interrupted = interrupted + 1, state = 'pending', updated_at = ?,"
                " alone = alone OR ? WHERE scan_id = ? AND state = 'running'",
                (now, running > 1, scan_id),
            )
            if running == 1:
                for task in self._tasks(
                    "scan_id = ? AND state = 'pending' AND interrupted >= ? AND updated_at = ?",
                    (scan_id, MAX_INTERRUPTIONS, now),
                ):
                    record = {
                        "error": f"took the scanner down {task.interrupted} times while loading",
                        "signal": None,
                        "exit_code": None,
                        "output_tail": "",
                        "duration_ms": None,
                    }
                    self._settle(task, "crashed", [(None, "crashed", record)], [], now)
                    blamed.append(task)
        return blamed

    @_journaled
    def pending(self, scan_id: str) -> list[Task]:
        return self._tasks("scan_id = ? AND state = 'pending'", (scan_id,))

    @_journaled
    def start(self, task_id: int) -> None:
        """Mark a task running, just before its probe is launched."""
        with transaction(self.db):
            self.db.execute(
                "UPDATE tasks SET state = 'running', attempts = attempts + 1, updated_at = ?"
                " WHERE id = ?",
                (time.time(), task_id),
            )

    @_journaled
    def run_alone(self, task_id: int) -> None:
        """Put a running task back to pending, to be probed with no other probe beside it."""
        with transaction(self.db):
            self.db.execute(
                "UPDATE tasks SET state = 'pending', alone = 1, updated_at = ? WHERE id = ?",
                (time.time(), task_id),
            )

    @_journaled
    def requeue(self, task_ids: Sequence[int]) -> None:
        """Put running tasks back to pending without blame (the scan was stopped on purpose)."""
        with transaction(self.db):
            self.db.executemany(
                "UPDATE tasks SET state = 'pending', attempts = attempts - 1 WHERE id = ?"
                " AND state = 'running'",
                [(task_id,) for task_id in task_ids],
            )

    @_journaled
    def settle(
        self,
        task: Task,
        state: str,
        results: Sequence[tuple[str | None, str, dict[str, Any]]],
        follow_ups: Sequence[PlannedTask] = (),
    ) -> list[Task]:
        """Record a probe's outcome and results (and tasks for classes it left undone), at once;
        the follow-up tasks as journaled (pending)."""
        with transaction(self.db):
            first = self._settle(task, state, results, follow_ups, time.time())
        if not follow_ups:
            return []
        return self._tasks("id >= ? AND id < ?", (first, first + len(follow_ups)))

    def _settle(
        self,
        task: Task,
        state: str,
        results: Sequence[tuple[str | None, str, dict[str, Any]]],
        follow_ups: Sequence[PlannedTask],
        now: float,
    ) -> int:
        """The id the first follow-up task gets (ids are consecutive: one writer)."""
        self.db.execute(
            "UPDATE tasks SET state = ?, updated_at = ? WHERE id = ?", (state, now, task.id)
        )
        self.db.executemany(
            "INSERT OR REPLACE INTO results (task_id, seq, class_name, status, record)"
            " VALUES (?, ?, ?, ?, ?)",
            [
                (task.id, seq, name, status, json.dumps(record))
                for seq, (name, status, record) in enumerate(results)
            ],
        )
        scan_id = self.db.execute("SELECT scan_id FROM tasks WHERE id = ?", (task.id,)).fetchone()
        (last,) = self.db.execute("SELECT coalesce(max(id), 0) FROM tasks").fetchone()
        self._insert_tasks(scan_id[0], follow_ups, now)
        return int(last) + 1

    @_journaled
    def add_probe_time(self, scan_id: str, milliseconds: float) -> None:
        with transaction(self.db):
            self.db.execute(
                "UPDATE scans SET probe_ms = probe_ms + ? WHERE id = ?", (milliseconds, scan_id)
            )

    @_journaled
    def mark_settled(self, scan_id: str) -> None:
        with transaction(self.db):
            self.db.execute("UPDATE scans SET state = 'settled' WHERE id = ?", (scan_id,))

    @_journaled
    def progress(self, scan_id: str) -> Progress:
        """How far the scan got, in classes where they are known (issue 16): a settled task
        counts its records, one waiting its named classes, one whose bundle is not yet listed
        one; so a bundle of many classes weighs as many, once its first probe has listed them."""
        counts = {
            state: (tasks, weight)
            for state, tasks, weight in self.db.execute(
                "SELECT state, count(*), sum(CASE WHEN state IN ('ok', 'failed', 'timeout',"
                " 'crashed') THEN max(1, (SELECT count(*) FROM results r WHERE r.task_id = t.id))"
                " ELSE coalesce(json_array_length(classes), 1) END)"
                " FROM tasks t WHERE scan_id = ? GROUP BY state",
                (scan_id,),
            ).fetchall()
        }
        return Progress(
            total=sum(weight for _, weight in counts.values()),
            settled=sum(counts.get(state, (0, 0))[1] for state in SETTLED_STATES),
            running=counts.get("running", (0, 0))[0],
        )

    # -- committing -----------------------------------------------------------------------

    def results(self, scan_id: str) -> Iterator[BundleResults]:
        """Every bundle the scan probed with its records, one bundle at a time.

        Streamed: a scan of thousands of plugins never holds all their records decoded at once.
        """
        # Read while the catalogue's transaction consumes it: a failing read is named here.
        with storage_errors("journal", self.path):
            rows = self.db.execute(
                "SELECT t.bundle, t.real_path, t.format, t.fingerprint, r.class_name, r.status,"
                " r.record, t.timeout_scale FROM tasks t LEFT JOIN results r ON r.task_id = t.id"
                " WHERE t.scan_id = ? ORDER BY t.real_path, t.id, r.seq",
                (scan_id,),
            )
            for real_path, group in itertools.groupby(rows, key=lambda row: row[1]):
                first, *rest = group
                records = [
                    (row[4], row[5], json.loads(row[6]))
                    for row in (first, *rest)
                    if row[5] is not None
                ]
                yield BundleResults(
                    from_sql(first[0]),
                    from_sql(real_path),
                    first[2],
                    first[3],
                    records,
                    retried=max(row[7] for row in (first, *rest)) > 1,
                )

    @_journaled
    def tasks(self, scan_id: str) -> list[Task]:
        return self._tasks("scan_id = ?", (scan_id,))

    @_journaled
    def retire(self, scan_id: str) -> None:
        """Forget a committed scan."""
        with transaction(self.db):
            self.db.execute("DELETE FROM scans WHERE id = ?", (scan_id,))

    def _tasks(self, where: str, args: tuple[Any, ...]) -> list[Task]:
        rows = self.db.execute(
            "SELECT id, bundle, real_path, format, fingerprint, module_info, classes, skip, state,"
            f" attempts, interrupted, alone, timeout_scale FROM tasks WHERE {where} ORDER BY id",
            args,
        ).fetchall()
        return [
            Task(
                id=row[0],
                bundle=from_sql(row[1]),
                real_path=from_sql(row[2]),
                format=row[3],
                fingerprint=row[4],
                module_info=None if row[5] is None else json.loads(row[5]),
                classes=None if row[6] is None else json.loads(row[6]),
                skip=json.loads(row[7]),
                state=row[8],
                attempts=row[9],
                interrupted=row[10],
                alone=bool(row[11]),
                timeout_scale=row[12],
            )
            for row in rows
        ]
