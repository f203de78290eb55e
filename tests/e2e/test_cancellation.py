"""Scans run while the sidecar keeps answering; cancelled scans stop at once and resume later."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from harness import Launch, Sidecar
from lsprotocol import types
from pygls.exceptions import JsonRpcException

pytestmark = [pytest.mark.e2e, pytest.mark.asyncio]

REQUEST_CANCELLED = -32800
SCAN_IN_PROGRESS = 1001


async def _hanging_scan(sidecar: Sidecar, folder: Path, token: str) -> None:
    """Wait until a scan of ``folder`` (its hang bundle last) is stuck on the hang bundle."""

    def stuck() -> bool:
        reports = [v for v in sidecar.progress(token) if v["kind"] == "report"]
        return bool(reports) and reports[-1]["message"].startswith(f"{_total(reports) - 1}/")

    await sidecar.wait_for(stuck)


def _total(reports: list[dict[str, str]]) -> int:
    return int(reports[-1]["message"].split(" ", 1)[0].split("/")[1])


async def test_queries_are_answered_while_a_scan_runs_and_a_second_scan_is_refused(
    launch: Launch, plugin_folder: Callable[..., Path], misbehaving_plugins: dict[str, Path]
) -> None:
    folder = plugin_folder("ZamComp.vst3", extra=(misbehaving_plugins["hang"],))
    sidecar = await launch()
    await sidecar.initialize()
    params = {"folders": [str(folder)], "onlyFolders": True, "workers": 1, "timeoutSeconds": 600}
    scan = sidecar.send("pluginary/scan", {**params, "workDoneToken": "busy"})
    await _hanging_scan(sidecar, folder, "busy")

    # The scan holds on the hanging plugin; everything else is answered meanwhile.
    status = await sidecar.request("pluginary/status")
    running = status["running"]
    assert running["pid"] == sidecar.process.pid
    assert (running["done"], running["total"]) == (1, 2)
    assert status["interrupted"] is None
    page = await sidecar.request("pluginary/query", {})
    assert page["total"] == 0  # Nothing is committed before the scan ends.
    with pytest.raises(JsonRpcException) as refused:
        await sidecar.request("pluginary/scan", params)
    assert refused.value.code == SCAN_IN_PROGRESS
    assert refused.value.data["owner"]["pid"] == sidecar.process.pid
    assert refused.value.data["owner"]["scanId"] == running["scanId"]
    assert not scan.done()

    # Cancelling the progress token stops the scan; the request answers RequestCancelled.
    sidecar.client.window_work_done_progress_cancel(
        types.WorkDoneProgressCancelParams(token="busy")
    )
    with pytest.raises(JsonRpcException) as cancelled:
        await scan
    assert cancelled.value.code == REQUEST_CANCELLED
    assert sidecar.progress("busy")[-1] == {
        "kind": "end",
        "message": "cancelled; pluginary/resume continues it",
    }
    status = await sidecar.request("pluginary/status")
    assert status["running"] is None
    assert (status["interrupted"]["done"], status["interrupted"]["total"]) == (1, 2)
    assert await sidecar.shutdown() == 0


async def test_a_scan_in_another_sidecar_on_the_same_cache_is_named(
    launch: Launch, plugin_folder: Callable[..., Path], misbehaving_plugins: dict[str, Path]
) -> None:
    folder = plugin_folder(extra=(misbehaving_plugins["hang"],), name="only-hang")
    first = await launch()
    await first.initialize()
    scan = first.send(
        "pluginary/scan",
        {"folders": [str(folder)], "onlyFolders": True, "timeoutSeconds": 600, "workDoneToken": 1},
    )
    await first.wait_for(lambda: [v for v in first.progress(1) if v["kind"] == "report"])
    second = await launch(first.cache)
    await second.initialize()
    status = await second.request("pluginary/status")
    assert status["running"]["pid"] == first.process.pid
    assert status["running"]["done"] is None  # Only the owner knows how far it is.
    with pytest.raises(JsonRpcException) as refused:
        await second.request("pluginary/scan", {"folders": [str(folder)], "onlyFolders": True})
    assert refused.value.code == SCAN_IN_PROGRESS
    assert refused.value.data["owner"]["pid"] == first.process.pid
    assert await second.shutdown() == 0
    # Shutdown stops the running scan: the request is answered RequestCancelled.
    assert await first.shutdown() == 0
    with pytest.raises(JsonRpcException) as cancelled:
        await scan
    assert cancelled.value.code == REQUEST_CANCELLED


async def test_cancel_request_then_resume_probes_only_what_was_left(
    launch: Launch, plugin_folder: Callable[..., Path], misbehaving_plugins: dict[str, Path]
) -> None:
    folder = plugin_folder(extra=(misbehaving_plugins["hang"],))
    sidecar = await launch()
    await sidecar.initialize()
    scan = sidecar.send(
        "pluginary/scan",
        {
            "folders": [str(folder)],
            "onlyFolders": True,
            "workers": 1,
            "timeoutSeconds": 600,
            "workDoneToken": "first",
        },
        msg_id="the-scan",
    )
    await _hanging_scan(sidecar, folder, "first")
    sidecar.notify("$/cancelRequest", types.CancelParams(id="the-scan"))
    with pytest.raises(JsonRpcException) as cancelled:
        await scan
    assert cancelled.value.code == REQUEST_CANCELLED
    assert sidecar.progress("first")[-1]["kind"] == "end"
    assert not sidecar.notifications("pluginary/catalogChanged")  # Nothing was committed.

    interrupted = (await sidecar.request("pluginary/status"))["interrupted"]
    total = interrupted["total"]
    assert interrupted["done"] == total - 1 == 22  # Every real bundle; the hang is pending.

    # The hanging bundle is uninstalled; resuming probes only it (it is gone: failed).
    shutil.rmtree(folder / "zz")
    summary = await sidecar.request("pluginary/resume", {"workDoneToken": "second"})
    reports = [v for v in sidecar.progress("second") if v["kind"] == "report"]
    assert reports[0]["message"].startswith(f"{total - 1}/{total} ")
    assert reports[-1]["percentage"] == 100
    assert len([r for r in reports if not r["message"].endswith("starting")]) == 1
    assert summary["discovered"] == total
    assert (summary["ok"], summary["failed"]) == (19, 4)
    changed = sidecar.notifications("pluginary/catalogChanged")
    assert len(changed) == 1 and len(changed[0]["added"]) == total
    status = await sidecar.request("pluginary/status")
    assert status["interrupted"] is None and status["counts"]["plugins"] == total

    with pytest.raises(JsonRpcException) as nothing:
        await sidecar.request("pluginary/resume")
    assert nothing.value.code == 1002
    assert await sidecar.shutdown() == 0
    assert os.listdir(sidecar.cache / "probes") == []  # The probes' scratch files are gone.
