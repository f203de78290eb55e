"""moduleinfo.json is read with care: a regular file, bounded, never blocking the planner."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from pluginary.scanner.moduleinfo import (
    MAX_MODULE_INFO_BYTES,
    MODULE_INFO,
    ModuleInfoError,
    read_module_info,
)


def _bundle(tmp_path: Path) -> Path:
    bundle = tmp_path / "Test.vst3"
    (bundle / MODULE_INFO).parent.mkdir(parents=True)
    return bundle


def _read_in_thread(bundle: Path) -> BaseException | object:
    """read_module_info's outcome; a read that blocks fails the test instead of hanging it."""
    outcome: list[BaseException | object] = []

    def read() -> None:
        try:
            outcome.append(read_module_info(bundle))
        except BaseException as error:  # Handed to the test to assert on.
            outcome.append(error)

    thread = threading.Thread(target=read, daemon=True)
    thread.start()
    thread.join(timeout=60)  # A guard against hanging forever, not a timing assertion.
    assert outcome, "read_module_info blocked"
    return outcome[0]


def test_a_fifo_is_refused_without_blocking(tmp_path: Path) -> None:
    bundle = _bundle(tmp_path)
    os.mkfifo(bundle / MODULE_INFO)
    outcome = _read_in_thread(bundle)
    assert isinstance(outcome, ModuleInfoError)
    assert str(outcome).endswith("moduleinfo.json: cannot read: a FIFO, not a regular file")


def test_a_device_is_refused_unopened(tmp_path: Path) -> None:
    bundle = _bundle(tmp_path)
    (bundle / MODULE_INFO).symlink_to("/dev/zero")  # Endless: read whole, it never ends.
    outcome = _read_in_thread(bundle)
    assert isinstance(outcome, ModuleInfoError)
    assert "a character device, not a regular file" in str(outcome)


def test_a_huge_file_is_refused_unread(tmp_path: Path) -> None:
    bundle = _bundle(tmp_path)
    with open(bundle / MODULE_INFO, "wb") as huge:
        huge.truncate(400 << 20)  # Sparse: 400 MiB that cost no disk.
    with pytest.raises(
        ModuleInfoError, match=r"cannot read: 419430400 bytes, over the 4 MiB limit$"
    ):
        read_module_info(bundle)


def test_the_limit_is_inclusive_and_generous(tmp_path: Path) -> None:
    assert MAX_MODULE_INFO_BYTES == 4 << 20
    bundle = _bundle(tmp_path)
    text = '{"Name": "Big", "Classes": []}'
    (bundle / MODULE_INFO).write_text(text + " " * (MAX_MODULE_INFO_BYTES - len(text)))
    info = read_module_info(bundle)
    assert info is not None and info.name == "Big"


def test_text_that_is_not_unicode_is_shown_as_text(tmp_path: Path) -> None:
    bundle = _bundle(tmp_path)
    (bundle / MODULE_INFO).write_text('{"Name": "Zam\\udcffComp", "Factory Info": {}}')
    info = read_module_info(bundle)
    assert info is not None and info.name == "Zam\ufffdComp"
