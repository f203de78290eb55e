"""The hostile plugin zoo beside real plugins, through the real scanner (issue 12).

One scan of every zoo bundle (``tests/zoo/``) with real plugins beside them must answer a summary,
keep the real plugins ok, give every hostile bundle the record naming what it did, leave nothing
running, and leave a catalogue the next scan finds unchanged. The scan runs with the fork server's
PID namespace (the default here) and again without it (process groups and a subreaper only), for
the behaviours where the two differ.
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
from zoo_bundles import BEHAVIOURS, STAGES, UNLOAD_BEHAVIOURS, zoo_name

pytestmark = pytest.mark.worker

REAL = ("ZamComp.vst3", "ZamGate.vst3")
# Tight only for the bundles built to hang; real plugins here load in well under a second.
TIMEOUT = 6.0
# The second scan probes only the bundles that timed out, every one of them built to hang: its
# timeout (twice this, as a retry's) only sets how long we wait for each to hang again.
RETRY_SCAN_TIMEOUT = 1.0
MEMORY_MIB = 512.0
OUTPUT_MIB = 8.0
WATCHDOG = 4.0  # The fork server says it is alive every second; only a stopped one goes quiet.

OK = ("ok", None)
TIMEOUT_RECORD = ("timeout", f"did not finish within {TIMEOUT:g} s")
EARLY_EXIT = ("crashed", "the probe exited with status 0 before it finished")
LOST_ALONE = ("crashed", "the probe server went down while probing it alone")

# (status, start of the error) by behaviour, the same at both stages unless a stage is named.
# In a PID namespace a plugin's signals to its parent are dropped by the kernel (the zoo does not
# even try: its parent is pid 1 there), so those plugins just load.
NAMESPACED: dict[str, tuple[str, str | None]] = {
    "kill_parent": OK,
    "term_parent_group": OK,
    "stop_parent": OK,
    "join_parent_group": TIMEOUT_RECORD,
    "daemon": OK,
    "exit0": EARLY_EXIT,
    "exit3": ("crashed", "the probe exited with status 3"),
    "exec_true": EARLY_EXIT,
    "abort": ("crashed", "the probe died with SIGABRT"),
    "self_sigkill": ("crashed", "the probe died with SIGKILL"),
    "self_sigstop": TIMEOUT_RECORD,
    "segfault": ("crashed", "the probe died with SIGSEGV"),
    "hang": TIMEOUT_RECORD,
    "spin": TIMEOUT_RECORD,
    "slow": OK,
    "memory_hog": ("crashed", f"exceeded its memory limit of {MEMORY_MIB:g} MiB"),
    "output_flood": ("crashed", f"exceeded its output limit of {OUTPUT_MIB:g} MiB"),
    "garbage_reports": ("failed", "the plugin corrupted the probe's report"),
    "close_fds": ("crashed", "the probe failed (status 70)"),
    "background_exit": EARLY_EXIT,
    "fork_many": OK,
}
# Without the namespace the signals reach the fork server: it is restarted, the bundle probed
# again alone, and blamed when it takes the server down again. A stopped fork server is resumed
# by the kernel itself when the probe exits (its process group is orphaned: SIGHUP, SIGCONT),
# so whether its watchdog or the kernel acts first, the outcome is one of two honest ones. A
# SIGTERM only asks the server to stop: a probe that finished meanwhile is still reported, and
# then it was a plugin that loaded (as in the namespace); otherwise it is probed again alone.
GROUPS_ONLY: dict[str, tuple[str, str | None] | list[tuple[str, str | None]]] = {
    "kill_parent": LOST_ALONE,
    "term_parent_group": [LOST_ALONE, OK],
    "stop_parent": [OK, LOST_ALONE],
    "join_parent_group": TIMEOUT_RECORD,
    "daemon": OK,
    "fork_many": OK,
    "segfault": NAMESPACED["segfault"],
    "background_exit": EARLY_EXIT,
}
# The worker pool (issue 14) runs plugins in workers it started itself, each under a nanny in a
# session of its own, with no namespace, subreaper or process table: its Linux runs have macOS
# semantics. A plugin's signals to its parent reach the nanny, never the scanner: killed or
# stopped, the nanny leaves the worker to finish the probe; a SIGTERM to its group ends both,
# and the probe, probed again alone, is that plugin's crash. A daemon that escapes its session
# is found by the token its worker's environment gave it. A plugin that ends its process from a
# thread a moment after loading has usually been reported by then: the pool records it as it
# loaded, and the bundle probed next in that worker, which takes the crash, is probed again in a
# fresh worker and recorded as it is. A plugin whose allocation fails at the worker's memory
# limit is told apart from a plain crash by the peak its nanny measured.
POOL: dict[str, tuple[str, str | None] | list[tuple[str, str | None]]] = {
    **NAMESPACED,
    "term_parent_group": ("crashed", "the probe died with SIGTERM"),
    "close_fds": ("crashed", "the probe exited with status 1"),  # Its worker's channel too.
    "background_exit": [OK, EARLY_EXIT],
}
# Small, so that the zoo's scan replaces every worker a few times.
POOL_RECYCLE = 3


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


def _records(cache: Path) -> dict[str, list[tuple[str | None, str, str | None]]]:
    """(class, status, error) of every plugin row, by bundle stem."""
    db = sqlite3.connect(cache_paths(cache).catalog)
    try:
        rows = db.execute("SELECT path, class_name, status, error FROM plugins ORDER BY path")
        found: dict[str, list[tuple[str | None, str, str | None]]] = {}
        for path, class_name, status, error in rows:
            found.setdefault(Path(path).stem, []).append((class_name, status, error))
        return found
    finally:
        db.close()


@pytest.mark.parametrize("isolation", ["pid-namespace", "process-group", "pool"])
def test_a_scan_of_the_zoo_beside_real_plugins_blames_each_and_only_its_culprit(
    isolation: str,
    zoo: dict[str, Path],
    real_plugins: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    expected = {"pid-namespace": dict(NAMESPACED), "process-group": GROUPS_ONLY, "pool": POOL}[
        isolation
    ]
    marker = uuid.uuid4().hex
    monkeypatch.setenv("PLUGINARY_ZOO_SCAN", marker)  # Every process of the scan inherits it.
    monkeypatch.setenv("ZOO_SLEEP_MS", "1000")
    if isolation == "process-group":
        monkeypatch.setenv(NO_NAMESPACE_ENV, "1")
    monkeypatch.setenv(LAUNCHER_ENV, "pool" if isolation == "pool" else "forkserver")
    folder = tmp_path / "plugins"
    folder.mkdir()
    for name in REAL:
        (folder / name).symlink_to(real_plugins / name)
    names = ["zoo-ok"] + [zoo_name(b, s) for b in BEHAVIOURS if b in expected for s in STAGES]
    for name in names:
        (folder / f"{name}.vst3").symlink_to(zoo[name])
    logs: list[str] = []

    result = _scan(tmp_path / "cache", folder, logs.append)

    records = _records(tmp_path / "cache")
    for name in REAL:
        assert [status for _, status, _ in records[Path(name).stem]] == ["ok"]
    assert records["zoo-ok"] == [("zoo-ok", "ok", None)]
    problems = []
    for behaviour, wanted in expected.items():
        options = wanted if isinstance(wanted, list) else [wanted]
        for stage in STAGES:
            name = zoo_name(behaviour, stage)
            rows = records.get(name)
            # One record per bundle: its class, or the bundle itself when it broke before
            # naming its classes.
            if rows is None or len(rows) != 1:
                problems.append(f"{name}: {rows}")
                continue
            ((class_name, got_status, got_error),) = rows
            if not any(
                got_status == status and (error is None or (got_error or "").startswith(error))
                for status, error in options
            ):
                problems.append(f"{name}: {got_status} {got_error!r}, wanted {options}")
            if class_name not in (name, None):
                problems.append(f"{name}: blamed on class {class_name!r}")
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
    first, retried = f"within {TIMEOUT:g} s", f"within {RETRY_SCAN_TIMEOUT * 2:g} s"
    assert _records(tmp_path / "cache") == {
        stem: [
            (name, status, (error or "").replace(first, retried) if status == "timeout" else error)
            for name, status, error in rows
        ]
        for stem, rows in records.items()
    }


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
