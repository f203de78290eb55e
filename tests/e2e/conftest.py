"""Fixtures of the end-to-end tier: sidecars to drive, checked against the schema at the end."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
import pytest_asyncio
from harness import DEADLINE, PLATFORMS, Launch, Sidecar, check_messages, start_sidecar


@pytest_asyncio.fixture(params=list(PLATFORMS))
async def launch(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[Launch]:
    """Start sidecars (on ``tmp_path/cache`` unless told); stop them and check their messages."""
    for name, value in PLATFORMS[request.param].items():
        monkeypatch.setenv(name, value)  # The sidecars inherit the environment.
    started: list[Sidecar] = []

    async def start(cache: Path | None = None) -> Sidecar:
        sidecar = await start_sidecar(cache or tmp_path / "cache")
        started.append(sidecar)
        return sidecar

    yield start
    for sidecar in started:
        if sidecar.process.returncode is None:
            sidecar.process.kill()
        await asyncio.wait_for(sidecar.client.stop(), DEADLINE)
    for sidecar in started:
        check_messages(sidecar.protocol)


@pytest.fixture
def plugin_folder(real_plugins: Path, tmp_path: Path) -> Callable[..., Path]:
    """A folder of symlinks to chosen real bundles (all if none named), plus extra bundles."""

    def make(*names: str, extra: tuple[Path, ...] = (), name: str = "plugins") -> Path:
        folder = tmp_path / name
        folder.mkdir()
        for bundle in sorted(real_plugins.glob("*.vst3")):
            if not names or bundle.name in names:
                (folder / bundle.name).symlink_to(bundle)
        for bundle in extra:
            # A real copy, in a subfolder that sorts after every real bundle: probed last.
            shutil.copytree(bundle, folder / "zz" / bundle.name, symlinks=True)
        return folder

    return make
