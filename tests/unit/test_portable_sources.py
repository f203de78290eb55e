"""No Linux-only call outside the Linux launcher (issue 14), none missing on Windows outside the
modules that are POSIX's side of a per-OS interface.

A grep, as the issue allows: it cannot prove the code runs on macOS or Windows, but it stops
the engine, the server and the CLI from gaining a call that cannot, unnoticed.
"""

from __future__ import annotations

import re
import tokenize
from pathlib import Path

import pluginary

PACKAGE = Path(pluginary.__file__).resolve().parent

# Linux only: allowed in the fork server, its containment and its parent side; and in the one
# per-OS function that names a descriptor's file through /proc (loadable.py picks it by OS).
LINUX_ONLY = re.compile(r"\bprctl\b|\bunshare\b|\bos \. fork\b|CLONE_NEW")
LINUX_MODULES = {
    "scanner/forkserver.py",
    "scanner/containment.py",
    "scanner/launcher.py",
    "scanner/loadable.py",
}
# Missing on Windows: allowed in the Linux modules and in POSIX's side of each interface.
NOT_ON_WINDOWS = re.compile(
    r"\bimport fcntl\b|\bos \. (?:pwrite|killpg|setpgid|getpgid)\b|\badd_signal_handler\b"
    r"|\bconnect_read_pipe\b|\bopen_signal_receiver\b|\bsignal \. SIGHUP\b|\bimport resource\b"
    r"|\bos \. wait4\b"
)
POSIX_SIDES = LINUX_MODULES | {
    "scanner/processtree.py",  # PosixGroups; Windows: processtree_windows.py.
    "scanner/guard.py",  # Started only by PosixGroups.
    "scanner/nanny.py",  # Likewise.
    "scanner/poolworker.py",  # resource, imported only off Windows.
    "server/stdio.py",  # The POSIX way of stdin and signals; the portable way beside it.
    "interrupts.py",  # Likewise for the command line's Ctrl-C.
}


def _code_lines(path: Path) -> dict[int, str]:
    """The module's lines as code alone: comments and strings (docstrings) left out."""
    lines: dict[int, str] = {}
    with path.open("rb") as source:
        for token in tokenize.tokenize(source.readline):
            if token.type in (tokenize.COMMENT, tokenize.STRING, tokenize.ENCODING):
                continue
            row = token.start[0]
            lines[row] = f"{lines.get(row, '')} {token.string}".strip() if token.string else ""
    return lines


def _offenders(pattern: re.Pattern[str], allowed: set[str]) -> list[str]:
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        name = path.relative_to(PACKAGE).as_posix()
        if name in allowed:
            continue
        for number, line in _code_lines(path).items():
            if pattern.search(line):
                found.append(f"{name}:{number}: {line}")
    return found


def test_linux_only_calls_stay_in_the_linux_launcher() -> None:
    assert _offenders(LINUX_ONLY, LINUX_MODULES) == []


def test_calls_windows_lacks_stay_on_posix_sides() -> None:
    assert _offenders(NOT_ON_WINDOWS, POSIX_SIDES) == []
