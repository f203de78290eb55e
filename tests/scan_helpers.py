"""Helpers shared by the scanner's worker tests: run scans, dump catalogues, copy bundles."""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import anyio

from pluginary.catalog.query import get_plugin, query_plugins
from pluginary.models import PluginQuery, PluginRecord
from pluginary.paths import CachePaths, cache_paths
from pluginary.scan_models import ScanOptions, ScanResult
from pluginary.scanner.engine import Scanner

SCAN_SCRIPT = """
import sys, anyio
from pluginary.scan_models import ScanOptions
from pluginary.paths import cache_paths
from pluginary.scanner.engine import Scanner
scanner = Scanner(cache_paths(sys.argv[1]), standard_folders=lambda fmt: [])
if sys.argv[2] == "resume":
    anyio.run(scanner.resume)
else:
    folders = tuple(sys.argv[3:])
    anyio.run(scanner.scan, ScanOptions(folders=folders, only_folders=True, workers=2))
"""


def scanner_for(cache: Path) -> Scanner:
    """A scanner on ``cache`` that never looks at the machine's standard plugin folders."""
    return Scanner(cache_paths(cache), standard_folders=lambda fmt: [])


def scan(cache: Path, *folders: Path, **options: Any) -> ScanResult:
    opts = ScanOptions(folders=tuple(map(str, folders)), only_folders=True, **options)
    return anyio.run(scanner_for(cache).scan, opts)


def catalog_records(cache: Path) -> list[PluginRecord]:
    """Every plugin the catalogue under ``cache`` holds (up to 500), as ``plugins/get`` reads it."""
    db = sqlite3.connect(cache_paths(cache).catalog)
    try:
        found = query_plugins(db, PluginQuery(limit=500)).plugins
        records = [get_plugin(db, plugin.id) for plugin in found]
    finally:
        db.close()
    assert None not in records, "a listed plugin could not be read"
    return [record for record in records if record is not None]


def scan_in_subprocess(
    cache: Path, command: str, folders: Sequence[Path], env: dict[str, str]
) -> subprocess.CompletedProcess[str]:
    """Run a scan (or resume) in a separate Python process, e.g. one set to die at a fault."""
    return subprocess.run(
        [sys.executable, "-c", SCAN_SCRIPT, str(cache), command, *map(str, folders)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


VOLATILE = {"scan_id", "scanned_at", "duration_ms", "probe_ms", "extra", "output_tail", "rowid"}


def dump_catalog(paths: CachePaths) -> dict[str, list[tuple[Any, ...]]]:
    """Every catalogue row that a scan's outcome determines (not timings or scan ids)."""
    if not paths.catalog.exists():
        return {}
    db = sqlite3.connect(paths.catalog)
    try:
        dump: dict[str, list[tuple[Any, ...]]] = {}
        for table, order in (("plugins", "id"), ("bundles", "real_path")):
            columns = [
                row[1]
                for row in db.execute(f"PRAGMA table_info({table})")
                if row[1] not in VOLATILE
            ]
            # Some plugins add their own noise: the peak differs run to run, the verdict not.
            selected = [
                "json_remove(audio_check, '$.peak')" if column == "audio_check" else column
                for column in columns
            ]
            dump[table] = db.execute(
                f"SELECT {', '.join(selected)} FROM {table} ORDER BY {order}"
            ).fetchall()
        dump["parameters"] = db.execute(
            "SELECT p.id, q.* FROM parameters q JOIN plugins p ON p.rowid = q.plugin_rowid"
            " ORDER BY p.id, q.idx"
        ).fetchall()
        dump["parameters"] = [row[:1] + row[2:] for row in dump["parameters"]]
        return dump
    finally:
        db.close()


def running_bundles(cache: Path) -> list[str]:
    """Bundles the journal shows running, read-only: a poller must never create the journal."""
    try:
        db = sqlite3.connect(f"{cache_paths(cache).journal.as_uri()}?mode=ro", uri=True)
    except sqlite3.OperationalError:
        return []
    try:
        return [row[0] for row in db.execute("SELECT bundle FROM tasks WHERE state = 'running'")]
    except sqlite3.OperationalError:
        return []  # Not created yet.
    finally:
        db.close()


def copy_bundles(source: Path, names: Sequence[str], dest: Path) -> Path:
    dest.mkdir(parents=True, exist_ok=True)
    for name in names:
        shutil.copytree(source / name, dest / name, symlinks=True)
    return dest
