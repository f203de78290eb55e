"""README.md's Python snippet for hosts, run as written on a machine with no plugins."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.e2e


def hosts_snippet() -> str:
    section = (ROOT / "README.md").read_text().split("## For hosts", 1)[1]
    match = re.search(r"```python\n(.*?)```", section, re.DOTALL)
    assert match is not None, "README's 'For hosts' section has no Python snippet"
    return match.group(1)


def test_the_snippet_says_what_to_do_on_an_empty_catalogue(tmp_path: Path) -> None:
    if any(Path(folder).is_dir() for folder in ("/usr/lib/vst3", "/usr/local/lib/vst3")):
        pytest.skip("this machine has plugins in a system folder")
    home = tmp_path / "home"  # No ~/.vst3 in it, and VST3_PATH empty: nothing to find.
    home.mkdir()
    env = {
        **os.environ,
        "HOME": str(home),
        "VST3_PATH": "",
        "PLUGINARY_CACHE_DIR": str(tmp_path / "cache"),
    }
    done = subprocess.run(
        [sys.executable, "-c", hosts_snippet()],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        cwd=tmp_path,
    )
    assert "Traceback" not in done.stderr, done.stderr
    assert done.returncode == 1
    assert "No hall reverb in the catalogue (searched " in done.stderr
    assert str(home / ".vst3") in done.stderr and "pluginary.scan([" in done.stderr
