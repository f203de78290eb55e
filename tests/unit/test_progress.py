"""Scan progress on a work-done token: throttled reports, the final state always sent."""

from __future__ import annotations

import asyncio
from concurrent.futures import Future
from typing import Any

import pytest
from lsprotocol.types import WorkDoneProgressBegin, WorkDoneProgressEnd, WorkDoneProgressReport

from pluginary.scan_models import ScanProgress
from pluginary.server.progress import ScanReporter


class FakeProgress:
    """Records what pygls's Progress would send."""

    def __init__(self) -> None:
        self.sent: list[Any] = []
        self.tokens: dict[Any, Future[Any]] = {}
        self.reported = asyncio.Event()

    def begin(self, token: Any, value: WorkDoneProgressBegin) -> None:
        self.tokens.setdefault(token, Future())
        self.sent.append(value)

    def report(self, token: Any, value: WorkDoneProgressReport) -> None:
        self.sent.append(value)
        self.reported.set()

    def end(self, token: Any, value: WorkDoneProgressEnd) -> None:
        self.sent.append(value)


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_percentage() -> None:
    assert ScanProgress(0, 0, "").percentage == 100
    assert ScanProgress(1, 3, "").percentage == 33
    assert ScanProgress(3, 3, "").percentage == 100


def test_reports_are_throttled_and_the_final_state_is_sent() -> None:
    async def run() -> list[Any]:
        progress, clock = FakeProgress(), FakeClock()
        reporter = ScanReporter(progress, "t", clock=clock, interval=0.1)  # type: ignore[arg-type]
        cancelled = reporter.begin("Pluginary scan", "looking")
        assert not cancelled.done()
        for done in range(10):  # Ten updates within one interval: one report now.
            reporter.update(ScanProgress(done, 10, f"plugin {done}"))
        clock.now += 0.05
        reporter.update(ScanProgress(9, 12, "follow-up"))  # Held back: within the interval.
        reporter.end("finished", complete=True)
        assert "t" not in progress.tokens
        return progress.sent

    sent = asyncio.run(run())
    kinds = [type(value).__name__ for value in sent]
    assert kinds == [
        "WorkDoneProgressBegin",
        "WorkDoneProgressReport",
        "WorkDoneProgressReport",
        "WorkDoneProgressEnd",
    ]
    assert sent[0].cancellable is True
    assert (sent[1].percentage, sent[1].message) == (0, "0/10 plugin 0")
    assert (sent[2].percentage, sent[2].message) == (100, "12/12 follow-up")
    assert sent[3].message == "finished"


def test_a_held_back_report_is_sent_when_the_interval_is_up() -> None:
    async def run() -> list[Any]:
        progress = FakeProgress()
        reporter = ScanReporter(progress, 7, interval=0.01)  # type: ignore[arg-type]
        reporter.begin("Pluginary scan", "looking")
        reporter.update(ScanProgress(1, 4, "a"))
        progress.reported.clear()
        reporter.update(ScanProgress(2, 4, "b"))
        assert len(progress.sent) == 2  # Held back ...
        await asyncio.wait_for(progress.reported.wait(), timeout=10)  # ... until the timer fires.
        reporter.end("cancelled", complete=False)
        return progress.sent

    sent = asyncio.run(run())
    assert [getattr(value, "percentage", None) for value in sent[1:3]] == [25, 50]
    assert isinstance(sent[3], WorkDoneProgressEnd)


@pytest.mark.parametrize("complete", [True, False])
def test_end_without_any_update(complete: bool) -> None:
    async def run() -> list[Any]:
        progress = FakeProgress()
        reporter = ScanReporter(progress, "t")  # type: ignore[arg-type]
        reporter.begin("Pluginary resume", "looking")
        reporter.end("done", complete=complete)
        return progress.sent

    sent = asyncio.run(run())
    reports = [value for value in sent if isinstance(value, WorkDoneProgressReport)]
    assert [report.percentage for report in reports] == ([100] if complete else [])
