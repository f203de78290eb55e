"""Fault 7: two sidecars on one cache. One scan runs; the other is refused, naming the owner; both
answer queries throughout; a lock left by a SIGKILLed owner is simply taken over."""

from __future__ import annotations

import json
import shutil
import signal
from collections.abc import Callable
from pathlib import Path

import pytest
from faultkit import Launch, loading, scan_params
from ledger import Ledger
from rawclient import Sidecar, wait_gone

from pluginary.paths import cache_paths
from pluginary.scanner.lock import scan_lock

pytestmark = pytest.mark.failsafe

SCAN_IN_PROGRESS, REQUEST_CANCELLED = 1001, -32800


def hangs(sidecar: Sidecar, token: str) -> None:
    """Wait until the scan on ``token`` has settled all but the hanging plugin."""
    sidecar.wait_for(
        lambda: any(r["message"].startswith("22/23") for r in sidecar.reports(token)),
        "the scan to hold on the hanging plugin",
    )


def test_two_sidecars_scanning_at_once_run_exactly_one_scan(
    launch: Launch,
    folder: Callable[..., Path],
    misbehaving_plugins: dict[str, Path],
    ledger: Ledger,
) -> None:
    plugins = folder(extra=(misbehaving_plugins["hang"],))
    one = launch()
    two = launch(one.cache)
    for sidecar in (one, two):
        sidecar.initialize()
    params = scan_params(plugins, workers=2, timeoutSeconds=600)
    # Written back to back: both scans are asked for at the same moment.
    asked = {
        sidecar: sidecar.request("pluginary/scan", {**params, "workDoneToken": "s"})
        for sidecar in (one, two)
    }
    loser = one.wait_for(
        lambda: next(
            (s for s in asked if any(m.get("id") == asked[s] for m in s.responses())), None
        ),
        "one of the two scans to be refused",
    )
    winner = two if loser is one else one
    refused = loser.response(asked[loser])["error"]
    assert refused["code"] == SCAN_IN_PROGRESS
    owner = refused["data"]["owner"]
    assert owner["pid"] == winner.pid and str(winner.pid) in refused["message"]
    assert loser.processes() == {loser.pid}  # The loser started no fork server, no probe.

    hangs(winner, "s")
    running = winner.result("pluginary/status")["running"]
    assert owner["scanId"] == running["scanId"]
    assert loser.result("pluginary/status")["running"]["pid"] == winner.pid
    # Both answer queries throughout (nothing is committed before the scan ends).
    for sidecar in (one, two):
        assert sidecar.result("pluginary/query", {})["total"] == 0
        assert sidecar.error("pluginary/scan", params).code == SCAN_IN_PROGRESS
    winner.notify("$/cancelRequest", {"id": asked[winner]})
    assert winner.response(asked[winner])["error"]["code"] == REQUEST_CANCELLED

    # The scan is the journal's, not the winner's: the other sidecar finishes it.
    shutil.rmtree(plugins / "zz")
    summary = loser.result("pluginary/resume")
    assert (summary["discovered"], summary["ok"], summary["failed"]) == (23, 19, 4)
    for sidecar in (one, two):
        status = sidecar.result("pluginary/status")
        assert status["counts"]["plugins"] == 23 and status["running"] is None
        assert sidecar.shutdown() == 0
    ledger.record(
        "two-sidecars",
        "one scan ran; the other was refused ScanInProgress (1001) naming the owner's pid and"
        " scan; both answered queries meanwhile",
    )


def test_a_lock_left_by_a_sigkilled_sidecar_is_taken_over(
    launch: Launch,
    folder: Callable[..., Path],
    misbehaving_plugins: dict[str, Path],
    ledger: Ledger,
) -> None:
    plugins = folder(extra=(misbehaving_plugins["hang"],))
    dead = launch()
    dead.initialize()
    dead.request(
        "pluginary/scan", scan_params(plugins, workers=2, timeoutSeconds=600, workDoneToken="s")
    )
    hangs(dead, "s")
    pids = dead.processes()
    dead.signal(signal.SIGKILL)
    assert dead.wait_exit() == -signal.SIGKILL
    wait_gone(pids, "the killed sidecar's processes", timeout=2.0)
    owner = cache_paths(dead.cache).scan_owner
    assert json.loads(owner.read_text())["pid"] == dead.pid  # The owner file still names it.

    heir = launch(dead.cache)
    heir.initialize()
    status = heir.result("pluginary/status")
    assert status["running"] is None  # The kernel released the dead owner's lock.
    assert (status["interrupted"]["done"], status["interrupted"]["total"]) == (22, 23)
    shutil.rmtree(plugins / "zz")
    resume = heir.request("pluginary/resume", {"workDoneToken": "r"})
    heir.wait_for(lambda: heir.reports("r"), "the resume to start")
    summary = heir.response(resume)["result"]
    assert (summary["ok"], summary["failed"]) == (19, 4)
    assert heir.result("pluginary/status")["interrupted"] is None
    assert heir.shutdown() == 0
    ledger.record(
        "stale-lock",
        "the next sidecar saw no running scan, took the lock over and resumed the scan",
    )


def test_a_sidecar_with_nothing_to_commit_takes_no_lock_at_start(launch: Launch) -> None:
    # Regression: every sidecar used to take the scan lock at start-up to look for a commit to
    # complete, so two sidecars starting together could refuse each other's first scans.
    sidecar = launch()
    paths = cache_paths(sidecar.cache).ensure()
    with scan_lock(paths.scan_lock, "held-by-the-test"):
        sidecar.initialize()
        assert sidecar.result("pluginary/status")["running"]["scanId"] == "held-by-the-test"
        refused = sidecar.error("pluginary/scan", {"folders": [], "onlyFolders": True})
        assert refused.code == SCAN_IN_PROGRESS
    assert not [m for m in sidecar.logs() if "not completing pending commits" in m]
    assert sidecar.result("pluginary/scan", {"folders": [], "onlyFolders": True})["discovered"] == 0
    assert sidecar.shutdown() == 0


def test_a_resume_in_another_sidecar_is_named_by_its_scan_id(
    launch: Launch, folder: Callable[..., Path], misbehaving_plugins: dict[str, Path]
) -> None:
    plugins = folder("ZamComp.vst3", extra=(misbehaving_plugins["hang"],))
    first = launch()
    first.initialize()
    first.request("pluginary/scan", scan_params(plugins, timeoutSeconds=600, workers=1))
    first.wait_for(lambda: named_hang(first), "the hanging plugin to load")
    first.signal(signal.SIGKILL)
    assert first.wait_exit() == -signal.SIGKILL
    resuming = launch(first.cache)
    resuming.initialize()
    scan_id = resuming.result("pluginary/status")["interrupted"]["scanId"]
    resuming.request("pluginary/resume", {"workDoneToken": "r"})
    resuming.wait_for(lambda: resuming.reports("r"), "the resume to start")
    other = launch(first.cache)
    other.initialize()
    try:
        assert other.result("pluginary/status")["running"]["scanId"] == scan_id
    finally:
        for sidecar in (resuming, other):
            sidecar.signal(signal.SIGTERM)
            sidecar.wait_exit()


def named_hang(sidecar: Sidecar) -> bool:
    return bool(loading("hang.so", sidecar.processes()))
