"""What a scan of the whole hostile zoo beside real plugins must record, by isolation (issue 12).

Shared by the two tiers that scan the zoo: ``tests/test_zoo_worker.py`` (the scanner in-process,
the fork server without its PID namespace) and ``tests/failsafe/test_hostile_zoo.py`` (the real
sidecar, the fork server in its namespace and the worker pool). Every scan of the zoo uses the
limits here, so that the records the tables name are the ones it gives.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping
from pathlib import Path

from pluginary.paths import cache_paths
from zoo_bundles import STAGES, zoo_name

REAL = ("ZamComp.vst3", "ZamGate.vst3")
# Tight only for the bundles built to hang; real plugins here load in well under a second.
TIMEOUT = 6.0
MEMORY_MIB = 512.0
OUTPUT_MIB = 8.0
# The scan after the zoo's probes only the bundles that timed out, every one of them built to
# hang: its timeout (twice this, as a retry's) only sets how long we wait for each to hang again.
RETRY_SCAN_TIMEOUT = 1.0
# Small, so that the zoo's scan replaces every worker of the pool a few times.
POOL_RECYCLE = 3

Expected = tuple[str, str | None]  # (status, start of the error)
Record = tuple[str | None, str, str | None]  # (class, status, error)

OK: Expected = ("ok", None)
TIMEOUT_RECORD: Expected = ("timeout", f"did not finish within {TIMEOUT:g} s")
EARLY_EXIT: Expected = ("crashed", "the probe exited with status 0 before it finished")
LOST_ALONE: Expected = ("crashed", "the probe server went down while probing it alone")

# (status, start of the error) by behaviour, the same at both stages unless a stage is named.
# In a PID namespace a plugin's signals to its parent are dropped by the kernel (the zoo does not
# even try: its parent is pid 1 there), so those plugins just load.
NAMESPACED: dict[str, Expected] = {
    "kill_parent": OK,
    "term_parent_group": OK,
    "stop_parent": OK,
    "join_parent_group": TIMEOUT_RECORD,
    "daemon": OK,
    "exit0": EARLY_EXIT,
    "exit3": ("crashed", "the probe exited with status 3"),
    "exec_true": EARLY_EXIT,
    "abort": ("crashed", "the probe died with SIGABRT"),
    "self_sigkill": ("crashed", "the probe died with SIGKILL"),
    "self_sigstop": TIMEOUT_RECORD,
    "segfault": ("crashed", "the probe died with SIGSEGV"),
    "hang": TIMEOUT_RECORD,
    "spin": TIMEOUT_RECORD,
    "slow": OK,
    "memory_hog": ("crashed", f"exceeded its memory limit of {MEMORY_MIB:g} MiB"),
    "output_flood": ("crashed", f"exceeded its output limit of {OUTPUT_MIB:g} MiB"),
    "garbage_reports": ("failed", "the plugin corrupted the probe's report"),
    "close_fds": ("crashed", "the probe failed (status 70)"),
    "background_exit": EARLY_EXIT,
    "fork_many": OK,
}
# Without the namespace the signals reach the fork server: it is restarted, the bundle probed
# again alone, and blamed when it takes the server down again. A stopped fork server is resumed
# by the kernel itself when the probe exits (its process group is orphaned: SIGHUP, SIGCONT),
# so whether its watchdog or the kernel acts first, the outcome is one of two honest ones. A
# SIGTERM only asks the server to stop: a probe that finished meanwhile is still reported, and
# then it was a plugin that loaded (as in the namespace); otherwise it is probed again alone.
GROUPS_ONLY: dict[str, Expected | list[Expected]] = {
    "kill_parent": LOST_ALONE,
    "term_parent_group": [LOST_ALONE, OK],
    "stop_parent": [OK, LOST_ALONE],
    "join_parent_group": TIMEOUT_RECORD,
    "daemon": OK,
    "fork_many": OK,
    "segfault": NAMESPACED["segfault"],
    "background_exit": EARLY_EXIT,
}
# The worker pool (issue 14) runs plugins in workers it started itself, each under a nanny in a
# session of its own, with no namespace, subreaper or process table: its Linux runs have macOS
# semantics. A plugin's signals to its parent reach the nanny, never the scanner: killed or
# stopped, the nanny leaves the worker to finish the probe; a SIGTERM to its group ends both,
# and the probe, probed again alone, is that plugin's crash. A daemon that escapes its session
# is found by the token its worker's environment gave it. A plugin that ends its process from a
# thread a moment after loading has usually been reported by then: the pool records it as it
# loaded, and the bundle probed next in that worker, which takes the crash, is probed again in a
# fresh worker and recorded as it is. A plugin whose allocation fails at the worker's memory
# limit is told apart from a plain crash by the peak its nanny measured.
POOL: dict[str, Expected | list[Expected]] = {
    **NAMESPACED,
    "term_parent_group": ("crashed", "the probe died with SIGTERM"),
    "close_fds": ("crashed", "the probe exited with status 1"),  # Its worker's channel too.
    "background_exit": [OK, EARLY_EXIT],
}


def zoo_scan_names(expected: Mapping[str, Expected | list[Expected]]) -> list[str]:
    """The zoo bundles a scan holds for ``expected``: ``zoo-ok`` and its behaviours' bundles."""
    return ["zoo-ok"] + [zoo_name(b, s) for b in expected for s in STAGES]


def read_records(cache: Path) -> dict[str, list[Record]]:
    """(class, status, error) of every plugin row of the catalogue, by bundle stem."""
    db = sqlite3.connect(cache_paths(cache).catalog)
    try:
        rows = db.execute("SELECT path, class_name, status, error FROM plugins ORDER BY path")
        found: dict[str, list[Record]] = {}
        for path, class_name, status, error in rows:
            found.setdefault(Path(path).stem, []).append((class_name, status, error))
        return found
    finally:
        db.close()


def culprit_problems(
    records: dict[str, list[Record]], expected: Mapping[str, Expected | list[Expected]]
) -> list[str]:
    """How the records of the zoo's bundles differ from ``expected`` (empty when they agree):
    one record per bundle (its class, or the bundle itself when it broke before naming its
    classes), with one of the statuses and error starts its behaviour allows."""
    problems = []
    for behaviour, wanted in expected.items():
        options = wanted if isinstance(wanted, list) else [wanted]
        for stage in STAGES:
            name = zoo_name(behaviour, stage)
            rows = records.get(name)
            if rows is None or len(rows) != 1:
                problems.append(f"{name}: {rows}")
                continue
            ((class_name, got_status, got_error),) = rows
            if not any(
                got_status == status and (error is None or (got_error or "").startswith(error))
                for status, error in options
            ):
                problems.append(f"{name}: {got_status} {got_error!r}, wanted {options}")
            if class_name not in (name, None):
                problems.append(f"{name}: blamed on class {class_name!r}")
    return problems


def as_retried(records: dict[str, list[Record]]) -> dict[str, list[Record]]:
    """``records`` once the scan after them retried every timed-out bundle (at twice
    :data:`RETRY_SCAN_TIMEOUT`) and it hung again: the same, but for the limit each names."""
    first, retried = f"within {TIMEOUT:g} s", f"within {RETRY_SCAN_TIMEOUT * 2:g} s"
    return {
        stem: [
            (name, status, (error or "").replace(first, retried) if status == "timeout" else error)
            for name, status, error in rows
        ]
        for stem, rows in records.items()
    }
