"""The probe's child-side path work: shadows for names that are not UTF-8, reasons for the rest."""

from __future__ import annotations

import os
import platform
from collections.abc import Iterator
from pathlib import Path

import pytest

from pluginary.scanner.loadable import Unloadable, loadable_path

MACHINE = f"{platform.machine()}-linux"
pytestmark = pytest.mark.skipif(platform.system() != "Linux", reason="the Linux bundle layout")


def _make_bundle(path: Path) -> Path:
    folder = path / "Contents" / MACHINE
    folder.mkdir(parents=True)
    (folder / f"{path.stem}.so").write_bytes(b"\x7fELF binary")
    (folder / "helper.so").write_bytes(b"\x7fELF helper")
    (path / "Contents" / "Resources").mkdir()
    (path / "Contents" / "Resources" / "moduleinfo.json").write_text("{}")
    return path


@pytest.fixture
def result_fd(tmp_path: Path) -> Iterator[int]:
    """A probe's result file in its scratch folder, as the fork server opens it."""
    (tmp_path / "probes").mkdir()
    fd = os.open(tmp_path / "probes" / "1.result", os.O_WRONLY | os.O_CREAT, 0o600)
    yield fd
    os.close(fd)


def test_a_text_path_is_loaded_as_it_is(tmp_path: Path, result_fd: int) -> None:
    bundle = _make_bundle(tmp_path / "café" / "Zam.vst3")
    assert loadable_path(str(bundle), result_fd) == str(bundle)
    assert not (tmp_path / "probes" / "shadows").exists()


def test_an_odd_parent_folder_is_bypassed_by_one_symlink(tmp_path: Path, result_fd: int) -> None:
    folder = Path(os.fsdecode(os.fsencode(tmp_path) + b"/caf\xe9 \xff"))
    bundle = _make_bundle(folder / "ZamComp.vst3")
    shadow = loadable_path(str(bundle), result_fd)
    shadow.encode("utf-8")  # What pybind11 needs: raises if it is not text.
    assert shadow.startswith(str(tmp_path / "probes" / "shadows"))
    assert os.path.basename(shadow) == "ZamComp.vst3"
    assert os.path.samefile(shadow, bundle)
    # Rebuilt, not piled up, at the next probe of the same bundle.
    assert loadable_path(str(bundle), result_fd) == shadow
    assert len(os.listdir(tmp_path / "probes" / "shadows")) == 1


def test_an_odd_bundle_name_gets_a_shadow_whose_binary_matches_its_name(
    tmp_path: Path, result_fd: int
) -> None:
    bundle = _make_bundle(tmp_path / os.fsdecode(b"Zam\xffComp.vst3"))
    shadow = Path(loadable_path(str(bundle), result_fd))
    assert shadow.name == "Zam%FFComp.vst3"
    binary = shadow / "Contents" / MACHINE / "Zam%FFComp.so"  # Where JUCE looks for it.
    assert os.path.samefile(binary, bundle / "Contents" / MACHINE / bundle.with_suffix(".so").name)
    assert os.path.samefile(
        shadow / "Contents" / MACHINE / "helper.so", bundle / "Contents" / MACHINE / "helper.so"
    )
    # Resources are the bundle's own: a plugin finds them relative to its binary's path.
    assert (shadow / "Contents" / "Resources" / "moduleinfo.json").read_text() == "{}"
    assert all(part.encode("utf-8") for part in shadow.parts)


def test_a_vanished_bundle_names_the_error(tmp_path: Path, result_fd: int) -> None:
    with pytest.raises(Unloadable, match=r"No such file or directory \(ENOENT\)"):
        loadable_path(str(tmp_path / "Gone.vst3"), result_fd)


def test_a_binary_that_is_a_symlink_loop_names_the_error(tmp_path: Path, result_fd: int) -> None:
    bundle = _make_bundle(tmp_path / "Loop.vst3")
    binary = bundle / "Contents" / MACHINE / "Loop.so"
    binary.unlink()
    binary.symlink_to("Loop.so")
    with pytest.raises(Unloadable) as caught:
        loadable_path(str(bundle), result_fd)
    assert (
        str(caught.value)
        == f"cannot read Contents/{MACHINE}/Loop.so: Too many levels of symbolic links (ELOOP)"
    )


def test_an_unreadable_bundle_names_the_error(
    tmp_path: Path, result_fd: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Faked (root reads anything); tests/test_paths_worker.py does it for real.
    bundle = _make_bundle(tmp_path / "Shut.vst3")
    real_stat = os.stat

    def stat(path: str, *args: object, **kwargs: object) -> os.stat_result:
        if os.fspath(path).startswith(str(bundle) + "/"):
            raise PermissionError(13, "Permission denied", path)
        return real_stat(path)

    monkeypatch.setattr(os, "stat", stat)
    with pytest.raises(Unloadable, match=r"^cannot read Contents: Permission denied \(EACCES\)$"):
        loadable_path(str(bundle), result_fd)


def test_a_missing_binary_is_left_to_pedalboard(tmp_path: Path, result_fd: int) -> None:
    bundle = tmp_path / "MacOnly.vst3"
    (bundle / "Contents" / "MacOS").mkdir(parents=True)
    assert loadable_path(str(bundle), result_fd) == str(bundle)
