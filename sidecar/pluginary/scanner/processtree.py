"""Process trees the pool launcher can kill whole, and that die with the scanner: per OS.

A probe worker may start processes of its own (a plugin's helper, a crash reporter). The pool
needs two things of the OS, behind one small interface: kill a worker with everything it
started, and make sure none of them outlives the scanner, however the scanner ends.

- POSIX (macOS, and Linux in the pool's portable mode): each worker runs under a nanny process
  (``nanny.py``) that leads a session and process group of their own, killed as a group; a guard
  process (``guard.py``) kills the groups still alive when the scanner dies.
- Windows: a job object per worker, created to kill its processes when its last handle closes
  (the scanner's, so its death kills them too) and to suppress crash dialogs; see
  ``processtree_windows.py``.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
from typing import Any, Protocol

# Every process a worker starts inherits its environment: this names them all, wherever they go.
WORKER_TOKEN_ENV = "PLUGINARY_WORKER_TOKEN"


def kill_marked(token: str, keep: frozenset[int] = frozenset()) -> None:
    """Kill every process whose environment carries this worker token, but those in ``keep``.

    What escaped its worker's process group (a daemon in a session of its own) is found this way,
    through psutil, on every OS: a process table is not portable, a token in the environment is.
    """
    import psutil  # Here: only a probe's end needs it.

    for process in psutil.process_iter(["environ"]):
        if process.pid in keep:
            continue
        environ = process.info.get("environ") or {}
        if environ.get(WORKER_TOKEN_ENV) == token:
            with contextlib.suppress(psutil.Error):
                process.kill()


class ProcessTrees(Protocol):
    """What the pool asks of the OS about its workers' process trees."""

    def spawn_options(self) -> dict[str, Any]:
        """Extra options for starting a worker (``anyio.open_process``) as a tree's root."""
        ...

    def command(self, worker: list[str]) -> list[str]:
        """The command line that starts ``worker`` (under a parent of its own, on POSIX)."""
        ...

    def adopt(self, pid: int, token: str | None = None) -> None:
        """The worker ``pid`` (carrying ``token``) has started: make its tree die with the
        scanner."""
        ...

    def kill(self, pid: int, worker: int | None = None, token: str | None = None) -> None:
        """Kill the tree started as ``pid`` and everything in it, the ``worker`` process too
        (if it left the tree), and every process carrying the worker's ``token``; forget it."""
        ...

    def wake(self, pid: int) -> None:
        """Let the tree started as ``pid`` run again, if a plugin stopped it (SIGSTOP)."""
        ...

    def ending(self, returncode: int) -> tuple[int | None, str | None]:
        """A worker's return code as (exit status, name of what killed it): one is None."""
        ...

    def close(self) -> None:
        """The pool is done: kill whatever is left."""
        ...


class PosixGroups:
    """Workers as process-group leaders, watched by a guard process."""

    def __init__(self, guard_command: list[str] | None = None) -> None:
        self._guard_command = guard_command or [sys.executable, "-m", "pluginary.scanner.guard"]
        self._guard: subprocess.Popen[bytes] | None = None
        self._alive: set[int] = set()
        self._tokens: dict[int, str] = {}
        # The pool kills trees from threads (the token sweep is slow): one talks to the guard.
        self._guard_lock = threading.Lock()

    def spawn_options(self) -> dict[str, Any]:
        # A session of its own: a plugin's signal to its group, or the terminal's Ctrl-C, never
        # reaches the scanner through it; and the group is what is killed.
        return {"start_new_session": True}

    def command(self, worker: list[str]) -> list[str]:
        # The worker's parent is a nanny (nanny.py), so that a plugin signalling its parent
        # misses the scanner.
        return [sys.executable, "-m", "pluginary.scanner.nanny", *worker]

    def adopt(self, pid: int, token: str | None = None) -> None:
        with self._guard_lock:
            self._alive.add(pid)
            self._tokens[pid] = token or ""
            self._tell(f"+{pid} {token or ''}".rstrip())

    def kill(self, pid: int, worker: int | None = None, token: str | None = None) -> None:
        targets = [(os.killpg, pid), (os.kill, pid)]
        if worker is not None:
            targets.append((os.kill, worker))
        for kill, target in targets:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                kill(target, signal.SIGKILL)
        if token is not None:
            kill_marked(token)  # What left the group (setsid, a daemon).
        with self._guard_lock:
            if pid in self._alive:
                self._alive.discard(pid)
                self._tokens.pop(pid, None)
                self._tell(f"-{pid}")

    def wake(self, pid: int) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pid, signal.SIGCONT)

    def ending(self, returncode: int) -> tuple[int | None, str | None]:
        if returncode < 0:
            return None, signal.Signals(-returncode).name
        return returncode, None

    def close(self) -> None:
        for pid in list(self._alive):
            self.kill(pid)
        with self._guard_lock:
            guard, self._guard = self._guard, None
        if guard is not None:
            with contextlib.suppress(OSError):
                assert guard.stdin is not None
                guard.stdin.close()  # Its input ends: it exits (nothing left to kill).
            with contextlib.suppress(subprocess.TimeoutExpired):
                guard.wait(timeout=5)
            if guard.poll() is None:
                guard.kill()
                guard.wait()

    def _tell(self, line: str) -> None:
        if self._guard is None or self._guard.poll() is not None:
            # Its own session too, so the terminal's Ctrl-C does not end it before the scanner.
            self._guard = subprocess.Popen(
                self._guard_command,
                stdin=subprocess.PIPE,
                stdout=subprocess.DEVNULL,  # Never the sidecar's stdout, its protocol channel.
                start_new_session=True,
            )
            for pid in self._alive:
                self._write(f"+{pid} {self._tokens.get(pid, '')}".rstrip())
        self._write(line)

    def _write(self, line: str) -> None:
        assert self._guard is not None and self._guard.stdin is not None
        with contextlib.suppress(OSError):
            self._guard.stdin.write(f"{line}\n".encode())
            self._guard.stdin.flush()


def process_trees() -> ProcessTrees:
    """This OS's way of keeping the pool's process trees."""
    if sys.platform == "win32":
        from pluginary.scanner.processtree_windows import WindowsJobs

        return WindowsJobs()
    return PosixGroups()
