"""The pool's guard: kills the probe workers when the scanner dies, however it dies.

A small process that loads no plugin, started by the pool launcher as ``python -m
pluginary.scanner.guard``. It reads lines on stdin, whose other end only the scanner holds: ``+PID
TOKEN`` (a worker leading its own process group: kill that group, and every process carrying the
worker's token, if the scanner dies) and ``-PID`` (that worker is gone: forget it). The end of its
input, when the scanner closes it or dies, kills every group still named, then the guard exits.

On Linux the fork server's death signal does this job; elsewhere nothing would, and a watcher
thread inside a worker cannot be trusted: a plugin hung in native code may hold the interpreter. On
Windows the workers' job object kills them with the scanner instead (see ``processtree.py``).
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys

from pluginary.scanner.processtree import kill_marked


def main() -> None:
    groups: dict[int, str] = {}  # Process group -> its worker's token ("" if none).
    for line in sys.stdin.buffer:
        text = line.strip().decode("ascii", errors="replace")
        with contextlib.suppress(ValueError):
            if text.startswith("+"):
                group, _, token = text[1:].partition(" ")
                groups[int(group)] = token
            elif text.startswith("-"):
                groups.pop(int(text[1:]), None)
    for group in groups:
        with contextlib.suppress(OSError):
            os.killpg(group, signal.SIGKILL)
    for token in filter(None, groups.values()):
        with contextlib.suppress(Exception):
            kill_marked(token)  # What escaped a group (a daemon) carries its worker's token.


if __name__ == "__main__":
    # The terminal's Ctrl-C reaches the scanner's whole group: the guard outlives that moment,
    # to act only when its input ends.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    main()
