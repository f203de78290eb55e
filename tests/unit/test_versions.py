"""Byte-swapped version strings (LSP's) are repaired; every other version is kept as given."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pluginary.scanner.versions import readable_version


def swapped(text: str) -> str:
    return "".join(chr(ord(c) << 8) for c in text)


@pytest.mark.parametrize("version", ["1.0.29", "2.4-beta", "10", "1.2.3 build 7", "v3_1+git"])
def test_a_byte_swapped_version_reads_as_written(version: str) -> None:
    assert readable_version(swapped(version)) == version


def test_lsps_version_as_pedalboard_gives_it() -> None:
    assert readable_version("\u3100\u2e00\u3000\u2e00\u3200\u3900") == "1.0.29"


@pytest.mark.parametrize(
    "version",
    [
        None,
        "",
        "1.0.29",
        "一",  # U+4E00 would swap to "N": no digit, so no version: kept.
        "\u3100\u2e00\u3000 beta",  # Only partly swapped: kept.
        "\u2e00\u2e00",  # Swaps to "..": no digit.
        "版本 2",
    ],
)
def test_anything_else_is_kept_as_given(version: str | None) -> None:
    assert readable_version(version) == version


@given(st.text())
def test_any_text_gives_itself_or_a_version(version: str) -> None:
    repaired = readable_version(version)
    assert repaired == version or (
        repaired is not None and swapped(repaired) == version and any(c.isdigit() for c in repaired)
    )
