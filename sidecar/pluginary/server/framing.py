"""The host's frames on stdin: the LSP base protocol, bounded, and resynchronised after damage.

A frame is a header block (``Name: value`` lines, ``Content-Length`` required, names in any case)
ended by an empty line, then exactly ``Content-Length`` bytes of body. pygls's own reader trusts
its input: one header it does not recognise makes it skip every following request, and a line
longer than 64 KiB ends the process. This reader instead reports a damaged frame once (the server
answers it with a ParseError) and then resynchronises on the next ``Content-Length`` header, so
one bad frame costs that frame only. Limits: :data:`MAX_BODY_BYTES` per body,
:data:`MAX_HEADER_BYTES` per header block (``protocol/README.md`` documents both).
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

MAX_BODY_BYTES = 1 << 20  # 1 MiB: far above any request this protocol has.
MAX_HEADER_BYTES = 8 << 10
CHUNK = 1 << 16

# A complete Content-Length header line, where a frame starts.
HEADER_LINE = re.compile(rb"content-length:[ \t]*\d+[ \t]*\r?\n", re.IGNORECASE)
# HTTP's token characters: what a header name may be made of.
TOKEN = re.compile(rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
# Longest tail of a chunk that may be the start of a header line cut by the chunk's end.
KEEP = 64

Read = Callable[[int], Awaitable[bytes]]


@dataclass(frozen=True)
class DamagedFrame:
    """Bytes that were not a well-formed frame; ``reason`` says what was wrong."""

    reason: str


class FrameReader:
    """Frames from ``read`` (``read(n)`` returns at most n bytes, or nothing at end of input)."""

    def __init__(self, read: Read) -> None:
        self._read = read
        self._buffer = bytearray()
        self._eof = False
        self._lost = False  # After damage: skip to the next Content-Length header first.

    async def next(self) -> bytes | DamagedFrame | None:
        """The next frame's body, a damaged frame, or None at the end of input."""
        if self._lost and not await self._resynchronise():
            return None
        header = await self._header()
        if header is None:
            return None
        if isinstance(header, DamagedFrame):
            self._lost = True
            return header
        body = await self._exactly(header)
        if body is None:
            return None
        # A body cut short by a too small Content-Length, or a header sent without its body,
        # leaves the next frame's header inside this body. JSON text can never hold a header
        # line (a raw line break is not allowed inside a string), so it is safe to split there.
        found = HEADER_LINE.search(body)
        if found is not None:
            self._buffer[:0] = body[found.start() :]
            body = body[: found.start()]
        return body

    async def _header(self) -> int | DamagedFrame | None:
        """Read one header block; the body's length, or what was wrong with the block."""
        length: int | None = None
        size = 0
        started = False
        while True:
            line = await self._line(MAX_HEADER_BYTES - size)
            if line is None:
                return None
            if isinstance(line, DamagedFrame):
                return line
            content = line.rstrip(b"\r\n")
            if not content and not started:
                continue  # Blank lines between frames are harmless.
            if not content:
                break
            started = True
            size += len(line)
            name, colon, value = content.partition(b":")
            if not colon or not TOKEN.fullmatch(name):
                self._unread(line[1:])
                return DamagedFrame(f"not a header line: {_show(content)}")
            if name.lower() != b"content-length":
                continue  # Content-Type, or anything else: nothing we need.
            digits = value.strip(b" \t")
            if not digits.isdigit() or (length is not None and int(digits) != length):
                self._unread(line[1:])
                return DamagedFrame(f"invalid Content-Length: {_show(value.strip())}")
            length = int(digits)
        if length is None:
            return DamagedFrame("a header without Content-Length")
        if length > MAX_BODY_BYTES:
            return DamagedFrame(
                f"a body of {length} bytes, over the limit of {MAX_BODY_BYTES} bytes"
            )
        return length

    async def _line(self, limit: int) -> bytes | DamagedFrame | None:
        """One line, with its line break; damaged if longer than ``limit``."""
        while (end := self._buffer.find(b"\n")) < 0 or end >= limit:
            if len(self._buffer) >= limit or end >= 0:
                del self._buffer[:1]  # Resynchronising must start past this point.
                return DamagedFrame(f"a header over {MAX_HEADER_BYTES} bytes")
            if not await self._fill():
                return None
        line = bytes(self._buffer[: end + 1])
        del self._buffer[: end + 1]
        return line

    async def _exactly(self, count: int) -> bytes | None:
        while len(self._buffer) < count:
            if not await self._fill():
                return None
        body = bytes(self._buffer[:count])
        del self._buffer[:count]
        return body

    async def _resynchronise(self) -> bool:
        """Drop bytes up to the next Content-Length header line; False at the end of input."""
        while (found := HEADER_LINE.search(self._buffer)) is None:
            del self._buffer[: max(0, len(self._buffer) - KEEP)]
            if not await self._fill():
                return False
        del self._buffer[: found.start()]
        self._lost = False
        return True

    def _unread(self, data: bytes) -> None:
        self._buffer[:0] = data

    async def _fill(self) -> bool:
        if self._eof:
            return False
        chunk = await self._read(CHUNK)
        if not chunk:
            self._eof = True
            return False
        self._buffer += chunk
        return True


def _show(data: bytes) -> str:
    text = data[:60].decode("utf-8", errors="replace")
    return repr(text + ("…" if len(data) > 60 else ""))
