from __future__ import annotations

import sqlite3
from pathlib import Path

from pluginary.scanner.journal import Journal, PlannedTask


def _plan(n: int) -> list[PlannedTask]:
    return [
        PlannedTask(
            bundle=f"/p/B{i}.vst3", real_path=f"/p/B{i}.vst3", format="vst3", fingerprint=f"f{i}"
        )
        for i in range(n)
    ]


def _begin(journal: Journal, n: int = 3) -> None:
    journal.begin(
        "s1",
        {"rescan": False},
        ["/p"],
        _plan(n),
        removed=["/gone.vst3"],
        discovered=n + 1,
        unchanged=1,
        ignored=0,
    )


def test_plan_is_written_pending_and_survives_reopen(tmp_path: Path) -> None:
    journal, problem = Journal.open(tmp_path / "j.sqlite")
    assert problem is None
    _begin(journal)
    journal.close()
    journal, _ = Journal.open(tmp_path / "j.sqlite")
    plan = journal.current()
    assert plan is not None and plan.id == "s1" and plan.removed == ["/gone.vst3"]
    assert [t.state for t in journal.tasks("s1")] == ["pending"] * 3
    assert journal.progress("s1").settled == 0


def test_running_tasks_are_requeued_then_blamed_after_two_deaths(tmp_path: Path) -> None:
    journal, _ = Journal.open(tmp_path / "j.sqlite")
    _begin(journal)
    first, second, third = journal.pending("s1")
    journal.start(first.id)
    journal.settle(first, "ok", [("B0", "ok", {"name": "B0"})])
    journal.start(second.id)
    assert journal.recover("s1") == []  # First death: second goes back to pending.
    assert {t.id for t in journal.pending("s1")} == {second.id, third.id}
    journal.start(second.id)
    blamed = journal.recover("s1")  # Second death while loading the same bundle.
    assert [t.id for t in blamed] == [second.id]
    states = {t.id: t.state for t in journal.tasks("s1")}
    assert states == {first.id: "ok", second.id: "crashed", third.id: "pending"}
    records = [record for found in journal.results("s1") for record in found.records]
    assert [(name, status) for name, status, _ in records] == [("B0", "ok"), (None, "crashed")]
    assert "took the scanner down 2 times" in records[1][2]["error"]


def test_settle_adds_follow_up_tasks_atomically(tmp_path: Path) -> None:
    journal, _ = Journal.open(tmp_path / "j.sqlite")
    _begin(journal, 1)
    (task,) = journal.pending("s1")
    journal.start(task.id)
    follow = PlannedTask(
        bundle=task.bundle, real_path=task.real_path, format="vst3", fingerprint="f0", classes=["C"]
    )
    added = journal.settle(task, "crashed", [("A", "ok", {}), ("B", "crashed", {})], [follow])
    (pending,) = journal.pending("s1")
    assert pending.classes == ["C"] and added == [pending]
    # Progress counts classes: the two recorded, and the one the follow-up names.
    progress = journal.progress("s1")
    assert (progress.settled, progress.total) == (2, 3)


def test_progress_counts_a_listed_bundle_by_its_classes(tmp_path: Path) -> None:
    """Issue 16: a bundle counts one until its first probe lists it, then its classes."""
    journal, _ = Journal.open(tmp_path / "j.sqlite")
    _begin(journal, 2)
    first, _ = journal.pending("s1")
    assert (journal.progress("s1").settled, journal.progress("s1").total) == (0, 2)
    journal.start(first.id)
    chunks = [
        PlannedTask(
            bundle=first.bundle,
            real_path=first.real_path,
            format="vst3",
            fingerprint="f0",
            classes=names,
        )
        for names in (["B", "C"], ["D"])
    ]
    journal.settle(first, "ok", [("A", "ok", {})], chunks)
    progress = journal.progress("s1")
    assert (progress.settled, progress.total) == (1, 5)  # A of A..D, and the other bundle.


def test_a_journal_from_another_schema_version_is_moved_aside(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite"
    old = sqlite3.connect(path)
    old.execute("PRAGMA user_version = 99")
    old.close()
    journal, problem = Journal.open(path)
    assert problem is not None and "schema version 99" in problem
    assert journal.current() is None
    assert len(list(tmp_path.glob("j.sqlite.broken-*"))) == 1


def test_a_garbage_journal_is_moved_aside(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite"
    path.write_bytes(b"this is not a database" * 100)
    journal, problem = Journal.open(path)
    assert problem is not None and "damaged" in problem
    _begin(journal)
    assert journal.current() is not None


def test_a_new_scan_keeps_what_an_interrupted_one_finished(tmp_path: Path) -> None:
    journal, _ = Journal.open(tmp_path / "j.sqlite")
    _begin(journal, 3)
    done, running, _ = journal.pending("s1")
    journal.start(done.id)
    journal.settle(done, "ok", [("B0", "ok", {"name": "B0"})])
    journal.start(running.id)
    changed = _plan(3)
    changed[2] = PlannedTask(
        bundle="/p/B2.vst3", real_path="/p/B2.vst3", format="vst3", fingerprint="new"
    )
    carried = journal.begin(
        "s2", {}, ["/p"], changed, removed=[], discovered=3, unchanged=0, ignored=0
    )
    assert carried == 1  # B0 finished; B1 was in flight; B2 changed anyway.
    plan = journal.current()
    assert plan is not None and plan.id == "s2"
    assert {t.bundle: t.state for t in journal.tasks("s2")} == {
        "/p/B0.vst3": "ok",
        "/p/B1.vst3": "pending",
        "/p/B2.vst3": "pending",
    }
    found = {b.bundle: [name for name, _, _ in b.records] for b in journal.results("s2")}
    assert found == {"/p/B0.vst3": ["B0"], "/p/B1.vst3": [], "/p/B2.vst3": []}
    assert journal.tasks("s1") == []


def test_neighbours_at_a_death_run_alone_and_only_a_lone_offender_is_blamed(
    tmp_path: Path,
) -> None:
    """Two tasks were running when the scanner died: neither is blamed, both run alone next;
    the one that takes the scanner down again, alone, is blamed at the second death."""
    journal, _ = Journal.open(tmp_path / "j.sqlite")
    _begin(journal)
    culprit, neighbour, _ = journal.pending("s1")
    journal.start(culprit.id)
    journal.start(neighbour.id)
    assert journal.recover("s1") == []
    alone = {t.id for t in journal.pending("s1") if t.alone}
    assert alone == {culprit.id, neighbour.id}
    journal.start(culprit.id)
    assert [t.id for t in journal.recover("s1")] == [culprit.id]
    journal.start(neighbour.id)
    journal.settle(neighbour, "ok", [("B1", "ok", {"name": "B1"})])
    states = {t.id: t.state for t in journal.tasks("s1")}
    assert (states[culprit.id], states[neighbour.id]) == ("crashed", "ok")


def test_a_second_death_beside_a_neighbour_blames_nobody(tmp_path: Path) -> None:
    journal, _ = Journal.open(tmp_path / "j.sqlite")
    _begin(journal)
    first, second, _ = journal.pending("s1")
    for _death in range(2):
        journal.start(first.id)
        journal.start(second.id)
        assert journal.recover("s1") == []
    assert all(t.state == "pending" and t.alone for t in journal.tasks("s1")[:2])


def test_run_alone_puts_a_task_back_to_be_probed_by_itself(tmp_path: Path) -> None:
    journal, _ = Journal.open(tmp_path / "j.sqlite")
    _begin(journal)
    task = journal.pending("s1")[0]
    journal.start(task.id)
    journal.run_alone(task.id)
    (again,) = [t for t in journal.pending("s1") if t.id == task.id]
    assert again.alone and again.state == "pending"


def test_an_interrupted_scan_in_a_version_1_journal_is_migrated_and_kept(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite"
    journal, _ = Journal.open(path)
    _begin(journal)
    journal.close()
    db = sqlite3.connect(path)  # Back to version 1's shape: no "alone" column (nor later ones).
    db.execute("ALTER TABLE tasks DROP COLUMN alone")
    db.execute("ALTER TABLE tasks DROP COLUMN timeout_scale")
    db.execute("ALTER TABLE scans DROP COLUMN kept")
    db.execute("PRAGMA user_version = 1")
    db.commit()
    db.close()
    journal, problem = Journal.open(path)
    assert problem is None
    plan = journal.current()
    assert plan is not None and plan.id == "s1"
    assert [t.alone for t in journal.pending("s1")] == [False] * 3
    assert [t.timeout_scale for t in journal.pending("s1")] == [1.0] * 3 and plan.kept == 0
