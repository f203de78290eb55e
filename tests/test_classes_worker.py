"""Bundles of many classes through the real scanner and both launchers (issue 16).

Multi-class zoo bundles (``zoo_bundles.build_classes_bundle``): one class crashes and another
prints, to prove that a crash keeps its neighbours and that each record keeps only what its own
class printed; every class sleeping most of the timeout, to prove that each class has its own
limit.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import anyio
import pytest

from pluginary.paths import cache_paths
from pluginary.scan_models import ScanOptions, ScanProgress, ScanResult
from pluginary.scanner.engine import Scanner
from pluginary.scanner.launchers import LAUNCHER_ENV
from zoo_bundles import build_classes_bundle

pytestmark = [pytest.mark.worker, pytest.mark.parametrize("launcher", ["forkserver", "pool"])]

# Generous: the zoo loads in milliseconds; only the slow bundle sleeps, for 60% of it.
TIMEOUT = 5.0


@pytest.fixture(autouse=True)
def _launcher(launcher: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(LAUNCHER_ENV, launcher)


def _scan(
    cache: Path,
    folder: Path,
    progress: Callable[[ScanProgress], None] | None = None,
    **options: Any,
) -> ScanResult:
    scanner = Scanner(cache_paths(cache), log=lambda line: None, standard_folders=lambda fmt: [])
    opts = ScanOptions(
        folders=(str(folder),), only_folders=True, **{"timeout_seconds": TIMEOUT, **options}
    )
    return anyio.run(scanner.scan, opts, progress)


def _rows(cache: Path) -> dict[str, tuple[str, str | None, str]]:
    """(status, error, output tail) by class."""
    db = sqlite3.connect(cache_paths(cache).catalog)
    try:
        return {
            name: (status, error, tail)
            for name, status, error, tail in db.execute(
                "SELECT class_name, status, error, output_tail FROM plugins"
            )
        }
    finally:
        db.close()


# One worker: the classes share probes (class 4 follows class 3 in one process). Two: the
# bundle is split among them.
@pytest.mark.parametrize("workers", [1, 2])
def test_a_crashing_class_keeps_its_neighbours_and_each_keeps_its_own_output(
    workers: int, tmp_path: Path
) -> None:
    folder = tmp_path / "plugins"
    folder.mkdir()
    build_classes_bundle("zoo-classes-segv", "segfault", 4, culprit=2, chatty=3, dest=folder)

    summary = _scan(tmp_path / "cache", folder, workers=workers).summary

    rows = _rows(tmp_path / "cache")
    assert {name: status for name, (status, _, _) in rows.items()} == {
        "zoo-classes-segv 1": "ok",
        "zoo-classes-segv 2": "crashed",
        "zoo-classes-segv 3": "ok",
        "zoo-classes-segv 4": "ok",
    }
    assert (rows["zoo-classes-segv 2"][1] or "").startswith("the probe died with SIGSEGV")
    assert (summary.ok, summary.crashed) == (3, 1)
    # Class 3 printed through buffered C stdio and straight to descriptor 2: both are its own,
    # and nobody else's (class 4 was probed after it, in the same process).
    chatty = rows["zoo-classes-segv 3"][2]
    assert "zoo-chatty zoo-classes-segv 3 on stdout" in chatty
    assert "zoo-chatty zoo-classes-segv 3 on stderr" in chatty
    for name in ("zoo-classes-segv 1", "zoo-classes-segv 2", "zoo-classes-segv 4"):
        assert "zoo-chatty" not in rows[name][2], name


def test_each_class_has_its_own_time_limit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Four classes of 60% of the limit each: the bundle takes 2.4 limits, every class one.
    monkeypatch.setenv("ZOO_SLEEP_MS", str(int(TIMEOUT * 600)))
    folder = tmp_path / "plugins"
    folder.mkdir()
    build_classes_bundle("zoo-classes-slow", "slow", 4, culprit=0, dest=folder)

    summary = _scan(tmp_path / "cache", folder, workers=1, audio_check=False).summary

    rows = _rows(tmp_path / "cache")
    assert {name: status for name, (status, _, _) in rows.items()} == {
        f"zoo-classes-slow {n}": "ok" for n in range(1, 5)
    }
    assert (summary.ok, summary.timed_out) == (4, 0)


def test_a_bundles_classes_are_probed_in_parallel_and_progress_counts_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Classes 2 and 3 each load only once the other is being loaded by another process at the
    # same time: probed one after the other, the first would wait until its limit.
    meeting = tmp_path / "meeting"
    meeting.mkdir()
    monkeypatch.setenv("ZOO_RENDEZVOUS", str(meeting))
    folder = tmp_path / "plugins"
    folder.mkdir()
    build_classes_bundle("zoo-classes-meet", "rendezvous", 3, culprit=0, dest=folder)
    build_classes_bundle("zoo-classes-one", "ok", 1, culprit=0, dest=folder)
    reports: list[ScanProgress] = []

    result = _scan(tmp_path / "cache", folder, reports.append, workers=2, timeout_seconds=30)
    summary = result.summary

    rows = _rows(tmp_path / "cache")
    assert {name: status for name, (status, _, _) in rows.items()} == {
        "zoo-classes-meet 1": "ok",
        "zoo-classes-meet 2": "ok",
        "zoo-classes-meet 3": "ok",
        "zoo-classes-one": "ok",
    }, {name: error for name, (_, error, _) in rows.items()}
    assert len(list(meeting.iterdir())) == 2  # Two processes met.
    assert (summary.probed, summary.ok) == (2, 4)  # Bundles probed, plugins ok.
    # Progress counts classes once a bundle is listed: four classes, all done at the end.
    assert (reports[-1].done, reports[-1].total) == (4, 4)
    assert all(report.done <= report.total <= 4 for report in reports)
