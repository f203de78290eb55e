"""The describer a scan asks for is the one its probes use, through either launcher.

The fork server and each pool worker set their describer up once, before any probe (its hooks in,
pedalboard's constructor recompiled: 17 ms a probe otherwise), so the choice is made where the
probes' environment is: ``PLUGINARY_DESCRIBER=pedalboard`` in the scanner's environment must
still give pedalboard's own path, and the default the fast describer.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from pluginary.scanner.describer import DESCRIBER_ENV, PROVEN_VERSIONS
from scan_helpers import catalog_records, scan

pytestmark = pytest.mark.worker


@pytest.mark.parametrize("launcher", ["forkserver", "pool"])
@pytest.mark.parametrize("forced", [None, "pedalboard"])
def test_the_probes_describe_as_the_scan_asks(
    launcher: str,
    forced: str | None,
    real_plugins: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import pedalboard.version

    monkeypatch.setenv("PLUGINARY_LAUNCHER", launcher)  # The launcher's processes inherit it.
    if forced is None:
        monkeypatch.delenv(DESCRIBER_ENV, raising=False)
    else:
        monkeypatch.setenv(DESCRIBER_ENV, forced)
    folder = tmp_path / "plugins"
    folder.mkdir()
    for name in ("ZamComp.vst3", "ZamEQ2.vst3"):  # Two probes: the second from a warm worker.
        (folder / name).symlink_to(real_plugins / name)

    scan(tmp_path / "cache", folder, workers=1)

    records = catalog_records(tmp_path / "cache")
    proven = pedalboard.version.__version__ in PROVEN_VERSIONS
    expected = forced or ("fast" if proven else "pedalboard")
    assert [r.probe_ms.describer if r.probe_ms else None for r in records] == [expected] * 2
