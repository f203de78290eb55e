"""Each class's own time limit, read from a probe's growing result file (issue 16)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pluginary.scanner.classclock import MAX_LINE, ClassClock


def _write(path: Path, *lines: Any) -> None:
    with open(path, "ab") as file:
        for line in lines:
            file.write(line if isinstance(line, bytes) else (json.dumps(line) + "\n").encode())


def test_the_deadline_restarts_at_each_class_begun_after_the_first(tmp_path: Path) -> None:
    result = tmp_path / "1.result"
    clock = ClassClock(result, 10.0, now=0.0)
    assert not clock.poll(1.0)  # No file yet.
    _write(result, {"event": "classes", "names": ["A", "B"]}, {"event": "begin", "class": "A"})
    assert not clock.poll(2.0)  # The first class's limit includes the listing.
    assert clock.deadline == 10.0
    _write(result, {"event": "begin", "class": "B", "output_at": 0})
    assert clock.poll(7.0)
    assert clock.deadline == 17.0
    clock.delay(3.0)
    assert clock.deadline == 20.0


def test_forged_lines_do_not_stretch_the_limit(tmp_path: Path) -> None:
    result = tmp_path / "1.result"
    clock = ClassClock(result, 10.0, now=0.0, classes=["A", "B"])
    _write(
        result,
        {"event": "begin", "class": "A"},
        {"event": "begin", "class": "A"},  # Again: not another class.
        {"event": "begin", "class": "zoo-forged"},  # Not one of the probe's.
        b'{"event": "begin", "class": \n',  # Malformed.
        b'{"event": "begin"' + b"x" * (MAX_LINE + 10),  # A line too long to be ours...
    )
    assert not clock.poll(5.0)
    _write(result, b"\n", {"event": "begin", "class": "B"})  # ...ends; the next one counts.
    assert clock.poll(6.0) and clock.deadline == 16.0


def test_a_line_split_across_polls_is_read_whole(tmp_path: Path) -> None:
    result = tmp_path / "1.result"
    clock = ClassClock(result, 10.0, now=0.0)
    line = json.dumps({"event": "begin", "class": "A"}) + "\n"
    second = json.dumps({"event": "begin", "class": "B"}) + "\n"
    _write(result, line.encode(), second[:10].encode())
    assert not clock.poll(1.0)
    _write(result, second[10:].encode())
    assert clock.poll(2.0)
