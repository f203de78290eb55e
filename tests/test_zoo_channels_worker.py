"""A plugin that fails only when asked for more channels than its first ones (issue 16's sibling).

The probe checks a plugin at the lowest channel count it accepts first (audio, latency, state),
then tries every higher count. A zoo class that takes any layout but crashes or hangs when a
host asks for more than two channels must keep what the first checks found and the counts it
accepted before, and say which count it was being tried at. Through both launchers: how the
probe ends (a signal, the deadline) is each launcher's own business.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from pluginary.catalog.query import get_plugin, query_plugins
from pluginary.models import CHANNEL_COUNTS, PluginQuery, PluginRecord
from pluginary.paths import cache_paths
from pluginary.scanner.launchers import LAUNCHER_ENV
from scan_helpers import scan
from zoo_bundles import build_channels_bundle, zoo_name

pytestmark = pytest.mark.worker

# The hang's limit only sets how long the test waits for a plugin built never to finish.
HANG_TIMEOUT = 6.0
TRYING_THREE = "while finding the channel counts it accepts (trying 3 channels)"


def _records(cache: Path) -> dict[str, PluginRecord]:
    import sqlite3

    db = sqlite3.connect(cache_paths(cache).catalog)
    try:
        found = query_plugins(db, PluginQuery(limit=50)).plugins
        return {p.name: record for p in found if (record := get_plugin(db, p.id)) is not None}
    finally:
        db.close()


@pytest.mark.parametrize("launcher", ["forkserver", "pool"])
def test_a_failure_at_a_higher_channel_count_keeps_the_first_checks(
    launcher: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(LAUNCHER_ENV, launcher)
    folder = tmp_path / "plugins"
    folder.mkdir()
    for behaviour in ("ok", "segfault", "hang"):
        build_channels_bundle(behaviour, dest=folder)

    scan(tmp_path / "cache", folder, workers=2, timeout_seconds=HANG_TIMEOUT)

    records = _records(tmp_path / "cache")
    control = records[zoo_name("ok", "channels")]
    # The control: every count is taken (the behaviour at more than two does nothing).
    assert (control.status, control.channels) == ("ok", list(CHANNEL_COUNTS))
    for behaviour, status, ending in (
        ("segfault", "crashed", "the probe died with SIGSEGV"),
        ("hang", "timeout", f"did not finish within {HANG_TIMEOUT:g} s"),
    ):
        record = records[zoo_name(behaviour, "channels")]
        assert record.status == status, (behaviour, record.error)
        assert record.error is not None and record.error.startswith(ending), record.error
        assert TRYING_THREE in record.error, record.error
        # What the checks at its first count found stands, and the counts it took before.
        assert record.channels == [1, 2], behaviour
        assert record.audio_check is not None and record.audio_check.ok, behaviour
        assert record.latency_samples == 0
        assert record.state is not None, behaviour
