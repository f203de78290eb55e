"""Helpers of the failsafe tier: catalogue dumps, the journal as it is, damage checks."""

from __future__ import annotations

import ctypes
import hashlib
import os
import platform
import sqlite3
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rawclient import Sidecar

from native_bundles import CACHE, FLAGS
from pluginary.catalog.store import TEXT_INDEXES
from pluginary.paths import cache_paths
from scan_helpers import dump_catalog

REAL_BUNDLES = 22
Dump = dict[str, list[tuple[Any, ...]]]
Launch = Callable[..., Sidecar]


def normalised(dump: Dump, folder: Path) -> Dump:
    """A catalogue dump with ``folder`` written as ``<folder>``, to compare across folders."""
    prefix = str(folder)

    def cell(value: Any) -> Any:
        return value.replace(prefix, "<folder>") if isinstance(value, str) else value

    return {table: [tuple(map(cell, row)) for row in rows] for table, rows in dump.items()}


def catalog_dump(cache: Path, folder: Path) -> Dump:
    return normalised(dump_catalog(cache_paths(cache)), folder)


def build_native(source: Path) -> Path:
    """Compile a misbehaving bundle of this folder's ``native/`` (as ``native_bundles`` does)."""
    name = source.stem
    digest = hashlib.sha256(source.read_bytes() + " ".join(FLAGS).encode()).hexdigest()[:16]
    bundle = CACHE / digest / f"{name}.vst3"
    binary = bundle / "Contents" / f"{platform.machine()}-linux" / f"{name}.so"
    if not binary.exists():
        binary.parent.mkdir(parents=True, exist_ok=True)
        partial = binary.with_name(f".{name}.{os.getpid()}.so")
        subprocess.run(["gcc", *FLAGS, "-o", str(partial), str(source)], check=True)
        os.replace(partial, binary)
    return bundle


def journal_tasks(cache: Path) -> list[tuple[int, str, str, int]]:
    """(id, bundle, state, attempts) of the journal's tasks, read without writing."""
    db = sqlite3.connect(f"{cache_paths(cache).journal.as_uri()}?mode=ro", uri=True)
    try:
        return db.execute("SELECT id, bundle, state, attempts FROM tasks ORDER BY id").fetchall()
    finally:
        db.close()


def without_dac_override() -> None:
    """In a child about to exec: give up root's power to ignore file permissions.

    Root (as in many CI containers) writes into a folder of mode 0555 regardless; dropping
    CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH and CAP_FOWNER from the bounding set before ``exec``
    makes the sidecar meet the permissions like any user.
    """
    libc = ctypes.CDLL(None, use_errno=True)
    for capability in (1, 2, 3):
        if libc.prctl(24, capability, 0, 0, 0) != 0:  # PR_CAPBSET_DROP
            raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP)")


def integrity(cache: Path) -> tuple[str, str]:
    """``PRAGMA integrity_check`` of the catalogue, and its FTS indexes' own integrity checks."""
    db = sqlite3.connect(cache_paths(cache).catalog)
    try:
        verdict = db.execute("PRAGMA integrity_check").fetchone()[0]
        fts = "ok"
        for table in TEXT_INDEXES:
            try:
                db.execute(f"INSERT INTO {table} ({table}) VALUES ('integrity-check')")
            except sqlite3.DatabaseError as error:
                fts = f"{table}: {error}"
        return verdict, fts
    finally:
        db.close()


def loading(library: str, pids: set[int]) -> set[int]:
    """Which of ``pids`` have ``library`` mapped (a probe loading that plugin)."""
    found = set()
    for pid in pids:
        try:
            if library in Path(f"/proc/{pid}/maps").read_text():
                found.add(pid)
        except OSError:
            continue
    return found


def in_child_pid_namespace(pid: int) -> bool:
    """Whether a process lives in a PID namespace below ours (its NSpid names two ids or more)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("NSpid:"):
                return len(line.split()) > 2
    except OSError:
        pass
    return False


def innermost_pids(pids: set[int]) -> set[int]:
    """The ids ``pids`` have in their own PID namespace (what a plugin there prints)."""
    found = set()
    for pid in pids:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("NSpid:"):
                found.add(int(line.split()[-1]))
    return found


def named(name: str, pids: set[int]) -> set[int]:
    """Which of ``pids`` carry the process name ``name`` (``/proc/PID/comm``)."""
    found = set()
    for pid in pids:
        try:
            if Path(f"/proc/{pid}/comm").read_text().strip() == name:
                found.add(pid)
        except OSError:
            continue
    return found


def scan_params(folder: Path, **options: Any) -> dict[str, Any]:
    """``pluginary/scan`` params searching only ``folder``."""
    return {"folders": [str(folder)], "onlyFolders": True, **options}


def journal_scan(cache: Path) -> tuple[str, str] | None:
    """(id, state) of the scan the journal holds, read without writing; None if none."""
    db = sqlite3.connect(f"{cache_paths(cache).journal.as_uri()}?mode=ro", uri=True)
    try:
        row = db.execute("SELECT id, state FROM scans").fetchone()
        return None if row is None else (row[0], row[1])
    finally:
        db.close()


SETTLED = ("ok", "failed", "timeout", "crashed")


def differences(actual: Dump, expected: Dump) -> list[str]:
    """The rows two catalogue dumps disagree on, readably (empty when equal)."""
    lines = []
    for table in sorted(set(actual) | set(expected)):
        ours, theirs = actual.get(table, []), expected.get(table, [])
        lines += [f"{table}: unexpected {row}" for row in ours if row not in theirs]
        lines += [f"{table}: missing {row}" for row in theirs if row not in ours]
    return lines
