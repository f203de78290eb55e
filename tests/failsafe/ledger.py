"""What the failsafe suite tried and what it measured, rendered as ``docs/reliability.md``.

Each test records, after its assertions passed, the fault it survived, the outcome it observed
(facts read from the sidecar, not promises) and any measurements (seconds). At the end of a
passing session, ``PLUGINARY_RELIABILITY_REPORT=docs/reliability.md`` writes the table.
"""

from __future__ import annotations

import os
import platform
import re
import statistics
import subprocess
import sys
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

REPORT_ENV = "PLUGINARY_RELIABILITY_REPORT"

# Every fault the suite tries, in the order of issue 4, with the row label the report shows.
FAULTS: dict[str, str] = {
    "probe-segfault": "1. A plugin segfaults while loading",
    "probe-sigkill": "1. A probe is SIGKILLed from outside mid-load",
    "probe-hang": "2. A plugin hangs (with a child and an escaped grandchild)",
    "hostile-zoo": "10. The hostile plugin zoo beside real plugins (every behaviour, two stages)",
    "stall": "10. The sidecar (and its fork server) stopped longer than the probe timeout",
    "scratch-broken": "10. The probes' scratch folder deleted or unwritable mid-scan",
    "forkserver-killed": "10. The fork server SIGKILLed while a plugin's escaped helpers run",
    "neighbour-deaths": "10. The sidecar dies twice; an innocent plugin beside the culprit once",
    "sidecar-sigkill": "3. The sidecar is SIGKILLed mid-scan (seeded fault points)",
    "sidecar-sigkill-external": "3. The sidecar is SIGKILLed mid-scan from outside",
    "commit-crash": "4. The sidecar dies around the catalogue commit",
    "journal-empty": "5. Empty journal file",
    "journal-all-failed": "5. Journal whose tasks all failed, never committed",
    "journal-settled": "5. Journal of a completed but uncommitted scan",
    "journal-old-schema": "5. Journal from another schema version",
    "journal-garbage": "5. Journal file of garbage bytes",
    "journal-truncated": "5. Truncated journal file",
    "catalog-garbage": "6. Catalogue file of garbage bytes",
    "catalog-truncated": "6. Truncated catalogue file",
    "catalog-bad-page": "6. Catalogue with one zeroed page (opens, damaged inside)",
    "cache-read-only": "6. Read-only cache folder",
    "disk-full": "6. Full disk under the cache (reads, a scan)",
    "disk-full-mid-scan": "6. The disk fills up mid-scan",
    "disk-full-commit": "6. The disk is full at the catalogue commit",
    "disk-read-only": "6. Read-only filesystem, with a killed sidecar's WAL files",
    "cache-file-is-directory": "6. A folder in place of a cache file",
    "two-sidecars": "7. Two sidecars scan one cache at once",
    "stale-lock": "7. Lock left by a SIGKILLed sidecar",
    "host-closes-stdin": "8. The host closes the sidecar's stdin mid-scan",
    "host-killed": "8. The host process is SIGKILLed mid-scan",
    "sidecar-sigterm": "9. SIGTERM to the sidecar mid-scan",
    "sidecar-sigint": "9. SIGINT to the sidecar mid-scan",
    "sidecar-sighup": "9. SIGHUP to the sidecar mid-scan",
    "wire-framing": "Damaged frames (bad JSON, bad or missing Content-Length, oversized, …)",
    "wire-envelope": "Messages that are not JSON-RPC requests",
    "wire-params": "Wrong params: every field of every method, every wrong JSON type",
    "wire-after-shutdown": "Requests after shutdown",
    "wire-flood": "1,000 concurrent queries during a scan",
    "wire-progress-create": "window/workDoneProgress/create refused, unanswered or answered amiss",
    "wire-token-reuse": "A second scan or resume on a running scan's workDoneToken",
    "wire-lsp-methods": "LSP methods the sidecar does not implement, with any params",
    "fts-text": "Free text a user can type, into FTS5",
    "property-params": "Hypothesis: random params for every method, live server",
    "soak-kill": "Soak: the sidecar SIGKILLed at a random point of a scan or resume",
    "soak-round": "Soak: a round (install/uninstall, scan, kills, resume) ends consistent",
}


@dataclass
class Entry:
    outcomes: list[str] = field(default_factory=list)
    measures: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))


class Ledger:
    def __init__(self) -> None:
        self.entries: dict[str, Entry] = defaultdict(Entry)
        self.notes: dict[str, str] = {}
        self.known: dict[str, str] = {}  # Strict xfails: test name -> the bug it shows.

    def record(self, fault: str, outcome: str, times: int = 1, **measures: float) -> None:
        """One survived fault (``times`` of them): the outcome seen, and measurements (s)."""
        assert fault in FAULTS, f"unknown fault {fault!r}: add it to FAULTS"
        entry = self.entries[fault]
        entry.outcomes += [_generic(outcome)] * times
        for name, value in measures.items():
            entry.measures[name].append(value)

    def render(self, command: str) -> str:
        lines = [
            "# Reliability: faults tried and what happened",
            "",
            "Generated by the failsafe suite (`tests/failsafe/`, issue 4) from one passing run;"
            " do not edit by hand. To regenerate:",
            "",
            "```sh",
            command,
            "```",
            "",
            f"Run on {platform.system()} {platform.machine()}, Python"
            f" {platform.python_version()}, {os.cpu_count()} cores, soak"
            f" {self.notes.get('soak', 'not run')} (`PLUGINARY_SOAK_SEED`,"
            f" `PLUGINARY_SOAK_ROUNDS`), commit {_commit()}.",
            "Every fault is injected into real processes: the real `pluginary serve`, its fork"
            " server and probes, real and misbehaving plugins, and real signals. *Tried* counts"
            " the times the fault was injected and every expectation of its test held; times are"
            " wall-clock seconds measured by polling `/proc`.",
            "",
            "| Fault | Tried | Outcome measured | Numbers |",
            "| --- | ---: | --- | --- |",
        ]
        for fault, label in FAULTS.items():
            entry = self.entries.get(fault)
            if entry is None:
                lines.append(f"| {label} | 0 | not tried in this run | |")
                continue
            outcomes = "; ".join(
                f"{text} (x{entry.outcomes.count(text)})"
                if entry.outcomes.count(text) > 1
                else text
                for text in dict.fromkeys(entry.outcomes)
            )
            numbers = "; ".join(
                _summary(name, values) for name, values in sorted(entry.measures.items())
            )
            lines.append(f"| {label} | {len(entry.outcomes)} | {_cell(outcomes)} | {numbers} |")
        if self.known:
            lines += [
                "",
                "## Known bugs",
                "",
                "Reproduced by strict xfail tests (they fail today, and the suite fails when they"
                " start passing, so this list cannot go stale):",
                "",
                *(f"- `{name}`: {reason}" for name, reason in sorted(self.known.items())),
            ]
        lines.append("")
        return "\n".join(lines)


# What differs from run to run in a message: temporary paths, times, pids, scan ids.
VARYING = [
    (re.compile(r"/tmp/\S*?/([\w.-]+)(?=[\s),:;]|$)"), r"…/\1"),
    (re.compile(r"broken-\d{8}-\d{6}-\d+"), "broken-<time>-<pid>"),
    (re.compile(r"\d{8}T\d{6}-[0-9a-f]{6}"), "<scan id>"),
    (re.compile(r"\(pid \d+"), "(pid <pid>"),
]


def _generic(text: str) -> str:
    for pattern, replacement in VARYING:
        text = pattern.sub(replacement, text)
    return text


def _summary(name: str, values: list[float]) -> str:
    if len(values) == 1:
        return f"{name}: {values[0]:.3f} s"
    return (
        f"{name}: median {statistics.median(values):.3f} s, max {max(values):.3f} s"
        f" (n={len(values)})"
    )


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _commit() -> str:
    try:
        done = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            cwd=Path(__file__).parent,
            check=True,
        )
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    dirty = subprocess.run(
        ["git", "status", "--porcelain"], capture_output=True, text=True, cwd=Path(__file__).parent
    ).stdout.strip()
    return done.stdout.strip() + (" (with uncommitted changes)" if dirty else "")


LEDGER = Ledger()


def write_report(path: Path) -> None:
    command = f"{REPORT_ENV}={path} python -m pytest -m failsafe tests"
    path.write_text(LEDGER.render(command))
    print(f"\nreliability report written to {path}", file=sys.stderr)
