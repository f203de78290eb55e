"""The fault points themselves: ``NAME@N`` must mean what ``faults.py`` says it means."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest
from faultkit import Launch, scan_params

pytestmark = pytest.mark.failsafe


@pytest.mark.xfail(
    strict=True,
    reason="faults.py/engine.py: probe:started is counted by the probes in flight at that moment"
    " (len(in_flight)), not by the probes started so far, so with 2 workers probe:started@3"
    " never fires, though faults.py says NAME@N 'dies at the N-th time'",
)
def test_probe_started_at_3_dies_at_the_third_probe(launch: Launch, real_folder: Path) -> None:
    sidecar = launch(env={"PLUGINARY_FAULT": "probe:started@3"})
    sidecar.initialize()
    asked = sidecar.request("pluginary/scan", scan_params(real_folder, workers=2))
    sidecar.wait_for(
        lambda: sidecar.eof or any(m.get("id") == asked for m in sidecar.responses()),
        "the sidecar to die, or the scan to be answered",
    )
    assert sidecar.eof and sidecar.wait_exit() == -signal.SIGKILL
