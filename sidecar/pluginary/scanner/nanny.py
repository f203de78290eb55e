"""A pool worker's parent on POSIX, so that a plugin's signal to its parent misses the scanner.

``python -m pluginary.scanner.nanny COMMAND...`` runs COMMAND (the worker) as its child, on the
same stdin, stdout and stderr, waits for it and ends the way it ended: with its exit status, or
killed by the same signal. It loads no plugin and does nothing else. A plugin that kills,
stops or signals its parent's process group (``getppid()``) reaches this process, never the
scanner: the probe then ends as a crash of its own making, and the scanner goes on. On Linux
the fork server's PID namespace does more; on Windows there are no such signals.

A worker that ends unclean leaves its peak resident size, in bytes, in the file named by
``PLUGINARY_NANNY_PEAK_FILE``: only its parent can know it (``wait4``), and it tells the pool
whether the worker ran into its memory limit.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys

PEAK_FILE_ENV = "PLUGINARY_NANNY_PEAK_FILE"


def main() -> None:
    # The terminal's Ctrl-C reaches the scanner's group, never this one (a session of its own).
    worker = subprocess.Popen(sys.argv[1:])
    # Only the worker holds the pool's pipes: its end is their end, even if a plugin has stopped
    # this process (the pool then wakes it to collect the worker's status).
    devnull = os.open(os.devnull, os.O_RDWR)
    os.dup2(devnull, 0)
    os.dup2(devnull, 1)
    os.close(devnull)
    _, status, usage = os.wait4(worker.pid, 0)
    code = os.waitstatus_to_exitcode(status)
    peak_file = os.environ.get(PEAK_FILE_ENV)
    if code != 0 and peak_file:
        # Linux counts ru_maxrss in KiB, macOS (and the BSDs) in bytes.
        peak = usage.ru_maxrss * (1024 if sys.platform.startswith("linux") else 1)
        with contextlib.suppress(OSError), open(peak_file, "w") as out:
            out.write(str(peak))
    if code < 0:
        with contextlib.suppress(OSError, ValueError):  # SIGKILL and SIGSTOP keep theirs.
            signal.signal(-code, signal.SIG_DFL)
        os.kill(os.getpid(), -code)
    sys.exit(code)


if __name__ == "__main__":
    main()
