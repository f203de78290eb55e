"""Kill a real scanner at seeded points: the journal resumes; the commit is all or nothing."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import uuid
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import pytest

from pluginary.paths import cache_paths
from pluginary.scanner.engine import Scanner
from pluginary.scanner.journal import Journal
from pluginary.scanner.launcher import ForkServerLauncher
from pluginary.scanner.runs import ProbeLimits, ProbeRequest, ProbeRun
from processes import processes_with_env, wait_until
from scan_helpers import (
    SCAN_SCRIPT,
    copy_bundles,
    dump_catalog,
    running_bundles,
    scan,
    scan_in_subprocess,
)

pytestmark = pytest.mark.worker

BUNDLES = 22


class CountingLauncher(ForkServerLauncher):
    """The real launcher, counting the probes it runs."""

    probes: list[str]

    async def probe(self, request: ProbeRequest, limits: ProbeLimits) -> ProbeRun:
        self.probes.append(request.bundle)
        return await super().probe(request, limits)


def counting_scanner(cache: Path) -> tuple[Scanner, list[str]]:
    probed: list[str] = []

    @asynccontextmanager
    async def launcher(scratch: Path):  # type: ignore[no-untyped-def]
        async with CountingLauncher(scratch) as counting:
            counting.probes = probed
            yield counting

    return Scanner(cache_paths(cache), launcher=launcher, standard_folders=lambda fmt: []), probed


def fault_env(point: str) -> dict[str, str]:
    return {**os.environ, "PLUGINARY_FAULT": point}


def unsettled(cache: Path) -> int:
    journal, problem = Journal.open(cache_paths(cache).journal)
    try:
        assert problem is None
        plan = journal.current()
        assert plan is not None and plan.state == "probing"
        return sum(task.state in ("pending", "running") for task in journal.tasks(plan.id))
    finally:
        journal.close()


@pytest.fixture(scope="module")
def clean_catalog(real_plugins: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    cache = tmp_path_factory.mktemp("clean")
    scan(cache, real_plugins, workers=2)
    return dump_catalog(cache_paths(cache))


@pytest.mark.parametrize(
    "point",
    ["probe:started@1", "probe:after-result@1", "probe:after-result@11", "probe:after-result@21"],
)
def test_killed_scan_resumes_to_the_clean_catalogue(
    point: str, real_plugins: Path, tmp_path: Path, clean_catalog: dict[str, Any]
) -> None:
    cache = tmp_path / "cache"
    killed = scan_in_subprocess(cache, "scan", [real_plugins], fault_env(point))
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    assert dump_catalog(cache_paths(cache)) in (
        {},
        {"plugins": [], "bundles": [], "parameters": []},
    )
    left = unsettled(cache)
    settled = int(point.rpartition("@")[2]) if "after-result" in point else 0
    assert left == BUNDLES - settled

    scanner, probed = counting_scanner(cache)
    assert scanner.interrupted() is not None
    result = anyio.run(scanner.resume)
    assert len(probed) == left  # Only what was pending or in flight.
    assert result.summary.ok + result.summary.failed == BUNDLES
    assert dump_catalog(cache_paths(cache)) == clean_catalog
    assert scanner.interrupted() is None


def test_a_bundle_that_kills_the_scanner_twice_is_blamed(
    real_plugins: Path, tmp_path: Path
) -> None:
    folder = copy_bundles(real_plugins, ["ZamComp.vst3", "ZamGate.vst3"], tmp_path / "plugins")
    cache = tmp_path / "cache"
    for command in ("scan", "resume"):
        died = scan_in_subprocess(cache, command, [folder], fault_env("probe:started@1"))
        assert died.returncode == -signal.SIGKILL
    scanner, probed = counting_scanner(cache)
    result = anyio.run(scanner.resume)
    # Whichever task was running at both deaths is settled "crashed" without a third try.
    assert result.summary.crashed == 1
    assert len(probed) == 1
    crashed_record = dump_catalog(cache_paths(cache))["plugins"]
    assert sum(row.count("crashed") for row in crashed_record) == 1


@pytest.mark.parametrize("point", ["commit:before", "commit:mid", "commit:after"])
def test_crash_around_the_commit_loses_nothing(
    point: str, real_plugins: Path, tmp_path: Path
) -> None:
    folder = copy_bundles(real_plugins, ["ZamComp.vst3", "ZamGate.vst3"], tmp_path / "plugins")
    cache = tmp_path / "cache"
    scan(cache, folder)
    before = dump_catalog(cache_paths(cache))
    copy_bundles(real_plugins, ["ZamTube.vst3"], folder)
    (folder / "ZamGate.vst3").rename(tmp_path / "ZamGate.vst3")

    died = scan_in_subprocess(cache, "scan", [folder], fault_env(point))
    assert died.returncode == -signal.SIGKILL
    after_crash = dump_catalog(cache_paths(cache))
    if point == "commit:after":
        assert after_crash != before  # The transaction had committed; only retirement was left.
    else:
        assert after_crash == before  # Untouched, row for row.
    journal, _ = Journal.open(cache_paths(cache).journal)
    plan = journal.current()
    journal.close()
    assert plan is not None and plan.state == "settled"  # The journal is preserved.

    scanner, probed = counting_scanner(cache)
    anyio.run(scanner.complete_settled)
    assert probed == []  # Completing the commit probes nothing again.
    assert scanner.interrupted() is None
    names = {row[5] for row in dump_catalog(cache_paths(cache))["plugins"]}
    assert names == {"ZamComp", "ZamTube"}


def test_killing_the_scanner_leaves_no_probe_behind(
    real_plugins: Path, misbehaving_plugins: dict[str, Path], tmp_path: Path
) -> None:
    folder = copy_bundles(real_plugins, ["ZamComp.vst3"], tmp_path / "plugins")
    shutil.copytree(misbehaving_plugins["hang"], folder / "hang.vst3", symlinks=True)
    cache = tmp_path / "cache"
    marker = f"PLUGINARY_TEST_TOKEN={uuid.uuid4().hex}"
    env = {**os.environ, marker.split("=")[0]: marker.split("=")[1]}
    scanner = subprocess.Popen(
        [sys.executable, "-c", SCAN_SCRIPT, str(cache), "scan", str(folder)], env=env
    )
    try:
        # The hanging probe runs once the scanner, its fork server and the probe all carry the
        # marker: three processes at least.
        wait_until(lambda: len(processes_with_env(marker)) >= 3, "the hanging probe runs")
        wait_until(
            lambda: [Path(b).name for b in running_bundles(cache)] == ["hang.vst3"],
            "the journal shows the hang running",
        )
    finally:
        scanner.kill()
        scanner.wait()
    wait_until(lambda: not processes_with_env(marker), "every process of the scan is gone")
    assert unsettled(cache) == 1  # The hang is resumable; ZamComp settled.
