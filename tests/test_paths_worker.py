"""Real bundles at awkward paths, through the real ``pluginary`` command and real probes.

The per-user folder ``~/.vst3`` (a folder named like a bundle), names that are not UTF-8, and
folders and bundles the scanner may not read: each is found, probed, catalogued and shown, or
recorded with the OS's reason, and nothing in the catalogue is lost.
"""

from __future__ import annotations

import base64
import json
import os
import platform
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from scan_helpers import SCAN_SCRIPT

pytestmark = pytest.mark.worker

PLUGINARY = str(Path(sys.executable).parent / "pluginary")
MACHINE = f"{platform.machine()}-linux"
# Root reads anything; without these two capabilities it obeys permission bits like anyone.
NO_OVERRIDE = ["setpriv", "--bounding-set=-dac_override,-dac_read_search", "--"]


def pluginary(
    cache: Path, *args: str | bytes, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [PLUGINARY, "--cache-dir", str(cache), *args],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "COLUMNS": "200", **(env or {})},
    )
    assert done.returncode == 0, done.stderr
    return done


def odd(path: Path, name: bytes) -> Path:
    """``path / name`` for a name that is not UTF-8 (PEP 383's str, as Python lists it)."""
    return Path(os.fsdecode(os.fsencode(path) + b"/" + name))


def test_the_per_user_folder_is_scanned(real_plugins: Path, tmp_path: Path) -> None:
    home = tmp_path / "home"
    for name in ("ZamComp.vst3", "ZamGate.vst3"):
        shutil.copytree(real_plugins / name, home / ".vst3" / name, symlinks=True)
    # The standard folders, for real: $HOME/.vst3 (and the system's, whatever they hold).
    env = {"HOME": str(home), "VST3_PATH": ""}
    summary = json.loads(pluginary(tmp_path / "cache", "scan", "--json", env=env).stdout)
    assert summary["failed"] + summary["crashed"] + summary["timedOut"] == 0
    plugins = json.loads(pluginary(tmp_path / "cache", "list", "--json", env=env).stdout)
    mine = {p["name"]: p["path"] for p in plugins.values() if p["path"].startswith(str(home))}
    assert mine == {
        "ZamComp": str(home / ".vst3" / "ZamComp.vst3"),
        "ZamGate": str(home / ".vst3" / "ZamGate.vst3"),
    }


def test_names_that_are_not_utf8_are_scanned_loaded_and_shown(
    real_plugins: Path, tmp_path: Path
) -> None:
    plugins = tmp_path / "plugins"
    in_odd_folder = odd(plugins, b"caf\xe9 \xff") / "ZamComp.vst3"
    shutil.copytree(real_plugins / "ZamComp.vst3", in_odd_folder, symlinks=True)
    odd_name = odd(plugins, b"Zam\xffGate.vst3")
    shutil.copytree(real_plugins / "ZamGate.vst3", odd_name, symlinks=True)
    binaries = odd_name / "Contents" / MACHINE
    (binaries / "ZamGate.so").rename(binaries / odd_name.with_suffix(".so").name)
    cache = tmp_path / "cache"

    summary = json.loads(
        pluginary(cache, "scan", "--folder", str(plugins), "--only", "--json").stdout
    )
    assert (summary["discovered"], summary["ok"], summary["failed"]) == (2, 2, 0)

    listed = json.loads(pluginary(cache, "list", "--json").stdout)
    by_name = {p["name"]: p for p in listed.values()}
    assert set(by_name) == {"ZamComp", "ZamGate"}
    for plugin, path in ((by_name["ZamComp"], in_odd_folder), (by_name["ZamGate"], odd_name)):
        assert plugin["status"] == "ok" and plugin["audioOk"] is True
        assert base64.b64decode(plugin["pathBytes"]) == os.fsencode(path)  # Exact.
        assert plugin["path"] == os.fsencode(path).decode("utf-8", "replace")  # As text.

    gate = by_name["ZamGate"]["id"]
    record = json.loads(pluginary(cache, "show", gate, "--json").stdout)
    assert record["status"] == "ok" and record["parameters"] and record["error"] is None
    shown = pluginary(cache, "show", gate).stdout
    assert by_name["ZamGate"]["path"] in shown
    assert "$'" + str(plugins) + "/Zam\\xffGate.vst3'" in shown  # A shell can use this one.

    again = json.loads(
        pluginary(cache, "scan", "--folder", str(plugins), "--only", "--json").stdout
    )
    assert (again["unchanged"], again["probed"], again["removed"]) == (2, 0, 0)
    # The odd folder named directly (a host writes it with PEP 383's \udcXX escapes).
    direct = pluginary(
        cache, "scan", "--folder", os.fsencode(in_odd_folder.parent), "--only", "--json"
    )
    assert json.loads(direct.stdout)["unchanged"] == 1
    relisted = json.loads(pluginary(cache, "list", "--json").stdout)
    assert set(relisted) == set(listed)  # Same ids, nothing removed.


def _permissions_apply(scratch: Path) -> bool:
    """Whether a process run with NO_OVERRIDE is refused a folder of mode 000."""
    locked = scratch / "locked"
    locked.mkdir(mode=0)
    try:
        done = subprocess.run(
            [*NO_OVERRIDE, sys.executable, "-c", f"import os; os.listdir({str(locked)!r})"],
            capture_output=True,
            timeout=60,
        )
    except OSError:
        return False  # No setpriv.
    finally:
        locked.rmdir()
    return done.returncode != 0


def _scan(cache: Path, folder: Path, *prefix: str) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [*prefix, sys.executable, "-c", SCAN_SCRIPT, str(cache), "scan", str(folder)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    return done


def _by_bundle(cache: Path) -> dict[str, tuple[str, str | None]]:
    """Bundle file name -> (status, error) of its plugin, from the catalogue."""
    db = sqlite3.connect(cache / "catalog.sqlite")
    try:
        rows = db.execute("SELECT path, status, error FROM plugins").fetchall()
    finally:
        db.close()
    return {os.path.basename(path): (status, error) for path, status, error in rows}


def test_unreadable_folders_and_bundles_are_never_lost(real_plugins: Path, tmp_path: Path) -> None:
    if not _permissions_apply(tmp_path):
        pytest.skip("cannot drop root's permission override here (setpriv --bounding-set)")
    plugins = tmp_path / "plugins"
    for name, dest in (
        ("ZamComp.vst3", plugins / "ZamComp.vst3"),
        ("ZamGate.vst3", plugins / "Locked" / "ZamGate.vst3"),
        ("ZamDelay.vst3", plugins / "Shut.vst3"),
        ("ZamTube.vst3", plugins / "Loop.vst3"),
    ):
        shutil.copytree(real_plugins / name, dest, symlinks=True)
    shut = plugins / "Shut.vst3" / "Contents" / MACHINE
    (shut / "ZamDelay.so").rename(shut / "Shut.so")
    loop = plugins / "Loop.vst3" / "Contents" / MACHINE
    (loop / "ZamTube.so").unlink()
    (loop / "Loop.so").symlink_to("Loop.so")
    cache = tmp_path / "cache"
    _scan(cache, plugins)
    first = _by_bundle(cache)
    assert {name: status for name, (status, _) in first.items()} == {
        "ZamComp.vst3": "ok",
        "ZamGate.vst3": "ok",
        "Shut.vst3": "ok",
        "Loop.vst3": "failed",
    }
    # A binary that is a symlink loop is a record naming the error, not a silent skip.
    assert (
        first["Loop.vst3"][1]
        == f"cannot read Contents/{MACHINE}/Loop.so: Too many levels of symbolic links (ELOOP)"
    )

    (plugins / "Locked").chmod(0)
    (plugins / "Shut.vst3").chmod(0)
    try:
        done = _scan(cache, plugins, *NO_OVERRIDE)
        second = _by_bundle(cache)
    finally:
        (plugins / "Locked").chmod(0o755)
        (plugins / "Shut.vst3").chmod(0o755)
    assert f"cannot read the folder {plugins / 'Locked'}: Permission denied (EACCES)" in done.stderr
    # Unknown is not uninstalled: the bundle under the unlistable folder is kept as it was.
    assert second["ZamGate.vst3"] == first["ZamGate.vst3"]
    # The unreadable bundle is probed again (its fingerprint changed) and says why it failed.
    assert second["Shut.vst3"] == (
        "failed",
        "cannot read Contents: Permission denied (EACCES)",
    )
    assert second["ZamComp.vst3"] == first["ZamComp.vst3"]

    _scan(cache, plugins)  # Readable again: back to ok, by itself.
    assert _by_bundle(cache)["Shut.vst3"][0] == "ok"
