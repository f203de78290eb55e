"""A bus layout pedalboard cannot host is recorded as that, with its real layout (issue 16).

pedalboard processes as many channels out as in, so it refuses a mono-in, stereo-out effect at
load with words that read like a fact about the plugin's channels ("does not support 1-channel
output"). The record must say what it is, with the main buses' real channel counts.
"""

from __future__ import annotations

from pathlib import Path

import anyio
import pytest

from pluginary.catalog.query import get_plugin, query_plugins
from pluginary.models import BusLayout, PluginQuery
from pluginary.paths import cache_paths
from pluginary.scan_models import ScanOptions
from pluginary.scanner.engine import Scanner
from pluginary.scanner.launchers import LAUNCHER_ENV
from pluginary.storage import connect
from zoo_bundles import build_classes_bundle

pytestmark = pytest.mark.worker


@pytest.mark.parametrize("launcher", ["forkserver", "pool"])
def test_a_mono_in_stereo_out_plugin_is_recorded_as_a_layout_pedalboard_cannot_host(
    launcher: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(LAUNCHER_ENV, launcher)
    folder = tmp_path / "plugins"
    folder.mkdir()
    build_classes_bundle("zoo-mono-in", "ok", 1, culprit=0, input_channels=1, dest=folder)
    build_classes_bundle("zoo-stereo", "ok", 1, culprit=0, dest=folder)  # The control.
    paths = cache_paths(tmp_path / "cache")
    scanner = Scanner(paths, log=lambda line: None, standard_folders=lambda fmt: [])
    options = ScanOptions(folders=(str(folder),), only_folders=True, workers=1)
    summary = anyio.run(scanner.scan, options).summary
    assert (summary.ok, summary.failed) == (1, 1)

    db = connect(paths.catalog, readonly=True)
    try:
        (failed,) = query_plugins(db, PluginQuery(status="failed")).plugins
        record = get_plugin(db, failed.id)
        (ok,) = query_plugins(db, PluginQuery(status="ok")).plugins
        control = get_plugin(db, ok.id)
    finally:
        db.close()
    assert record.class_name == "zoo-mono-in"
    assert record.error is not None
    assert record.error.startswith(
        "pedalboard cannot host its bus layout: its main buses have 1 channel in and 2 channels out"
    )
    assert "does not support" not in record.error
    assert record.bus_layout == BusLayout(inputs=1, outputs=2)
    assert record.diagnosis is not None and "does not support 1-channel output" in record.diagnosis
    assert (control.bus_layout, control.channels) == (None, [2])
