"""Every method against the real plugin set: scan with progress, query, plugin, status, rescan."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from harness import Launch

pytestmark = [pytest.mark.e2e, pytest.mark.asyncio]

REAL_BUNDLES = 22


async def test_scan_then_every_query_method(launch: Launch, real_plugins: Path) -> None:
    sidecar = await launch()
    await sidecar.initialize()
    summary = await sidecar.request(
        "pluginary/scan",
        {"folders": [str(real_plugins)], "onlyFolders": True, "workDoneToken": "scan-1"},
    )
    assert summary["discovered"] == summary["probed"] == REAL_BUNDLES
    assert (summary["ok"], summary["failed"], summary["timedOut"], summary["crashed"]) == (
        19,
        3,
        0,
        0,
    )
    _assert_progress_order(sidecar.progress("scan-1"), complete=True)
    changed = sidecar.notifications("pluginary/catalogChanged")
    assert len(changed) == 1 and len(changed[0]["added"]) == REAL_BUNDLES
    # The commit is announced before the scan is answered, and the progress ends before too.
    order = [_kind(m) for m in sidecar.received if _kind(m) in ("changed", "end", "summary")]
    assert order == ["changed", "end", "summary"]

    first = await sidecar.request("pluginary/query", {"limit": 10})
    assert first["total"] == REAL_BUNDLES and len(first["plugins"]) == 10
    pages = [first]
    while pages[-1]["nextCursor"] is not None:
        pages.append(
            await sidecar.request(
                "pluginary/query", {"limit": 10, "cursor": pages[-1]["nextCursor"]}
            )
        )
    ids = [plugin["id"] for page in pages for plugin in page["plugins"]]
    assert len(pages) == 3 and len(set(ids)) == REAL_BUNDLES
    assert set(ids) == set(changed[0]["added"])

    reverbs = await sidecar.request("pluginary/query", {"text": "reverb", "kind": "effect"})
    assert reverbs["total"] >= 4
    assert all("Reverb" in (p["category"] or "") + p["name"] for p in reverbs["plugins"])
    failed = await sidecar.request("pluginary/query", {"status": "failed"})
    assert failed["total"] == 3

    record = await sidecar.request("pluginary/plugin", {"id": reverbs["plugins"][0]["id"]})
    assert record["status"] == "ok" and record["error"] is None
    assert len(record["parameters"]) == record["parameterCount"] > 0
    assert {"name", "key", "min", "max", "defaultText"} <= set(record["parameters"][0])
    broken = await sidecar.request("pluginary/plugin", {"id": failed["plugins"][0]["id"]})
    assert broken["status"] == "failed" and broken["error"]

    status = await sidecar.request("pluginary/status")
    assert status["counts"]["plugins"] == REAL_BUNDLES
    assert status["counts"]["byStatus"] == {"ok": 19, "failed": 3, "timeout": 0, "crashed": 0}
    assert status["lastScan"] == summary
    assert status["running"] is None and status["interrupted"] is None
    assert status["cache"]["root"] == str(sidecar.cache)

    # Nothing changed on disk: a second scan probes nothing, and still reports its commit.
    again = await sidecar.request(
        "pluginary/scan", {"folders": [str(real_plugins)], "onlyFolders": True}
    )
    assert (again["probed"], again["unchanged"]) == (0, REAL_BUNDLES)
    latest = sidecar.notifications("pluginary/catalogChanged")[-1]
    assert latest == {"added": [], "updated": [], "removed": []}

    if sys.platform.startswith("linux"):
        # The sidecar process itself never loaded pedalboard (only its probes do).
        maps = Path(f"/proc/{sidecar.process.pid}/maps").read_text()
        assert "pedalboard" not in maps
    assert await sidecar.shutdown() == 0


async def test_the_server_creates_a_token_when_the_client_gives_none(
    launch: Launch, plugin_folder: Callable[..., Path]
) -> None:
    folder = plugin_folder("ZamComp.vst3", "ZamAutoSat.vst3")
    sidecar = await launch()
    await sidecar.initialize()
    summary = await sidecar.request(
        "pluginary/scan", {"folders": [str(folder)], "onlyFolders": True}
    )
    assert summary["ok"] == 2
    created = [m for m in sidecar.received if m.get("method") == "window/workDoneProgress/create"]
    assert len(created) == 1
    _assert_progress_order(sidecar.progress(created[0]["params"]["token"]), complete=True)
    assert await sidecar.shutdown() == 0


async def test_no_progress_for_a_client_that_cannot_show_it(
    launch: Launch, plugin_folder: Callable[..., Path]
) -> None:
    folder = plugin_folder("ZamComp.vst3")
    sidecar = await launch()
    await sidecar.initialize(work_done_progress=False)
    await sidecar.request("pluginary/scan", {"folders": [str(folder)], "onlyFolders": True})
    assert not sidecar.notifications("$/progress")
    assert not [m for m in sidecar.received if m.get("method") == "window/workDoneProgress/create"]
    assert await sidecar.shutdown() == 0


async def test_a_plugin_printing_a_fake_frame_does_not_disturb_the_stream(
    launch: Launch, misbehaving_plugins: dict[str, Path], tmp_path: Path
) -> None:
    folder = tmp_path / "noise"
    folder.mkdir()
    (folder / "noise.vst3").symlink_to(misbehaving_plugins["noise"])
    sidecar = await launch()
    await sidecar.initialize()
    summary = await sidecar.request(
        "pluginary/scan", {"folders": [str(folder)], "onlyFolders": True}
    )
    assert summary["failed"] == 1
    page = await sidecar.request("pluginary/query", {})
    record = await sidecar.request("pluginary/plugin", {"id": page["plugins"][0]["id"]})
    # The frame the plugin printed is kept as its output, and never reached the host.
    assert "HIJACK" in record["outputTail"]
    assert not [m for m in sidecar.received if "HIJACK" in str(m.get("params"))]
    assert await sidecar.shutdown() == 0


def _assert_progress_order(values: list[dict[str, Any]], *, complete: bool) -> None:
    kinds = [value["kind"] for value in values]
    assert kinds[0] == "begin" and kinds[-1] == "end"
    assert set(kinds[1:-1]) == {"report"}, kinds
    assert values[0]["cancellable"] is True
    percentages = [value["percentage"] for value in values[1:-1]]
    assert percentages == sorted(percentages), "progress went backwards"
    if complete:
        assert percentages[-1] == 100
        assert "probed" in values[-1]["message"]


def _kind(message: dict[str, Any]) -> str | None:
    if message.get("method") == "pluginary/catalogChanged":
        return "changed"
    if message.get("method") == "$/progress" and message["params"]["value"]["kind"] == "end":
        return "end"
    if "scanId" in (message.get("result") or {}):
        return "summary"
    return None
