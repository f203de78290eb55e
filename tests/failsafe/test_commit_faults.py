"""Fault 4: the sidecar dies before, inside or after the catalogue's commit transaction.

The catalogue is untouched (a dump before and after the crash are equal; after the commit it is
the new one), the journal keeps the settled scan, and the next sidecar completes the commit when
it starts, without probing: every bundle is removed from disk first, so a probe could only fail.
"""

from __future__ import annotations

import signal
from collections.abc import Callable
from pathlib import Path

import pytest
from faultkit import Launch, catalog_dump, differences, journal_scan, scan_params
from ledger import Ledger

from scan_helpers import scan

pytestmark = pytest.mark.failsafe


@pytest.mark.parametrize("point", ["commit:before", "commit:mid", "commit:after"])
def test_a_crash_around_the_commit_loses_nothing_and_the_next_start_completes_it(
    point: str,
    launch: Launch,
    folder: Callable[..., Path],
    real_plugins: Path,
    tmp_path: Path,
    ledger: Ledger,
) -> None:
    plugins = folder("ZamComp.vst3", "ZamGate.vst3")
    first = launch()
    first.initialize()
    first.result("pluginary/scan", scan_params(plugins))
    assert first.shutdown() == 0
    before = catalog_dump(first.cache, plugins)
    (plugins / "ZamTube.vst3").symlink_to(real_plugins / "ZamTube.vst3")
    (plugins / "ZamGate.vst3").unlink()

    dying = launch(env={"PLUGINARY_FAULT": point})
    dying.initialize()
    dying.request("pluginary/scan", scan_params(plugins))
    assert dying.wait_exit() == -signal.SIGKILL
    after_crash = catalog_dump(dying.cache, plugins)
    if point == "commit:after":
        assert after_crash != before  # Committed; only the journal's retirement was left.
    else:
        assert not differences(after_crash, before)  # Untouched, row for row.
    held = journal_scan(dying.cache)
    assert held is not None and held[1] == "settled"  # The journal kept the scan.

    # What the commit should give, then: every bundle leaves the disk.
    scan(tmp_path / "clean", plugins)
    clean = catalog_dump(tmp_path / "clean", plugins)
    for bundle in plugins.iterdir():
        bundle.unlink()

    completing = launch()
    completing.initialize()
    changed = completing.wait_for(
        lambda: completing.notifications("pluginary/catalogChanged"), "the completed commit"
    )
    change = changed[0]
    logs = completing.logs()
    assert f"completing the commit of scan {held[0]}, which finished probing earlier" in logs
    status = completing.result("pluginary/status")
    assert status["interrupted"] is None and status["lastScan"]["scanId"] == held[0]
    assert journal_scan(completing.cache) is None  # Retired.
    assert not differences(catalog_dump(completing.cache, plugins), clean)
    if point == "commit:after":
        assert change == {"added": [], "updated": [], "removed": []}
    else:
        assert (len(change["added"]), len(change["updated"]), len(change["removed"])) == (
            1,
            0,
            1,
        )  # ZamTube in, ZamGate out.
    assert completing.shutdown() == 0
    if point != "commit:after":
        ledger.record(
            "journal-settled",
            "completed at the next start without probing; logged: “completing the commit of"
            " scan …, which finished probing earlier”",
        )
    ledger.record(
        "commit-crash",
        f"{point}: catalogue {'already committed' if point == 'commit:after' else 'untouched'},"
        " journal kept the settled scan; next start completed the commit without probing",
    )
