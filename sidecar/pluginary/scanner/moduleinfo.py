"""Read a VST3 bundle's ``Contents/Resources/moduleinfo.json`` without loading any of its code.

VST3 SDK 3.7.5 and later write this file next to the binary: the module's name, version and
vendor, and one entry per class. Only "Audio Module Class" entries are plugins (the others are
their editors' controllers). The SDK's own reader accepts JSON5-ish text, so this one tolerates
``//`` and ``/* */`` comments and trailing commas before handing the text to :mod:`json`.
The file is read with care (a regular file, bounded in size, opened without blocking): it comes
from anyone's installer, and the sidecar reads it itself.
"""

from __future__ import annotations

import json
import os
import re
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pluginary.fsnames import display
from pluginary.scanner.discovery import os_error

MODULE_INFO = Path("Contents") / "Resources" / "moduleinfo.json"
AUDIO_MODULE_CLASS = "Audio Module Class"
# The largest moduleinfo.json read. Real ones are a few KiB (lsp-plugins' 200-odd classes take
# about 100 KiB); the file is read whole and parsed in the sidecar, which must stay small.
MAX_MODULE_INFO_BYTES = 4 << 20

# A string literal (kept as is) or a comment (blanked). Matching strings first is what keeps
# "//" and "/*" inside them safe.
_COMMENT = re.compile(r'("(?:[^"\\]|\\.)*")|//[^\n]*|/\*[\s\S]*?\*/')
# A string literal (kept) or a comma whose next non-blank character closes an array or object.
_TRAILING_COMMA = re.compile(r'("(?:[^"\\]|\\.)*")|,(?=\s*[\]}])')


class ModuleInfoError(ValueError):
    """A moduleinfo.json that exists but cannot be read or understood."""


@dataclass(frozen=True)
class ModuleClass:
    """One plugin ("Audio Module Class") declared by the module."""

    name: str
    vendor: str | None
    version: str | None
    category: str | None
    kind: str | None
    cid: str | None


@dataclass(frozen=True)
class ModuleInfo:
    """What a bundle says about itself: module identity and its plugin classes."""

    name: str | None
    version: str | None
    vendor: str | None
    classes: tuple[ModuleClass, ...]


def read_module_info(bundle: Path) -> ModuleInfo | None:
    """The bundle's moduleinfo.json, or None when it has none; ModuleInfoError if unreadable.

    Only a regular file of at most :data:`MAX_MODULE_INFO_BYTES` is read: the sidecar reads
    this file while it holds the scan lock, so a FIFO (which would block forever), a device or
    a huge file is refused with a ModuleInfoError (the bundle is still probed).
    """
    path = bundle / MODULE_INFO
    shown = display(str(path))
    try:
        data = _read_regular_file(path, MAX_MODULE_INFO_BYTES)
    except (FileNotFoundError, NotADirectoryError):
        return None
    except OSError as error:
        raise ModuleInfoError(f"{shown}: cannot read: {os_error(error)}") from error
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise ModuleInfoError(f"{shown}: not UTF-8: {error}") from error
    try:
        return parse_module_info(text)
    except ModuleInfoError as error:
        raise ModuleInfoError(f"{shown}: {error}") from error


def _read_regular_file(path: Path, limit: int) -> bytes:
    """The bytes of ``path`` if it is a regular file of at most ``limit`` bytes.

    Checked before opening (opening a device can have effects of its own) and again on the open
    file, which is opened without blocking (a FIFO put there in between cannot stall us).
    Raises FileNotFoundError when there is no such file, ModuleInfoError for anything else.
    """
    _check_regular(path, os.stat(path), limit)
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    try:
        _check_regular(path, os.fstat(fd), limit)
        chunks = []
        remaining = limit + 1  # One byte more than allowed tells a file that grew since.
        while remaining > 0 and (chunk := os.read(fd, min(remaining, 1 << 20))):
            chunks.append(chunk)
            remaining -= len(chunk)
    finally:
        os.close(fd)
    data = b"".join(chunks)
    if len(data) > limit:
        raise ModuleInfoError(f"{display(str(path))}: cannot read: over the {_mib(limit)} limit")
    return data


def _check_regular(path: Path, info: os.stat_result, limit: int) -> None:
    if not stat.S_ISREG(info.st_mode):
        kind = _FILE_KINDS.get(stat.S_IFMT(info.st_mode), "not a regular file")
        raise ModuleInfoError(f"{display(str(path))}: cannot read: {kind}, not a regular file")
    if info.st_size > limit:
        raise ModuleInfoError(
            f"{display(str(path))}: cannot read: {info.st_size} bytes, over the {_mib(limit)} limit"
        )


_FILE_KINDS = {
    stat.S_IFIFO: "a FIFO",
    stat.S_IFCHR: "a character device",
    stat.S_IFBLK: "a block device",
    stat.S_IFSOCK: "a socket",
    stat.S_IFDIR: "a directory",
}


def _mib(size: int) -> str:
    return f"{size / (1 << 20):g} MiB"


def parse_module_info(text: str) -> ModuleInfo:
    """Parse moduleinfo.json text (comments and trailing commas allowed)."""
    document = _load_json(text)
    if not isinstance(document, dict):
        raise ModuleInfoError(f"top level is {_json_type(document)}, not an object")
    factory = document.get("Factory Info", {})
    if not isinstance(factory, dict):
        raise ModuleInfoError(f'"Factory Info" is {_json_type(factory)}, not an object')
    module_vendor = _text(factory, "Vendor", '"Factory Info"')
    entries = document.get("Classes", [])
    if not isinstance(entries, list):
        raise ModuleInfoError(f'"Classes" is {_json_type(entries)}, not an array')
    classes = []
    for index, entry in enumerate(entries):
        where = f'"Classes"[{index}]'
        if not isinstance(entry, dict):
            raise ModuleInfoError(f"{where} is {_json_type(entry)}, not an object")
        module_class = _module_class(entry, where, module_vendor)
        if module_class is not None:
            classes.append(module_class)
    return ModuleInfo(
        name=_text(document, "Name", "top level"),
        version=_text(document, "Version", "top level"),
        vendor=module_vendor,
        classes=tuple(classes),
    )


def clean_json5(text: str) -> str:
    """Blank out comments and trailing commas so that :func:`json.loads` accepts the text.

    Removed characters become spaces (newlines are kept), so JSON error positions still point
    at the right line and column of the original.
    """
    text = _COMMENT.sub(lambda m: m.group(1) or _blank(m.group(0)), text)
    return _TRAILING_COMMA.sub(lambda m: m.group(1) or " ", text)


def _load_json(text: str) -> Any:
    try:
        try:
            # Strict JSON first: most files are, and cleaning costs far more than parsing.
            return json.loads(text)
        except json.JSONDecodeError:
            return json.loads(clean_json5(text))
    except json.JSONDecodeError as error:
        raise ModuleInfoError(f"not JSON: {error}") from error
    except RecursionError as error:
        raise ModuleInfoError("not JSON: nested too deeply") from error


def _module_class(
    entry: dict[str, Any], where: str, module_vendor: str | None
) -> ModuleClass | None:
    # lsp-plugins writes "Catetory"; the misspelling is in shipped bundles, so accept both.
    key = "Category" if "Category" in entry else "Catetory"
    if _text(entry, key, where) != AUDIO_MODULE_CLASS:
        return None
    name = _text(entry, "Name", where)
    if name is None:
        return None  # A nameless class cannot be asked for by name, so it is no use to a scan.
    subcategories = _subcategories(entry.get("Sub Categories"), where)
    kind = None
    if "Instrument" in subcategories:
        kind = "instrument"
    elif "Fx" in subcategories:
        kind = "effect"
    return ModuleClass(
        name=name,
        # VST3's PClassInfo2 says an empty class vendor means the factory's vendor.
        vendor=_text(entry, "Vendor", where) or module_vendor,
        version=_text(entry, "Version", where),
        category="|".join(subcategories) or None,
        kind=kind,
        cid=_text(entry, "CID", where),
    )


def _subcategories(value: Any, where: str) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):  # The binary API's form, "Fx|Reverb"; tolerate it here too.
        value = value.split("|")
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise ModuleInfoError(f'{where} "Sub Categories" is not an array of strings')
    return [item.strip() for item in value if item.strip()]


def _text(mapping: dict[str, Any], key: str, where: str) -> str | None:
    value = mapping.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise ModuleInfoError(f'{where} "{key}" is {_json_type(value)}, not a string')
    # A "\udc80" escape in the file would be a lone surrogate, which is no text (see fsnames).
    return display(value).strip() or None


def _json_type(value: Any) -> str:
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, bool):
        return "a boolean"
    if value is None:
        return "null"
    return "a number"


def _blank(comment: str) -> str:
    return "".join("\n" if char == "\n" else " " for char in comment)
