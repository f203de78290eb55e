"""A plugin's version string as its vendor wrote it, where a byte-order slip garbled it.

VST3 gives a class's version as UTF-16 text. A plugin that writes it in the wrong byte order
(LSP 1.2.x: "1.0.29" arrives as U+3100 U+2E00 U+3000 U+2E00 U+3200 U+3900) reaches every host as
CJK and Bopomofo signs. Swapped back, each is an ASCII character; when the whole string comes out
as a version ("1.0.29", "2.4-beta" and the like: letters, digits and ``.-_+ `` with a digit among
them), that is what it was. Anything else is kept as given: a real version in Chinese numerals
("一") would swap to letters without a digit and is left alone.
"""

from __future__ import annotations

import re

_VERSION = re.compile(r"[0-9A-Za-z.\-_+ ]*[0-9][0-9A-Za-z.\-_+ ]*")


def readable_version(version: str | None) -> str | None:
    """``version`` with a byte-swapped ASCII version repaired; otherwise as given."""
    if not version or not all(0x2000 <= ord(c) <= 0x7E00 and ord(c) & 0xFF == 0 for c in version):
        return version
    swapped = "".join(chr(ord(c) >> 8) for c in version)
    return swapped if _VERSION.fullmatch(swapped) else version
