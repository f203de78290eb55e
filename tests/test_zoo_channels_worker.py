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

from pluginary.models import CHANNEL_COUNTS
from pluginary.scanner.launchers import LAUNCHER_ENV
from scan_helpers import catalog_records, scan
from zoo_bundles import build_channels_bundle, zoo_name

pytestmark = pytest.mark.worker

# The hang's limit only sets how long the test waits for a plugin built never to finish.
HANG_TIMEOUT = 6.0
TRYING_THREE = "while finding the channel counts it accepts (trying 3 channels)"


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

    records = {record.name: record for record in catalog_records(tmp_path / "cache")}
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
