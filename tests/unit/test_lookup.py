"""How text names one plugin (``pluginary show``, ``Client.find``); text made printable."""

from __future__ import annotations

import pytest

from pluginary.catalog.lookup import AmbiguousPlugin, resolve
from pluginary.errors import PluginNotFound
from pluginary.printable import one_line, printable

PLUGINS = [
    ("vst3.zamcomp.d440f71b", "ZamComp"),
    ("vst3.zamcompx2.032295a6", "ZamCompX2"),
    ("vst3.dragonfly-hall-reverb.6dee3195", "Dragonfly Hall Reverb"),
    ("vst3.twin-a.00000001", "Twin"),
    ("vst3.twin-b.00000002", "twin"),
]


def test_an_id_a_name_or_an_id_prefix() -> None:
    assert resolve("vst3.zamcomp.d440f71b", PLUGINS) == "vst3.zamcomp.d440f71b"
    assert resolve("zamcomp", PLUGINS) == "vst3.zamcomp.d440f71b"  # A name beats id prefixes.
    assert resolve("DRAGONFLY HALL REVERB", PLUGINS) == "vst3.dragonfly-hall-reverb.6dee3195"
    assert resolve("vst3.dragonfly", PLUGINS) == "vst3.dragonfly-hall-reverb.6dee3195"
    assert resolve("VST3.ZAMCOMPX", PLUGINS) == "vst3.zamcompx2.032295a6"


def test_several_fits_are_named() -> None:
    with pytest.raises(AmbiguousPlugin) as prefix:
        resolve("vst3.zamcomp", PLUGINS)
    assert [name for _, name in prefix.value.candidates] == ["ZamComp", "ZamCompX2"]
    with pytest.raises(AmbiguousPlugin) as names:
        resolve("TWIN", PLUGINS)  # Two plugins share the name, but for its case.
    assert {ident for ident, _ in names.value.candidates} == {
        "vst3.twin-a.00000001",
        "vst3.twin-b.00000002",
    }


def test_a_miss_suggests_the_closest_names() -> None:
    with pytest.raises(PluginNotFound) as miss:
        resolve("zamcmop", PLUGINS)
    assert not isinstance(miss.value, AmbiguousPlugin)
    assert "did you mean 'ZamComp'" in str(miss.value)
    with pytest.raises(PluginNotFound) as far:
        resolve("qqqq", PLUGINS)
    assert "did you mean" not in str(far.value)
    with pytest.raises(PluginNotFound):
        resolve("anything", [])


def test_printable_drops_escapes_and_controls() -> None:
    raw = (
        "a\x1b[1;31mb\x1b[0m\x1b]0;title\x07c\x1b]8;;http://x\x1b\\d\x9b2Je\x00f\x7fg\r\nh\ti\x1bc"
    )
    assert printable(raw) == "abcdefg\nh\ti"
    assert printable("Gain [dB] ü ✓") == "Gain [dB] ü ✓"
    assert one_line("a\tb\nc\x1b[2K") == "a b c"
    assert printable("cut \x1b[31") == "cut "  # An unfinished sequence at the end goes too.
