from __future__ import annotations

import re
from pathlib import Path

import pytest

from pluginary.scanner.moduleinfo import (
    MODULE_INFO,
    ModuleClass,
    ModuleInfoError,
    clean_json5,
    parse_module_info,
    read_module_info,
)


def _bundle_with(tmp_path: Path, content: bytes | str) -> Path:
    bundle = tmp_path / "Test.vst3"
    path = bundle / MODULE_INFO
    path.parent.mkdir(parents=True)
    if isinstance(content, str):
        path.write_text(content, encoding="utf-8")
    else:
        path.write_bytes(content)
    return bundle


def test_real_lsp_bundle(real_plugins: Path) -> None:
    info = read_module_info(real_plugins / "lsp-plugins.vst3")
    assert info is not None
    assert (info.name, info.version, info.vendor) == ("lsp-plugins", "1.2.21", "LSP VST3")
    # 368 classes in the file: 184 plugins ("Catetory": "Audio Module Class") and their
    # 184 controllers, which are not plugins.
    assert len(info.classes) == 184
    assert len({c.cid for c in info.classes}) == 184
    assert info.classes[0] == ModuleClass(
        name="A/B Tester x2 Mono",
        vendor="LSP VST3",
        version="1.0.16",
        category="Fx|Tools|Mono",
        kind="effect",
        cid="64737020616270326D2020206162326D",
    )
    sampler = next(c for c in info.classes if c.name == "Multi-Sampler x12 Stereo")
    assert sampler.kind == "instrument"
    assert sampler.category == "Instrument|Instrument|Sampler|Instrument|Drum|Stereo"
    assert {c.kind for c in info.classes} == {"effect", "instrument"}


def test_bundle_without_moduleinfo_is_none(real_plugins: Path, tmp_path: Path) -> None:
    assert read_module_info(real_plugins / "ZamComp.vst3") is None
    assert read_module_info(tmp_path / "Missing.vst3") is None
    single_file = tmp_path / "Old.vst3"
    single_file.write_bytes(b"\x7fELF")
    assert read_module_info(single_file) is None


JSON5_SAMPLE = """\ufeff// Written by hand, SDK style.
{
  "Name": "Demo, // not a comment",
  "Version": "1.0 /* not a comment either */",
  /* a block comment
     over two lines, with "quotes", and commas, */
  "Factory Info": {
    "Vendor": "Demo \\"Audio\\", Inc.",  // trailing comment
    "URL": "https://example.com/",
  },
  "Classes": [
    {
      "CID": "0123456789ABCDEF0123456789ABCDEF",
      "Category": "Audio Module Class",
      "Name": "Synth [x], ]}",
      "Sub Categories": ["Instrument", "Synth",],
      "Version": "2.0",
    },
    {
      "Category": "Component Controller Class",
      "Name": "Synth controller",
    },
    {
      "Catetory": "Audio Module Class",
      "Name": "Bare",
      "Vendor": "",
    },
    {
      "Category": "Audio Module Class",
      "Name": "Delay",
      "Vendor": "Other Vendor",
      "Sub Categories": "Fx|Delay",
    },
    {
      "Category": "Audio Module Class",
      "Sub Categories": ["Fx"],
    },
    // a trailing comma, then a comment, then the end
  ],
}
"""


def test_json5_sample() -> None:
    info = parse_module_info(JSON5_SAMPLE.removeprefix("\ufeff"))
    assert info.name == "Demo, // not a comment"
    assert info.version == "1.0 /* not a comment either */"
    assert info.vendor == 'Demo "Audio", Inc.'
    assert info.classes == (
        ModuleClass(
            name="Synth [x], ]}",
            vendor='Demo "Audio", Inc.',  # No class vendor: the factory's, as VST3 says.
            version="2.0",
            category="Instrument|Synth",
            kind="instrument",
            cid="0123456789ABCDEF0123456789ABCDEF",
        ),
        ModuleClass(
            name="Bare",
            vendor='Demo "Audio", Inc.',
            version=None,
            category=None,
            kind=None,
            cid=None,
        ),
        ModuleClass(
            name="Delay",
            vendor="Other Vendor",
            version=None,
            category="Fx|Delay",
            kind="effect",
            cid=None,
        ),
    )


def test_read_accepts_byte_order_mark(tmp_path: Path) -> None:
    info = read_module_info(_bundle_with(tmp_path, JSON5_SAMPLE))
    assert info is not None and info.name == "Demo, // not a comment"


def test_missing_everything() -> None:
    assert parse_module_info("{}") == parse_module_info('{"Classes": [],}')
    info = parse_module_info("{}")
    assert (info.name, info.version, info.vendor, info.classes) == (None, None, None, ())


def test_cleaner_keeps_positions_and_strings() -> None:
    text = '{"a": "x/*y*/,]", /* c\n */ "b": [1, 2, ], // z\n}'
    cleaned = clean_json5(text)
    assert len(cleaned) == len(text)
    assert cleaned.count("\n") == text.count("\n")
    assert '"x/*y*/,]"' in cleaned
    assert "/*" not in cleaned.replace('"x/*y*/,]"', "")


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("", "not JSON"),
        ("garbage", "not JSON"),
        ('{"Name": "unterminated}', "not JSON"),
        ("{,,}", "not JSON"),
        ("[" * 100_000, "not JSON"),
        ("[1, 2]", "top level is an array"),
        ('{"Classes": {}}', '"Classes" is an object'),
        ('{"Classes": ["x"]}', '"Classes"[0] is a string'),
        ('{"Factory Info": []}', '"Factory Info" is an array'),
        ('{"Name": 3}', '"Name" is a number'),
        ('{"Classes": [{"Category": "Audio Module Class", "Name": true}]}', "a boolean"),
        (
            '{"Classes": [{"Category": "Audio Module Class", "Name": "x", "Sub Categories": [1]}]}',
            '"Sub Categories" is not an array of strings',
        ),
    ],
)
def test_garbage_raises(text: str, problem: str) -> None:
    with pytest.raises(ModuleInfoError, match=re.escape(problem)):
        parse_module_info(text)


def test_error_names_the_file(tmp_path: Path) -> None:
    bundle = _bundle_with(tmp_path, '{"Name": "x",\n  oops}')
    with pytest.raises(ModuleInfoError) as caught:
        read_module_info(bundle)
    message = str(caught.value)
    assert str(bundle / MODULE_INFO) in message and "line 2" in message
    assert isinstance(caught.value, ValueError)


def test_not_utf8_raises(tmp_path: Path) -> None:
    with pytest.raises(ModuleInfoError, match="not UTF-8"):
        read_module_info(_bundle_with(tmp_path, b'{"Name": "\xff"}'))


def test_unreadable_raises(tmp_path: Path) -> None:
    bundle = tmp_path / "Dir.vst3"
    (bundle / MODULE_INFO).mkdir(parents=True)  # A folder where the file should be.
    with pytest.raises(ModuleInfoError, match="cannot read"):
        read_module_info(bundle)
