"""The frame reader on its own: every kind of damage costs one frame, never the next ones."""

from __future__ import annotations

import json

import anyio
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pluginary.server.framing import MAX_BODY_BYTES, MAX_HEADER_BYTES, DamagedFrame, FrameReader

pytestmark = pytest.mark.failsafe


def frame(body: bytes) -> bytes:
    return b"Content-Length: %d\r\n\r\n%s" % (len(body), body)


def request(n: int) -> bytes:
    return json.dumps({"jsonrpc": "2.0", "id": n, "method": "pluginary/status"}).encode()


def read_all(data: bytes, chunk: int = 7) -> list[bytes | DamagedFrame]:
    """Every frame of ``data``, fed to the reader ``chunk`` bytes at a time."""

    async def run() -> list[bytes | DamagedFrame]:
        position = 0

        async def read(count: int) -> bytes:
            nonlocal position
            piece = data[position : position + min(count, chunk)]
            position += len(piece)
            return piece

        reader = FrameReader(read)
        frames = []
        while (item := await reader.next()) is not None:
            frames.append(item)
        return frames

    return anyio.run(run)


def bodies(frames: list[bytes | DamagedFrame]) -> list[bytes]:
    return [f for f in frames if isinstance(f, bytes)]


def test_well_formed_frames_in_any_chunking() -> None:
    lenient = b"content-length: %d\nContent-Type: x\n\n" % len(request(2))
    data = b"\r\n" + frame(request(1)) + lenient + request(2)
    for chunk in (1, 3, 64, 1 << 16):
        assert read_all(data, chunk) == [request(1), request(2)]


@pytest.mark.parametrize(
    ("damage", "reason"),
    [
        (b"Content-Type: a\r\n\r\n" + request(0), "without Content-Length"),
        (b"Content-Length: ten\r\n\r\n" + request(0), "invalid Content-Length"),
        (b"Content-Length: -5\r\n\r\n" + request(0), "invalid Content-Length"),
        (b"Content-Length: 5\r\nContent-Length: 6\r\n\r\n" + request(0), "invalid Content-Length"),
        (b"garbage without a colon\r\n\r\n", "not a header line"),
        (b"x" * 100_000, f"a header over {MAX_HEADER_BYTES} bytes"),
        (b"X-Pad: " + b"y" * MAX_HEADER_BYTES + b"\r\n\r\n", "a header over"),
        (b"Content-Length: %d\r\n\r\n" % (MAX_BODY_BYTES + 1) + b"{" * 2000, "over the limit"),
    ],
)
def test_damage_is_reported_once_and_the_next_frame_survives(damage: bytes, reason: str) -> None:
    frames = read_all(frame(request(1)) + damage + frame(request(2)) + frame(request(3)))
    damaged = [f for f in frames if isinstance(f, DamagedFrame)]
    assert len(damaged) == 1 and reason in damaged[0].reason
    assert bodies(frames) == [request(1), request(2), request(3)]


def test_a_content_length_too_small_costs_that_frame_only() -> None:
    short = b"Content-Length: 20\r\n\r\n" + request(1)
    frames = read_all(short + frame(request(2)))
    assert frames[0] == request(1)[:20]  # Not JSON: the server answers ParseError.
    assert isinstance(frames[1], DamagedFrame)
    assert bodies(frames)[-1] == request(2)


def test_a_header_without_its_body_gives_the_next_frame_back() -> None:
    frames = read_all(b"Content-Length: 40\r\n\r\n" + frame(request(2)) + frame(request(3)))
    assert frames == [b"", request(2), request(3)]


def test_a_content_length_too_large_eats_into_the_next_frame_only() -> None:
    # The body runs into the next frame's header line: split there, both frames survive.
    long = b"Content-Length: %d\r\n\n" % (len(request(1)) + 30) + request(1)
    assert read_all(long + frame(request(2)) + frame(request(3))) == [request(i) for i in (1, 2, 3)]
    # The body ends inside the next frame's header line: that frame is lost, not the one after.
    long = b"Content-Length: %d\r\n\r\n" % (len(request(1)) + 5) + request(1)
    frames = read_all(long + frame(request(2)) + frame(request(3)))
    assert frames[0] == request(1) + b"Conte"  # Not JSON: the server answers ParseError.
    assert isinstance(frames[1], DamagedFrame)
    assert frames[2:] == [request(3)]


def test_the_end_of_input_inside_a_frame_ends_the_stream() -> None:
    assert read_all(b"Content-Length: 100\r\n\r\n{") == []
    assert read_all(b"Content-Length: 10") == []
    assert read_all(b"") == []


@settings(max_examples=300, deadline=None)
@given(garbage=st.binary(max_size=300), chunk=st.integers(1, 50))
def test_any_garbage_between_frames_costs_no_well_formed_frame(garbage: bytes, chunk: int) -> None:
    # Garbage that ends inside an unfinished header line is completed by the frame after it,
    # so it may only cost that one frame; from then on every frame must come through.
    data = frame(request(1)) + garbage + b"\r\n" + b"".join(frame(request(n)) for n in (2, 3, 4))
    got = bodies(read_all(data, chunk))
    assert got[0] == request(1)
    assert got[-2:] == [request(3), request(4)]
