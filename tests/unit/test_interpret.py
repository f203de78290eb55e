"""interpret(): what a probe process did -> task state, plugin records, follow-up tasks."""

from __future__ import annotations

from typing import Any

from pluginary.scanner.engine import interpret
from pluginary.scanner.journal import Task
from pluginary.scanner.launcher import ProbeRun

TASK = Task(
    id=7,
    bundle="/p/Multi.vst3",
    real_path="/p/Multi.vst3",
    format="vst3",
    fingerprint="f",
    module_info={"name": "Multi", "vendor": "V", "classes": [{"name": "B", "kind": "effect"}]},
    classes=None,
    skip=[],
    state="running",
    attempts=1,
    interrupted=0,
)
PLUGIN = {
    "name": "A",
    "vendor": "V",
    "version": "1",
    "category": "Fx",
    "is_effect": True,
    "is_instrument": False,
    "identifier": "id-A",
    "parameters": [],
}


def run(events: list[dict[str, Any]], **how: Any) -> ProbeRun:
    defaults: dict[str, Any] = {"exit_code": 0, "signal": None, "timed_out": False}
    return ProbeRun(events=events, output_tail="noise", duration_ms=5.0, **{**defaults, **how})


def ok(name: str) -> dict[str, Any]:
    return {
        "event": "result",
        "class": name,
        "status": "ok",
        "plugin": {**PLUGIN, "name": name},
        "probe_ms": {"load": 1.0, "parameters": 2.0, "audio": None},
    }


def test_a_crash_blames_the_loading_class_and_keeps_the_others() -> None:
    events = [
        {"event": "classes", "names": ["A", "B", "C"]},
        {"event": "begin", "class": "A"},
        ok("A"),
        {"event": "begin", "class": "B"},
    ]
    state, records, follow_ups = interpret(TASK, run(events, exit_code=None, signal="SIGSEGV"), 30)
    assert state == "crashed"
    assert [(name, status) for name, status, _ in records] == [("A", "ok"), ("B", "crashed")]
    crashed = records[1][2]
    assert crashed["signal"] == "SIGSEGV" and "SIGSEGV" in crashed["error"]
    assert crashed["kind"] == "effect" and crashed["vendor"] == "V"  # From moduleinfo.json.
    assert crashed["output_tail"] == "noise"
    assert [task.classes for task in follow_ups] == [["C"]]


def test_a_timeout_during_enumeration_blames_the_bundle_without_follow_ups() -> None:
    state, records, follow_ups = interpret(
        TASK, run([], exit_code=None, signal="SIGKILL", timed_out=True), 2.5
    )
    assert state == "timeout"
    assert [(name, status) for name, status, _ in records] == [(None, "timeout")]
    assert "2.5 s" in records[0][2]["error"]
    assert records[0][2]["name"] == "Multi"
    assert follow_ups == []


def test_a_clean_run_reports_every_class() -> None:
    events = [
        {"event": "classes", "names": ["A", "B"]},
        {"event": "begin", "class": "A"},
        ok("A"),
        {"event": "begin", "class": "B"},
        {
            "event": "result",
            "class": "B",
            "status": "failed",
            "error": "nope",
            "diagnosis": None,
            "load_ms": 3.0,
        },
    ]
    state, records, follow_ups = interpret(TASK, run(events), 30)
    assert state == "ok"
    assert [(name, status) for name, status, _ in records] == [("A", "ok"), ("B", "failed")]
    assert records[0][2]["duration_ms"] == 3.0
    assert records[1][2]["error"] == "nope"
    assert follow_ups == []


def test_an_enumeration_failure_fails_the_task() -> None:
    events = [
        {
            "event": "result",
            "class": None,
            "status": "failed",
            "error": "bad",
            "diagnosis": "libfoo.so: cannot open shared object file",
            "load_ms": 1.0,
        }
    ]
    state, records, _ = interpret(TASK, run(events), 30)
    assert state == "failed"
    assert records[0][2]["diagnosis"].startswith("libfoo.so")


def test_a_nonzero_exit_is_a_crash_with_its_status() -> None:
    events = [{"event": "classes", "names": ["A"]}, {"event": "begin", "class": "A"}]
    state, records, _ = interpret(TASK, run(events, exit_code=3), 30)
    assert state == "crashed"
    assert records[0][2]["exit_code"] == 3 and "status 3" in records[0][2]["error"]


FACTS = {
    "channels": [2],
    "latency_samples": 0,
    "audio_check": {"ok": True, "peak": 0.5, "non_finite": False, "silent": False},
    "state": {"readable": True, "writable": True, "size": 10},
    "audio_ms": 4.0,
}


def test_checked_facts_join_the_record() -> None:
    events = [
        {"event": "classes", "names": ["A"]},
        {"event": "begin", "class": "A"},
        ok("A"),
        {"event": "processing", "class": "A"},
        {"event": "checked", "class": "A", "facts": FACTS},
    ]
    state, records, _ = interpret(TASK, run(events), 30)
    assert state == "ok"
    record = records[0][2]
    assert record["channels"] == [2] and record["audio_check"]["peak"] == 0.5
    assert record["probe_ms"] == {"load": 1.0, "parameters": 2.0, "audio": 4.0}
    assert record["duration_ms"] == 7.0


def test_a_crash_while_processing_keeps_what_loading_learnt() -> None:
    events = [
        {"event": "classes", "names": ["A", "B"]},
        {"event": "begin", "class": "A"},
        ok("A"),
        {"event": "processing", "class": "A"},
    ]
    state, records, follow_ups = interpret(TASK, run(events, exit_code=None, signal="SIGSEGV"), 30)
    assert state == "crashed"
    ((name, status, record),) = records
    assert (name, status) == ("A", "crashed")
    assert record["error"] == "the probe died with SIGSEGV while processing audio"
    assert record["audio_check"]["ok"] is False
    assert record["identifier"] == "id-A"  # Loading's facts are kept.
    assert [task.classes for task in follow_ups] == [["B"]]
