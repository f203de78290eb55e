"""Text from plugins and file names made safe to print on a terminal.

A plugin's output (and, rarely, its name or a file name) may hold terminal escape sequences that
would move the cursor, retitle the window or hide the text after them; they are dropped, and
every other control character but newline and tab with them.
"""

from __future__ import annotations

import re

# ESC-led sequences: CSI (ESC [ ... final), OSC/DCS/PM/APC/SOS (ended by BEL or ESC \, or never),
# and the two-character ones (ESC and one byte); then the 8-bit CSI and OSC forms.
_ESCAPES = re.compile(
    r"\x1b\[[0-?]*[ -/]*[@-~]?"
    r"|\x1b[\]PX^_][^\x07\x1b]*(?:\x07|\x1b\\)?"
    r"|\x1b[ -~]?"
    r"|\x9b[0-?]*[ -/]*[@-~]?"
    r"|[\x90\x9d\x98\x9e\x9f][^\x07\x1b\x9c]*(?:\x07|\x1b\\|\x9c)?"
)
_CONTROLS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def printable(text: str) -> str:
    """``text`` without escape sequences or control characters (newlines and tabs stay)."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return _CONTROLS.sub("", _ESCAPES.sub("", text))


def one_line(text: str) -> str:
    """``text`` printable on one line: a tab-separated row's field, a table's cell."""
    return printable(text).replace("\t", " ").replace("\n", " ")
