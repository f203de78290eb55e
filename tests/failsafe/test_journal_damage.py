"""Fault 5: journal edge cases, each with a defined outcome, a log message, and no traceback.

A damaged journal, or one of another schema version, is moved aside (kept byte for byte) and a
new one started; the host hears of it in ``window/logMessage``. A journal whose scan finished
probing (all failed, say) is committed without probing again. (A journal of a completed but
uncommitted scan is test_commit_faults.py's.) Every sidecar's stderr is checked for tracebacks.
"""

from __future__ import annotations

import random
import signal
import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest
from faultkit import Launch, journal_scan, scan_params
from ledger import Ledger
from rawclient import Sidecar

from pluginary.paths import cache_paths
from pluginary.scanner.journal import SCHEMA_VERSION

pytestmark = pytest.mark.failsafe

NOTHING_TO_RESUME = 1002


def interrupted_journal(launch: Launch, plugins: Path) -> Path:
    """A journal holding a scan of ``plugins`` cut short after its first result."""
    killed = launch(env={"PLUGINARY_FAULT": "probe:after-result@1"})
    killed.initialize()
    killed.request("pluginary/scan", scan_params(plugins, workers=1))
    assert killed.wait_exit() == -signal.SIGKILL
    journal = cache_paths(killed.cache).journal
    # Fold the write-ahead log into the file, so the file alone is the journal.
    db = sqlite3.connect(journal)
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.close()
    for suffix in ("-wal", "-shm"):
        Path(f"{journal}{suffix}").unlink(missing_ok=True)
    return journal


def garbage(journal: Path) -> None:
    journal.write_bytes(random.Random(4).randbytes(journal.stat().st_size))


def truncated(journal: Path) -> None:
    journal.write_bytes(journal.read_bytes()[: journal.stat().st_size // 2])


def versioned(version: int) -> Callable[[Path], None]:
    def change(journal: Path) -> None:
        db = sqlite3.connect(journal)
        db.execute(f"PRAGMA user_version = {version}")
        db.close()

    return change


NEWER = SCHEMA_VERSION + 1

DAMAGE = {
    "garbage bytes": ("journal-garbage", garbage, "is damaged"),
    "truncated": ("journal-truncated", truncated, "is damaged"),
    "older schema (no version)": ("journal-old-schema", versioned(0), "no schema version"),
    f"newer schema (version {NEWER})": (
        "journal-old-schema",
        versioned(NEWER),
        f"schema version {NEWER}",
    ),
}


def works_after(sidecar: Sidecar, plugins: Path) -> None:
    """No interrupted scan, nothing to resume, and a new scan works."""
    assert sidecar.result("pluginary/status")["interrupted"] is None
    assert sidecar.error("pluginary/resume").code == NOTHING_TO_RESUME
    summary = sidecar.result("pluginary/scan", scan_params(plugins))
    assert (summary["discovered"], summary["ok"]) == (2, 2)
    assert journal_scan(sidecar.cache) is None


@pytest.mark.parametrize("case", DAMAGE)
def test_a_damaged_or_foreign_journal_is_moved_aside_and_a_new_one_started(
    case: str, launch: Launch, folder: Callable[..., Path], ledger: Ledger
) -> None:
    fault, damage, reason = DAMAGE[case]
    plugins = folder("ZamComp.vst3", "ZamGate.vst3")
    journal = interrupted_journal(launch, plugins)
    damage(journal)
    damaged = journal.read_bytes()

    sidecar = launch()
    sidecar.initialize()
    message = sidecar.wait_for(
        lambda: next((m for m in sidecar.logs() if m.startswith("the journal")), None),
        "the log message about the journal",
    )
    assert reason in message and "moved to journal.sqlite.broken-" in message
    kept = journal.parent / message.rpartition("moved to ")[2].split()[0]
    assert kept.read_bytes() == damaged  # Kept as it was, for inspection.
    works_after(sidecar, plugins)
    assert sidecar.shutdown() == 0
    ledger.record(fault, f"moved aside (kept byte for byte), new journal, logged: “{message}”")


def test_an_empty_journal_file_is_simply_a_new_journal(
    launch: Launch, folder: Callable[..., Path], ledger: Ledger
) -> None:
    plugins = folder("ZamComp.vst3", "ZamGate.vst3")
    sidecar = launch()
    journal = cache_paths(sidecar.cache).journal
    journal.parent.mkdir(parents=True)
    journal.write_bytes(b"")
    sidecar.initialize()
    works_after(sidecar, plugins)
    logs = sidecar.logs()
    assert not [m for m in logs if "journal" in m]  # Nothing was wrong with it.
    assert any(m.startswith("scan ") and " committed: 2 found" in m for m in logs)
    assert not list(journal.parent.glob("journal.sqlite.broken-*"))
    assert sidecar.shutdown() == 0
    ledger.record(
        "journal-empty",
        "used as a new journal: no interrupted scan, resume answers NothingToResume, scans work",
    )


def test_a_journal_whose_tasks_all_failed_is_committed_without_probing(
    launch: Launch,
    folder: Callable[..., Path],
    misbehaving_plugins: dict[str, Path],
    ledger: Ledger,
) -> None:
    broken = (misbehaving_plugins["noise"], misbehaving_plugins["segfault"])
    plugins = folder(extra=broken, real=False)
    killed = launch(env={"PLUGINARY_FAULT": "probe:after-result@2"})
    killed.initialize()
    killed.request("pluginary/scan", scan_params(plugins, workers=1))
    # Both tasks settled, but the scan was neither marked settled nor committed.
    assert killed.wait_exit() == -signal.SIGKILL

    # The resume may not probe at all: it would die on its first result.
    resumer = launch(env={"PLUGINARY_FAULT": "probe:after-result@1"})
    resumer.initialize()
    interrupted = resumer.result("pluginary/status")["interrupted"]
    assert (interrupted["state"], interrupted["done"], interrupted["total"]) == ("probing", 2, 2)
    summary = resumer.result("pluginary/resume")
    assert (summary["ok"], summary["failed"], summary["crashed"]) == (0, 1, 1)
    crashed = resumer.result("pluginary/query", {"status": "crashed"})["plugins"][0]
    assert resumer.result("pluginary/plugin", {"id": crashed["id"]})["signal"] == "SIGSEGV"
    message = next(m for m in resumer.logs() if m.startswith(f"scan {summary['scanId']} committed"))
    assert "0 ok, 1 failed, 0 timed out, 1 crashed" in message
    assert resumer.result("pluginary/status")["interrupted"] is None
    assert resumer.shutdown() == 0
    ledger.record(
        "journal-all-failed",
        f"status showed it interrupted (2/2 done); resume committed it without probing; logged:"
        f" “{message}”",
    )
