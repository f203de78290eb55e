"""A real plugin that breaks on a channel count keeps what the checks at its first count found.

LSP's Limiter Mono (the breadth set's relinked LSP bundle) processes mono, refuses stereo, and
then aborts ("double free or corruption") when offered 3 channels. The probe checks audio,
latency and state at the lowest count a plugin accepts before it tries the higher ones, so the
record of such a plugin says it crashed, on which count, and still tells a host it works in mono.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from breadth_bundles import BreadthSets
from pluginary.scanner.engine import interpret
from pluginary.scanner.journal import Task
from pluginary.scanner.runs import ProbeLimits, ProbeRun

pytestmark = pytest.mark.worker

PROBE = """
import os, sys
from pluginary.scanner.probe import probe_bundle
fd = os.open(sys.argv[2], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
probe_bundle(sys.argv[1], [sys.argv[3]], fd)
"""


def test_a_plugin_that_aborts_on_3_channels_keeps_its_mono_checks(
    breadth_plugins: BreadthSets, tmp_path: Path
) -> None:
    bundle = breadth_plugins.loadable("lsp") / "lsp-plugins.vst3"
    result = tmp_path / "result"
    probe = subprocess.run(
        [sys.executable, "-c", PROBE, str(bundle), str(result), "Limiter Mono"],
        capture_output=True,
        timeout=300,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
    )
    assert probe.returncode == -signal.SIGABRT, probe.stderr[-2000:]
    events = [json.loads(line) for line in result.read_text().splitlines()]
    checked = [event for event in events if event["event"] == "checked"]
    assert [event["facts"]["channels"] for event in checked] == [[1]]
    assert events[-1] == {
        "event": "processing",
        "class": "Limiter Mono",
        "step": "channels",
        "channels": 3,
        "accepted": [1],
    }

    task = Task(
        id=1,
        bundle=str(bundle),
        real_path=str(bundle),
        format="vst3",
        fingerprint="f",
        module_info=None,
        classes=["Limiter Mono"],
        skip=[],
        state="running",
        attempts=1,
        interrupted=0,
    )
    run = ProbeRun(events, exit_code=None, signal="SIGABRT", output_tail="", duration_ms=1.0)
    state, ((name, status, record),), _ = interpret(task, run, ProbeLimits())
    assert (state, name, status) == ("crashed", "Limiter Mono", "crashed")
    assert record["error"] == (
        "the probe died with SIGABRT while finding the channel counts it accepts"
        " (trying 3 channels)"
    )
    assert record["channels"] == [1]
    assert record["audio_check"]["ok"] is True
    assert record["state"]["readable"] and record["state"]["writable"]
