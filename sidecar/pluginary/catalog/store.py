"""Opening the catalogue and committing a scan into it, all or nothing."""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from pluginary.catalog import SCHEMA_VERSION
from pluginary.faults import fault_point
from pluginary.fsnames import display, from_sql, to_sql
from pluginary.ids import plugin_id
from pluginary.models import CHANNEL_COUNTS, channel_bit
from pluginary.scan_models import CatalogChange
from pluginary.storage import migrate_database, open_database, storage_errors, transaction

# The catalogue's FTS5 indexes (see schema.sql), each with an integrity check of its own.
TEXT_INDEXES = ("plugins_fts", "words_trigram")
# Severity order: a bundle's outcome is the worst of its plugins' statuses.
SEVERITY = {"ok": 0, "failed": 1, "timeout": 2, "crashed": 3}


def catalog_schema() -> str:
    """The catalogue's schema, as SQL (``schema.sql``)."""
    return resources.files("pluginary.catalog").joinpath("schema.sql").read_text()


def _migrations() -> dict[int, str]:
    """``{n: SQL taking version n to n + 1}``, from ``migrations/<n>.sql``."""
    folder = resources.files("pluginary.catalog").joinpath("migrations")
    return {
        int(entry.name.removesuffix(".sql")): entry.read_text()
        for entry in folder.iterdir()
        if entry.name.endswith(".sql")
    }


def open_catalog(path: Path) -> tuple[sqlite3.Connection, str | None]:
    """Open the catalogue for writing; a damaged one is moved aside and rebuilt (see message).

    Damage is looked for page by page (``quick_check``), not only in the header: a catalogue
    with one bad page would otherwise plan every bundle "unchanged" and never be repaired.
    """
    return open_database(
        path,
        catalog_schema(),
        SCHEMA_VERSION,
        what="catalogue",
        migrations=_migrations(),
        check=True,
    )


def upgrade_catalog(path: Path) -> None:
    """Bring an older catalogue to this version in place, touching nothing else (for readers).

    Unlike ``open_catalog`` this never moves a file aside: readers hold no lock.
    """
    migrate_database(path, SCHEMA_VERSION, _migrations(), what="catalogue")


@dataclass(frozen=True)
class BundleState:
    path: str
    fingerprint: str
    outcome: str
    checked: bool  # Its loaded plugins went through the audio checks.
    retried: bool = False  # Its last probe was the automatic retry of a timeout.


@dataclass(frozen=True)
class CommitBundle:
    """One probed bundle and the journaled records of its plugins."""

    path: str
    real_path: str
    format: str
    fingerprint: str
    records: list[tuple[str | None, str, dict[str, Any]]]  # (class name, status, record)
    retried: bool = False  # Probed with a longer limit because it timed out before.


def channel_mask(channels: list[int]) -> int:
    """A row's channel mask (see ``models.channel_bit``); a count no probe offers is dropped."""
    offered = {count for count in channels if count in CHANNEL_COUNTS}
    return sum(channel_bit(count) for count in offered)


def bundle_states(db: sqlite3.Connection) -> dict[str, BundleState]:
    """What the catalogue remembers of every bundle, keyed by real path."""
    with storage_errors("catalogue", db):
        rows = db.execute(
            "SELECT real_path, path, fingerprint, outcome, checked, retried FROM bundles"
        )
        return {
            from_sql(row[0]): BundleState(
                from_sql(row[1]), row[2], row[3], bool(row[4]), bool(row[5])
            )
            for row in rows
        }


def committed_scan_id(db: sqlite3.Connection) -> str | None:
    with storage_errors("catalogue", db):
        row = db.execute("SELECT value FROM meta WHERE key = 'committed_scan'").fetchone()
    return None if row is None else str(row[0])


def by_status(db: sqlite3.Connection) -> dict[str, int]:
    """The catalogue's plugins by status (every status, 0 included)."""
    counts = dict(db.execute("SELECT status, count(*) FROM plugins GROUP BY status").fetchall())
    return {status: int(counts.get(status, 0)) for status in SEVERITY}


def read_meta(db: sqlite3.Connection, key: str) -> Any:
    row = db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
    return None if row is None else json.loads(row[0])


def commit_scan(
    db: sqlite3.Connection,
    scan_id: str,
    bundles: Iterable[CommitBundle],
    removed: Sequence[str],
    summary: Callable[[dict[str, int]], dict[str, Any]],
) -> CatalogChange:
    """Apply a settled scan in ONE transaction: upserts, removals, full-text index, summary.

    ``bundles`` may be a stream (it is read once); ``summary`` is asked for once every bundle is
    in, so it can count what went by; it is given the catalogue's plugins by status by then.

    Idempotent per scan id: committing the same scan twice changes nothing the second time, so a
    crash between this commit and the journal's retirement is harmless. The storage failing (a
    full disk, a read-only filesystem) rolls the transaction back and raises StorageError.
    """
    with storage_errors("catalogue", db):
        return _commit_scan(db, scan_id, bundles, removed, summary)


def _commit_scan(
    db: sqlite3.Connection,
    scan_id: str,
    bundles: Iterable[CommitBundle],
    removed: Sequence[str],
    summary: Callable[[dict[str, int]], dict[str, Any]],
) -> CatalogChange:
    fault_point("commit:before")
    added: list[str] = []
    updated: list[str] = []
    gone: list[str] = []
    with transaction(db):
        if committed_scan_id(db) == scan_id:
            return CatalogChange()
        now = time.time()
        for index, bundle in enumerate(bundles):
            old = _delete_bundle_plugins(db, bundle.real_path)
            new = _insert_bundle(db, scan_id, bundle, now)
            added += [i for i in new if i not in old]
            updated += [i for i in new if i in old]
            gone += [i for i in old if i not in new]
            if index == 0:
                fault_point("commit:mid")
        for real_path in removed:
            gone += _delete_bundle_plugins(db, real_path)
            db.execute("DELETE FROM bundles WHERE real_path = ?", (to_sql(real_path),))
        if added or updated or gone:
            _refresh_statistics(db)
        _write_meta(db, "committed_scan", scan_id)
        _write_meta(db, "last_scan", summary(by_status(db)))
        fault_point("commit:mid")
    fault_point("commit:after")
    return CatalogChange(added=added, updated=updated, removed=gone)


def _write_meta(db: sqlite3.Connection, key: str, value: Any) -> None:
    db.execute(
        "INSERT INTO meta (key, value) VALUES (?, ?)"
        " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        (key, value if isinstance(value, str) else json.dumps(value)),
    )


def _refresh_statistics(db: sqlite3.Connection) -> None:
    """The vendors table, the plugin count, the words and the planner's statistics (sampled).

    A few ms; the words take 35 ms on the bench's 20,000 plugins.
    """
    db.execute("DELETE FROM vendors")
    db.execute(
        "INSERT INTO vendors SELECT vendor, count(*) FROM plugins"
        " WHERE vendor IS NOT NULL GROUP BY vendor"
    )
    count = db.execute("SELECT count(*) FROM plugins").fetchone()[0]
    _write_meta(db, "plugins", count)  # Queries' total for "everything", without counting.
    # Searching inside words looks them up here (see schema.sql). Rebuilt whole: words that
    # went with their plugins go too, and the index is written in one piece.
    db.execute("DELETE FROM words")
    db.execute("INSERT INTO words (word) SELECT term FROM plugins_fts_vocab")
    db.execute("INSERT INTO words_trigram (words_trigram) VALUES ('rebuild')")
    db.execute("PRAGMA analysis_limit = 1000")
    db.execute("ANALYZE")


def _delete_bundle_plugins(db: sqlite3.Connection, real_path: str) -> list[str]:
    key = to_sql(real_path)
    rows = db.execute("SELECT rowid, id FROM plugins WHERE bundle = ?", (key,)).fetchall()
    db.executemany("DELETE FROM plugins_fts WHERE rowid = ?", [(row[0],) for row in rows])
    db.execute("DELETE FROM plugins WHERE bundle = ?", (key,))
    return [row[1] for row in rows]


def _insert_bundle(
    db: sqlite3.Connection, scan_id: str, bundle: CommitBundle, now: float
) -> list[str]:
    records = latest_records(bundle.records)
    outcome = max((status for _, status, _ in records), key=SEVERITY.__getitem__, default="ok")
    # A loaded plugin without facts means the audio checks were off: a checking scan redoes it.
    checked = all(r.get("audio_check") is not None for _, status, r in records if status == "ok")
    db.execute(
        "INSERT INTO bundles (real_path, path, format, fingerprint, outcome, scan_id, scanned_at,"
        " checked, retried) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
        " ON CONFLICT (real_path) DO UPDATE SET"
        " path = excluded.path, format = excluded.format, fingerprint = excluded.fingerprint,"
        " outcome = excluded.outcome, scan_id = excluded.scan_id,"
        " scanned_at = excluded.scanned_at, checked = excluded.checked,"
        " retried = excluded.retried",
        (
            to_sql(bundle.real_path),
            to_sql(bundle.path),
            bundle.format,
            bundle.fingerprint,
            outcome,
            scan_id,
            now,
            checked,
            bundle.retried,
        ),
    )
    ids: list[str] = []
    for class_name, status, record in records:
        ident = plugin_id(bundle.format, bundle.real_path, class_name)
        # A name made from a file name that is not UTF-8 is shown as text (see fsnames).
        name = display(record.get("name") or class_name or Path(bundle.path).stem)
        parameters = record.get("parameters") or []
        audio = record.get("audio_check")
        channels = record.get("channels")
        cursor = db.execute(
            "INSERT INTO plugins (id, bundle, path, class_name, format, name, vendor, version,"
            " category, kind, identifier, status, error, diagnosis, signal, exit_code,"
            " output_tail, duration_ms, parameter_count, extra, scan_id, scanned_at,"
            " channel_mask, latency_samples, audio_ok, audio_check, state, probe_ms)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?,"
            " ?, ?, ?, ?, ?, ?)",
            (
                ident,
                to_sql(bundle.real_path),
                to_sql(bundle.path),
                class_name,
                bundle.format,
                name,
                record.get("vendor"),
                record.get("version"),
                record.get("category"),
                record.get("kind"),
                record.get("identifier"),
                status,
                _shown(record.get("error")),
                _shown(record.get("diagnosis")),
                record.get("signal"),
                record.get("exit_code"),
                record.get("output_tail") or "",
                record.get("duration_ms"),
                len(parameters),
                json.dumps(record.get("extra") or {}),
                scan_id,
                now,
                None if channels is None else channel_mask(channels),
                record.get("latency_samples"),
                None if audio is None else bool(audio.get("ok")),
                _json_or_null(audio),
                _json_or_null(record.get("state")),
                _json_or_null(record.get("probe_ms")),
            ),
        )
        rowid = cursor.lastrowid
        db.executemany(
            "INSERT INTO parameters (plugin_rowid, idx, name, key, units, type, min, max, step,"
            " approximate_step, default_raw, default_text, plugin_default_raw, boolean, discrete,"
            " num_steps, automatable, enum_values, enum_truncated, range_problem, samples)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                (
                    rowid,
                    p["index"],
                    p["name"],
                    p["key"],
                    p.get("units"),
                    p["type"],
                    p.get("min"),
                    p.get("max"),
                    p.get("step"),
                    p.get("approximate_step"),
                    p.get("default_raw"),
                    p.get("default_text"),
                    p.get("plugin_default_raw"),
                    bool(p.get("boolean")),
                    bool(p.get("discrete")),
                    int(p.get("num_steps") or 0),
                    bool(p.get("automatable")),
                    None if p.get("values") is None else json.dumps(p["values"]),
                    bool(p.get("values_truncated")),
                    p.get("range_problem"),
                    _json_or_null(p.get("samples")),
                )
                for p in parameters
            ],
        )
        db.executemany(
            "INSERT OR IGNORE INTO parameter_terms (term, plugin_rowid) VALUES (?, ?)",
            [(term, rowid) for p in parameters for term in (p["name"], p["key"])],
        )
        db.execute(
            "INSERT INTO plugins_fts (rowid, name, vendor, category, parameters)"
            " VALUES (?, ?, ?, ?, ?)",
            (
                rowid,
                name,
                record.get("vendor") or "",
                (record.get("category") or "").replace("|", " "),
                " ".join(p["name"] for p in parameters),
            ),
        )
        ids.append(ident)
    return ids


def _shown(text: str | None) -> str | None:
    """Text that may quote a path: SQLite takes no lone surrogates (see fsnames)."""
    return None if text is None else display(text)


def _json_or_null(value: Any) -> str | None:
    return None if value is None else json.dumps(value)


def latest_records(
    records: list[tuple[str | None, str, dict[str, Any]]],
) -> list[tuple[str | None, str, dict[str, Any]]]:
    """One record per class: the last word on a class (a retry's outcome) wins."""
    by_class: dict[str | None, tuple[str | None, str, dict[str, Any]]] = {}
    for record in records:
        by_class[record[0]] = record
    return list(by_class.values())
