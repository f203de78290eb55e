"""interpret(): what a probe process did -> task state, plugin records, follow-up tasks."""

from __future__ import annotations

from typing import Any

from pluginary.scanner.engine import interpret
from pluginary.scanner.journal import Task
from pluginary.scanner.runs import ProbeLimits, ProbeRun

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


DONE = {"event": "done"}
LIMITS = ProbeLimits(timeout_seconds=30, memory_mib=512, output_mib=8)


def run(events: list[dict[str, Any]], **how: Any) -> ProbeRun:
    """A probe run; a clean exit carries ``done`` unless ``finished=False``."""
    finished = how.pop("finished", True)
    defaults: dict[str, Any] = {"exit_code": 0, "signal": None}
    how = {**defaults, **how}
    if finished and how["exit_code"] == 0 and not how.get("limit"):
        events = [*events, DONE]
    return ProbeRun(events=events, output_tail="noise", duration_ms=5.0, **how)


def ok(name: str) -> dict[str, Any]:
    return {
        "event": "result",
        "class": name,
        "status": "ok",
        "plugin": {**PLUGIN, "name": name},
        "probe_ms": {"load": 1.0, "parameters": 2.0, "audio": None},
        "describer": "fast",
    }


def test_a_crash_blames_the_loading_class_and_keeps_the_others() -> None:
    events = [
        {"event": "classes", "names": ["A", "B", "C"]},
        {"event": "begin", "class": "A"},
        ok("A"),
        {"event": "begin", "class": "B"},
    ]
    state, records, follow_ups = interpret(
        TASK, run(events, exit_code=None, signal="SIGSEGV"), LIMITS
    )
    assert state == "crashed"
    assert [(name, status) for name, status, _ in records] == [("A", "ok"), ("B", "crashed")]
    crashed = records[1][2]
    assert crashed["signal"] == "SIGSEGV" and "SIGSEGV" in crashed["error"]
    assert crashed["kind"] == "effect" and crashed["vendor"] == "V"  # From moduleinfo.json.
    assert crashed["output_tail"] == "noise"
    assert [task.classes for task in follow_ups] == [["C"]]


def test_a_timeout_during_enumeration_blames_the_bundle_without_follow_ups() -> None:
    state, records, follow_ups = interpret(
        TASK, run([], exit_code=None, signal="SIGKILL", limit="time"), ProbeLimits(2.5)
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
    state, records, follow_ups = interpret(TASK, run(events), LIMITS)
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
    state, records, _ = interpret(TASK, run(events), LIMITS)
    assert state == "failed"
    assert records[0][2]["diagnosis"].startswith("libfoo.so")


def test_a_nonzero_exit_is_a_crash_with_its_status() -> None:
    events = [{"event": "classes", "names": ["A"]}, {"event": "begin", "class": "A"}]
    state, records, _ = interpret(TASK, run(events, exit_code=3), LIMITS)
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
    state, records, _ = interpret(TASK, run(events), LIMITS)
    assert state == "ok"
    record = records[0][2]
    assert record["channels"] == [2] and record["audio_check"]["peak"] == 0.5
    assert record["probe_ms"] == {
        "load": 1.0,
        "parameters": 2.0,
        "audio": 4.0,
        "describer": "fast",
    }
    assert record["duration_ms"] == 7.0


def test_a_crash_while_processing_keeps_what_loading_learnt() -> None:
    events = [
        {"event": "classes", "names": ["A", "B"]},
        {"event": "begin", "class": "A"},
        ok("A"),
        {"event": "processing", "class": "A"},
    ]
    state, records, follow_ups = interpret(
        TASK, run(events, exit_code=None, signal="SIGSEGV"), LIMITS
    )
    assert state == "crashed"
    ((name, status, record),) = records
    assert (name, status) == ("A", "crashed")
    assert record["error"] == "the probe died with SIGSEGV while processing audio"
    assert record["audio_check"]["ok"] is False
    assert record["identifier"] == "id-A"  # Loading's facts are kept.
    assert [task.classes for task in follow_ups] == [["B"]]


# Class A checked at 1 channel, then being tried at 2 (1 accepted so far).
CHECKED_AT_ONE_TRYING_TWO = [
    {"event": "classes", "names": ["A"]},
    {"event": "begin", "class": "A"},
    ok("A"),
    {"event": "processing", "class": "A", "step": "channels", "channels": 1},
    {"event": "checked", "class": "A", "facts": {**FACTS, "channels": [1]}},
    {"event": "processing", "class": "A", "step": "channels", "channels": 2, "accepted": [1]},
]


def test_checked_twice_the_second_facts_stand_and_the_time_is_not_added_twice() -> None:
    events = [
        *CHECKED_AT_ONE_TRYING_TWO,
        {"event": "checked", "class": "A", "facts": {**FACTS, "channels": [1, 2], "audio_ms": 6.0}},
    ]
    state, records, _ = interpret(TASK, run(events), LIMITS)
    record = records[0][2]
    assert (state, record["channels"], record["duration_ms"]) == ("ok", [1, 2], 9.0)


def test_a_crash_on_a_higher_channel_count_keeps_the_checks_and_the_counts_before() -> None:
    events = [
        *CHECKED_AT_ONE_TRYING_TWO,
        {"event": "processing", "class": "A", "step": "channels", "channels": 3, "accepted": [1]},
    ]
    state, records, _ = interpret(TASK, run(events, exit_code=None, signal="SIGABRT"), LIMITS)
    ((_, status, record),) = records
    assert state == status == "crashed"
    assert record["error"] == (
        "the probe died with SIGABRT while finding the channel counts it accepts"
        " (trying 3 channels)"
    )
    # What the checks at its first count found stands: it processed audio and kept its state.
    assert record["channels"] == [1]
    assert record["audio_check"] == FACTS["audio_check"]
    assert record["state"] == FACTS["state"]


def test_a_clean_exit_without_done_blames_the_loading_class() -> None:
    """A plugin calling exit(0) while loading: the class vanishes no more (issue 12, item 5)."""
    events = [{"event": "classes", "names": ["A", "B"]}, {"event": "begin", "class": "A"}]
    state, records, follow_ups = interpret(TASK, run(events, finished=False), LIMITS)
    assert state == "crashed"
    ((name, status, record),) = records
    assert (name, status) == ("A", "crashed")
    assert record["error"] == (
        "the probe exited with status 0 before it finished (the plugin ended it)"
    )
    assert [task.classes for task in follow_ups] == [["B"]]


def test_a_clean_exit_before_any_class_blames_the_bundle() -> None:
    events = [{"event": "classes", "names": ["A", "B"]}]
    state, records, follow_ups = interpret(TASK, run(events, finished=False), LIMITS)
    assert state == "crashed"
    assert [(name, status) for name, status, _ in records] == [(None, "crashed")]
    assert follow_ups == []


def test_a_finished_probe_with_no_class_is_not_ok() -> None:
    state, records, _ = interpret(TASK, run([{"event": "classes", "names": []}]), LIMITS)
    assert state == "failed"
    assert [(name, status) for name, status, _ in records] == [(None, "failed")]


def test_no_phantom_bundle_row_when_every_class_has_its_result() -> None:
    """Killed after every class reported (a stall, say): the results stand, nobody is blamed."""
    events = [{"event": "classes", "names": ["A"]}, {"event": "begin", "class": "A"}, ok("A")]
    state, records, follow_ups = interpret(
        TASK, run(events, exit_code=None, signal="SIGKILL"), LIMITS
    )
    assert state == "ok"
    assert [(name, status) for name, status, _ in records] == [("A", "ok")]
    assert follow_ups == []


def test_a_forged_done_with_classes_left_is_a_corrupted_report() -> None:
    events = [{"event": "classes", "names": ["A", "B"]}, {"event": "begin", "class": "A"}, ok("A")]
    state, records, _ = interpret(TASK, run(events), LIMITS)
    assert state == "failed"
    assert [(name, status) for name, status, _ in records] == [("A", "ok"), (None, "failed")]
    assert "has no result for 'B'" in records[1][2]["error"]


def test_a_malformed_report_blames_the_class_that_was_loading() -> None:
    events = [{"event": "classes", "names": ["A", "B"]}, {"event": "begin", "class": "A"}]
    broken = run(events, problem="line 3 of its report is malformed: unknown event 42")
    state, records, follow_ups = interpret(TASK, broken, LIMITS)
    assert state == "failed"
    ((name, status, record),) = records
    assert (name, status) == ("A", "failed")
    assert record["error"] == (
        "the plugin corrupted the probe's report:"
        " line 3 of its report is malformed: unknown event 42"
    )
    assert [task.classes for task in follow_ups] == [["B"]]


def test_limits_are_named_in_the_record() -> None:
    events = [{"event": "classes", "names": ["A"]}, {"event": "begin", "class": "A"}]
    for limit, words in (
        ("memory", "exceeded its memory limit of 512 MiB"),
        ("output", "exceeded its output limit of 8 MiB"),
        ("time", "did not finish within 30 s"),
    ):
        state, records, _ = interpret(
            TASK, run(events, exit_code=None, signal="SIGKILL", limit=limit), LIMITS
        )
        assert state == ("timeout" if limit == "time" else "crashed")
        assert records[0][2]["error"].startswith(words)


def test_a_crash_while_unloading_keeps_the_record_and_blames_it() -> None:
    events = [
        {"event": "classes", "names": ["A", "B"]},
        {"event": "begin", "class": "A"},
        ok("A"),
        {"event": "unloading", "class": "A"},
    ]
    state, records, follow_ups = interpret(
        TASK, run(events, exit_code=None, signal="SIGSEGV"), LIMITS
    )
    assert state == "crashed"
    ((name, status, record),) = records
    assert (name, status) == ("A", "crashed")
    assert record["error"] == "the probe died with SIGSEGV while unloading"
    assert record["identifier"] == "id-A"
    assert [task.classes for task in follow_ups] == [["B"]]


def test_a_lost_probe_server_blames_the_class_probed_alone() -> None:
    events = [{"event": "classes", "names": ["A"]}, {"event": "begin", "class": "A"}]
    lost = run(events, exit_code=None, lost="it was killed by SIGKILL")
    state, records, _ = interpret(TASK, lost, LIMITS)
    assert state == "crashed"
    assert records[0][0] == "A"
    assert "probe server went down while probing it alone" in records[0][2]["error"]


def test_a_server_lost_alone_after_every_class_reported_blames_the_last_class() -> None:
    """Its probe server went down although the plugin reported everything: the plugin (alone
    with it) killed the server after reporting; its record is kept and marked."""
    events = [{"event": "classes", "names": ["A"]}, {"event": "begin", "class": "A"}, ok("A")]
    lost = run(events, exit_code=None, lost="it was killed by SIGKILL")
    state, records, follow_ups = interpret(TASK, lost, LIMITS)
    assert state == "crashed"
    ((name, status, record),) = records
    assert (name, status) == ("A", "crashed")
    assert record["error"].startswith("the probe server went down while probing it alone")
    assert record["identifier"] == "id-A"
    assert follow_ups == []


def test_a_timeout_says_how_far_describing_got() -> None:
    events = [
        {"event": "classes", "names": ["A"]},
        {"event": "begin", "class": "A"},
        {"event": "describing", "class": "A", "done": 0, "total": 2083},
        {"event": "describing", "class": "A", "done": 1200, "total": 2083},
    ]
    state, records, _ = interpret(
        TASK, run(events, exit_code=None, signal="SIGKILL", limit="time"), LIMITS
    )
    assert state == "timeout"
    error = records[0][2]["error"]
    assert error.startswith("did not finish within 30 s")
    assert error.endswith(" while describing its parameters (1,200 of 2,083)")


def test_a_timeout_before_describing_says_it_was_loading() -> None:
    events = [{"event": "classes", "names": ["A"]}, {"event": "begin", "class": "A"}]
    _, records, _ = interpret(
        TASK, run(events, exit_code=None, signal="SIGKILL", limit="time"), LIMITS
    )
    assert records[0][2]["error"].endswith(" while loading")


def test_progress_changes_nothing_of_a_clean_run() -> None:
    plain = [{"event": "classes", "names": ["A"]}, {"event": "begin", "class": "A"}, ok("A")]
    progress = [*plain[:2], {"event": "describing", "class": "A", "done": 3, "total": 9}, ok("A")]
    assert interpret(TASK, run(progress), LIMITS) == interpret(TASK, run(plain), LIMITS)


def _timed_out(events: list[dict[str, Any]]) -> str:
    _, records, _ = interpret(
        TASK, run(events, exit_code=None, signal="SIGKILL", limit="time"), LIMITS
    )
    return str(records[0][2]["error"])


CHECKED_A = [{"event": "classes", "names": ["A"]}, {"event": "begin", "class": "A"}, ok("A")]


def test_a_timeout_while_finding_channels_does_not_say_it_processed_audio() -> None:
    """Issue 16: the audio check never began (probeMs.audio stays null): say what did run."""
    events = [
        *CHECKED_A,
        {"event": "processing", "class": "A", "step": "channels", "channels": 1},
        {"event": "processing", "class": "A", "step": "channels", "channels": 2},
    ]
    error = _timed_out(events)
    assert error.endswith(" while finding the channel counts it accepts (trying 2 channels)")
    assert "processing audio" not in error


def test_a_timeout_names_the_check_it_was_on() -> None:
    audio = [*CHECKED_A, {"event": "processing", "class": "A", "step": "audio"}]
    assert _timed_out(audio).endswith(" while processing audio")
    state = [*audio, {"event": "processing", "class": "A", "step": "state"}]
    assert _timed_out(state).endswith(" while saving and restoring its state")


def test_a_timeout_before_the_classes_are_known_says_it_was_listing_them() -> None:
    error = _timed_out([])
    assert error == "did not finish within 30 s; its process group was killed" + (
        " while listing the bundle's classes"
    )


FIVE = {"event": "classes", "names": ["A", "B", "C", "D", "E"]}


def test_a_split_probe_of_many_classes_shares_the_rest_among_the_workers() -> None:
    """Issue 16: the first probe probes its first class; the others go to parallel probes."""
    events = [FIVE, {"event": "begin", "class": "A"}, ok("A")]
    state, records, follow_ups = interpret(TASK, run(events), LIMITS, share=3)
    assert state == "ok" and [name for name, _, _ in records] == ["A"]
    assert [task.classes for task in follow_ups] == [["B", "C"], ["D"], ["E"]]
    assert all(task.bundle == TASK.bundle for task in follow_ups)


def test_a_split_probe_whose_first_class_crashed_still_shares_the_rest() -> None:
    events = [FIVE, {"event": "begin", "class": "A"}]
    state, records, follow_ups = interpret(
        TASK, run(events, exit_code=None, signal="SIGSEGV"), LIMITS, share=2
    )
    assert (state, [(name, status) for name, status, _ in records]) == (
        "crashed",
        [("A", "crashed")],
    )
    assert [task.classes for task in follow_ups] == [["B", "C"], ["D", "E"]]


def test_a_one_class_bundle_is_one_probe_whatever_the_share() -> None:
    events = [{"event": "classes", "names": ["A"]}, {"event": "begin", "class": "A"}, ok("A")]
    assert interpret(TASK, run(events), LIMITS, share=4) == interpret(TASK, run(events), LIMITS)
    assert interpret(TASK, run(events), LIMITS, share=4)[2] == []


def test_a_probe_of_named_classes_is_never_split() -> None:
    task = Task(**{**TASK.__dict__, "classes": ["B", "C"]})
    events = [
        {"event": "classes", "names": ["B", "C"]},
        {"event": "begin", "class": "B"},
        ok("B"),
        {"event": "begin", "class": "C"},
        ok("C"),
    ]
    state, records, follow_ups = interpret(task, run(events), LIMITS, share=2)
    assert (state, len(records), follow_ups) == ("ok", 2, [])


def test_a_class_that_ends_its_probe_is_charged_its_own_time_not_the_classes_before() -> None:
    """A crash in a bundle's third class: the probe took 5 ms, 3.5 of them before it began."""
    events = [
        {"event": "classes", "names": ["A", "B", "C"]},
        {"event": "begin", "class": "A", "elapsed_ms": 0.5},
        ok("A"),
        {"event": "begin", "class": "B", "elapsed_ms": 2.0},
        ok("B"),
        {"event": "begin", "class": "C", "elapsed_ms": 3.5},
    ]
    state, records, _ = interpret(TASK, run(events, exit_code=None, signal="SIGSEGV"), LIMITS)
    crashed = {name: record for name, status, record in records if status == "crashed"}
    assert state == "crashed"
    assert crashed["C"]["duration_ms"] == 1.5


def test_the_first_class_to_end_its_probe_is_charged_the_whole_probe() -> None:
    """Listing the classes was for its sake too (as its output tail is)."""
    events = [
        {"event": "classes", "names": ["A", "B"]},
        {"event": "begin", "class": "A", "elapsed_ms": 1.0},
    ]
    _, records, _ = interpret(TASK, run(events, exit_code=None, signal="SIGABRT"), LIMITS)
    ((name, status, record),) = records
    assert (name, status, record["duration_ms"]) == ("A", "crashed", 5.0)
