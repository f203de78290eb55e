"""What is a bundle (the layout, not the name), and nothing found is lost without a word."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from pluginary.scanner.discovery import (
    discover_vst3,
    fingerprint,
    gone,
    is_bundle,
    search,
    standard_vst3_folders,
)


def _make_bundle(path: Path) -> Path:
    folder = path / "Contents" / "x86_64-linux"
    folder.mkdir(parents=True)
    (folder / f"{path.stem}.so").write_bytes(b"\x7fELF binary")
    return path


def _names(folder: Path) -> list[str]:
    return [os.path.relpath(bundle.path, folder) for bundle in discover_vst3([folder])]


def test_the_per_user_folder_dot_vst3_is_searched(tmp_path: Path) -> None:
    home = tmp_path / "home"
    _make_bundle(home / ".vst3" / "A.vst3")
    _make_bundle(home / ".vst3" / "Vendor" / "B.vst3")
    folders = standard_vst3_folders("Linux", {}, home)
    assert folders[0] == home / ".vst3"
    found = discover_vst3(folders)
    assert [os.path.relpath(b.path, home) for b in found] == [
        ".vst3/A.vst3",
        ".vst3/Vendor/B.vst3",
    ]
    assert not is_bundle(str(home / ".vst3"))


def test_a_folder_named_like_a_bundle_without_contents_is_searched(tmp_path: Path) -> None:
    _make_bundle(tmp_path / "Suite.vst3" / "One.vst3")  # A vendor's folder of bundles.
    _make_bundle(tmp_path / "Suite.vst3" / "Two.vst3")
    (tmp_path / "Empty.vst3").mkdir()  # Nothing in it: nothing found, nothing failed.
    outer = _make_bundle(tmp_path / "Outer.vst3")  # A bundle: never entered.
    _make_bundle(outer / "Contents" / "Resources" / "Inner.vst3")
    (tmp_path / "Single.vst3").write_bytes(b"MZ")  # The older single-file form.
    assert _names(tmp_path) == [
        "Outer.vst3",
        "Single.vst3",
        "Suite.vst3/One.vst3",
        "Suite.vst3/Two.vst3",
    ]
    # Given directly (VST3_PATH may name bundles or folders), the same rule holds.
    assert _names(tmp_path / "Suite.vst3") == ["One.vst3", "Two.vst3"]
    assert [b.path for b in discover_vst3([outer])] == [str(outer)]


def test_names_that_are_not_utf8_are_found(tmp_path: Path) -> None:
    folder = Path(os.fsdecode(os.fsencode(tmp_path) + b"/caf\xe9 \xff"))
    bundle = _make_bundle(folder / os.fsdecode(b"Zam\xffComp.vst3"))
    (found,) = discover_vst3([tmp_path])
    assert (found.path, found.real_path) == (str(bundle), str(bundle))
    assert found.fingerprint == fingerprint(bundle)


def test_a_bundle_whose_binary_is_a_symlink_loop_is_found_and_fingerprinted(
    tmp_path: Path,
) -> None:
    bundle = _make_bundle(tmp_path / "Loop.vst3")
    binary = bundle / "Contents" / "x86_64-linux" / "Loop.so"
    healthy = fingerprint(bundle)
    binary.unlink()
    binary.symlink_to(binary.name)  # Loop.so -> Loop.so
    looped = fingerprint(bundle)
    assert looped != healthy  # It counts, by its error, instead of vanishing from the digest.
    binary.unlink()
    assert fingerprint(bundle) not in (healthy, looped)
    binary.symlink_to(binary.name)
    # A bundle that is itself a symlink loop is found too: its probe will say why it fails.
    (tmp_path / "Self.vst3").symlink_to("Self.vst3")
    assert _names(tmp_path) == ["Loop.vst3", "Self.vst3"]


def test_fingerprinting_never_opens_a_fifo_or_device(tmp_path: Path) -> None:
    bundle = _make_bundle(tmp_path / "Odd.vst3")
    os.mkfifo(bundle / "Contents" / "x86_64-linux" / "Odd.so.fifo")
    (bundle / "Contents" / "Resources").mkdir()
    os.mkfifo(bundle / "Contents" / "Resources" / "moduleinfo.json")
    (bundle / "Contents" / "x86_64-linux" / "zero").symlink_to("/dev/zero")
    # In a child: had it opened a FIFO it would block forever (the timeout is the guard).
    code = (
        "import sys; from pluginary.scanner import discovery;"
        " print(discovery.discover_vst3(sys.argv[1:]))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path)], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert "Odd.vst3" in done.stdout


def test_unlistable_folders_are_reported_not_dropped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Faked here (root reads anything); tests/test_paths_worker.py does it for real.
    _make_bundle(tmp_path / "plugins" / "A.vst3")
    _make_bundle(tmp_path / "plugins" / "Locked" / "B.vst3")
    _make_bundle(tmp_path / "plugins" / "Gone" / "C.vst3")
    real_scandir = os.scandir
    blocked = {str(tmp_path / "plugins" / "Locked"): PermissionError(13, "Permission denied")}
    blocked[str(tmp_path / "plugins" / "Gone")] = FileNotFoundError(2, "No such file")

    def scandir(path: str) -> Iterator[os.DirEntry[str]]:
        if os.fspath(path) in blocked:
            raise blocked[os.fspath(path)]
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", scandir)
    found = search([tmp_path / "plugins", tmp_path / "missing"], "vst3")
    assert [os.path.basename(b.path) for b in found.bundles] == ["A.vst3"]
    # Gone is gone (its bundles may be removed); locked is unknown, and said so.
    assert [(u.path, u.reason) for u in found.unreadable] == [
        (str(tmp_path / "plugins" / "Locked"), "Permission denied (EACCES)")
    ]


def test_gone_is_not_unreadable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert gone(str(tmp_path / "nothing"))
    assert gone(str(tmp_path / "nothing" / "below"))
    assert not gone(str(tmp_path))

    def lstat(path: str) -> os.stat_result:
        raise PermissionError(13, "Permission denied", path)

    monkeypatch.setattr(os, "lstat", lstat)
    assert not gone(str(tmp_path / "nothing"))  # Cannot tell: not gone.
