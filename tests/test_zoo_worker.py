"""The hostile plugin zoo beside real plugins, through the real scanner (issue 12).

One scan of every zoo bundle (``tests/zoo/``) with real plugins beside them must answer a summary,
keep the real plugins ok, give every hostile bundle the record naming what it did, leave nothing
running, and leave a catalogue the next scan finds unchanged. Here the scan runs without the fork
server's PID namespace (process groups and a subreaper only), for the behaviours where that
differs; the same scan with the namespace and through the worker pool runs once each, through
the real sidecar, in ``tests/failsafe/test_hostile_zoo.py``, which asserts the same records
(``zoo_records.py``). A plugin failing to unload is scanned here with both launchers.
"""

from __future__ import annotations

import os
import sqlite3
import uuid
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from pathlib import Path

import anyio
import pytest

from pluginary.paths import cache_paths
from pluginary.scan_models import ScanOptions, ScanResult
from pluginary.scanner.containment import NO_NAMESPACE_ENV
from pluginary.scanner.engine import Scanner
from pluginary.scanner.launcher import ForkServerLauncher
from pluginary.scanner.launchers import LAUNCHER_ENV
from pluginary.scanner.pool import WorkerPoolLauncher
from pluginary.scanner.runs import ProbeLauncher
from processes import processes_with_env, wait_until
from zoo_bundles import UNLOAD_BEHAVIOURS, zoo_name
from zoo_records import (
    GROUPS_ONLY,
    MEMORY_MIB,
    OUTPUT_MIB,
    POOL_RECYCLE,
    REAL,
    RETRY_SCAN_TIMEOUT,
    TIMEOUT,
    as_retried,
    culprit_problems,
    read_records,
    zoo_scan_names,
)

pytestmark = pytest.mark.worker

WATCHDOG = 4.0  # The fork server says it is alive every second; only a stopped one goes quiet.


def _launcher(scratch: Path) -> AbstractAsyncContextManager[ProbeLauncher]:
    if os.environ.get(LAUNCHER_ENV) == "pool":
        return WorkerPoolLauncher(scratch, recycle_after=POOL_RECYCLE)
    return ForkServerLauncher(scratch, watchdog_seconds=WATCHDOG)


def _scan(
    cache: Path, folder: Path, log: Callable[[str], None], timeout: float = TIMEOUT
) -> ScanResult:
    scanner = Scanner(
        cache_paths(cache), launcher=_launcher, log=log, standard_folders=lambda fmt: []
    )
    options = ScanOptions(
        folders=(str(folder),),
        only_folders=True,
        workers=2,
        timeout_seconds=timeout,
        memory_limit_mib=MEMORY_MIB,
        output_limit_mib=OUTPUT_MIB,
    )
    return anyio.run(scanner.scan, options)


# Without the namespace; with it, and through the pool: tests/failsafe/test_hostile_zoo.py.
def test_a_scan_of_the_zoo_beside_real_plugins_blames_each_and_only_its_culprit(
    zoo: dict[str, Path],
    real_plugins: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    expected = GROUPS_ONLY
    marker = uuid.uuid4().hex
    monkeypatch.setenv("PLUGINARY_ZOO_SCAN", marker)  # Every process of the scan inherits it.
    monkeypatch.setenv("ZOO_SLEEP_MS", "1000")
    monkeypatch.setenv(NO_NAMESPACE_ENV, "1")
    monkeypatch.setenv(LAUNCHER_ENV, "forkserver")
    folder = tmp_path / "plugins"
    folder.mkdir()
    for name in REAL:
        (folder / name).symlink_to(real_plugins / name)
    names = zoo_scan_names(expected)
    for name in names:
        (folder / f"{name}.vst3").symlink_to(zoo[name])
    logs: list[str] = []

    result = _scan(tmp_path / "cache", folder, logs.append)

    records = read_records(tmp_path / "cache")
    for name in REAL:
        assert [status for _, status, _ in records[Path(name).stem]] == ["ok"]
    assert records["zoo-ok"] == [("zoo-ok", "ok", None)]
    problems = culprit_problems(records, expected)
    assert not problems, "\n".join(problems + logs)
    summary = result.summary
    assert summary.discovered == len(names) + len(REAL)
    assert summary.probed == summary.discovered
    # Nothing any plugin started outlives the scan, whatever it did to escape.
    wait_until(
        lambda: not processes_with_env(f"PLUGINARY_ZOO_SCAN={marker}"),
        "no process of the scan is left",
        timeout=30,
    )
    assert os.listdir(cache_paths(tmp_path / "cache").probes) in ([], ["shadows"])

    # The next scan is clean: it probes only the timed-out bundles again, once, with twice its
    # timeout, and they hang again: the same records, but for the limit each names.
    timed_out = sum(status == "timeout" for rows in records.values() for _, status, _ in rows)
    again = _scan(tmp_path / "cache", folder, logs.append, RETRY_SCAN_TIMEOUT).summary
    assert (again.probed, again.retried, again.timed_out) == (timed_out, timed_out, timed_out)
    assert again.unchanged == summary.discovered - timed_out
    last = _scan(tmp_path / "cache", folder, logs.append).summary
    assert (last.probed, last.unchanged) == (0, summary.discovered)
    assert read_records(tmp_path / "cache") == as_retried(records)


# A plugin that fails in ModuleExit has loaded, reported and processed audio first: its record
# keeps all of that, says the failure came while unloading, and the bundle is not retried as if
# it had never loaded.
UNLOADING: dict[str, tuple[str, str]] = {
    "segfault": ("crashed", "the probe died with SIGSEGV"),
    "abort": ("crashed", "the probe died with SIGABRT"),
    "exit3": ("crashed", "the probe exited with status 3"),
    "hang": ("timeout", f"did not finish within {TIMEOUT:g} s"),
}


@pytest.mark.parametrize("isolation", ["pid-namespace", "pool"])
def test_a_plugin_that_fails_to_unload_keeps_what_loading_learnt(
    isolation: str, zoo: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert set(UNLOADING) == set(UNLOAD_BEHAVIOURS)
    monkeypatch.setenv(LAUNCHER_ENV, "pool" if isolation == "pool" else "forkserver")
    folder = tmp_path / "plugins"
    folder.mkdir()
    names = ["zoo-ok", *(zoo_name(behaviour, "unload") for behaviour in UNLOADING)]
    for name in names:
        (folder / f"{name}.vst3").symlink_to(zoo[name])

    summary = _scan(tmp_path / "cache", folder, lambda line: None).summary

    db = sqlite3.connect(cache_paths(tmp_path / "cache").catalog)
    try:
        rows = {
            name: (status, error, audio_ok, latency)
            for name, status, error, audio_ok, latency in db.execute(
                "SELECT class_name, status, error, audio_ok, latency_samples FROM plugins"
            )
        }
    finally:
        db.close()
    assert rows.pop("zoo-ok") == ("ok", None, 1, 0)
    for behaviour, (status, error) in UNLOADING.items():
        # Loading and the audio check were reported before the plugin failed to unload.
        got_status, got_error, audio_ok, latency = rows[zoo_name(behaviour, "unload")]
        assert (got_status, audio_ok, latency) == (status, 1, 0), behaviour
        assert got_error.startswith(error) and got_error.endswith(" while unloading"), got_error
    assert summary.probed == len(names)
