"""The scan lock: exclusive across processes, owner named, stale locks taken over."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from pluginary.errors import ScanInProgress
from pluginary.scanner.lock import lock_holder, scan_lock

HOLD = """
import sys
from pathlib import Path
from pluginary.scanner.lock import scan_lock
with scan_lock(Path(sys.argv[1]), "other-scan"):
    print("held", flush=True)
    sys.stdin.read()
"""


def test_a_second_scanner_is_refused_with_the_owner_named(tmp_path: Path) -> None:
    lock = tmp_path / "scan.lock"
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(lock)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout is not None and holder.stdout.readline() == "held\n"
    try:
        assert lock_holder(lock) is not None and lock_holder(lock)["pid"] == holder.pid  # type: ignore[index]
        with pytest.raises(ScanInProgress) as refused, scan_lock(lock, "mine"):
            pass
        assert f"pid {holder.pid}" in str(refused.value)
        assert refused.value.data["owner"]["scanId"] == "other-scan"
    finally:
        os.kill(holder.pid, signal.SIGKILL)  # Dies holding the lock, leaving its pid in the file.
        holder.wait()
    assert lock_holder(lock) is None
    with scan_lock(lock, "mine"):  # The stale lock is taken over.
        assert lock_holder(lock) is not None


def test_the_same_process_cannot_nest_scans(tmp_path: Path) -> None:
    lock = tmp_path / "scan.lock"
    with scan_lock(lock, "first"), pytest.raises(ScanInProgress), scan_lock(lock, "second"):
        pass
