"""Issue 12 through the real sidecar: the hostile plugin zoo, stalls, and our own scratch folder.

- The whole zoo (``tests/zoo/``) beside real plugins, once per launcher (the fork server in its
  PID namespace, and the worker pool): the scan answers a summary, the real plugins are ok, each
  hostile bundle has the record naming what it did (``zoo_records.py``: the same records the
  worker tier asserts of the scan without the namespace), nothing it started is left, and the
  next scan is clean.
- A stall of the sidecar (or of the sidecar and its fork server) longer than the probe timeout
  invents no timeout and no phantom row: probes that finished during it are read as finished.
- The scratch folder deleted or made unwritable mid-scan is our failure: StorageError naming it,
  the task stays pending, no plugin is blamed, and resume finishes the scan.
"""

from __future__ import annotations

import os
import shutil
import signal
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from faultkit import (
    Launch,
    journal_tasks,
    loading,
    named,
    scan_params,
    without_dac_override,
)
from ledger import Ledger
from rawclient import Sidecar, sidecars, wait_gone

from pluginary.paths import cache_paths
from pluginary.scanner.containment import NO_NAMESPACE_ENV
from processes import proc_stat, wait_until
from zoo_bundles import BEHAVIOURS, STAGES
from zoo_records import (
    MEMORY_MIB,
    NAMESPACED,
    OUTPUT_MIB,
    POOL,
    POOL_RECYCLE,
    REAL,
    RETRY_SCAN_TIMEOUT,
    TIMEOUT,
    Record,
    as_retried,
    culprit_problems,
    read_records,
    zoo_scan_names,
)

pytestmark = [
    pytest.mark.failsafe,
    pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc"),
]

STORAGE_ERROR = 1004
LIMITS = {
    "timeoutSeconds": TIMEOUT,
    "memoryLimitMib": MEMORY_MIB,
    "outputLimitMib": OUTPUT_MIB,
    "workers": 2,
}
# What a PID namespace neutralises (a plugin's signals to its parent) loads like any plugin;
# a plugin that only leaves processes behind is ok once they are gone.
HARMLESS = {"kill_parent", "term_parent_group", "stop_parent", "daemon", "slow", "fork_many"}


def every_plugin(sidecar: Sidecar) -> list[dict[str, Any]]:
    """Every plugin of the catalogue, page by page."""
    plugins: list[dict[str, Any]] = []
    cursor = None
    while True:
        page = sidecar.result("pluginary/query", {"limit": 200, "cursor": cursor})
        plugins += page["plugins"]
        cursor = page["nextCursor"]
        if cursor is None:
            return plugins


@dataclass
class ZooScan:
    """What one sidecar said and recorded in its three scans of the zoo (:func:`zoo_scan`)."""

    launcher: str
    names: list[str]  # The zoo bundles beside the real ones.
    summary: dict[str, Any]  # The first scan's,
    by_bundle: dict[str, list[dict[str, Any]]]  # its pluginary/plugin answers by bundle stem,
    records: dict[str, list[Record]]  # its catalogue rows,
    probes_left: list[str]  # and what its scratch folder held once its processes were gone.
    again: dict[str, Any]  # The scan after it, at RETRY_SCAN_TIMEOUT,
    last: dict[str, Any]  # the one after that,
    records_after: dict[str, list[Record]]  # and the catalogue rows then.
    logs: list[str]  # The sidecar's log messages.


@pytest.fixture(scope="module", params=["forkserver", "pool"])
def zoo_scan(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    real_plugins: Path,
    zoo: dict[str, Path],
) -> ZooScan:
    """Every zoo bundle (every behaviour at both stages) beside two real plugins, scanned three
    times by one real sidecar with the launcher of the param: what the sidecar says of it and
    the record of each culprit are two tests of one (long) scan. The pool replaces its workers
    every :data:`POOL_RECYCLE` probes."""
    launcher: str = request.param
    root = tmp_path_factory.mktemp(f"zoo-{launcher}")
    plugins = root / "plugins"
    plugins.mkdir()
    for name in REAL:
        (plugins / name).symlink_to(real_plugins / name)
    names = zoo_scan_names(NAMESPACED)  # Every behaviour.
    assert set(NAMESPACED) == set(BEHAVIOURS) == set(POOL)
    # Real copies, in a folder that sorts after the real bundles.
    for name in names:
        shutil.copytree(zoo[name], plugins / "zz" / f"{name}.vst3", symlinks=True)
    cache = root / "cache"
    with sidecars(cache, root / "logs") as launch:
        sidecar = launch(env={"ZOO_SLEEP_MS": "1000", "PLUGINARY_LAUNCHER": launcher})
        sidecar.initialize({"recycleAfter": POOL_RECYCLE} if launcher == "pool" else None)
        summary = sidecar.result("pluginary/scan", scan_params(plugins, **LIMITS))
        by_bundle: dict[str, list[dict[str, Any]]] = {}
        for plugin in every_plugin(sidecar):
            record = sidecar.result("pluginary/plugin", {"id": plugin["id"]})
            by_bundle.setdefault(Path(record["path"]).stem, []).append(record)
        records = read_records(cache)
        # Nothing any plugin started is left, whatever it did to escape: the sidecar is alone.
        wait_until(lambda: sidecar.processes() == {sidecar.pid}, "the scan's processes are gone")
        probes_left = os.listdir(cache_paths(cache).probes)
        # The next scan probes only the timed-out bundles (every one built to hang) again, once,
        # with twice its timeout; the one after it, nothing.
        again = sidecar.result(
            "pluginary/scan",
            scan_params(plugins, **{**LIMITS, "timeoutSeconds": RETRY_SCAN_TIMEOUT}),
        )
        last = sidecar.result("pluginary/scan", scan_params(plugins, **LIMITS))
        records_after = read_records(cache)
        logs = sidecar.logs()
        assert sidecar.shutdown() == 0
    return ZooScan(
        launcher, names, summary, by_bundle, records, probes_left, again, last, records_after, logs
    )


def test_the_zoo_beside_real_plugins_is_recorded_culprit_by_culprit(
    zoo_scan: ZooScan, ledger: Ledger
) -> None:
    launcher, names, summary, by_bundle = (
        zoo_scan.launcher,
        zoo_scan.names,
        zoo_scan.summary,
        zoo_scan.by_bundle,
    )
    harmless, either = HARMLESS, set()
    if launcher == "pool":
        # A SIGTERM to its worker's group ends the probe (no namespace drops it); a plugin that
        # exits from a thread after loading may be done first (see zoo_records.POOL).
        harmless, either = HARMLESS - {"term_parent_group"}, {"background_exit"}
    assert summary["discovered"] == summary["probed"] == len(names) + 2
    assert [r["status"] for r in by_bundle["ZamComp"] + by_bundle["ZamGate"]] == ["ok", "ok"]
    hostile = {}
    for name in names[1:]:
        (record,) = by_bundle[name]
        behaviour = name.split("-")[1]
        if behaviour in either:
            continue
        if behaviour in harmless:
            assert record["status"] == "ok", (name, record["error"])
        else:
            assert record["status"] != "ok" and record["error"], (name, record)
            hostile[name] = f"{record['status']}: {record['error'].split(' (')[0]}"
    # The next scan is clean: it probes only the timed-out bundles again, once, with twice its
    # timeout, and they hang again.
    again, timed_out = zoo_scan.again, summary["timedOut"]
    assert (again["probed"], again["retried"], again["timedOut"]) == (timed_out,) * 3
    retried = f"did not finish within {RETRY_SCAN_TIMEOUT * 2:g} s"
    assert [p["error"].startswith(retried) for p in again["problems"]] == [True] * timed_out
    last = zoo_scan.last
    assert (last["probed"], last["unchanged"]) == (0, summary["discovered"])
    ledger.record(
        "hostile-zoo",
        f"({launcher}) {len(names)} zoo bundles beside 2 real plugins: the real ones ok, "
        f"{len(hostile)} hostile bundles each recorded non-ok with what it did, "
        f"{len(names) - 1 - len(hostile) - len(either) * len(STAGES)} harmless under"
        " containment recorded ok"
        f"{', ' + ', '.join(sorted(either)) + ' either way' if either else ''};"
        " no process left; the next scan retried only the timed-out ones (once, at twice its"
        " limit), the one after probed nothing",
    )


def test_each_zoo_bundle_has_the_record_its_launchers_containment_gives(
    zoo_scan: ZooScan,
) -> None:
    """Each culprit blamed, and only it, with the status and error its launcher gives it."""
    records = zoo_scan.records
    for name in REAL:
        assert [status for _, status, _ in records[Path(name).stem]] == ["ok"]
    assert records["zoo-ok"] == [("zoo-ok", "ok", None)]
    expected = {"forkserver": NAMESPACED, "pool": POOL}[zoo_scan.launcher]
    problems = culprit_problems(records, expected)
    assert not problems, "\n".join(problems + zoo_scan.logs)
    assert zoo_scan.probes_left in ([], ["shadows"])
    # The scans after it: only the timed-out bundles probed again, they hang again, and then
    # nothing changes: the same records, but for the limit each names.
    timed_out = sum(status == "timeout" for rows in records.values() for _, status, _ in rows)
    again = zoo_scan.again
    assert (again["probed"], again["retried"], again["timedOut"]) == (timed_out,) * 3
    assert again["unchanged"] == zoo_scan.summary["discovered"] - timed_out
    assert zoo_scan.records_after == as_retried(records)


def the_one_crashed(sidecar: Sidecar) -> dict[str, Any]:
    (summary,) = sidecar.result("pluginary/query", {"status": "crashed"})["plugins"]
    return dict(sidecar.result("pluginary/plugin", {"id": summary["id"]}))


def _fork_servers(sidecar: Sidecar) -> set[int]:
    """The sidecar's fork server processes (the waiting one and, in a namespace, its init)."""
    found: set[int] = set()
    parents = {sidecar.pid}
    while True:
        more = {
            pid
            for pid in sidecar.processes() - found
            if (stat := proc_stat(pid)) is not None
            and stat[1] in parents
            and b"pluginary.scanner.forkserver" in Path(f"/proc/{pid}/cmdline").read_bytes()
            and not loading(".vst3", {pid})  # Not a probe: probes map a plugin.
        }
        if not more:
            return found
        found |= more
        parents = more


@pytest.mark.parametrize(
    ("stopped", "launcher"),
    [
        ("sidecar", "forkserver"),
        ("sidecar and fork server", "forkserver"),
        ("sidecar", "pool"),
        ("sidecar and worker", "pool"),  # The whole machine froze: the probe too.
    ],
)
def test_a_stall_longer_than_the_timeout_invents_no_failure(
    stopped: str,
    launcher: str,
    launch: Launch,
    folder: Callable[..., Path],
    zoo: dict[str, Path],
    ledger: Ledger,
) -> None:
    plugins = folder("ZamComp.vst3", extra=(zoo["zoo-slow-enumerate"],))
    sidecar = launch(env={"ZOO_SLEEP_MS": "1500", "PLUGINARY_LAUNCHER": launcher})
    sidecar.initialize()
    timeout = 3.0
    scan = sidecar.request("pluginary/scan", scan_params(plugins, timeoutSeconds=timeout))
    probe = sidecar.wait_for(
        lambda: loading("zoo-slow-enumerate.so", sidecar.processes()), "the slow plugin loads"
    )
    frozen = {sidecar.pid}
    if stopped == "sidecar and fork server":
        frozen |= _fork_servers(sidecar)
    elif stopped == "sidecar and worker":
        frozen |= probe
    for pid in frozen:
        os.kill(pid, signal.SIGSTOP)
    try:
        if not probe <= frozen:
            # The probe carries on and ends while they are stopped (a zombie if its parent is;
            # a pool worker lives on, the plugin unloaded).
            wait_until(
                lambda: not loading("zoo-slow-enumerate.so", sidecar.processes()),
                "the slow probe ends during the stall",
                timeout=30,
            )
        time.sleep(timeout + 1)  # The stall itself: past the probe's deadline.
    finally:
        for pid in frozen:
            os.kill(pid, signal.SIGCONT)
    summary = sidecar.response(scan)["result"]
    assert (summary["ok"], summary["timedOut"], summary["crashed"]) == (2, 0, 0)
    plugins_found = every_plugin(sidecar)
    assert sorted(p["name"] for p in plugins_found) == ["ZamComp", "zoo-slow-enumerate"]
    assert sidecar.shutdown() == 0
    ledger.record(
        "stall",
        f"{stopped} ({launcher}) stopped for longer than the timeout while a probe finished:"
        " read as finished, no timeout, no phantom row",
    )


@pytest.mark.parametrize("fault", ["deleted", "unwritable"])
def test_a_broken_scratch_folder_is_our_failure_not_the_plugins(
    fault: str,
    launch: Launch,
    real_plugins: Path,
    zoo: dict[str, Path],
    ledger: Ledger,
    tmp_path: Path,
) -> None:
    # The slow plugin first, ZamComp after it (one probe at a time): the fault hits while the
    # slow one runs, so both the probe in flight and the next one meet it.
    plugins = tmp_path / "plugins"
    shutil.copytree(zoo["zoo-slow-enumerate"], plugins / "a" / "zoo-slow-enumerate.vst3")
    (plugins / "b").mkdir()
    (plugins / "b" / "ZamComp.vst3").symlink_to(real_plugins / "ZamComp.vst3")
    # Without root's power to ignore permissions, so that mode 0555 means unwritable.
    sidecar = launch(env={"ZOO_SLEEP_MS": "1500"}, preexec_fn=without_dac_override)
    sidecar.initialize()
    scratch = cache_paths(tmp_path / "cache").probes
    scan = sidecar.request("pluginary/scan", scan_params(plugins, timeoutSeconds=60, workers=1))
    sidecar.wait_for(
        lambda: loading("zoo-slow-enumerate.so", sidecar.processes()), "the slow plugin loads"
    )
    if fault == "deleted":
        shutil.rmtree(scratch)
    else:
        scratch.chmod(0o555)
    try:
        answer = sidecar.response(scan)
    finally:
        if scratch.exists():
            scratch.chmod(0o755)
    assert answer["error"]["code"] == STORAGE_ERROR, answer
    assert str(scratch) in answer["error"]["message"]
    # No plugin carries the blame: nothing is settled as a failure, the task waits to resume.
    states = {Path(bundle).name: state for _, bundle, state, _ in journal_tasks(tmp_path / "cache")}
    assert "crashed" not in states.values() and "failed" not in states.values(), states
    waiting = {name for name, state in states.items() if state == "pending"}
    # Deleted: the probe in flight lost its report, so it waits too. Unwritable: it had its
    # files already and finished; the next probe could not start.
    if fault == "deleted":
        assert waiting == {"zoo-slow-enumerate.vst3", "ZamComp.vst3"}
    else:
        assert waiting == {"ZamComp.vst3"} and states["zoo-slow-enumerate.vst3"] == "ok"
    summary = sidecar.result("pluginary/resume")
    assert (summary["ok"], summary["crashed"], summary["failed"]) == (2, 0, 0)
    assert sidecar.shutdown() == 0
    ledger.record(
        "scratch-broken",
        f"scratch folder {fault} mid-scan: StorageError naming it, the task left pending,"
        " no plugin blamed; resume finished the scan",
    )


@pytest.mark.parametrize("isolation", ["pid-namespace", "process-group"])
def test_a_killed_fork_server_leaves_no_plugin_process_behind(
    isolation: str,
    launch: Launch,
    folder: Callable[..., Path],
    hang_tree: Path,
    ledger: Ledger,
) -> None:
    """hang_tree's helpers (one escaped into a session of its own, neither with a death signal)
    outlive a plain SIGKILL of their probe's parent; here they must not outlive the scan."""
    plugins = folder("ZamComp.vst3", extra=(hang_tree,))
    env = {NO_NAMESPACE_ENV: "1"} if isolation == "process-group" else {}
    sidecar = launch(env={**env, "PLUGINARY_LAUNCHER": "forkserver"})
    sidecar.initialize()
    scan = sidecar.request("pluginary/scan", scan_params(plugins, timeoutSeconds=600, workers=1))
    helpers = sidecar.wait_for(
        lambda: len(found := named("pluginary-ht", sidecar.processes())) == 2 and found,
        "the hanging plugin's child and escaped grandchild run",
    )
    servers = _fork_servers(sidecar)
    (outer,) = [pid for pid in servers if proc_stat(pid)[1] == sidecar.pid]  # type: ignore[index]
    os.kill(outer, signal.SIGKILL)
    gone = wait_gone(helpers, "the plugin's helpers", timeout=30)
    # It was probed alone (one probe at a time): the server's death is its record.
    summary = sidecar.response(scan)["result"]
    assert (summary["ok"], summary["crashed"]) == (1, 1)
    record = the_one_crashed(sidecar)
    assert record["error"].startswith("the probe server went down while probing it alone")
    wait_until(lambda: sidecar.processes() == {sidecar.pid}, "the scan's processes are gone")
    assert sidecar.shutdown() == 0
    ledger.record(
        "forkserver-killed",
        f"fork server SIGKILLed while a plugin's escaped helpers ran ({isolation}): helpers"
        " killed, the bundle (probed alone) recorded crashed, the scan committed",
        helpers_gone_after_kill=gone,
    )


def test_a_neighbour_at_two_scanner_deaths_is_not_blamed(
    launch: Launch, folder: Callable[..., Path], zoo: dict[str, Path], ledger: Ledger
) -> None:
    """The sidecar dies (SIGKILL) twice while a hanging plugin runs; the first time a slow but
    innocent plugin runs beside it. Only the one running alone at both deaths is blamed."""
    hang, slow = zoo["zoo-hang-enumerate"], zoo["zoo-slow-enumerate"]
    plugins = folder(real=False, extra=(hang, slow))
    env = {"ZOO_SLEEP_MS": "3000"}
    first = launch(env=env)
    first.initialize()
    first.request("pluginary/scan", scan_params(plugins, timeoutSeconds=600, workers=2))
    first.wait_for(
        lambda: (
            loading("zoo-hang-enumerate.so", procs := first.processes())
            and loading("zoo-slow-enumerate.so", procs)
        ),
        "both plugins load at once",
    )
    first.signal(signal.SIGKILL)
    first.wait_exit()
    # Both were running at that death: each is probed alone from now on, one at a time.
    second = launch(env=env)
    second.initialize()
    second.request("pluginary/resume")
    second.wait_for(
        lambda: loading("zoo-hang-enumerate.so", second.processes()), "the hanging plugin loads"
    )
    assert not loading("zoo-slow-enumerate.so", second.processes())  # It runs alone.
    second.signal(signal.SIGKILL)
    second.wait_exit()
    third = launch(env=env)
    third.initialize()
    summary = third.result("pluginary/resume")
    assert (summary["ok"], summary["crashed"]) == (1, 1), summary
    culprit = the_one_crashed(third)
    assert Path(culprit["path"]).name == hang.name
    assert culprit["error"] == "took the scanner down 2 times while loading"
    (innocent,) = third.result("pluginary/query", {"status": "ok"})["plugins"]
    assert innocent["name"] == "zoo-slow-enumerate"
    assert third.shutdown() == 0
    ledger.record(
        "neighbour-deaths",
        "sidecar SIGKILLed twice while a hanging plugin ran (beside an innocent one the first"
        " time): the innocent one ok, the one alone at the second death blamed",
    )
