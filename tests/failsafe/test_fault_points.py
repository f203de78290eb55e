"""The fault points themselves: ``NAME@N`` must mean what ``faults.py`` says it means."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest
from faultkit import Launch, scan_params

pytestmark = pytest.mark.failsafe


def test_probe_started_at_3_dies_at_the_third_probe(launch: Launch, real_folder: Path) -> None:
    sidecar = launch(env={"PLUGINARY_FAULT": "probe:started@3"})
    sidecar.initialize()
    asked = sidecar.request("pluginary/scan", scan_params(real_folder, workers=2))
    sidecar.wait_for(
        lambda: sidecar.eof or any(m.get("id") == asked for m in sidecar.responses()),
        "the sidecar to die, or the scan to be answered",
    )
    assert sidecar.eof and sidecar.wait_exit() == -signal.SIGKILL
