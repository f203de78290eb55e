"""Fault 3: the sidecar SIGKILLed mid-scan; a new sidecar shows the interrupted scan and resumes it.

Kill points are seeded with ``PLUGINARY_FAULT`` (the sidecar SIGKILLs itself after 0, 1, half and
all but one of the 22 results) and one is a SIGKILL from outside once half the probes settled.
The resume must probe only what was pending or in flight:

- the bundles already settled are removed from disk before the resume, so probing one again
  would record it as failed and the catalogue would differ from the clean scan's;
- the resuming sidecar runs with ``probe:after-result@K+1``, K the unsettled tasks: it would die
  on its K+1-th probe result. It survives and settles all K, so it probed exactly K.

The final catalogue must equal, row for row, the catalogue of a clean uninterrupted scan.
"""

from __future__ import annotations

import signal
import time
from pathlib import Path

import pytest
from faultkit import (
    REAL_BUNDLES,
    SETTLED,
    Dump,
    Launch,
    catalog_dump,
    differences,
    journal_scan,
    journal_tasks,
    scan_params,
)
from ledger import Ledger
from rawclient import wait_gone

pytestmark = pytest.mark.failsafe

POINTS = {
    "after 0 results": "probe:started@1",
    "after 1 result": "probe:after-result@1",
    "after half": "probe:after-result@11",
    "after all but one": "probe:after-result@21",
    "from outside, after half": None,
}


@pytest.mark.parametrize("launcher", ["forkserver", "pool"])
@pytest.mark.parametrize("where", POINTS)
def test_a_sidecar_killed_mid_scan_resumes_to_the_clean_catalogue(
    where: str,
    launcher: str,
    launch: Launch,
    real_folder: Path,
    clean_real: Dump,
    ledger: Ledger,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PLUGINARY_LAUNCHER", launcher)  # Every sidecar here inherits it.
    plugins = real_folder
    point = POINTS[where]
    killed = launch(env={"PLUGINARY_FAULT": point} if point else None)
    killed.initialize()
    pids = {killed.pid}
    killed.request("pluginary/scan", scan_params(plugins, workers=2, workDoneToken="scan"))
    if point is None:
        killed.wait_for(
            lambda: any(r["percentage"] >= 50 for r in killed.reports("scan")), "half settled"
        )
        pids |= killed.processes()
        killed.signal(signal.SIGKILL)
    assert killed.wait_exit() == -signal.SIGKILL
    # No probe outlives the sidecar: the fork server dies with it and kills its probes; the
    # pool's guard kills its workers.
    gone = wait_gone(pids | killed.processes(), "the killed sidecar's processes", timeout=2.0)
    assert not killed.processes()
    assert catalog_dump(killed.cache, plugins) in (
        {},
        {"plugins": [], "bundles": [], "parameters": []},
    )

    scan_id, state = journal_scan(killed.cache) or ("", "")
    tasks = journal_tasks(killed.cache)
    settled = [bundle for _, bundle, task_state, _ in tasks if task_state in SETTLED]
    unsettled = len(tasks) - len(settled)
    if point and "after-result" in point:
        assert len(settled) == int(point.rpartition("@")[2])
    # The settled bundles leave the disk: probing one again could only fail.
    for bundle in settled:
        Path(bundle).unlink()

    resumer = launch(env={"PLUGINARY_FAULT": f"probe:after-result@{unsettled + 1}"})
    resumer.initialize()
    interrupted = resumer.result("pluginary/status")["interrupted"]
    assert interrupted["scanId"] == scan_id and state == "probing"
    assert (interrupted["state"], interrupted["done"], interrupted["total"]) == (
        "probing",
        len(settled),
        REAL_BUNDLES,
    )
    started = time.monotonic()
    summary = resumer.result("pluginary/resume", {"workDoneToken": "resume"})
    resumed = time.monotonic() - started
    first = resumer.reports("resume")[0]["message"]
    assert first == f"{len(settled)}/{REAL_BUNDLES} starting"
    assert summary["scanId"] == scan_id
    assert (summary["discovered"], summary["probed"], summary["ok"], summary["failed"]) == (
        REAL_BUNDLES,
        REAL_BUNDLES,
        19,
        3,
    )
    (changed,) = resumer.notifications("pluginary/catalogChanged")
    assert len(changed["added"]) == REAL_BUNDLES
    # Row for row, whichever launcher: a worker that probed other plugins first describes a
    # plugin as a fresh process does (``discrete`` comes from the native step count now).
    resumed_dump = catalog_dump(resumer.cache, plugins)
    difference = differences(resumed_dump, clean_real)
    assert not difference, "\n".join(difference)  # Row for row.
    status = resumer.result("pluginary/status")
    assert status["interrupted"] is None and status["lastScan"]["scanId"] == scan_id
    assert resumer.shutdown() == 0  # The tripwire at result K+1 never fired.
    ledger.record(
        "sidecar-sigkill" if point else "sidecar-sigkill-external",
        "status showed the scan interrupted; resume probed exactly the unsettled tasks;"
        " catalogue equal to a clean scan's, row for row",
        resume=resumed,
        # Only a kill from outside has a known moment to measure from.
        **({} if point else {"processes_gone_after_sigkill": gone}),
    )
