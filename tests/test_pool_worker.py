"""The worker-pool launcher (issue 14) on its own: workers replaced, recycled, killed whole.

Every probe here is a real one, in a real worker, of a real bundle: the zoo's (built to crash,
hang or exit at a chosen moment) and real plugins. The pool runs in its portable mode, the only
one it has: on Linux it uses nothing macOS lacks.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import anyio
import pytest

from pluginary.paths import cache_paths
from pluginary.scan_models import ScanOptions
from pluginary.scanner.engine import Scanner
from pluginary.scanner.launcher import ForkServerLauncher
from pluginary.scanner.pool import WorkerPoolLauncher
from pluginary.scanner.processtree import PosixGroups
from pluginary.scanner.runs import ProbeLimits, ProbeRequest, ProbeRun
from processes import alive, processes_with_env, wait_until
from scan_helpers import dump_catalog, running_bundles

pytestmark = pytest.mark.worker

# Generous: only the bundles built to hang ever reach it.
LIMITS = ProbeLimits(timeout_seconds=60.0)


class CountedGroups(PosixGroups):
    """The pool's real process trees, counting the workers it starts."""

    def __init__(self) -> None:
        super().__init__()
        self.started: list[int] = []

    def adopt(self, pid: int, token: str | None = None) -> None:
        self.started.append(pid)
        super().adopt(pid, token)


async def _probe_each(
    tmp_path: Path,
    bundles: list[Path],
    *,
    recycle_after: int = 32,
    limits: ProbeLimits = LIMITS,
) -> tuple[list[ProbeRun], CountedGroups, list[str]]:
    """Probe ``bundles`` one after another in one pool; the runs, its workers and its log."""
    scratch = tmp_path / "probes"
    scratch.mkdir(exist_ok=True)
    groups, logs = CountedGroups(), []
    runs = []
    async with WorkerPoolLauncher(
        scratch, recycle_after=recycle_after, trees=groups, log=logs.append
    ) as pool:
        for task, bundle in enumerate(bundles):
            runs.append(await pool.probe(ProbeRequest(task, str(bundle)), limits))
    return runs, groups, logs


def _names(run: ProbeRun) -> list[str]:
    return [e["class"] for e in run.events if e.get("event") == "result" and e["status"] == "ok"]


def test_a_worker_probes_bundle_after_bundle_until_it_is_recycled(
    real_plugins: Path, tmp_path: Path
) -> None:
    bundles = [real_plugins / f"{name}.vst3" for name in ("ZamComp", "ZamGate", "ZamTube")] * 2
    runs, groups, _ = anyio.run(lambda: _probe_each(tmp_path, bundles, recycle_after=2))
    assert all(run.finished for run in runs)
    assert [_names(run) for run in runs[:3]] == [["ZamComp"], ["ZamGate"], ["ZamTube"]]
    assert len(groups.started) == 3  # Six probes, two a worker.
    wait_until(lambda: not any(alive(pid) for pid in groups.started), "every worker gone")

    runs, groups, _ = anyio.run(lambda: _probe_each(tmp_path, bundles, recycle_after=1))
    assert all(run.finished for run in runs) and len(groups.started) == 6


def test_a_crash_ends_its_worker_and_the_next_bundle_gets_a_fresh_one(
    zoo: dict[str, Path], tmp_path: Path
) -> None:
    bundles = [zoo["zoo-segfault-load"], zoo["zoo-ok"], zoo["zoo-exit3-load"], zoo["zoo-ok"]]
    runs, groups, logs = anyio.run(lambda: _probe_each(tmp_path, bundles))
    assert (runs[0].signal, runs[0].finished) == ("SIGSEGV", False)
    assert runs[1].finished and _names(runs[1]) == ["zoo-ok"]
    assert (runs[2].exit_code, runs[2].finished) == (3, False)
    assert runs[3].finished
    # The segfault came first in its worker: nothing before it to suspect, so no second try.
    # The exit came after a probe: it is tried once more in a fresh worker, and exits again.
    assert len(groups.started) == 4
    assert len(logs) == 1 and "zoo-exit3-load" in logs[0] and "fresh worker" in logs[0]


def test_a_hang_is_killed_at_its_limit_with_its_worker(
    zoo: dict[str, Path], real_plugins: Path, tmp_path: Path
) -> None:
    bundles = [zoo["zoo-hang-load"], real_plugins / "ZamComp.vst3"]
    # Tight only for the bundle built to hang (it only sets how long we wait for it to hang); the
    # real plugin is not held to it.
    runs, groups, _ = anyio.run(
        lambda: _probe_each(tmp_path, bundles[:1], limits=ProbeLimits(timeout_seconds=1.0))
    )
    assert (runs[0].limit, runs[0].finished) == ("time", False)
    wait_until(lambda: not alive(groups.started[0]), "the hung worker is gone")
    runs, _, _ = anyio.run(lambda: _probe_each(tmp_path, bundles[1:]))
    assert runs[0].finished


def test_a_thread_that_ends_the_worker_later_is_not_the_next_bundles_crash(
    zoo: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # background_exit starts a thread that ends the process a moment after the plugin loads:
    # by then its probe has reported, and the worker has moved on to `slow`, which takes the
    # crash. `slow` is probed again in a fresh worker, where it loads.
    monkeypatch.setenv("ZOO_SLEEP_MS", "2000")
    bundles = [zoo["zoo-background_exit-load"], zoo["zoo-slow-load"]]
    runs, groups, logs = anyio.run(lambda: _probe_each(tmp_path, bundles))
    assert runs[1].finished and _names(runs[1]) == ["zoo-slow-load"], runs[1]
    if len(groups.started) == 3:  # The thread fired during `slow`: a second try, logged.
        assert "zoo-slow-load" in logs[0] and "fresh worker" in logs[0]
    else:  # It fired before `slow` began (a slow machine): its probe had ended it early.
        assert not runs[0].finished


# In the parameters' rows of ``dump_catalog``: pedalboard's ``is_discrete`` reads memory JUCE has
# not initialised yet (issue 15), so its value depends on what the process did before.
DISCRETE = 14


@pytest.mark.parametrize("recycle_after", [1, 32])
def test_the_pool_and_the_fork_server_record_the_same_catalogue(
    recycle_after: int, real_plugins: Path, tmp_path: Path
) -> None:
    def scan(cache: Path, pool: bool) -> dict[str, Any]:
        def launcher(scratch: Path) -> Any:
            if pool:
                return WorkerPoolLauncher(scratch, recycle_after=recycle_after)
            return ForkServerLauncher(scratch)

        scanner = Scanner(cache_paths(cache), launcher=launcher, standard_folders=lambda fmt: [])
        options = ScanOptions(folders=(str(real_plugins),), only_folders=True, workers=2)
        anyio.run(scanner.scan, options)
        dump = dump_catalog(cache_paths(cache))  # Timings and scan ids left out.
        if recycle_after > 1:  # A worker that loaded other plugins first: see DISCRETE.
            dump["parameters"] = [
                row[:DISCRETE] + row[DISCRETE + 1 :] for row in dump["parameters"]
            ]
        return dump

    assert scan(tmp_path / "pool", True) == scan(tmp_path / "forkserver", False)


def test_killing_the_scanner_kills_its_workers(zoo: dict[str, Path], tmp_path: Path) -> None:
    # Nothing of Linux's (death signals, namespaces) holds the workers here: the guard does.
    folder = tmp_path / "plugins"
    folder.mkdir()
    (folder / "hang.vst3").symlink_to(zoo["zoo-hang-load"])
    cache = tmp_path / "cache"
    mark = f"PLUGINARY_POOL_TEST={uuid.uuid4().hex}"
    key, value = mark.split("=")
    args = ["scan", "--folder", str(folder), "--only", "--timeout", "600"]
    scanner = subprocess.Popen(
        [sys.executable, "-m", "pluginary", "--cache-dir", str(cache), *args],
        env={**os.environ, key: value, "PLUGINARY_LAUNCHER": "pool"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    wait_until(lambda: bool(running_bundles(cache)), "the hanging plugin is probed", 120)
    # The scanner, the guard and the worker.
    wait_until(lambda: len(processes_with_env(mark)) >= 3, "the worker started", 120)
    os.kill(scanner.pid, signal.SIGKILL)
    scanner.wait(timeout=60)
    wait_until(lambda: not processes_with_env(mark), "every process of the scan gone", 60)
