"""examples/livecode.py, run as a user would: no arguments, in an empty folder."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from pedalboard.io import AudioFile

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "livecode.py"


@pytest.mark.e2e
def test_livecode_renders_a_tone_through_a_reverb(real_plugins: Path, tmp_path: Path) -> None:
    env = {
        **os.environ,
        "PLUGINARY_CACHE_DIR": str(tmp_path / "cache"),  # An empty catalogue: it scans first.
        "PLUGINARY_FIXTURES": str(real_plugins.parent),
    }
    done = subprocess.run(
        [sys.executable, str(EXAMPLE)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout
    assert "The catalogue is empty." in out
    assert "Found Dragonfly" in out  # The first reverb by name among the real plugins.
    assert "Set 'Wet Level' to 30 % (range 0 … 100 %" in out

    with AudioFile(str(tmp_path / "livecode-reverb.wav")) as wav:
        assert wav.samplerate == 44100
        assert wav.frames == 44100  # One second.
        audio = wav.read(wav.frames)
    assert audio.shape[0] == 2
    assert 0.05 < float(np.max(np.abs(audio))) <= 1.0
