"""File names that are not text: their SQLite form, their display form, their exact bytes.

A Linux file name is any bytes but ``/`` and NUL. Python hands a name that is not valid UTF-8
over as a ``str`` holding lone surrogates U+DC80-U+DCFF, one per undecodable byte (PEP 383,
"surrogateescape"); :func:`os.fsencode` gives the exact bytes back. That ``str`` is the domain's
one form of a path, but SQLite, UTF-8 text and most JSON parsers cannot take it. So:

- **SQLite**: a path that is valid UTF-8 is bound as TEXT, exactly as before; any other as a
  BLOB of its exact bytes (:func:`to_sql`, :func:`from_sql`). The choice depends on the path
  alone, so equal paths always compare equal and catalogues written before need no migration.
- **Display** (wire, logs, CLI): each undecodable byte becomes U+FFFD (:func:`display`), as
  GLib's ``g_filename_display_name`` and Rust's ``to_string_lossy`` show it.
- **Exact** (wire): the bytes, base64 (:func:`exact_bytes`), for a host that must open the file.
"""

from __future__ import annotations

import base64
import binascii
import os
import re
import shlex

# Every surrogate code point: in a Python str each one is lone, i.e. not text.
_SURROGATE = re.compile("[\ud800-\udfff]")
# The ones PEP 383 uses for the undecodable bytes 0x80-0xFF.
_ESCAPED_BYTE = re.compile("[\udc80-\udcff]")


def is_text(name: str) -> bool:
    """Whether ``name`` is valid Unicode (encodable as UTF-8), i.e. no lone surrogates."""
    return name.isascii() or _SURROGATE.search(name) is None


def to_sql(path: str) -> str | bytes:
    """The value to bind for ``path``: itself if it is text, else a BLOB of its exact bytes."""
    return path if is_text(path) else os.fsencode(path)


def from_sql(value: str | bytes) -> str:
    """A path as read back from SQLite (see :func:`to_sql`)."""
    return os.fsdecode(value) if isinstance(value, bytes) else value


def display(text: str) -> str:
    """``text`` with every lone surrogate (an undecodable byte) shown as U+FFFD."""
    return text if is_text(text) else _SURROGATE.sub("\ufffd", text)


def exact_bytes(path: str) -> str | None:
    """The exact bytes of a path that is not text, base64; None when ``path`` is text."""
    return None if is_text(path) else base64.b64encode(os.fsencode(path)).decode("ascii")


def from_exact_bytes(encoded: str) -> str:
    """The path :func:`exact_bytes` encoded, as Python's str (PEP 383); ValueError if bad."""
    try:
        return os.fsdecode(base64.b64decode(encoded, validate=True))
    except binascii.Error as error:
        raise ValueError(f"not base64: {error}") from error


def is_path_text(name: str) -> bool:
    """Whether ``name`` is text apart from PEP 383's escaped bytes (which stand for bytes)."""
    return is_text(_ESCAPED_BYTE.sub("", name))


def shell_quoted(path: str) -> str:
    """``path`` as a POSIX shell word naming exactly its bytes (``$'...'`` if it is not text)."""
    if is_text(path):
        return shlex.quote(path)
    escaped = "".join(
        chr(byte) if 0x20 <= byte < 0x7F and byte not in b"'\\" else f"\\x{byte:02x}"
        for byte in os.fsencode(path)
    )
    return f"$'{escaped}'"
