from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from pluginary.scanner.discovery import (
    Bundle,
    discover_vst3,
    fingerprint,
    standard_vst3_folders,
)


def _make_bundle(path: Path, binary: bytes = b"\x7fELF binary") -> Path:
    folder = path / "Contents" / "x86_64-linux"
    folder.mkdir(parents=True)
    (folder / f"{path.stem}.so").write_bytes(binary)
    return path


def _names(bundles: list[Bundle]) -> list[str]:
    return [os.path.basename(bundle.path) for bundle in bundles]


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """A plugin folder with every awkward shape the walk must survive."""
    plugins = tmp_path / "plugins"
    _make_bundle(plugins / "Alpha.vst3")
    _make_bundle(plugins / "Vendor" / "Deep" / "Er" / "Beta.vst3")
    outer = _make_bundle(plugins / "Vendor" / "Outer.vst3")
    _make_bundle(outer / "Contents" / "Resources" / "Inner.vst3")  # Part of Outer, not a bundle.
    (plugins / "Vendor" / "loop").symlink_to("..")  # a/loop -> ..
    (plugins / "Vendor" / "self").symlink_to(".")
    (plugins / "OldStyle.vst3").write_bytes(b"MZ single-file bundle")
    (plugins / "notes.txt").write_text("not a plugin")
    (plugins / "Dangling.vst3").symlink_to(tmp_path / "missing.vst3")
    (plugins / "dangling-folder").symlink_to(tmp_path / "missing-folder")
    elsewhere = tmp_path / "elsewhere"
    _make_bundle(elsewhere / "Gamma.vst3")
    (plugins / "Linked.vst3").symlink_to(elsewhere / "Gamma.vst3")
    (plugins / "linked-vendor").symlink_to(tmp_path / "shared")
    _make_bundle(tmp_path / "shared" / "Delta.vst3")
    return tmp_path


def test_discovers_nested_bundles_once_each(tree: Path) -> None:
    plugins = tree / "plugins"
    bundles = discover_vst3([plugins])
    assert [bundle.path for bundle in bundles] == sorted(
        str(path)
        for path in (
            plugins / "Alpha.vst3",
            plugins / "Linked.vst3",
            plugins / "OldStyle.vst3",
            plugins / "Vendor" / "Deep" / "Er" / "Beta.vst3",
            plugins / "Vendor" / "Outer.vst3",
            plugins / "linked-vendor" / "Delta.vst3",
        )
    )
    by_name = {os.path.basename(bundle.path): bundle for bundle in bundles}
    assert by_name["Linked.vst3"].real_path == str(tree / "elsewhere" / "Gamma.vst3")
    assert by_name["Delta.vst3"].real_path == str(tree / "shared" / "Delta.vst3")
    assert by_name["Alpha.vst3"].real_path == str(plugins / "Alpha.vst3")
    assert all(bundle.format == "vst3" for bundle in bundles)
    assert by_name["Alpha.vst3"].fingerprint == fingerprint(plugins / "Alpha.vst3")


def test_deduplicates_by_real_path_first_found_wins(tree: Path) -> None:
    plugins, elsewhere = tree / "plugins", tree / "elsewhere"
    first = discover_vst3([plugins, elsewhere])
    assert "Gamma.vst3" not in _names(first)
    assert _names(first).count("Linked.vst3") == 1
    second = discover_vst3([elsewhere, plugins])
    assert "Gamma.vst3" in _names(second) and "Linked.vst3" not in _names(second)
    assert len(first) == len(second)


def test_same_folder_twice_or_nested(tree: Path) -> None:
    plugins = tree / "plugins"
    once = discover_vst3([plugins])
    assert discover_vst3([plugins, plugins, plugins / "Vendor"]) == once


def test_missing_and_odd_folders_are_skipped(tree: Path) -> None:
    assert discover_vst3([tree / "nope", tree / "plugins" / "notes.txt"]) == []
    assert discover_vst3([tree / "plugins" / "dangling-folder"]) == []
    assert discover_vst3([]) == []


def test_a_bundle_given_as_folder_is_found(tree: Path) -> None:
    bundle = tree / "plugins" / "Alpha.vst3"
    assert [b.path for b in discover_vst3([bundle])] == [str(bundle)]


def test_relative_folder_gives_absolute_paths(tree: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tree)
    bundles = discover_vst3([Path("elsewhere")])
    assert [b.path for b in bundles] == [str(tree / "elsewhere" / "Gamma.vst3")]


def test_unreadable_folder_is_skipped(tree: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Faked, because permission bits do not stop root, which may be running the tests.
    real_scandir = os.scandir
    blocked = str(tree / "plugins" / "Vendor")

    def scandir(path: str) -> Iterator[os.DirEntry[str]]:
        if os.fspath(path) == blocked:
            raise PermissionError(13, "Permission denied", path)
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", scandir)
    names = _names(discover_vst3([tree / "plugins"]))
    assert "Alpha.vst3" in names and "Beta.vst3" not in names and "Outer.vst3" not in names


def test_fingerprint_follows_binaries_only(tmp_path: Path) -> None:
    bundle = _make_bundle(tmp_path / "Fx.vst3")
    binary = bundle / "Contents" / "x86_64-linux" / "Fx.so"
    presets = bundle / "Contents" / "Resources" / "Presets"
    presets.mkdir(parents=True)
    (presets / "a.vstpreset").write_text("preset")
    before = fingerprint(bundle)
    assert len(before) == 32 and int(before, 16) >= 0
    assert fingerprint(bundle) == before

    (presets / "a.vstpreset").write_text("changed preset")
    (presets / "b.vstpreset").write_text("new preset")
    (bundle / "Contents" / "Resources" / "picture.png").write_bytes(b"png")
    assert fingerprint(bundle) == before

    info = binary.stat()
    os.utime(binary, ns=(info.st_atime_ns, info.st_mtime_ns + 1_000_000))
    after_touch = fingerprint(bundle)
    assert after_touch != before

    binary.write_bytes(b"\x7fELF a longer binary")
    os.utime(binary, ns=(info.st_atime_ns, info.st_mtime_ns + 1_000_000))
    after_resize = fingerprint(bundle)
    assert after_resize not in (before, after_touch)

    (bundle / "Contents" / "Resources" / "moduleinfo.json").write_text("{}")
    with_module_info = fingerprint(bundle)
    assert with_module_info != after_resize
    # macOS names the executable in Info.plist: a new one may load another binary.
    (bundle / "Contents" / "Info.plist").write_text("<plist/>")
    with_info = fingerprint(bundle)
    assert with_info != with_module_info

    for folder in ("MacOS", "x86_64-win", "aarch64-linux"):
        (bundle / "Contents" / folder).mkdir()
        assert fingerprint(bundle) == with_info  # An empty folder holds nothing to load.
        (bundle / "Contents" / folder / "binary").write_bytes(b"code")
        changed = fingerprint(bundle)
        assert changed != with_info
        with_info = changed


def test_fingerprint_of_single_file_bundle(tmp_path: Path) -> None:
    bundle = tmp_path / "Old.vst3"
    bundle.write_bytes(b"MZ")
    before = fingerprint(bundle)
    bundle.write_bytes(b"MZ longer")
    assert fingerprint(bundle) != before


def test_fingerprint_of_empty_folder_is_stable(tmp_path: Path) -> None:
    (tmp_path / "Empty.vst3").mkdir()
    (tmp_path / "Other.vst3").mkdir()
    assert fingerprint(tmp_path / "Empty.vst3") == fingerprint(tmp_path / "Other.vst3")


def test_fingerprint_of_vanished_bundle_raises(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        fingerprint(tmp_path / "Gone.vst3")


def test_real_folder(real_plugins: Path) -> None:
    started = time.perf_counter()
    bundles = discover_vst3([real_plugins])
    elapsed = time.perf_counter() - started
    assert len(bundles) == 22
    assert "lsp-plugins.vst3" in _names(bundles) and "ZamVerb.vst3" in _names(bundles)
    assert len({bundle.fingerprint for bundle in bundles}) == 22
    assert elapsed < 1.0  # The real budget is 100 ms for a 500-bundle rescan; this is a guard.


def test_five_hundred_bundles_are_fast(tmp_path: Path) -> None:
    for index in range(500):
        _make_bundle(tmp_path / f"Vendor{index % 25}" / f"Plugin{index}.vst3")
    discover_vst3([tmp_path])  # Warm the OS's caches, as a rescan finds them.
    started = time.perf_counter()
    bundles = discover_vst3([tmp_path])
    elapsed = time.perf_counter() - started
    assert len(bundles) == 500
    assert elapsed < 0.5  # Generous for slow CI machines; about 10-20 ms on a laptop.


def test_linux_folders() -> None:
    home = Path("/home/ada")
    environ = {"VST3_PATH": "/opt/vst3::~/more:/usr/lib/vst3:/opt/vst3"}
    assert standard_vst3_folders("Linux", environ, home) == [
        Path("/home/ada/.vst3"),
        Path("/usr/lib/vst3"),
        Path("/usr/local/lib/vst3"),
        Path("/opt/vst3"),
        Path("/home/ada/more"),
    ]
    assert standard_vst3_folders("Linux", {}, home) == [
        Path("/home/ada/.vst3"),
        Path("/usr/lib/vst3"),
        Path("/usr/local/lib/vst3"),
    ]


def test_macos_folders() -> None:
    # Steinberg's table, user first; "Plug-Ins" as macOS spells the folder it makes.
    folders = standard_vst3_folders("Darwin", {"VST3_PATH": "/ignored"}, Path("/Users/ada"))
    assert folders == [
        Path("/Users/ada/Library/Audio/Plug-Ins/VST3"),
        Path("/Library/Audio/Plug-Ins/VST3"),
        Path("/Network/Library/Audio/Plug-Ins/VST3"),
    ]


def test_windows_folders() -> None:
    home = Path(r"C:\Users\ada")
    environ = {
        "CommonProgramFiles": r"D:\Common Files",
        "LOCALAPPDATA": r"C:\Users\ada\AppData\Local",
    }
    assert [str(folder) for folder in standard_vst3_folders("Windows", environ, home)] == [
        r"C:\Users\ada\AppData\Local\Programs\Common\VST3",
        r"D:\Common Files\VST3",
    ]
    assert [str(folder) for folder in standard_vst3_folders("windows", {}, home)] == [
        r"C:\Users\ada\AppData\Local\Programs\Common\VST3",
        r"C:\Program Files\Common Files\VST3",
    ]


def test_a_32_bit_process_on_64_bit_windows_gets_the_x86_folder() -> None:
    # WOW64 gives a 32-bit process these variables: its "native bitdepth" folder is the (x86)
    # one, where Steinberg's table puts 32-bit plug-ins; the 64-bit ones it cannot load.
    environ = {
        "CommonProgramFiles": r"C:\Program Files (x86)\Common Files",
        "CommonProgramFiles(x86)": r"C:\Program Files (x86)\Common Files",
        "CommonProgramW6432": r"C:\Program Files\Common Files",
        "LOCALAPPDATA": r"C:\Users\ada\AppData\Local",
    }
    folders = standard_vst3_folders("Windows", environ, Path(r"C:\Users\ada"))
    assert [str(folder) for folder in folders] == [
        r"C:\Users\ada\AppData\Local\Programs\Common\VST3",
        r"C:\Program Files (x86)\Common Files\VST3",
    ]


def test_defaults_are_this_machine() -> None:
    folders = standard_vst3_folders()
    assert folders and all(isinstance(folder, Path) for folder in folders)
    assert len(folders) == len(set(folders))


def test_audio_units_are_a_macos_format_with_their_own_folders(tmp_path: Path) -> None:
    from pluginary.scanner.discovery import discover, standard_folders, supported_formats

    assert supported_formats("Darwin") == ("vst3", "au")
    assert supported_formats("Linux") == ("vst3",)
    assert standard_folders("au", "Darwin", {}, Path("/Users/u")) == [
        Path("/Users/u/Library/Audio/Plug-Ins/Components"),
        Path("/Library/Audio/Plug-Ins/Components"),
    ]
    assert standard_folders("au", "Windows", {}, Path("/Users/u")) == []
    assert standard_folders("au", "Linux", {}, Path("/home/u")) == []
    (tmp_path / "Vendor" / "Verb.component" / "Contents" / "MacOS").mkdir(parents=True)
    (tmp_path / "Vendor" / "Verb.component" / "Contents" / "MacOS" / "Verb").write_bytes(b"x")
    (tmp_path / "Other.vst3").mkdir()
    found = discover([tmp_path], "au")
    assert [(Path(b.path).name, b.format) for b in found] == [("Verb.component", "au")]
