"""This sidecar's scans as cancellable jobs: progress, cancellation, the commit notification.

pygls cancels a request by cancelling its asyncio task, which would cut through the engine's
shielded clean-up (requeueing in-flight probes). So each scan runs as a job in the server's own
task group, and a cancelled request cancels the job's anyio scope instead, then waits for the
engine to stop cleanly before answering RequestCancelled.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import os
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import anyio
from anyio.abc import TaskGroup
from pygls.exceptions import JsonRpcRequestCancelled
from pygls.lsp.server import LanguageServer

from pluginary.errors import NothingToResume, PluginaryError, ScanInProgress
from pluginary.paths import CachePaths
from pluginary.scan_models import (
    CatalogChange,
    InterruptedScan,
    ScanOptions,
    ScanProgress,
    ScanResult,
    ScanSummary,
)
from pluginary.server.errors import describe
from pluginary.server.progress import ProgressToken, ScanReporter, TokenInUse, open_reporter
from pluginary.server.wire import WORK_DONE_TOKEN

if TYPE_CHECKING:
    from pluginary.scanner.engine import ProgressCallback, Scanner

logger = logging.getLogger(__name__)

Work = Callable[["ProgressCallback"], Awaitable[ScanResult | None]]


@dataclass(eq=False)
class _Job:
    scope: anyio.CancelScope = field(default_factory=anyio.CancelScope)
    done: anyio.Event = field(default_factory=anyio.Event)
    result: ScanResult | None = None
    error: Exception | None = None


class ScanRunner:
    """Runs the scanner's scans, resumes and pending commits for one sidecar."""

    def __init__(
        self,
        paths: CachePaths,
        log: Callable[[str], None],
        server: LanguageServer,
        tasks: TaskGroup,
        on_commit: Callable[[CatalogChange], None],
        launcher: str | None = None,
        recycle_after: int | None = None,
    ) -> None:
        self.paths = paths
        self._launcher = (launcher, recycle_after)
        self._launcher_said = False
        self._log = log
        self._scanner: Scanner | None = None
        self._server = server
        self._tasks = tasks
        self._on_commit = on_commit
        self._jobs: set[_Job] = set()
        self._settle: _Job | None = None

    @property
    def scanner(self) -> Scanner:
        """The scanner, made on first use: the engine's imports would slow ``initialize``."""
        if self._scanner is None:
            from pluginary.scanner.engine import Scanner
            from pluginary.scanner.launchers import default_launcher

            launcher = default_launcher(self._log, *self._launcher)
            self._scanner = Scanner(self.paths, log=self._log, launcher=launcher)
        return self._scanner

    def _say_launcher(self) -> None:
        """Log what probes start through, once, as the first scan or resume begins."""
        if not self._launcher_said:
            self._launcher_said = True
            self._log(f"probes start through {self.scanner.launcher}")

    def settle(self) -> None:
        """Start committing a scan that finished probing but died before its commit (once)."""
        if self._settle is None:
            self._settle = self._start(self._complete_settled, None)

    async def _complete_settled(self, progress: ProgressCallback) -> ScanResult | None:
        # Completing takes the scan lock; looked at first without it, so that a sidecar
        # starting next to another one does not refuse that one's scans for nothing.
        from pluginary.server.status import peek_journal

        found = await anyio.to_thread.run_sync(peek_journal, self.paths)
        if found is None or (isinstance(found, InterruptedScan) and found.state != "settled"):
            return None
        # A settled scan to commit, or a journal to move aside (and say so).
        return await self.scanner.complete_settled()

    async def settled(self) -> None:
        """Wait until a pending commit from before this sidecar started is done."""
        self.settle()
        assert self._settle is not None
        await self._settle.done.wait()

    async def scan(self, options: ScanOptions, token: ProgressToken | None) -> ScanSummary:
        """Run a scan to its commit; the summary, or the error the engine raised."""
        self._say_launcher()
        work = functools.partial(self.scanner.scan, options)
        return await self._run(work, token, "scan", "looking for plugins")

    async def resume(self, token: ProgressToken | None) -> ScanSummary:
        """Finish the interrupted scan; the summary, or NothingToResume."""
        await self.settled()
        from pluginary.server.status import peek_journal

        # Asked before any progress opens: "nothing to resume" is an answer, not a job that
        # begins and ends. (The engine asks again, under the lock, for the race with another.)
        if await anyio.to_thread.run_sync(peek_journal, self.paths) is None:
            raise NothingToResume("there is no interrupted scan to resume")
        self._say_launcher()
        return await self._run(self.scanner.resume, token, "resume", "picking up where it stopped")

    async def stop(self) -> None:
        """Cancel every job and wait until each has stopped (probes gone, journal resumable)."""
        for job in list(self._jobs):
            job.scope.cancel()
        for job in list(self._jobs):
            await job.done.wait()

    async def _run(
        self, work: Work, token: ProgressToken | None, what: str, first: str
    ) -> ScanSummary:
        await self.settled()  # A pending commit goes first: it holds the scan lock.
        try:
            reporter = await open_reporter(self._server, token)
        except TokenInUse as error:
            # Its progress and cancellation stay with the scan that holds it; this request gets
            # what any second scan gets while one runs.
            raise await self._refusal(error) from None
        job = self._start(work, reporter, f"Pluginary {what}", first)
        try:
            await job.done.wait()
        except anyio.get_cancelled_exc_class():
            # $/cancelRequest (or shutdown): stop the engine our way, then let pygls answer.
            job.scope.cancel()
            await job.done.wait()
            self._conclude(job, reporter)
            raise
        self._conclude(job, reporter)
        if job.result is not None:
            return job.result.summary
        if job.error is not None:
            raise job.error
        raise JsonRpcRequestCancelled(f"the {what} was cancelled; pluginary/resume continues it")

    async def _refusal(self, error: TokenInUse) -> ScanInProgress:
        """ScanInProgress for a request whose token reports a running scan, naming its owner."""
        from pluginary.scanner.lock import lock_holder

        owner = await anyio.to_thread.run_sync(lock_holder, self.paths.scan_lock)
        if owner is None:
            # The token's scan has not taken the lock yet (or has just let it go): it is this
            # sidecar's.
            owner = {"pid": os.getpid(), "host": socket.gethostname()}
        return ScanInProgress(
            f"{error}: a scan is already running (pid {owner.get('pid', '?')}"
            f" on {owner.get('host', '?')}, scan {owner.get('scanId', '?')})",
            owner=owner,
            field=WORK_DONE_TOKEN,
        )

    def _start(
        self, work: Work, reporter: ScanReporter | None, title: str = "", first: str = ""
    ) -> _Job:
        job = _Job()
        if reporter is not None:
            cancelled = reporter.begin(title, first)
            # window/workDoneProgress/cancel: pygls cancels the token's future.
            cancelled.add_done_callback(lambda _: job.scope.cancel())
        loop = asyncio.get_running_loop()

        def progress(state: ScanProgress) -> None:
            # The engine reports from its worker thread; the reporter lives on the loop.
            if reporter is not None:
                loop.call_soon_threadsafe(reporter.update, state)

        self._jobs.add(job)
        self._tasks.start_soon(self._drive, job, work, progress)
        return job

    async def _drive(self, job: _Job, work: Work, progress: ProgressCallback) -> None:
        try:
            with job.scope:
                job.result = await work(progress)
        except Exception as error:
            job.error = error  # Answered to the client (or logged, for the pending commit).
        finally:
            self._jobs.discard(job)
            job.done.set()
            if job is self._settle:
                self._conclude(job, None)

    def _conclude(self, job: _Job, reporter: ScanReporter | None) -> None:
        """Tell the client how the job ended: catalogue change, then the progress's end."""
        if job.result is not None:
            # The log says what was committed, also for the commit completed at start-up.
            summary = job.result.summary
            logger.info(
                "scan %s committed: %s",
                summary.scan_id,
                outcome(summary),
                extra={"repeats_answer": job is not self._settle},
            )
            self._on_commit(job.result.change)
        elif job is self._settle and isinstance(job.error, ScanInProgress):
            logger.info("not completing pending commits: %s", describe(job.error))
        elif job is self._settle and job.error is not None:
            bug = None if isinstance(job.error, PluginaryError) else job.error
            logger.warning(
                "could not look for an earlier scan's unfinished commit: %s",
                job.error,
                exc_info=bug,
            )
        if reporter is None:
            return
        if job.result is not None:
            reporter.end(outcome(job.result.summary), complete=True)
        elif job.error is not None:
            reporter.end(f"failed: {describe(job.error)}", complete=False)
        else:
            reporter.end("cancelled; pluginary/resume continues it", complete=False)


def outcome(summary: ScanSummary) -> str:
    """The one-line result of a scan, for the progress's end message."""
    kept = f", {summary.kept} kept from the interrupted scan" if summary.kept else ""
    return (
        f"{summary.discovered} found, {summary.probed} probed: {summary.ok} ok,"
        f" {summary.failed} failed, {summary.timed_out} timed out, {summary.crashed} crashed;"
        f" {summary.unchanged} unchanged, {summary.ignored} ignored{kept},"
        f" {summary.removed} removed"
    )
