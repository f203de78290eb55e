"""Which file of a bundle each OS loads, and what pedalboard is handed, faked on Linux.

The bundles are real folders in tmp_path laid out as Steinberg's "Plug-in Format Structure" has
them for each OS; ``system`` and ``machine`` say which OS's rules apply.
"""

from __future__ import annotations

import functools
import json
import os
import plistlib
import sys
import types
from pathlib import Path
from typing import Any

import pytest

from pluginary.scanner import probe
from pluginary.scanner.bundles import (
    MAX_INFO_PLIST,
    binary_path,
    load_path,
    macos_executable,
    missing_binary,
    windows_architecture,
)
from pluginary.scanner.discovery import is_bundle, search


def _windows_bundle(path: Path, *folders: str, binary: str | None = None) -> Path:
    for folder in folders:
        (path / "Contents" / folder).mkdir(parents=True)
        (path / "Contents" / folder / (binary or path.name)).write_bytes(b"MZ " + folder.encode())
    (path / "Contents" / "Resources").mkdir(parents=True, exist_ok=True)
    return path


def _macos_bundle(path: Path, executable: str, info: object = None, binary: bool = False) -> Path:
    (path / "Contents" / "MacOS").mkdir(parents=True)
    (path / "Contents" / "MacOS" / executable).write_bytes(b"\xcf\xfa\xed\xfe Mach-O")
    if info is not None:
        data = plistlib.dumps(info, fmt=plistlib.FMT_BINARY if binary else plistlib.FMT_XML)
        (path / "Contents" / "Info.plist").write_bytes(data)
    return path


def _linux_bundle(path: Path, machine: str = "x86_64") -> Path:
    folder = path / "Contents" / f"{machine}-linux"
    folder.mkdir(parents=True)
    (folder / f"{path.stem}.so").write_bytes(b"\x7fELF")
    return path


# -- Windows ---------------------------------------------------------------------------------


@pytest.mark.parametrize("machine", ["AMD64", "amd64", "x86_64", "x64", "win-amd64"])
def test_windows_hands_pedalboard_the_dll_inside_the_bundle(tmp_path: Path, machine: str) -> None:
    bundle = _windows_bundle(tmp_path / "Verb.vst3", "x86_64-win", "x86-win", "arm64ec-win")
    dll = str(bundle / "Contents" / "x86_64-win" / "Verb.vst3")
    assert binary_path(str(bundle), "Windows", machine) == dll
    assert load_path(str(bundle), "Windows", machine) == dll


@pytest.mark.parametrize(
    ("machine", "folders", "chosen"),
    [
        ("win32", ("x86-win", "x86_64-win"), "x86-win"),
        ("x86", ("x86-win",), "x86-win"),
        ("ARM64", ("arm64-win", "arm64x-win", "x86_64-win"), "arm64-win"),
        ("win-arm64", ("arm64x-win", "x86_64-win"), "arm64x-win"),
        ("arm64ec", ("arm64ec-win", "arm64x-win", "x86_64-win"), "arm64ec-win"),
        ("arm64ec", ("arm64x-win", "x86_64-win"), "arm64x-win"),
        ("arm64ec", ("x86_64-win",), "x86_64-win"),  # Arm64EC loads x64 code too.
        ("win-arm32", ("arm-win", "arm64-win"), "arm-win"),
    ],
)
def test_each_windows_architecture_takes_the_folders_the_sdk_tries(
    tmp_path: Path, machine: str, folders: tuple[str, ...], chosen: str
) -> None:
    bundle = _windows_bundle(tmp_path / "Fx.vst3", *folders)
    assert load_path(str(bundle), "Windows", machine) == str(
        bundle / "Contents" / chosen / "Fx.vst3"
    )


@pytest.mark.parametrize(
    ("machine", "folders"),
    [
        ("ARM64", ("x86_64-win", "arm64ec-win")),  # Arm64 classic loads neither.
        ("AMD64", ("arm64-win", "x86-win")),
        ("AMD64", ()),
    ],
)
def test_a_windows_bundle_without_a_binary_for_the_process_is_passed_as_it_is(
    tmp_path: Path, machine: str, folders: tuple[str, ...]
) -> None:
    bundle = _windows_bundle(tmp_path / "Fx.vst3", *folders)
    assert binary_path(str(bundle), "Windows", machine) is None
    assert load_path(str(bundle), "Windows", machine) == str(bundle)  # pedalboard says no.
    reason = missing_binary(str(bundle), "Windows", machine)
    assert reason is not None and reason.startswith("the bundle has no Contents/")
    assert reason.endswith(", ".join(f"Contents/{f}" for f in sorted(folders)) or "no binaries")


def test_the_missing_reason_names_every_folder_tried_and_what_is_there(tmp_path: Path) -> None:
    bundle = _windows_bundle(tmp_path / "Fx.vst3", "x86_64-win")
    (bundle / "Contents" / "MacOS").mkdir()
    assert missing_binary(str(bundle), "Windows", "ARM64") == (
        "the bundle has no Contents/arm64-win/Fx.vst3 or Contents/arm64x-win/Fx.vst3;"
        " it holds Contents/MacOS, Contents/x86_64-win"
    )
    assert missing_binary(str(bundle), "Windows", "sparc") == (
        "the bundle has no binary for this process's architecture (sparc);"
        " it holds Contents/MacOS, Contents/x86_64-win"
    )
    assert missing_binary(str(bundle), "Windows", "AMD64") is None


def test_the_dll_must_be_named_like_the_bundle(tmp_path: Path) -> None:
    # The SDK's hosting code refuses "Shared library name is not equal to bundle folder name".
    bundle = _windows_bundle(tmp_path / "Renamed.vst3", "x86_64-win", binary="Original.vst3")
    assert binary_path(str(bundle), "Windows", "AMD64") is None


def test_a_single_file_vst3_is_a_windows_plugin(tmp_path: Path) -> None:
    legacy = tmp_path / "VST3" / "Legacy.vst3"  # A DLL named .vst3: the pre-3.6.10 form.
    legacy.parent.mkdir()
    legacy.write_bytes(b"MZ legacy")
    bundled = _windows_bundle(tmp_path / "VST3" / "Modern.vst3", "x86_64-win")
    assert is_bundle(str(legacy)) and is_bundle(str(bundled))
    found = [bundle.path for bundle in search([tmp_path / "VST3"], "vst3").bundles]
    assert found == [str(legacy), str(bundled)]
    assert load_path(str(legacy), "Windows", "AMD64") == str(legacy)
    assert binary_path(str(legacy), "Windows", "AMD64") == str(legacy)
    assert missing_binary(str(legacy), "Windows", "AMD64") is None


def test_stray_files_named_vst3_are_still_not_plugins(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "Pipe.vst3")
    (tmp_path / "Dangling.vst3").symlink_to(tmp_path / "nowhere")
    assert search([tmp_path], "vst3").bundles == []


def test_this_interpreter_names_a_windows_architecture() -> None:
    assert windows_architecture("win-amd64") == "x86_64"
    assert windows_architecture("win32") == "x86"
    assert windows_architecture("ARM64") == "arm64"
    assert windows_architecture()  # This interpreter's build, whatever it is.


# -- macOS -----------------------------------------------------------------------------------


@pytest.mark.parametrize("binary", [False, True])
def test_macos_finds_the_executable_info_plist_names(tmp_path: Path, binary: bool) -> None:
    info = {"CFBundleExecutable": "FancyVerbEngine", "CFBundleIdentifier": "com.example.verb"}
    bundle = _macos_bundle(tmp_path / "Fancy Verb.vst3", "FancyVerbEngine", info, binary)
    assert binary_path(str(bundle), "Darwin") == str(
        bundle / "Contents" / "MacOS" / "FancyVerbEngine"
    )
    assert load_path(str(bundle), "Darwin", "arm64") == str(bundle)  # pedalboard takes bundles.
    assert missing_binary(str(bundle), "Darwin") is None


def test_an_audio_unit_component_follows_the_same_rule(tmp_path: Path) -> None:
    bundle = _macos_bundle(tmp_path / "Verb.component", "VerbAU", {"CFBundleExecutable": "VerbAU"})
    assert binary_path(str(bundle), "Darwin") == str(bundle / "Contents" / "MacOS" / "VerbAU")
    assert load_path(str(bundle), "Darwin") == str(bundle)


@pytest.mark.parametrize(
    "info",
    [
        None,  # No Info.plist: CoreFoundation falls back to the bundle's name.
        {"CFBundleName": "Verb"},
        {"CFBundleExecutable": ""},
        {"CFBundleExecutable": 3},
        {"CFBundleExecutable": "../../../bin/sh"},
        {"CFBundleExecutable": ".."},
        ["not", "a", "dictionary"],
    ],
)
def test_macos_falls_back_to_the_bundle_name(tmp_path: Path, info: object) -> None:
    bundle = _macos_bundle(tmp_path / "Verb.vst3", "Verb", info)
    assert macos_executable(str(bundle)) == "Verb"
    assert binary_path(str(bundle), "Darwin") == str(bundle / "Contents" / "MacOS" / "Verb")


@pytest.mark.parametrize(
    "data",
    [
        b"not a plist at all",
        b"<?xml version='1.0'?><plist><dict><key>CFBundleExecutable</key>",  # Cut short.
        b"bplist00\xff\xff\xff",
        b"<plist>" + b" " * MAX_INFO_PLIST + b"</plist>",  # Too big to read.
    ],
)
def test_a_broken_info_plist_falls_back_to_the_bundle_name(tmp_path: Path, data: bytes) -> None:
    bundle = _macos_bundle(tmp_path / "Verb.vst3", "Verb")
    (bundle / "Contents" / "Info.plist").write_bytes(data)
    assert macos_executable(str(bundle)) == "Verb"


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="FIFOs are POSIX")
@pytest.mark.parametrize("kind", ["fifo", "folder"])
def test_an_info_plist_that_is_no_file_is_not_read(tmp_path: Path, kind: str) -> None:
    bundle = _macos_bundle(tmp_path / "Verb.vst3", "Verb")
    plist = bundle / "Contents" / "Info.plist"
    # A FIFO nobody writes to would block a plain open() for ever; this returns at once.
    if kind == "fifo":
        os.mkfifo(plist)
    else:
        plist.mkdir()
    assert macos_executable(str(bundle)) == "Verb"


def test_a_macos_bundle_whose_executable_is_missing_says_so(tmp_path: Path) -> None:
    bundle = _macos_bundle(tmp_path / "Verb.vst3", "Verb", {"CFBundleExecutable": "Engine"})
    assert binary_path(str(bundle), "Darwin") is None
    assert missing_binary(str(bundle), "Darwin") == (
        "the bundle has no Contents/MacOS/Engine; it holds Contents/MacOS"
    )


# -- Linux -----------------------------------------------------------------------------------


@pytest.mark.parametrize("machine", ["x86_64", "aarch64", "i386", "armv7l"])
def test_linux_hands_pedalboard_the_bundle(tmp_path: Path, machine: str) -> None:
    bundle = _linux_bundle(tmp_path / "Comp.vst3", machine)
    assert load_path(str(bundle), "Linux", machine) == str(bundle)
    assert binary_path(str(bundle), "Linux", machine) == str(
        bundle / "Contents" / f"{machine}-linux" / "Comp.so"
    )


def test_a_windows_bundle_on_linux_is_explained(tmp_path: Path) -> None:
    bundle = _windows_bundle(tmp_path / "Karp.vst3", "x86_64-win")
    assert load_path(str(bundle), "Linux", "x86_64") == str(bundle)
    assert missing_binary(str(bundle), "Linux", "x86_64") == (
        "the bundle has no Contents/x86_64-linux/Karp.so; it holds Contents/x86_64-win"
    )


def test_a_missing_bundle_has_no_binary_and_no_reason(tmp_path: Path) -> None:
    gone = str(tmp_path / "Gone.vst3")
    for system in ("Linux", "Darwin", "Windows"):
        assert binary_path(gone, system, "x86_64") is None
        assert missing_binary(gone, system, "x86_64") is None
        assert load_path(gone, system, "x86_64") == gone


# -- the probe hands pedalboard what bundles.py says -----------------------------------------


class _FakePedalboard(types.ModuleType):
    """Records what the probe passes; loading fails, as pedalboard does for a bundle folder."""

    def __init__(self) -> None:
        super().__init__("pedalboard")
        self.seen: list[str] = []
        self._pedalboard = types.SimpleNamespace()
        fake = self

        class VST3Plugin:
            @staticmethod
            def get_plugin_names_for_file(path: str) -> list[str]:
                fake.seen.append(path)
                return ["Fx"]

        self.VST3Plugin = VST3Plugin
        self.AudioUnitPlugin = VST3Plugin

    def load_plugin(self, path: str, plugin_name: str) -> Any:
        self.seen.append(path)
        raise ImportError(f"Unable to load plugin {path}: unsupported plugin format")


@pytest.mark.parametrize(
    ("system", "machine", "loaded"),
    [
        ("Windows", "AMD64", "Contents/x86_64-win/Fx.vst3"),
        ("Linux", "x86_64", ""),  # The bundle itself, as before.
    ],
)
def test_the_probe_loads_what_bundles_says(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, system: str, machine: str, loaded: str
) -> None:
    bundle = _windows_bundle(tmp_path / "Fx.vst3", "x86_64-win")
    fake = _FakePedalboard()
    monkeypatch.setitem(sys.modules, "pedalboard", fake)
    monkeypatch.setattr(
        probe, "load_path", functools.partial(load_path, system=system, machine=machine)
    )
    result = tmp_path / "result"
    fd = os.open(result, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        probe.probe_bundle(str(bundle), None, fd)
    finally:
        os.close(fd)
    target = str(bundle / loaded) if loaded else str(bundle)
    assert fake.seen == [target, target]
    events = [json.loads(line) for line in result.read_text().splitlines()]
    failed = [event for event in events if event["event"] == "result"]
    assert failed[0]["status"] == "failed" and failed[0]["class"] == "Fx"
    # The diagnosis is this machine's (Linux): the Windows-only bundle has nothing for it.
    assert failed[0]["diagnosis"].startswith("the bundle has no Contents/")
    assert failed[0]["diagnosis"].endswith("it holds Contents/x86_64-win")
