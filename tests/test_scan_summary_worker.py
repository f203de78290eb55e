"""Timed-out bundles are retried once with a longer limit; a scan's summary adds up and names."""

from __future__ import annotations

import os
import shutil
import signal
from pathlib import Path

import pytest

from pluginary.paths import cache_paths
from pluginary.scan_models import ScanSummary
from pluginary.scanner.engine import RETRY_TIMEOUT_SCALE, task_timeout
from pluginary.scanner.ignorelist import add_ignore_entry
from pluginary.server.status import collect_status
from scan_helpers import copy_bundles, scan, scan_in_subprocess, scanner_for

pytestmark = pytest.mark.worker


def adds_up(summary: ScanSummary) -> bool:
    parts = summary.probed + summary.unchanged + summary.ignored + summary.kept
    return summary.discovered == parts


def test_the_retry_limit_is_doubled_and_capped() -> None:
    assert task_timeout(3, 1) == 3
    assert task_timeout(3, RETRY_TIMEOUT_SCALE) == 6
    assert task_timeout(200, RETRY_TIMEOUT_SCALE) == 300  # Capped...
    assert task_timeout(500, RETRY_TIMEOUT_SCALE) == 500  # ...but never below the timeout.


def test_a_hanging_bundle_is_retried_once_then_remembered(
    real_plugins: Path, misbehaving_plugins: dict[str, Path], tmp_path: Path
) -> None:
    folder = copy_bundles(real_plugins, ["ZamComp.vst3"], tmp_path / "plugins")
    shutil.copytree(misbehaving_plugins["hang"], folder / "hang.vst3", symlinks=True)
    cache = tmp_path / "cache"
    first = scan(cache, folder, timeout_seconds=3)
    assert (first.summary.ok, first.summary.timed_out, first.summary.retried) == (1, 1, 0)
    (problem,) = first.summary.problems
    assert (problem.name, problem.status) == ("hang", "timeout")
    assert "within 3 s" in (problem.error or "")
    assert problem.id.startswith("vst3.") and problem.path.endswith("hang.vst3")

    # The scans after it probe nothing but the bundle built to hang (ZamComp is unchanged): their
    # timeout only sets how long we wait for it to hang again.
    second = scan(cache, folder, timeout_seconds=1)
    assert (second.summary.probed, second.summary.unchanged) == (1, 1)
    assert (second.summary.retried, second.summary.timed_out) == (1, 1)
    assert "within 2 s" in (second.summary.problems[0].error or "")  # Twice the scan's.

    third = scan(cache, folder, timeout_seconds=1)
    assert (third.summary.probed, third.summary.unchanged, third.summary.retried) == (0, 2, 0)
    # The catalogue's totals, not "0 ok", after a scan that changed nothing.
    assert third.summary.catalog_by_status == {"ok": 1, "failed": 0, "timeout": 1, "crashed": 0}
    assert all(adds_up(s.summary) for s in (first, second, third))
    last = collect_status(scanner_for(cache), "test").last_scan
    assert last is not None and last.catalog_by_status["ok"] == 1 and last.problems == []

    # Asked for, it is probed again at the given timeout (and may be retried once more later).
    asked = scan(cache, folder, timeout_seconds=1, retry_failed=True)
    assert (asked.summary.probed, asked.summary.retried, asked.summary.timed_out) == (1, 0, 1)
    assert "within 1 s" in (asked.summary.problems[0].error or "")


def test_a_slow_bundle_is_ok_on_the_retry(
    zoo: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "plugins"
    folder.mkdir()
    shutil.copytree(zoo["zoo-slow-enumerate"], folder / "zoo-slow-enumerate.vst3", symlinks=True)
    # Sure to outlast the 4 s timeout; the retry's 8 s leave it 3 s to load once awake.
    monkeypatch.setenv("ZOO_SLEEP_MS", "5000")
    cache = tmp_path / "cache"
    first = scan(cache, folder, timeout_seconds=4, audio_check=False)
    assert first.summary.timed_out == 1
    second = scan(cache, folder, timeout_seconds=4, audio_check=False)
    assert (second.summary.retried, second.summary.ok, second.summary.timed_out) == (1, 1, 0)
    assert second.summary.catalog_by_status["ok"] == 1 and adds_up(second.summary)


def test_the_summary_adds_up_with_ignored_bundles(real_plugins: Path, tmp_path: Path) -> None:
    folder = copy_bundles(
        real_plugins, ["ZamComp.vst3", "ZamAutoSat.vst3", "ZamVerb.vst3"], tmp_path / "plugins"
    )
    cache = tmp_path / "cache"
    add_ignore_entry(cache_paths(cache).ensure().ignore_list, str(folder / "ZamComp.vst3"))
    result = scan(cache, folder).summary
    assert (result.discovered, result.probed, result.ignored, result.unchanged) == (3, 2, 1, 0)
    assert result.folders == [str(folder)] and adds_up(result)
    assert [(p.name, p.status) for p in result.problems] == [("ZamVerb", "failed")]
    again = scan(cache, folder).summary
    assert (again.probed, again.ignored, again.unchanged, again.ok) == (0, 1, 2, 0)
    assert again.catalog_by_status == {"ok": 1, "failed": 1, "timeout": 0, "crashed": 0}
    assert adds_up(again)


def test_the_summary_adds_up_when_a_scan_replaces_an_interrupted_one(
    real_plugins: Path, tmp_path: Path
) -> None:
    folder = copy_bundles(real_plugins, ["ZamComp.vst3", "ZamGate.vst3"], tmp_path / "plugins")
    cache = tmp_path / "cache"
    env = {**os.environ, "PLUGINARY_FAULT": "probe:after-result@1"}
    killed = scan_in_subprocess(cache, "scan", [folder], env)
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    result = scan(cache, folder).summary  # A new scan, not a resume: it keeps what was done.
    assert (result.discovered, result.kept, result.probed, result.unchanged) == (2, 1, 1, 0)
    assert result.ok == 2 and adds_up(result)
