"""parse_report(): a probe's result file is untrusted; only well-formed events get through."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pluginary.scanner.reports import MAX_REPORT_BYTES, parse_report

PARAMETER = {
    "index": 0,
    "name": "Gain",
    "key": "gain",
    "units": "dB",
    "type": "float",
    "min": -1.0,
    "max": 1.0,
    "step": None,
    "default_raw": 0.5,
    "default_text": "0 dB",
    "boolean": False,
    "num_steps": 2147483647,
    "values": None,
    "samples": [],
}
OK = {
    "event": "result",
    "class": "A",
    "status": "ok",
    "plugin": {
        "name": "A",
        "vendor": "V",
        "version": None,
        "category": "Fx",
        "is_effect": True,
        "is_instrument": False,
        "identifier": "x",
        "parameters": [PARAMETER],
    },
    "probe_ms": {"load": 1.0, "parameters": 2, "audio": None},
    "describer": "fast",
}
GOOD = [
    {"event": "classes", "names": ["A"]},
    {"event": "begin", "class": "A", "output_at": 0, "elapsed_ms": 1.5},
    {"event": "describing", "class": "A", "done": 0, "total": 1},
    OK,
    {"event": "unloading", "class": "A"},
    {"event": "done"},
]


def lines(*events: Any) -> bytes:
    return b"".join(json.dumps(event).encode() + b"\n" for event in events)


def test_a_well_formed_report_passes_whole() -> None:
    assert parse_report(lines(*GOOD)) == (GOOD, None)


def test_a_last_line_cut_short_ends_the_readable_part_without_blame() -> None:
    data = lines(*GOOD[:2]) + b'{"event": "res'
    assert parse_report(data) == (GOOD[:2], None)


@pytest.mark.parametrize(
    ("garbage", "words"),
    [
        (b"42", "an event must be an object, not a number"),
        (b'{"event": "result"}', "result has no 'class'"),
        (b'{"event": "result", "class": "A", "status": "ok"}', "result has no 'plugin'"),
        (b'{"event": "classes", "names": 5}', "classes.names is a number"),
        (b'{"event": "classes", "names": [1]}', "classes.names[] is a number"),
        (b'{"event": "sing"}', "unknown event 'sing'"),
        (b'{"event": "begin", "class": true}', "begin.class is a boolean"),
        (b'{"event": "begin", "class": "A", "elapsed_ms": "1"}', "begin.elapsed_ms is a string"),
        (b'{"event": "describing", "class": "A", "done": 1}', "describing has no 'total'"),
        (b'{"event": "describing", "class": "A", "done": true, "total": 2}', "a boolean"),
        (b"\xff\xfe not text", "malformed"),
        (b"[1, 2", "malformed"),
        (b'{"event": "checked", "class": "A", "facts": {"channels": [NaN]}}', "NaN"),
    ],
)
def test_malformed_lines_stop_the_report_and_say_why(garbage: bytes, words: str) -> None:
    events, problem = parse_report(lines(*GOOD[:2]) + garbage + b"\n" + lines(*GOOD[2:]))
    assert events == GOOD[:2]
    assert problem is not None
    assert problem.startswith("line 3 of its report is malformed")
    assert words in problem


def test_a_parameter_of_the_wrong_shape_is_malformed() -> None:
    broken = json.loads(json.dumps(OK))
    broken["plugin"]["parameters"][0]["index"] = "zero"
    events, problem = parse_report(lines(GOOD[0], broken))
    assert events == [GOOD[0]]
    assert problem is not None and "parameters[].index is a string" in problem


def test_an_oversized_report_is_refused_unread() -> None:
    events, problem = parse_report(b" " * (MAX_REPORT_BYTES + 1))
    assert events == []
    assert problem is not None and "over the limit" in problem


@given(st.binary(max_size=400))
def test_any_bytes_give_events_or_a_problem_never_an_exception(data: bytes) -> None:
    events, problem = parse_report(data)
    assert isinstance(events, list)
    assert problem is None or isinstance(problem, str)
