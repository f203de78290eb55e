"""Faults 1 and 2, through the sidecar: a probe that crashes or hangs is a record, not a failure.

The scan goes on and commits; the record says what happened (the signal, the timeout); nothing the
plugin started outlives its probe.
"""

from __future__ import annotations

import os
import re
import signal
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from faultkit import Launch, innermost_pids, loading, named, scan_params
from ledger import Ledger
from rawclient import Sidecar, wait_gone

pytestmark = [
    pytest.mark.failsafe,
    pytest.mark.skipif(not os.path.exists("/proc/self/maps"), reason="reads /proc"),
]


def the_one(sidecar: Sidecar, status: str) -> dict[str, Any]:
    """The full record of the single plugin with ``status``."""
    (summary,) = sidecar.result("pluginary/query", {"status": status})["plugins"]
    return dict(sidecar.result("pluginary/plugin", {"id": summary["id"]}))


def test_a_segfaulting_plugin_is_recorded_crashed_and_the_scan_commits(
    launch: Launch,
    folder: Callable[..., Path],
    misbehaving_plugins: dict[str, Path],
    ledger: Ledger,
) -> None:
    plugins = folder("ZamComp.vst3", "ZamGate.vst3", extra=(misbehaving_plugins["segfault"],))
    sidecar = launch()
    sidecar.initialize()
    summary = sidecar.result("pluginary/scan", scan_params(plugins, workers=2))
    assert (summary["discovered"], summary["ok"], summary["crashed"]) == (3, 2, 1)
    record = the_one(sidecar, "crashed")
    assert (record["signal"], record["exitCode"]) == ("SIGSEGV", None)
    assert "SIGSEGV" in record["error"]
    status = sidecar.result("pluginary/status")
    assert status["lastScan"]["scanId"] == summary["scanId"]  # Committed.
    assert status["counts"]["byStatus"] == {"ok": 2, "failed": 0, "timeout": 0, "crashed": 1}
    assert sidecar.shutdown() == 0
    ledger.record(
        "probe-segfault",
        f"record status {record['status']}, signal {record['signal']}; the scan committed"
        f" {status['counts']['plugins']} plugins",
    )


# Killings before the bundle is blamed: a SIGKILL while another probe ran beside it may have
# come from elsewhere, so the bundle is probed again alone; in the pool, a worker that had
# probed another bundle first is also not trusted with the verdict: a fresh one probes it.
KILLS_TO_BLAME = {"forkserver": 2, "pool": 3}


@pytest.mark.parametrize("launcher", ["forkserver", "pool"])
def test_a_probe_killed_from_outside_is_recorded_crashed_and_the_scan_commits(
    launcher: str,
    launch: Launch,
    folder: Callable[..., Path],
    misbehaving_plugins: dict[str, Path],
    ledger: Ledger,
) -> None:
    plugins = folder("ZamComp.vst3", extra=(misbehaving_plugins["hang"],))
    sidecar = launch(env={"PLUGINARY_LAUNCHER": launcher})
    sidecar.initialize()
    scan = sidecar.request("pluginary/scan", scan_params(plugins, timeoutSeconds=600, workers=2))
    killed: set[int] = set()

    def answered_or_loading() -> tuple[str, Any] | None:
        answer = next((m for m in sidecar.responses() if m.get("id") == scan), None)
        if answer is not None:
            return "answered", answer
        # No event says a probe is loading; the process table does (the probe maps hang.so).
        fresh = loading("hang.so", sidecar.processes()) - killed
        return ("loading", fresh) if fresh else None

    while True:
        kind, found = sidecar.wait_for(answered_or_loading, "hang.so loads, or the scan ends")
        if kind == "answered":
            break
        for pid in found:
            os.kill(pid, signal.SIGKILL)
            killed.add(pid)
    assert len(killed) == KILLS_TO_BLAME[launcher]
    summary = found["result"]
    assert (summary["ok"], summary["crashed"]) == (1, 1)
    record = the_one(sidecar, "crashed")
    assert record["signal"] == "SIGKILL" and "SIGKILL" in record["error"]
    assert sidecar.result("pluginary/status")["lastScan"]["scanId"] == summary["scanId"]
    assert sidecar.shutdown() == 0
    ledger.record(
        "probe-sigkill",
        f"record status {record['status']}, signal {record['signal']}; the scan committed",
    )


def test_a_hanging_plugin_times_out_and_takes_its_descendants_along(
    launch: Launch, folder: Callable[..., Path], hang_tree: Path, ledger: Ledger
) -> None:
    plugins = folder("ZamComp.vst3", extra=(hang_tree,))
    sidecar = launch()
    sidecar.initialize()
    scan = sidecar.request("pluginary/scan", scan_params(plugins, timeoutSeconds=1))
    helpers = sidecar.wait_for(
        lambda: len(found := named("pluginary-ht", sidecar.processes())) == 2 and found,
        "the plugin's child and escaped grandchild run",
    )
    printed = innermost_pids(helpers)  # The plugin knows them by their ids in its namespace.
    summary = sidecar.response(scan)["result"]
    gone = wait_gone(helpers, "the hanging plugin's child and grandchild", timeout=2.0)
    assert (summary["ok"], summary["timedOut"]) == (1, 1)
    record = the_one(sidecar, "timeout")
    assert "did not finish within 1 s" in record["error"]
    assert record["durationMs"] >= 1000  # It was given its whole limit.
    # The plugin printed its helpers' pids; they are the ones found running above.
    assert {int(pid) for pid in re.findall(r"pluginary-ht (\d+)", record["outputTail"])} == printed
    assert sidecar.processes() == {sidecar.pid}  # Fork server and probe are gone too.
    assert sidecar.shutdown() == 0
    ledger.record(
        "probe-hang",
        "record status timeout after its limit; its child and escaped grandchild killed",
        overshoot_beyond_limit=record["durationMs"] / 1000 - 1,
        helpers_gone_after_answer=gone,
    )
