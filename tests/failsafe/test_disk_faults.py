"""Fault 6, the disk: a full or read-only filesystem under the cache, and files out of place.

Each mount test puts the cache folder on its own small tmpfs, fills it with a ballast file or
remounts it read-only, and drives the real ``pluginary serve``. Reads must answer from the
catalogue (they need no write); whatever must write answers StorageError (1004) naming the
file in the OS's or SQLite's words; nothing is moved aside (a full disk is not damage), and
once space is back the scan finishes with the catalogue a clean scan gives. Mounting needs root
(or CAP_SYS_ADMIN): elsewhere those tests skip, and ``tests/unit/test_storage_errors.py`` covers
the same failures at the SQLite layer.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from faultkit import (
    SETTLED,
    Launch,
    build_native,
    catalog_dump,
    differences,
    journal_tasks,
    loading,
    scan_params,
)
from ledger import Ledger
from rawclient import RpcError, Sidecar, sidecars, wait_gone

from pluginary.paths import cache_paths
from scan_helpers import dump_catalog, scan

pytestmark = pytest.mark.failsafe

HERE = Path(__file__).resolve().parent
STORAGE_ERROR = 1004
NOTHING_TO_RESUME = 1002
FIRST = ("DragonflyRoomReverb.vst3", "ZamComp.vst3", "ZamGate.vst3")
SECOND = ("ZamDelay.vst3", "ZamEQ2.vst3", "ZamTube.vst3")
FULL_WORDS = ("database or disk is full", os.strerror(errno.ENOSPC))
READ_ONLY_WORDS = ("readonly database", os.strerror(errno.EROFS))


class Disk:
    """A small tmpfs: fill it up, free it, make it read-only and writable again."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.ballast = root / "ballast"

    def fill(self) -> None:
        """Take every byte left: the next write that needs a block fails with ENOSPC."""
        with open(self.ballast, "ab", buffering=0) as file:
            chunk = 1 << 20
            while chunk:
                try:
                    file.write(bytes(chunk))
                except OSError as error:
                    if error.errno != errno.ENOSPC:
                        raise
                    chunk //= 2
        assert os.statvfs(self.root).f_bfree == 0

    def free(self) -> None:
        self.ballast.unlink()

    def read_only(self) -> None:
        _mount("-o", "remount,ro", str(self.root))

    def writable(self) -> None:
        _mount("-o", "remount,rw", str(self.root))


def _mount(*args: str) -> None:
    subprocess.run(["mount", *args], check=True, capture_output=True, text=True)


@pytest.fixture
def disk(tmp_path: Path) -> Iterator[Disk]:
    """A real 16 MiB tmpfs, mounted for the test and unmounted after it (skips if refused)."""
    if not sys.platform.startswith("linux"):
        pytest.skip("the disk tests mount a Linux tmpfs")
    root = tmp_path / "disk"
    root.mkdir()
    try:
        mounted = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", "size=16m,mode=0755", "tmpfs", str(root)],
            capture_output=True,
            text=True,
        )
    except FileNotFoundError:
        pytest.skip("no mount command: the disk tests need to mount a small tmpfs")
    if mounted.returncode != 0:
        pytest.skip(
            "cannot mount a tmpfs here (the disk tests need root or CAP_SYS_ADMIN): "
            + (mounted.stderr.strip() or f"mount exited with {mounted.returncode}")
        )
    try:
        yield Disk(root)
    finally:
        if subprocess.run(["umount", str(root)], capture_output=True).returncode != 0:
            subprocess.run(["umount", "-l", str(root)], capture_output=True)


@pytest.fixture
def on_disk(disk: Disk, tmp_path: Path) -> Iterator[Launch]:
    """Sidecars whose cache folder is on :func:`disk` (their logs are not); stopped first."""
    with sidecars(disk.root / "cache", tmp_path / "logs") as start:
        yield start


def scanned(launch: Launch, plugins: Path) -> tuple[Sidecar, str]:
    """A sidecar that scanned ``plugins``, read the catalogue once and shut down; a plugin id."""
    sidecar = launch()
    sidecar.initialize()
    sidecar.result("pluginary/scan", scan_params(plugins))
    plugin_id: str = sidecar.result("pluginary/query", {})["plugins"][0]["id"]
    assert sidecar.shutdown() == 0
    return sidecar, plugin_id


def refused(sidecar: Sidecar, method: str, params: Any, words: tuple[str, ...]) -> RpcError:
    """``method`` answered StorageError naming its file, in the OS's or SQLite's words."""
    error = sidecar.error(method, params)
    assert error.code == STORAGE_ERROR, error.message
    assert "ExceptionGroup" not in error.message
    assert any(word in error.message for word in words), error.message
    assert error.data["path"] in error.message
    return error


def cli(cache: Path, *args: str) -> Any:
    """A CLI command's JSON output; it must succeed."""
    done = subprocess.run(
        [sys.executable, "-m", "pluginary", *args, "--json"],
        env={**os.environ, "PLUGINARY_CACHE_DIR": str(cache)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def moved_aside(cache: Path) -> list[str]:
    return sorted(p.name for p in cache.iterdir() if ".broken-" in p.name)


def test_on_a_full_disk_reads_answer_and_writes_are_refused_in_the_os_words(
    disk: Disk, on_disk: Launch, folder: Callable[..., Path], ledger: Ledger
) -> None:
    plugins = folder(*FIRST)
    first, plugin_id = scanned(on_disk, plugins)
    before = catalog_dump(first.cache, plugins)
    disk.fill()

    sidecar = on_disk()
    sidecar.initialize()
    assert sidecar.result("pluginary/query", {})["total"] == len(FIRST)
    assert sidecar.result("pluginary/plugin", {"id": plugin_id})["id"] == plugin_id
    status = sidecar.result("pluginary/status")
    assert status["counts"]["plugins"] == len(FIRST) and status["interrupted"] is None
    assert len(cli(first.cache, "list")) == len(FIRST)
    assert cli(first.cache, "show", plugin_id)["id"] == plugin_id
    assert cli(first.cache, "status")["counts"]["plugins"] == len(FIRST)
    error = refused(sidecar, "pluginary/scan", scan_params(plugins, rescan=True), FULL_WORDS)
    assert sidecar.error("pluginary/resume", None).code == NOTHING_TO_RESUME  # Read, not written.
    assert sidecar.shutdown() == 0
    assert not moved_aside(first.cache)

    disk.free()
    assert not differences(catalog_dump(first.cache, plugins), before)
    after = on_disk()
    after.initialize()
    summary = after.result("pluginary/scan", scan_params(plugins, rescan=True))
    assert summary["ok"] == len(FIRST)
    assert after.shutdown() == 0
    ledger.record(
        "disk-full",
        "query, plugin and status (and the CLI's list, show and status) answered from the"
        f" catalogue; scan answered StorageError: “{error.message}”; resume answered"
        " NothingToResume; nothing moved aside; with space back, the next scan ran",
    )


def test_a_disk_that_fills_mid_scan_loses_nothing_and_resume_finishes_the_scan(
    disk: Disk, on_disk: Launch, real_plugins: Path, tmp_path: Path, ledger: Ledger
) -> None:
    # The scan probes FIRST, then a bundle that loads until the test opens its gate, then
    # SECOND (one probe at a time, in path order): the disk fills while that probe is held.
    plugins = tmp_path / "plugins"
    for part, names in (("a", FIRST), ("c", SECOND)):
        (plugins / part).mkdir(parents=True)
        for name in names:
            (plugins / part / name).symlink_to(real_plugins / name)
    gate = build_native(HERE / "native" / "gate.c")
    shutil.copytree(gate, plugins / "b" / gate.name, symlinks=True)
    total = len(FIRST) + 1 + len(SECOND)
    scan(tmp_path / "clean", plugins, workers=1)  # What the scan should end as.
    clean = dump_catalog(cache_paths(tmp_path / "clean"))

    # The probes' scratch folder stays off the full disk: a probe that cannot write its result
    # is a case of its own (the fork server's); this one is the journal's and the catalogue's.
    cache = disk.root / "cache"
    cache.mkdir()
    (tmp_path / "scratch").mkdir()
    (cache / "probes").symlink_to(tmp_path / "scratch")
    closed = tmp_path / "gate-closed"
    closed.touch()
    sidecar = on_disk(env={"PLUGINARY_TEST_GATE": str(closed)})
    sidecar.initialize()
    request = sidecar.request("pluginary/scan", scan_params(plugins, workers=1, timeoutSeconds=600))
    sidecar.wait_for(lambda: loading("gate.so", sidecar.processes()), "the gated probe")
    disk.fill()
    closed.unlink()
    answer = sidecar.response(request)
    assert "error" in answer, answer
    error = RpcError(answer["error"])
    assert error.code == STORAGE_ERROR and error.data == {"path": str(cache / "journal.sqlite")}
    assert any(word in error.message for word in FULL_WORDS) and "Group" not in error.message

    disk.free()
    # What was settled is kept, and only that: no task was settled because of our disk.
    states = {Path(bundle).name: state for _, bundle, state, _ in journal_tasks(cache)}
    assert {name for name, state in states.items() if state in SETTLED} == set(FIRST)
    assert {states[name] for name in FIRST} == {"ok"}
    assert states[gate.name] in ("running", "pending")
    assert {states[name] for name in SECOND} == {"pending"}
    assert dump_catalog(cache_paths(cache)) in (
        {},
        {"plugins": [], "bundles": [], "parameters": []},
    )
    interrupted = sidecar.result("pluginary/status")["interrupted"]
    assert (interrupted["done"], interrupted["total"]) == (len(FIRST), total)

    summary = sidecar.result("pluginary/resume")
    assert (summary["probed"], summary["ok"], summary["failed"]) == (total, total - 1, 1)
    difference = differences(dump_catalog(cache_paths(cache)), clean)
    assert not difference, "\n".join(difference)  # Row for row: the gate failed on its own.
    assert sidecar.shutdown() == 0
    assert not moved_aside(cache)
    ledger.record(
        "disk-full-mid-scan",
        f"scan answered StorageError: “{error.message}”; the journal kept the"
        f" {len(FIRST)} settled bundles, the failed step rolled back (no task blamed), the"
        " catalogue untouched; with space back, resume finished it, equal to a clean scan",
    )


def test_a_commit_on_a_full_disk_rolls_back_and_resume_completes_it(
    disk: Disk,
    on_disk: Launch,
    folder: Callable[..., Path],
    real_plugins: Path,
    tmp_path: Path,
    ledger: Ledger,
) -> None:
    plugins = folder(*FIRST)
    first = on_disk()
    first.initialize()
    first.result("pluginary/scan", scan_params(plugins))
    assert first.shutdown() == 0
    before = catalog_dump(first.cache, plugins)
    for name in SECOND:
        (plugins / name).symlink_to(real_plugins / name)
    dying = on_disk(env={"PLUGINARY_FAULT": "commit:before"})
    dying.initialize()
    dying.request("pluginary/scan", scan_params(plugins))
    assert dying.wait_exit() == -signal.SIGKILL
    wait_gone(dying.processes(), "the killed sidecar's processes", timeout=60.0)
    scan(tmp_path / "clean", plugins)
    clean = catalog_dump(tmp_path / "clean", plugins)
    disk.fill()

    sidecar = on_disk()
    sidecar.initialize()
    status = sidecar.result("pluginary/status")  # After the start-up's commit failed.
    assert status["interrupted"]["state"] == "settled"
    assert sidecar.result("pluginary/query", {})["total"] == len(FIRST)
    # The commit at start-up failed on the catalogue; closing the journal then may have
    # checkpointed its log away, and reopening it needs space too: either file may be named.
    logged = next(line for line in sidecar.logs() if "could not look for an earlier" in line)
    catalog = cache_paths(first.cache).catalog
    assert f"the catalogue cannot be used: database or disk is full ({catalog})" in logged
    error = refused(sidecar, "pluginary/resume", None, FULL_WORDS)
    assert error.data["path"] in (str(catalog), str(cache_paths(first.cache).journal))
    # All or nothing: rolled back, or (the failed attempt left the log room enough) committed
    # whole with only the journal's retirement refused, which the next resume finishes.
    now = catalog_dump(first.cache, plugins)
    assert not differences(now, before) or not differences(now, clean)

    disk.free()
    summary = sidecar.result("pluginary/resume")
    assert (summary["discovered"], summary["probed"]) == (len(FIRST) + len(SECOND), len(SECOND))
    difference = differences(catalog_dump(first.cache, plugins), clean)
    assert not difference, "\n".join(difference)
    assert sidecar.shutdown() == 0
    assert not moved_aside(first.cache)
    ledger.record(
        "disk-full-commit",
        f"the commit at start-up failed, logged: “{logged}”; resume answered StorageError:"
        f" “{error.message}”; the catalogue stayed as it was, the journal kept the settled"
        " scan; with space back, resume committed it without probing, equal to a clean scan",
    )


def test_a_read_only_filesystem_with_a_killed_sidecars_log_files_answers_reads(
    disk: Disk, on_disk: Launch, folder: Callable[..., Path], ledger: Ledger
) -> None:
    plugins = folder(*FIRST)
    killed = on_disk()
    killed.initialize()
    killed.result("pluginary/scan", scan_params(plugins))
    plugin_id = killed.result("pluginary/query", {})["plugins"][0]["id"]
    pids = killed.processes()
    killed.signal(signal.SIGKILL)
    assert killed.wait_exit() == -signal.SIGKILL
    wait_gone(pids, "the killed sidecar's processes", timeout=60.0)
    catalog = cache_paths(killed.cache).catalog
    assert Path(f"{catalog}-wal").exists()  # Its reader kept the log: it is read through it.
    disk.read_only()
    try:
        sidecar = on_disk()
        sidecar.initialize()
        assert sidecar.result("pluginary/query", {})["total"] == len(FIRST)
        assert sidecar.result("pluginary/plugin", {"id": plugin_id})["id"] == plugin_id
        status = sidecar.result("pluginary/status")
        assert status["counts"]["plugins"] == len(FIRST) and status["interrupted"] is None
        assert len(cli(killed.cache, "list")) == len(FIRST)
        error = refused(sidecar, "pluginary/scan", scan_params(plugins), READ_ONLY_WORDS)
        assert sidecar.error("pluginary/resume", None).code == NOTHING_TO_RESUME
        assert sidecar.shutdown() == 0
    finally:
        disk.writable()
    assert not moved_aside(killed.cache)
    ledger.record(
        "disk-read-only",
        "query, plugin, status and the CLI's list answered from the catalogue (through the"
        f" killed sidecar's log); scan answered StorageError: “{error.message}”; resume"
        " answered NothingToResume; nothing moved aside",
    )


# Each file, and the reads that need it (the others answer as usual).
CACHE_FILES = {
    "catalog.sqlite": ("pluginary/query", "pluginary/status"),
    "journal.sqlite": ("pluginary/status",),
    "ignore.txt": (),
    "scan.lock": (),
}
READS = {"pluginary/query": {}, "pluginary/status": None}


@pytest.mark.parametrize("name", CACHE_FILES)
def test_a_folder_in_place_of_a_cache_file_is_a_storage_error_naming_it(
    name: str, launch: Launch, folder: Callable[..., Path], ledger: Ledger
) -> None:
    plugins = folder(*FIRST)
    first, _ = scanned(launch, plugins)
    target = first.cache / name
    for suffix in ("", "-wal", "-shm"):
        Path(f"{target}{suffix}").unlink(missing_ok=True)
    target.mkdir()

    sidecar = launch()
    sidecar.initialize()
    scan_error = refused(sidecar, "pluginary/scan", scan_params(plugins), ("Is a directory",))
    assert scan_error.data == {"path": str(target)}
    for read, params in READS.items():
        if read in CACHE_FILES[name]:
            assert refused(sidecar, read, params, ("Is a directory",)).data == scan_error.data
        else:
            assert "error" not in sidecar.call(read, params)
    assert sidecar.shutdown() == 0
    assert target.is_dir() and not moved_aside(first.cache)
    ledger.record(
        "cache-file-is-directory",
        f"{name}: scan answered StorageError: “{scan_error.message}”; left in place",
    )
