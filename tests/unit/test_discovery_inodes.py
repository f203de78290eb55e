"""The walk on file systems without inode numbers (FAT, exFAT, some shares; Windows scandir).

Faked through ``search``'s ``stat``: every folder reports st_dev and st_ino 0, as Windows'
``DirEntry.stat()`` always does and FAT does for ``os.stat`` too. Keyed by (0, 0), every folder
after the first would count as visited.
"""

from __future__ import annotations

import os
from pathlib import Path

from pluginary.scanner.discovery import Stat, search


def _no_inodes(path: str) -> os.stat_result:
    info = os.stat(path)
    return os.stat_result(
        (
            info.st_mode,
            0,  # st_ino
            0,  # st_dev
            info.st_nlink,
            info.st_uid,
            info.st_gid,
            info.st_size,
            int(info.st_atime),
            int(info.st_mtime),
            int(info.st_ctime),
        )
    )


def _make_bundle(path: Path) -> Path:
    folder = path / "Contents" / "x86_64-win"
    folder.mkdir(parents=True)
    (folder / path.name).write_bytes(b"MZ binary")
    return path


def _found(root: Path, stat: Stat = os.stat) -> list[str]:
    discovery = search([root], "vst3", stat=stat)
    assert discovery.unreadable == []
    return [os.path.relpath(bundle.path, root) for bundle in discovery.bundles]


def test_the_fake_really_has_no_inodes(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    assert _no_inodes(str(tmp_path / "a"))[1:3] == _no_inodes(str(tmp_path / "b"))[1:3] == (0, 0)


def test_every_sibling_and_nested_folder_is_walked_without_inodes(tmp_path: Path) -> None:
    plugins = tmp_path / "plugins"
    for relative in (
        "Alpha.vst3",
        "Vendor A/One.vst3",
        "Vendor A/Suite/Two.vst3",
        "Vendor B/Three.vst3",
        "Vendor C/Deep/Er/Four.vst3",
        "Vendor C/Deep/Five.vst3",
    ):
        _make_bundle(plugins / relative)
    (plugins / "Vendor B" / "Old.vst3").write_bytes(b"MZ single-file bundle")
    expected = [
        "Alpha.vst3",
        "Vendor A/One.vst3",
        "Vendor A/Suite/Two.vst3",
        "Vendor B/Old.vst3",
        "Vendor B/Three.vst3",
        "Vendor C/Deep/Er/Four.vst3",
        "Vendor C/Deep/Five.vst3",
    ]
    assert _found(plugins, stat=_no_inodes) == expected
    assert _found(plugins) == expected  # The same as with inode numbers.


def test_loops_end_without_inodes(tmp_path: Path) -> None:
    plugins = tmp_path / "plugins"
    _make_bundle(plugins / "Vendor" / "Deep" / "One.vst3")
    _make_bundle(tmp_path / "shared" / "Two.vst3")
    (plugins / "Vendor" / "Deep" / "up").symlink_to("../..")  # Back to plugins/.
    (plugins / "Vendor" / "self").symlink_to(".")
    (plugins / "linked").symlink_to(tmp_path / "shared")
    (plugins / "again").symlink_to(tmp_path / "shared")  # The same folder by a second link.
    (tmp_path / "shared" / "back").symlink_to(plugins)  # A loop through another tree.
    found = _found(plugins, stat=_no_inodes)
    assert found == _found(plugins)
    assert found == ["Vendor/Deep/One.vst3", "again/Two.vst3"]


def test_a_root_named_twice_is_walked_once_without_inodes(tmp_path: Path) -> None:
    _make_bundle(tmp_path / "plugins" / "Vendor" / "One.vst3")
    (tmp_path / "alias").symlink_to(tmp_path / "plugins")
    discovery = search([tmp_path / "plugins", tmp_path / "alias"], "vst3", stat=_no_inodes)
    assert [bundle.path for bundle in discovery.bundles] == [
        str(tmp_path / "plugins" / "Vendor" / "One.vst3")
    ]
