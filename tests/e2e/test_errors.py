"""Bad input gets the documented error codes, and the sidecar carries on."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from harness import DEADLINE, PLATFORMS, Launch, Sidecar, check_messages, start_sidecar
from pygls.exceptions import JsonRpcException

pytestmark = [pytest.mark.e2e, pytest.mark.asyncio]

INVALID_PARAMS = -32602


@pytest_asyncio.fixture(scope="module", loop_scope="module", params=list(PLATFORMS))
async def one_sidecar(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Sidecar]:
    """One initialized sidecar of each platform (as ``launch`` makes them) for every malformed
    request below: it must answer each and carry on; its clean exit is checked at the end."""
    with pytest.MonkeyPatch.context() as patch:
        for name, value in PLATFORMS[request.param].items():
            patch.setenv(name, value)  # The sidecar inherits the environment it starts with.
        sidecar = await start_sidecar(tmp_path_factory.mktemp("errors") / "cache")
    try:
        await sidecar.initialize()
        yield sidecar
        assert await sidecar.shutdown() == 0
    finally:
        if sidecar.process.returncode is None:
            sidecar.process.kill()
        await asyncio.wait_for(sidecar.client.stop(), DEADLINE)
    check_messages(sidecar.protocol)


async def _error(sidecar: Sidecar, method: str, params: Any = None) -> JsonRpcException:
    with pytest.raises(JsonRpcException) as raised:
        await sidecar.request(method, params)
    return raised.value


@pytest.mark.parametrize(
    ("method", "params", "field"),
    [
        ("pluginary/scan", {"folders": "/not/a/list"}, "folders"),
        ("pluginary/scan", {"workers": 0}, "workers"),
        ("pluginary/scan", {"timeoutSeconds": "soon"}, "timeoutSeconds"),
        ("pluginary/scan", {"onlyfolders": True}, "onlyfolders"),
        ("pluginary/resume", {"rescan": True}, "rescan"),
        ("pluginary/query", {"limit": "ten"}, "limit"),
        ("pluginary/query", {"limit": 0}, "limit"),
        ("pluginary/query", {"kind": "synth"}, "kind"),
        ("pluginary/query", {"cursor": "not-ours"}, "cursor"),
        ("pluginary/plugin", {}, "id"),
        ("pluginary/plugin", {"id": 42}, "id"),
        ("pluginary/status", {"verbose": True}, "verbose"),
    ],
)
@pytest.mark.asyncio(loop_scope="module")
async def test_malformed_params_are_invalid_params_naming_the_field(
    one_sidecar: Sidecar, method: str, params: dict[str, Any], field: str
) -> None:
    error = await _error(one_sidecar, method, params)
    assert error.code == INVALID_PARAMS
    assert error.data == {"field": field}
    assert field in error.message
    # It carries on: the next request is answered (and the last, shutdown, at the end).
    assert (await one_sidecar.request("pluginary/query", {}))["total"] == 0


async def test_application_errors(launch: Launch, tmp_path: Path) -> None:
    sidecar = await launch()
    await sidecar.initialize()

    error = await _error(sidecar, "pluginary/nothing")
    assert error.code == -32601

    error = await _error(sidecar, "pluginary/query", [1, 2])
    assert (error.code, error.message) == (
        INVALID_PARAMS,
        "params must be an object, not an array of several values",
    )
    # By position, [] and [null] are no params and [{...}] is that object (Lua, vscode-jsonrpc).
    assert (await sidecar.request("pluginary/query", []))["total"] == 0
    assert (await sidecar.request("pluginary/status", [None]))["interrupted"] is None
    assert (await sidecar.request("pluginary/query", [{"text": "x"}]))["total"] == 0

    error = await _error(sidecar, "pluginary/plugin", {"id": "vst3.missing.00000000"})
    assert error.code == 1003
    assert error.data == {"id": "vst3.missing.00000000"}
    assert "vst3.missing.00000000" in error.message

    error = await _error(sidecar, "pluginary/resume", {"workDoneToken": "r1"})
    assert error.code == 1002
    assert sidecar.progress("r1") == []  # An answer, not a job that begins and ends.

    # The sidecar is still fine after all that.
    assert (await sidecar.request("pluginary/query", {}))["total"] == 0
    assert await sidecar.shutdown() == 0


async def test_an_unusable_cache_folder_is_a_storage_error(launch: Launch, tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    sidecar = await launch()
    await sidecar.initialize({"cacheDir": str(blocker / "cache")})
    error = await _error(sidecar, "pluginary/scan", {"folders": [], "onlyFolders": True})
    assert error.code == 1004
    assert error.data == {"path": str(blocker / "cache")}
    assert await sidecar.shutdown() == 0
