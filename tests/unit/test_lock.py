"""The scan lock: exclusive across processes, owner named, stale locks taken over."""

from __future__ import annotations

import fcntl
import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from pluginary.errors import ScanInProgress
from pluginary.paths import cache_paths
from pluginary.scanner.lock import lock_holder, owner_path, scan_lock

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
    assert json.loads(owner_path(lock).read_text())["pid"] == holder.pid
    assert lock_holder(lock) is None
    with scan_lock(lock, "mine"):  # The stale lock is taken over.
        assert lock_holder(lock) is not None


def test_the_same_process_cannot_nest_scans(tmp_path: Path) -> None:
    lock = tmp_path / "scan.lock"
    with scan_lock(lock, "first"), pytest.raises(ScanInProgress), scan_lock(lock, "second"):
        pass


def test_the_owner_is_named_beside_the_lock_and_forgotten_at_release(tmp_path: Path) -> None:
    lock = tmp_path / "scan.lock"
    owner = owner_path(lock)
    assert owner == cache_paths(tmp_path).scan_owner
    with scan_lock(lock, "first") as held:
        named = json.loads(owner.read_text())
        assert (named["pid"], named["scanId"]) == (os.getpid(), "first")
        held.name("renamed")
        assert json.loads(owner.read_text())["scanId"] == "renamed"
        assert lock_holder(lock) == json.loads(owner.read_text())
        # A loser reads the owner and touches nothing of the winner's.
        with pytest.raises(ScanInProgress, match="scan renamed"), scan_lock(lock, "second"):
            pass
        assert json.loads(owner.read_text())["scanId"] == "renamed"
        assert lock_holder(lock) is not None
    assert not owner.exists() and lock.exists()
    assert sorted(path.name for path in tmp_path.iterdir()) == ["scan.lock"]
    assert lock_holder(lock) is None


def test_a_stale_owner_file_names_nobody(tmp_path: Path) -> None:
    lock = tmp_path / "scan.lock"
    lock.touch()
    owner_path(lock).write_text(json.dumps({"pid": 1, "scanId": "long-dead"}))
    assert lock_holder(lock) is None  # Believed only while the lock is held.
    with scan_lock(lock, "mine"):
        assert lock_holder(lock)["scanId"] == "mine"  # type: ignore[index]


def test_no_lock_file_means_no_holder(tmp_path: Path) -> None:
    assert lock_holder(tmp_path / "scan.lock") is None
    assert not (tmp_path / "scan.lock").exists()  # Asking creates nothing.


def test_a_holder_locking_with_flock_itself_is_seen(tmp_path: Path) -> None:
    # filelock's primitive on Unix is flock on the whole file, the lock earlier versions of
    # Pluginary took: a scanner of either kind refuses the other.
    lock = tmp_path / "scan.lock"
    fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        assert lock_holder(lock) == {"pid": None}  # Held, by someone who named nobody here.
        with pytest.raises(ScanInProgress), scan_lock(lock, "mine"):
            pass
    finally:
        os.close(fd)
    with scan_lock(lock, "mine"):
        pass


def test_a_read_only_lock_file_is_still_tested(tmp_path: Path) -> None:
    lock = tmp_path / "scan.lock"
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(lock)], stdin=subprocess.PIPE, stdout=subprocess.PIPE
    )
    assert holder.stdout is not None and holder.stdout.readline() == b"held\n"
    try:
        real_open = os.open

        def no_writing(path: Any, flags: int, *args: Any) -> int:
            if flags & (os.O_RDWR | os.O_WRONLY):
                raise PermissionError(13, "Permission denied", path)
            return real_open(path, flags, *args)

        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(os, "open", no_writing)  # Root writes anything: fake a read-only file.
            assert lock_holder(lock)["pid"] == holder.pid  # type: ignore[index]
    finally:
        assert holder.stdin is not None
        holder.stdin.close()
        holder.wait()
    assert lock_holder(lock) is None
