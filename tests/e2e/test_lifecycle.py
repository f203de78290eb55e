"""The sidecar's lifecycle as LSP has it: initialize, the not-initialized rule, shutdown, exit,
and a host that vanishes mid-scan."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from harness import Launch
from lsprotocol import types
from pygls.exceptions import JsonRpcException

import pluginary
from pluginary.server import wire
from processes import alive, processes_with_env

pytestmark = [pytest.mark.e2e, pytest.mark.asyncio]


async def test_initialize_then_shutdown_and_exit(launch: Launch) -> None:
    sidecar = await launch()
    result = await sidecar.initialize()
    assert result.server_info is not None
    assert (result.server_info.name, result.server_info.version) == (
        "pluginary",
        pluginary.__version__,
    )
    experimental = result.capabilities.experimental
    assert experimental == {
        "pluginary": {
            "protocolVersion": wire.PROTOCOL_VERSION,
            "formats": ["vst3", "au"] if sys.platform == "darwin" else ["vst3"],
            "methods": sorted(wire.METHODS),
        }
    }
    # No text-document capabilities: this is not an editor's language server.
    assert result.capabilities.text_document_sync is None
    assert await sidecar.shutdown() == 0


async def test_requests_before_initialize_are_refused(launch: Launch) -> None:
    sidecar = await launch()
    # pytest-lsp will not send before initialize unless it believes it has capabilities.
    sidecar.client.capabilities = types.ClientCapabilities()
    with pytest.raises(JsonRpcException) as refused:
        await sidecar.request("pluginary/status")
    assert refused.value.code == -32002
    await sidecar.initialize()
    assert (await sidecar.request("pluginary/status"))["version"] == pluginary.__version__
    assert await sidecar.shutdown() == 0


async def test_malformed_or_repeated_initialize_is_refused(launch: Launch) -> None:
    sidecar = await launch()
    malformed = await sidecar.raw_request("initialize", {"processId": "me", "capabilities": {}})
    assert malformed["error"]["code"] == -32602
    assert "process_id" in malformed["error"]["message"]
    await sidecar.initialize()
    with pytest.raises(JsonRpcException) as again:
        await sidecar.initialize()
    assert again.value.code == -32600
    assert await sidecar.shutdown() == 0


async def test_requests_after_shutdown_are_invalid(launch: Launch) -> None:
    sidecar = await launch()
    await sidecar.initialize()
    await sidecar.client.shutdown_async(None)
    with pytest.raises(JsonRpcException) as late:
        await sidecar.request("pluginary/status")
    assert late.value.code == -32600
    sidecar.client.exit(None)
    assert await sidecar.process.wait() == 0


async def test_exit_without_shutdown_exits_with_status_1(launch: Launch) -> None:
    sidecar = await launch()
    await sidecar.initialize()
    sidecar.client.exit(None)
    assert await sidecar.process.wait() == 1


async def test_invalid_initialization_options_are_shown_and_defaults_used(
    launch: Launch, tmp_path: Path
) -> None:
    sidecar = await launch()
    await sidecar.initialize({"workers": "many", "cacheDir": str(tmp_path / "elsewhere")})
    shown = [m["message"] for m in sidecar.notifications("window/showMessage")]
    assert len(shown) == 1 and "'workers'" in shown[0]
    status = await sidecar.request("pluginary/status")
    assert status["cache"]["root"] == str(tmp_path / "elsewhere")
    assert await sidecar.shutdown() == 0


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
@pytest.mark.parametrize("how", ["end of input", "SIGTERM"])
async def test_host_vanishing_mid_scan_kills_the_probes_and_leaves_the_scan_resumable(
    launch: Launch, misbehaving_plugins: dict[str, Path], tmp_path: Path, how: str
) -> None:
    sidecar = await launch()
    await sidecar.initialize()
    folder = tmp_path / "hang"
    folder.mkdir()
    (folder / "hang.vst3").symlink_to(misbehaving_plugins["hang"])
    scan = sidecar.send(
        "pluginary/scan",
        {"folders": [str(folder)], "onlyFolders": True, "timeoutSeconds": 600, "workDoneToken": 1},
    )
    marker = f"PLUGINARY_CACHE_DIR={sidecar.cache}"  # Every process the sidecar starts has it.
    # No event says a probe has forked; watch the process table for the one that loads hang.so.
    await sidecar.until(lambda: _loading("hang.so", marker), "the hang probe runs")
    descendants = processes_with_env(marker) - {sidecar.process.pid}
    assert descendants
    if how == "SIGTERM":
        sidecar.process.terminate()
        assert await sidecar.process.wait() == 1
    else:
        assert await sidecar.close_stdin() == 1
    assert not [pid for pid in descendants if alive(pid)]
    with pytest.raises(RuntimeError, match="exited"):
        await scan  # Never answered: the host was gone.

    # The journal kept the scan: a new sidecar on the same cache offers to resume it.
    again = await launch(sidecar.cache)
    await again.initialize()
    status = await again.request("pluginary/status")
    assert status["running"] is None
    assert status["interrupted"]["state"] == "probing"
    assert (status["interrupted"]["done"], status["interrupted"]["total"]) == (0, 1)
    assert await again.shutdown() == 0


def _loading(library: str, marker: str) -> bool:
    for pid in processes_with_env(marker):
        try:
            if library in Path(f"/proc/{pid}/maps").read_text():
                return True
        except OSError:
            continue
    return False


async def test_the_host_chooses_the_probe_launcher(
    launch: Launch, plugin_folder: Callable[..., Path]
) -> None:
    folder = plugin_folder("ZamComp.vst3", "ZamGate.vst3")
    sidecar = await launch()
    await sidecar.initialize({"launcher": "pool", "recycleAfter": 1})
    assert not sidecar.notifications("window/showMessage")
    summary = await sidecar.request(
        "pluginary/scan", {"folders": [str(folder)], "onlyFolders": True}
    )
    assert summary["ok"] == 2
    logged = [m["message"] for m in sidecar.notifications("window/logMessage")]
    wanted = "probes start through the worker pool (each worker replaced after 1 probe)"
    assert any(wanted in line for line in logged), logged
    assert await sidecar.shutdown() == 0


@pytest.mark.parametrize(
    ("options", "named"),
    [
        ({"launcher": "threads"}, "'launcher'"),
        ({"launcher": 3}, "'launcher'"),
        ({"recycleAfter": 0}, "'recycleAfter'"),
        ({"recycleAfter": "often"}, "'recycleAfter'"),
    ],
)
async def test_a_wrong_launcher_option_is_shown_and_the_default_used(
    launch: Launch, options: dict[str, object], named: str
) -> None:
    sidecar = await launch()
    await sidecar.initialize(options)
    shown = [m["message"] for m in sidecar.notifications("window/showMessage")]
    assert len(shown) == 1 and named in shown[0], shown
    assert await sidecar.shutdown() == 0
