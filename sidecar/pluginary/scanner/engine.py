"""A scan from end to end: discover -> plan in the journal -> probe -> commit -> retire.

The :class:`Scanner` is the one writer of the journal and of the catalogue. Its SQLite work runs in
a worker thread (never on the event loop) behind a one-slot limiter, so the journal keeps its
single writer even with many probes in flight.
"""

from __future__ import annotations

import contextlib
import ctypes
import dataclasses
import functools
import math
import os
import secrets
import sqlite3
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

import anyio

from pluginary.catalog.store import (
    CommitBundle,
    bundle_states,
    by_status,
    commit_scan,
    committed_scan_id,
    latest_records,
    open_catalog,
)
from pluginary.errors import NothingToResume, StorageError, plain_errors
from pluginary.faults import fault_point
from pluginary.fsnames import display
from pluginary.ids import plugin_id
from pluginary.paths import CachePaths
from pluginary.scan_models import (
    MAX_PROBLEMS,
    CatalogChange,
    ScanOptions,
    ScanProblem,
    ScanProgress,
    ScanResult,
    ScanSummary,
)
from pluginary.scanner.discovery import gone, search, standard_folders, supported_formats
from pluginary.scanner.ignorelist import load_ignore_list
from pluginary.scanner.journal import Journal, PlannedTask, ScanPlan, Task
from pluginary.scanner.launchers import LauncherFactory, default_launcher
from pluginary.scanner.lock import HeldLock, scan_lock
from pluginary.scanner.moduleinfo import ModuleInfoError, read_module_info
from pluginary.scanner.probe import PROBE_FAILED
from pluginary.scanner.runs import ProbeLauncher, ProbeLimits, ProbeRequest, ProbeRun
from pluginary.storage import connect

P = ParamSpec("P")
T = TypeVar("T")

ProgressCallback = Callable[[ScanProgress], None]
Record = tuple[str | None, str, dict[str, Any]]


# A bundle that timed out is probed once more, at the next scan, with this many times the
# scan's timeout (but never more than RETRY_TIMEOUT_CAP seconds, unless the timeout itself is).
RETRY_TIMEOUT_SCALE = 2.0
RETRY_TIMEOUT_CAP = 300.0


def task_timeout(timeout_seconds: float, scale: float) -> float:
    """The time limit of a task probed at ``scale`` times the scan's timeout."""
    if scale <= 1:
        return timeout_seconds
    return max(timeout_seconds, min(timeout_seconds * scale, RETRY_TIMEOUT_CAP))


def _log_to_stderr(message: str) -> None:
    print(f"pluginary: {message}", file=sys.stderr, flush=True)


class Scanner:
    """Scans for one cache folder. Safe to share; scans exclude each other through the lock."""

    def __init__(
        self,
        paths: CachePaths,
        *,
        launcher: LauncherFactory | None = None,
        log: Callable[[str], None] = _log_to_stderr,
        standard_folders: Callable[[str], list[Path]] = standard_folders,
    ) -> None:
        self.paths = paths
        self.log = log
        self.launcher: LauncherFactory = launcher or default_launcher(lambda m: self.log(m))
        self.standard_folders = standard_folders
        self._writer = anyio.CapacityLimiter(1)
        self.running: ScanProgress | None = None
        self.running_scan_id: str | None = None

    async def _in_thread(self, function: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        return await anyio.to_thread.run_sync(
            lambda: function(*args, **kwargs), limiter=self._writer
        )

    # -- public API -------------------------------------------------------------------------

    async def scan(
        self, options: ScanOptions | None = None, progress: ProgressCallback | None = None
    ) -> ScanResult:
        """Scan, probing what is new or changed, then commit the result atomically."""
        options = options or ScanOptions()
        scan_id = time.strftime("%Y%m%dT%H%M%S") + "-" + secrets.token_hex(3)
        started = time.perf_counter()
        with self._locked(scan_id):
            journal = await self._open_journal()
            try:
                await self._commit_settled(journal)
                await self._in_thread(self._plan, journal, scan_id, options)
                return await self._run(journal, scan_id, started, progress)
            finally:
                await self._in_thread(journal.close)

    async def resume(self, progress: ProgressCallback | None = None) -> ScanResult:
        """Finish the interrupted scan in the journal: probe what is pending, then commit."""
        started = time.perf_counter()
        with self._locked("resume") as lock:
            journal = await self._open_journal()
            try:
                plan = await self._in_thread(journal.current)
                if plan is None:
                    raise NothingToResume("there is no interrupted scan to resume")
                lock.name(plan.id)  # Others see the scan being resumed, not "resume".
                blamed = await self._in_thread(journal.recover, plan.id)
                for task in blamed:
                    self.log(f"{task.bundle} took the scanner down twice; recorded as crashed")
                return await self._run(journal, plan.id, started, progress)
            finally:
                await self._in_thread(journal.close)

    async def complete_settled(self) -> ScanResult | None:
        """Commit a scan that finished probing but died before its commit, if there is one."""
        with self._locked("commit") as lock:
            journal = await self._open_journal()
            try:
                return await self._commit_settled(journal, lock)
            finally:
                await self._in_thread(journal.close)

    def interrupted(self) -> ScanPlan | None:
        """The scan the journal holds, if any (without taking the lock; for status)."""
        if not self.paths.journal.exists():
            return None
        # Read-only: a reader without the lock must never create or move the journal.
        try:
            journal = Journal(connect(self.paths.journal, readonly=True), self.paths.journal)
        except sqlite3.Error:
            return None
        try:
            return journal.current()
        except (sqlite3.Error, StorageError):
            return None  # Not created yet, or damaged: the next scan deals with it.
        finally:
            journal.close()

    # -- steps ------------------------------------------------------------------------------

    def _locked(self, scan_id: str) -> AbstractContextManager[HeldLock]:
        try:
            self.paths.ensure()
        except OSError as error:
            raise StorageError(
                f"cannot use the cache folder {self.paths.root}: {error.strerror}",
                path=str(self.paths.root),
            ) from error
        return scan_lock(self.paths.scan_lock, scan_id)

    async def _open_journal(self) -> Journal:
        journal, problem = await self._in_thread(Journal.open, self.paths.journal)
        if problem:
            self.log(problem)
        return journal

    def _plan(self, journal: Journal, scan_id: str, options: ScanOptions) -> None:
        """Discover bundles, decide which to probe, and write the whole plan to the journal."""
        given = [Path(folder).expanduser().absolute() for folder in options.folders]
        roots: list[Path] = []
        found = []
        unreadable: list[str] = []
        for fmt in supported_formats():
            format_roots = given if options.only_folders else self.standard_folders(fmt) + given
            roots += [root for root in format_roots if root not in roots]
            discovery = search(format_roots, fmt)
            found += discovery.bundles
            for folder in discovery.unreadable:
                self.log(
                    f"cannot read the folder {display(folder.path)}: {folder.reason};"
                    " what the catalogue holds under it is kept"
                )
                unreadable.append(folder.path)
        ignore = load_ignore_list(self.paths.ignore_list)
        db, problem = open_catalog(self.paths.catalog)
        if problem:
            self.log(problem)
        try:
            known = bundle_states(db)
        finally:
            db.close()
        tasks: list[PlannedTask] = []
        unchanged = ignored = 0
        kept: set[str] = set()
        for bundle in found:
            if ignore.ignores_bundle(bundle.path) or ignore.ignores_bundle(bundle.real_path):
                ignored += 1
                continue
            kept.add(bundle.real_path)
            state = known.get(bundle.real_path)
            # A timeout is often the machine's fault (a busy moment): probed once more, longer.
            retry = (
                not options.rescan
                and not options.retry_failed
                and state is not None
                and state.fingerprint == bundle.fingerprint
                and state.outcome == "timeout"
                and not state.retried
            )
            if (
                not retry
                and not options.rescan
                and state is not None
                and state.fingerprint == bundle.fingerprint
                and (state.outcome == "ok" or not options.retry_failed)
                and (state.checked or not options.audio_check)
            ):
                unchanged += 1
                continue
            tasks.append(
                PlannedTask(
                    bundle=bundle.path,
                    real_path=bundle.real_path,
                    format=bundle.format,
                    fingerprint=bundle.fingerprint,
                    module_info=self._module_info(bundle.path),
                    skip=tuple(sorted(ignore.ignored_classes(bundle.path))),
                    timeout_scale=RETRY_TIMEOUT_SCALE if retry else 1.0,
                )
            )
        root_prefixes = tuple(os.path.join(str(root), "") for root in roots)
        # Under a folder that could not be listed nothing is known to be gone: keep it all.
        unknown = tuple(os.path.join(folder, "") for folder in unreadable)
        removed = [
            real_path
            for real_path, state in known.items()
            if real_path not in kept
            and not state.path.startswith(unknown)
            and (state.path.startswith(root_prefixes) or gone(state.path))
        ]
        previous = journal.current()
        carried = journal.begin(
            scan_id,
            dataclasses.asdict(options),
            [str(root) for root in roots],
            tasks,
            removed=removed,
            discovered=len(found),
            unchanged=unchanged,
            ignored=ignored,
            carry_failures=not options.retry_failed,
        )
        if previous is not None:
            self.log(
                f"scan {scan_id} replaces interrupted scan {previous.id},"
                f" keeping the {carried} bundle(s) it had finished"
            )

    def _module_info(self, bundle: str) -> dict[str, Any] | None:
        try:
            info = read_module_info(Path(bundle))
        except ModuleInfoError as error:
            self.log(str(error))
            return None
        return None if info is None else dataclasses.asdict(info)

    async def _run(
        self,
        journal: Journal,
        scan_id: str,
        started: float,
        progress: ProgressCallback | None,
    ) -> ScanResult:
        plan = await self._in_thread(journal.current)
        assert plan is not None
        self.running_scan_id = scan_id
        try:
            if plan.state == "probing":
                with plain_errors():  # A task group's StorageError leaves as itself.
                    await self._probe_all(journal, plan, progress)
                await self._in_thread(journal.mark_settled, scan_id)
            return await self._commit(journal, scan_id, started)
        finally:
            self.running = None
            self.running_scan_id = None

    async def _probe_all(
        self, journal: Journal, plan: ScanPlan, progress: ProgressCallback | None
    ) -> None:
        options = ScanOptions(**{**plan.options, "folders": tuple(plan.options["folders"])})

        def report(message: str) -> None:
            counts = journal.progress(plan.id)
            self.running = ScanProgress(counts.settled, counts.total, message)
            if progress is not None:
                progress(self.running)

        async with self.launcher(self.paths.probes) as launcher:
            await self._in_thread(report, "starting")
            counts = _ProbeCounts()
            # Follow-up tasks (classes a crash left undone) and tasks to run alone appear as
            # pending: go round again. Tasks to run alone go one at a time, after the others.
            while pending := await self._in_thread(journal.pending, plan.id):
                together = [task for task in pending if not task.alone]
                workers = (options.workers or os.cpu_count() or 1) if together else 1
                started = time.perf_counter()
                try:
                    await self._probe_batch(
                        journal, launcher, together or pending, workers, options, report, counts
                    )
                finally:
                    with anyio.CancelScope(shield=True):
                        elapsed = (time.perf_counter() - started) * 1000
                        await self._in_thread(journal.add_probe_time, plan.id, elapsed)

    async def _probe_batch(
        self,
        journal: Journal,
        launcher: ProbeLauncher,
        tasks: list[Task],
        workers: int,
        options: ScanOptions,
        report: Callable[[str], None],
        counts: _ProbeCounts,
    ) -> None:
        """Probe ``tasks`` with ``workers`` probes at a time.

        A bundle's classes are shared among the workers (issue 16): with more than one worker,
        a bundle probed whole is asked to split (its first class probed, the others listed), and
        the follow-up tasks holding the others join this batch at once, for idle workers. A
        one-class bundle is one probe, as ever.
        """
        send, receive = anyio.create_memory_object_stream[Task](math.inf)
        for task in tasks:
            send.send_nowait(task)
        unsettled = len(tasks)  # The stream closes when none is left, follow-ups included.
        if not unsettled:
            send.close()
        share = workers if workers > 1 else 1
        limits = ProbeLimits(
            timeout_seconds=options.timeout_seconds,
            memory_mib=options.memory_limit_mib,
            output_mib=options.output_limit_mib,
        )
        # Task id -> whether another probe ran at any moment beside it (then a death that
        # another process could have caused is not yet this task's to carry).
        in_flight: dict[int, bool] = {}

        async def worker() -> None:
            nonlocal unsettled
            async for task in receive:
                await self._in_thread(journal.start, task.id)
                for other in in_flight:
                    in_flight[other] = True
                in_flight[task.id] = bool(in_flight)
                counts.started += 1
                fault_point("probe:started", counts.started)
                task_limits = dataclasses.replace(
                    limits,
                    timeout_seconds=task_timeout(limits.timeout_seconds, task.timeout_scale),
                )
                split = share > 1 and task.classes is None
                request = ProbeRequest(
                    task.id,
                    task.bundle,
                    task.classes,
                    task.skip,
                    format=task.format,
                    audio=options.audio_check,
                    split=split,
                )
                run = await launcher.probe(request, task_limits)
                added: list[Task] = []
                if in_flight[task.id] and _maybe_a_neighbours_doing(run):
                    died = f"its probe died with {run.signal}"
                    why = f"its probe server went down ({run.lost})" if run.lost else died
                    self.log(f"{display(task.bundle)}: {why} beside others; probing it again alone")
                    await self._in_thread(journal.run_alone, task.id)
                else:
                    state, records, follow_ups = interpret(
                        task, run, task_limits, share if split else 1
                    )
                    # Journaled and reported in one trip to the writer thread.
                    added = await self._in_thread(
                        _settle_and_report, journal, task, state, records, follow_ups, report
                    )
                del in_flight[task.id]
                unsettled += len(added) - 1
                for follow_up in added:  # Other workers take them now, not after the batch.
                    send.send_nowait(follow_up)
                if not unsettled:
                    send.close()
                counts.recorded += 1
                fault_point("probe:after-result", counts.recorded)

        try:
            async with anyio.create_task_group() as group:
                # Every worker, even for fewer tasks: a bundle's classes may come to share them.
                for _ in range(workers if share > 1 else min(workers, len(tasks))):
                    group.start_soon(worker)
        finally:
            # Stopped on purpose (cancelled): what was in flight goes back to pending.
            if in_flight:
                with anyio.CancelScope(shield=True):
                    await self._in_thread(journal.requeue, sorted(in_flight))

    async def _commit_settled(
        self, journal: Journal, lock: HeldLock | None = None
    ) -> ScanResult | None:
        plan = await self._in_thread(journal.current)
        if plan is None or plan.state != "settled":
            return None
        if lock is not None:
            lock.name(plan.id)
        self.log(f"completing the commit of scan {plan.id}, which finished probing earlier")
        return await self._commit(journal, plan.id, time.perf_counter())

    async def _commit(self, journal: Journal, scan_id: str, started: float) -> ScanResult:
        return await self._in_thread(self._commit_sync, journal, scan_id, started)

    def _commit_sync(self, journal: Journal, scan_id: str, started: float) -> ScanResult:
        plan = journal.current()
        assert plan is not None
        settled = 0
        retried = 0
        statuses: Counter[str] = Counter()
        problems: list[ScanProblem] = []

        def bundles() -> Iterator[CommitBundle]:
            # One bundle's records at a time, counted on the way through.
            nonlocal settled, retried
            for found in journal.results(scan_id):
                settled += 1
                retried += found.retried
                records = found.records
                for class_name, status, record in latest_records(records):
                    statuses[status] += 1
                    if status != "ok" and len(problems) < MAX_PROBLEMS:
                        problems.append(
                            _problem(
                                found.format,
                                found.real_path,
                                class_name,
                                status,
                                record,
                                found.bundle,
                            )
                        )
                yield CommitBundle(
                    found.bundle,
                    found.real_path,
                    found.format,
                    found.fingerprint,
                    records,
                    retried=found.retried,
                )

        @functools.cache  # Once, after the bundles went by: the catalogue and the answer agree.
        def summary(catalog: tuple[tuple[str, int], ...]) -> ScanSummary:
            return ScanSummary(
                scan_id=scan_id,
                discovered=plan.discovered,
                # Bundles an interrupted scan had finished were settled there, not probed here.
                probed=settled - plan.kept,
                ok=statuses["ok"],
                failed=statuses["failed"],
                timed_out=statuses["timeout"],
                crashed=statuses["crashed"],
                unchanged=plan.unchanged,
                removed=len(plan.removed),
                duration_ms=round((time.perf_counter() - started) * 1000, 3),
                ignored=plan.ignored,
                kept=plan.kept,
                retried=retried,
                folders=list(plan.roots),
                problems=problems,
                catalog_by_status=dict(catalog),
            )

        db, problem = open_catalog(self.paths.catalog)
        if problem:
            self.log(problem)
        try:
            if committed_scan_id(db) == scan_id:
                for _ in bundles():  # Committed before a crash; only counting is left.
                    pass
                change = CatalogChange()
                catalog = tuple(by_status(db).items())
            else:
                change = commit_scan(
                    db,
                    scan_id,
                    bundles(),
                    plan.removed,
                    lambda totals: dataclasses.asdict(summary(tuple(totals.items()))),
                )
                catalog = tuple(by_status(db).items())
        finally:
            db.close()
        journal.retire(scan_id)
        _release_free_memory()
        return ScanResult(summary=summary(catalog), change=change)


def _problem(
    fmt: str,
    real_path: str,
    class_name: str | None,
    status: str,
    record: dict[str, Any],
    bundle: str,
) -> ScanProblem:
    """A plugin that did not load, as the summary names it (its id is the catalogue's)."""
    return ScanProblem(
        id=plugin_id(fmt, real_path, class_name),
        name=display(record.get("name") or class_name or Path(bundle).stem),
        status=status,
        path=display(bundle),
        error=None if record.get("error") is None else display(str(record["error"])),
    )


def _settle_and_report(
    journal: Journal,
    task: Task,
    state: str,
    records: list[Record],
    follow_ups: list[PlannedTask],
    report: Callable[[str], None],
) -> list[Task]:
    added = journal.settle(task, state, records, follow_ups)
    report(_describe(task, records))
    return added


def _release_free_memory() -> None:
    """Hand the heap a commit freed back to the OS (glibc keeps it otherwise): an idle sidecar
    should not weigh what its largest commit once needed."""
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):  # Not glibc: musl has no such call.
            ctypes.CDLL(None).malloc_trim(0)


@dataclasses.dataclass
class _ProbeCounts:
    """Probes started and results journaled in this run, for the fault points."""

    started: int = 0
    recorded: int = 0


def _describe(task: Task, records: list[Record]) -> str:
    names = ", ".join(name or Path(task.bundle).stem for name, _, _ in records[:3])
    statuses = {status for _, status, _ in records}
    return f"{names or Path(task.bundle).stem}: {'/'.join(sorted(statuses)) or 'no plugins'}"


# Signals another process could have sent (a hostile neighbour, the OOM killer): a probe that
# died of one while others ran is probed again alone before it is blamed. Faults (SIGSEGV,
# SIGBUS, SIGILL, SIGFPE) and SIGABRT are a plugin's own doing.
EXTERNAL_SIGNALS = frozenset(
    {"SIGKILL", "SIGTERM", "SIGINT", "SIGHUP", "SIGQUIT", "SIGUSR1", "SIGUSR2", "SIGALRM"}
)


def _maybe_a_neighbours_doing(run: ProbeRun) -> bool:
    return run.lost is not None or (run.limit is None and run.signal in EXTERNAL_SIGNALS)


def _ending(run: ProbeRun, limits: ProbeLimits) -> tuple[str, str]:
    """The status and error of a probe that did not finish, most telling cause first."""
    if run.lost is not None:
        return "crashed", f"the probe server went down while probing it alone ({run.lost})"
    if run.limit == "time":
        return "timeout", (
            f"did not finish within {limits.timeout_seconds:g} s; its process group was killed"
        )
    if run.limit == "memory":
        return "crashed", f"exceeded its memory limit of {limits.memory_mib:g} MiB"
    if run.limit == "output":
        return "crashed", (
            f"exceeded its output limit of {limits.output_mib:g} MiB"
            " (wrote that much to its output or to a file)"
        )
    if run.signal:
        return "crashed", f"the probe died with {run.signal}"
    if run.problem is not None:
        return "failed", f"the plugin corrupted the probe's report: {run.problem}"
    if run.exit_code == PROBE_FAILED:
        last = run.output_tail.strip().splitlines()[-1:] or ["no output"]
        return "crashed", f"the probe failed (status {PROBE_FAILED}): {last[0][:200]}"
    if run.exit_code != 0:
        return "crashed", f"the probe exited with status {run.exit_code}"
    return "crashed", "the probe exited with status 0 before it finished (the plugin ended it)"


def interpret(
    task: Task, run: ProbeRun, limits: ProbeLimits, share: int = 1
) -> tuple[str, list[Record], list[PlannedTask]]:
    """Turn what a probe process did into the task's state, plugin records and follow-up tasks.

    A probe that did not finish (crash, limit, early exit, corrupted report, lost server) blames
    the class that was loading (or processing audio, or unloading: then its record keeps what
    loading learnt); classes the probe never reached get a follow-up task, so one bad class
    cannot hide the others of its bundle. A bundle never ends ``ok`` without a record.

    ``share`` > 1: the probe was asked to split (``probe_bundle``): of a bundle found to hold
    several classes it probed only the first, and the others become up to ``share`` follow-up
    tasks of consecutive classes, for as many probes in parallel.
    """
    module_classes = {
        c["name"]: c for c in ((task.module_info or {}).get("classes") or []) if c.get("name")
    }

    def common(name: str | None) -> dict[str, Any]:
        # A record keeps what its own class printed; the bundle's, everything the probe did.
        tail = run.output_tail if name is None else run.class_tails.get(name, run.output_tail)
        return {"output_tail": tail}

    names: list[str] | None = task.classes
    begun: list[str | None] = []
    begun_at: dict[str | None, float] = {}  # The probe's time (ms) when each class began.
    processing: str | None = None  # The class being checked, until its facts arrive.
    # Which check it was on: (step, channels tried, the counts accepted before, if known).
    step: tuple[str | None, int | None, list[int] | None] = (None, None, None)
    unloading: str | None = None  # The class being destroyed, until the next step.
    described: dict[str | None, tuple[int, int]] = {}  # How far describing each class got.
    by_class: dict[str | None, tuple[str, dict[str, Any]]] = {}
    state = "ok"
    shared: list[str] = []  # Classes listed here for other probes.
    for event in run.events:
        kind = event.get("event")
        name = event.get("class")
        if kind == "classes":
            names = list(event["names"])
            if share > 1 and task.classes is None and len(names) > 1:
                names, shared = names[:1], names[1:]
        elif kind == "begin":
            begun.append(name)
            if isinstance(event.get("elapsed_ms"), int | float):
                begun_at[name] = float(event["elapsed_ms"])
            unloading = None
        elif kind == "result" and event["status"] == "ok":
            by_class[name] = ("ok", _ok_record(event, common(name)))
        elif kind == "result":
            record = _failure_record(task, name, module_classes, common(name))
            record.update(error=event.get("error"), diagnosis=event.get("diagnosis"))
            if event.get("bus_layout") is not None:  # What pedalboard could not host.
                record["extra"] = {"bus_layout": event["bus_layout"]}
            record["duration_ms"] = event.get("load_ms")
            by_class[name] = ("failed", record)
            if name is None:
                state = "failed"
        elif kind == "describing":
            described[name] = (event["done"], event["total"])
        elif kind == "processing":
            step = (event.get("step"), event.get("channels"), event.get("accepted"))
            processing = name
        elif kind == "checked" and name in by_class:
            _add_facts(by_class[name][1], event["facts"])
            processing = None
        elif kind == "unloading":
            unloading = name
        elif kind == "done":
            unloading = None
    unfinished = not run.finished
    culprit: str | None = None
    if not unfinished and names is not None and None not in by_class:
        missing = [n for n in names if n not in by_class]
        if missing:  # Only a forged report says "done" with classes left unprobed.
            run = dataclasses.replace(run, problem=f"it has no result for {missing[0]!r}")
            unfinished = True
    everything_reported = (
        names is not None and all(n in by_class for n in names) and processing is None
    )
    # A probe killed after every class reported (a stall, say) blames nobody, unless its server
    # went down while it ran alone: then the plugin most likely did that after reporting.
    settled_anyway = everything_reported and unloading is None and run.problem is None
    if unfinished and not (settled_anyway and run.lost is None):
        status, error = _ending(run, limits)
        if processing is not None and processing in by_class:
            culprit = processing
            failure = by_class[processing][1]
            error += _checking_phase(step)
            if step[2] is not None and failure.get("audio_check") is not None:
                # Broke on a higher channel count, past the checks: they stand, with the counts
                # it took before.
                failure["channels"] = step[2]
            else:
                failure["audio_check"] = {"ok": False, "error": error}
        elif unloading is not None and unloading in by_class:
            culprit = unloading
            failure = by_class[unloading][1]
            error += " while unloading"
        elif run.lost is not None and settled_anyway and begun and begun[-1] in by_class:
            culprit = begun[-1]  # It reported everything, then took its probe server down.
            failure = by_class[culprit][1]
        else:
            # The class being loaded when the probe died; None blames the bundle as a whole.
            culprit = next((n for n in begun if n not in by_class), None)
            if status == "timeout" and culprit is not None:
                error += _loading_phase(described.get(culprit))
            elif status == "timeout" and names is None:
                error += " while listing the bundle's classes"
            failure = _failure_record(task, culprit, module_classes, common(culprit))
            # Its own time: the probe's, less what the classes before it took.
            before = begun_at.get(culprit, 0.0) if begun[:1] != [culprit] else 0.0
            failure["duration_ms"] = round(max(run.duration_ms - before, 0.0), 3)
        failure.update(error=error, signal=run.signal, exit_code=run.exit_code)
        by_class[culprit] = (status, failure)
        state = status
    elif state == "ok" and not by_class and not task.skip:
        state = "failed"  # Nothing to show for a finished probe is not a success.
        failure = _failure_record(task, None, module_classes, common(None))
        failure["error"] = "the bundle holds no plugin classes"
        by_class[None] = ("failed", failure)
    records = [(name, status, record) for name, (status, record) in by_class.items()]
    follow_ups: list[PlannedTask] = []
    # Only when a culprit is excluded is a follow-up sure to make progress.
    if unfinished and names is not None and culprit is not None:
        remaining = [n for n in names if n not in by_class and n not in begun]
        if remaining:
            follow_ups.append(_follow_up(task, remaining))
    follow_ups += [_follow_up(task, chunk) for chunk in _chunks(shared, share)]
    return state, records, follow_ups


def _follow_up(task: Task, classes: list[str]) -> PlannedTask:
    return PlannedTask(
        bundle=task.bundle,
        real_path=task.real_path,
        format=task.format,
        fingerprint=task.fingerprint,
        module_info=task.module_info,
        classes=classes,
        skip=tuple(task.skip),
        timeout_scale=task.timeout_scale,
    )


def _chunks(names: list[str], count: int) -> list[list[str]]:
    """``names`` in at most ``count`` runs of consecutive classes, as even as they come."""
    count = min(count, len(names))
    size, extra = divmod(len(names), max(count, 1))
    chunks, start = [], 0
    for index in range(count):
        end = start + size + (index < extra)
        chunks.append(names[start:end])
        start = end
    return chunks


# What a loaded plugin was doing at each step of its checks (probe.py's ``processing`` events).
_CHECKING_STEPS = {
    "channels": " while finding the channel counts it accepts",
    "audio": " while processing audio",
    "state": " while saving and restoring its state",
}


def _checking_phase(step: tuple[str | None, int | None, list[int] | None]) -> str:
    """Where a loaded plugin's checks stopped; a report without steps only knew "processing"."""
    kind, channels, _ = step
    phase = _CHECKING_STEPS.get(kind or "audio", " while checking it")
    if channels is None:
        return phase
    return f"{phase} (trying {channels} channel{'' if channels == 1 else 's'})"


def _loading_phase(described: tuple[int, int] | None) -> str:
    """Where a class that timed out while loading was: its parameters' description says how far."""
    if described is None:
        return " while loading"
    done, total = described
    return f" while describing its parameters ({done:,} of {total:,})"


def _ok_record(event: dict[str, Any], common: dict[str, Any]) -> dict[str, Any]:
    plugin = event["plugin"]
    kind = "instrument" if plugin["is_instrument"] else "effect" if plugin["is_effect"] else None
    probe_ms = {**event["probe_ms"], "describer": event.get("describer")}
    return {
        **common,
        "name": plugin["name"],
        "vendor": plugin["vendor"],
        "version": plugin["version"],
        "category": plugin["category"],
        "kind": kind,
        "identifier": plugin["identifier"],
        "parameters": plugin["parameters"],
        "duration_ms": round(probe_ms["load"] + probe_ms["parameters"], 3),
        "probe_ms": probe_ms,
        "channels": None,
        "latency_samples": None,
        "audio_check": None,
        "state": None,
        "extra": {"descriptive_name": plugin.get("descriptive_name")},
    }


def _add_facts(record: dict[str, Any], facts: dict[str, Any]) -> None:
    """What processing showed, onto the record loading made."""
    record.update(
        channels=facts["channels"],
        latency_samples=facts["latency_samples"],
        audio_check=facts["audio_check"],
        state=facts["state"],
    )
    # Told twice (the lowest channel count's checks, then every count): set, never added up.
    record["probe_ms"]["audio"] = facts["audio_ms"]
    probe_ms = record["probe_ms"]
    record["duration_ms"] = round(probe_ms["load"] + probe_ms["parameters"] + facts["audio_ms"], 3)


def _failure_record(
    task: Task,
    name: str | None,
    module_classes: dict[str, dict[str, Any]],
    common: dict[str, Any],
) -> dict[str, Any]:
    """A record for a plugin that never loaded: whatever moduleinfo.json knew, plus the error."""
    info = task.module_info or {}
    known = module_classes.get(name or "") or {}
    return {
        **common,
        "name": name or info.get("name") or Path(task.bundle).stem,
        "vendor": known.get("vendor") or info.get("vendor"),
        "version": known.get("version") or info.get("version"),
        "category": known.get("category"),
        "kind": known.get("kind"),
        "error": None,
        "diagnosis": None,
        "signal": None,
        "exit_code": None,
    }
