"""Each class keeps what it printed: the probe's output sliced at its ``begin`` marks (issue 16)."""

from __future__ import annotations

from pathlib import Path

from pluginary.scanner.runs import OUTPUT_TAIL_BYTES, read_tails


def test_each_begun_class_gets_its_own_slice(tmp_path: Path) -> None:
    output = tmp_path / "1.output"
    output.write_bytes(b"listing\nA says\nB says\n")
    events = [
        {"event": "classes", "names": ["A", "B"]},
        {"event": "begin", "class": "A", "output_at": 8},
        {"event": "begin", "class": "B", "output_at": 15},
    ]
    whole, tails = read_tails(output, events)
    assert whole == "listing\nA says\nB says\n"
    # The first class's slice starts at the beginning: the listing was for its sake too.
    assert tails == {"A": "listing\nA says\n", "B": "B says\n"}


def test_a_class_without_a_mark_leaves_the_output_the_probes(tmp_path: Path) -> None:
    output = tmp_path / "1.output"
    output.write_bytes(b"x" * (OUTPUT_TAIL_BYTES + 5))
    whole, tails = read_tails(output, [{"event": "begin", "class": "A"}])
    assert (len(whole), tails) == (OUTPUT_TAIL_BYTES, {})


def test_marks_a_plugin_moved_back_give_empty_slices_not_errors(tmp_path: Path) -> None:
    output = tmp_path / "1.output"
    output.write_bytes(b"abc")
    events = [
        {"event": "begin", "class": "A", "output_at": 0},
        {"event": "begin", "class": "B", "output_at": 99},
        {"event": "begin", "class": "C", "output_at": -4},
    ]
    assert read_tails(output, events)[1] == {"A": "abc", "B": "", "C": "abc"}
