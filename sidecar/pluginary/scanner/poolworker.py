"""A pool worker: imports pedalboard once, then probes one bundle after another.

Started by the pool launcher (``pool.py``) with spawn and exec, which is safe on every OS (forking
a process that has loaded CoreFoundation or AppKit is not, on macOS), as
``python -m pluginary.scanner.poolworker``. Each probe runs the fork server's child-side code,
``probe_bundle``, with the same files: the plugin's output (descriptors 1 and 2) goes to the
probe's output file and its events to its result file, so the launcher reads both the same way.

Requests come as JSON lines on stdin: ``{"op": "probe", "task": N, "bundle": P, "format": F,
"classes": [...]|null, "skip": [...], "audio": bool, "split": bool, "result": F, "output": F,
"memory_mib": M|null, "output_mib": M|null}``. Reports go as JSON lines on the descriptor that was
stdout when the worker started (kept private; stdout itself is the output file): ``{"ready":
true, "pid": P}`` once, then ``{"exited": N, "code": C}`` when a probe returns (0, or
``RESULT_UNWRITABLE`` / ``PROBE_FAILED``). A probe that ends the process (a crash, a plugin that
calls ``exit``) reports nothing: the launcher reads the process's exit status instead. End of
input ends the worker.

Portable: no fork, no ``prctl``, no ``/proc``. Where the ``resource`` module exists (not on
Windows, which limits the worker through its job object instead), each probe runs under the
memory and file-size limits the request names.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sys
from typing import Any

from pluginary.scanner.probe import run_request, warm_up

MIB = 1024 * 1024

if sys.platform != "win32":  # Windows limits a worker through its job object instead.
    import resource


def main() -> None:
    # Keep the report channel private: what pedalboard or a plugin prints between probes goes to
    # stderr (the sidecar's), during a probe to its output file.
    reports = os.dup(sys.stdout.fileno())
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    if sys.platform == "win32":
        from pluginary.scanner.processtree_windows import suppress_crash_dialogs

        suppress_crash_dialogs()
    if hasattr(signal, "SIGXFSZ"):
        # Python ignores it: restored, a probe over its output limit ends at once, as the fork
        # server's children do, instead of going on with failing writes.
        signal.signal(signal.SIGXFSZ, signal.SIG_DFL)
    warm_up()  # Once for every probe of this worker.
    # From here on, what plugins print outside a probe (a thread they left running) is nobody's
    # to read: not the sidecar's log.
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    os.dup2(devnull, 2)
    os.close(devnull)
    _report(reports, {"ready": True, "pid": os.getpid()})
    for line in sys.stdin.buffer:
        if not line.strip():
            continue
        request = json.loads(line)
        if request.get("op") != "probe":
            continue
        _report(reports, {"exited": request["task"], "code": _probe(request)})
    # Skip interpreter teardown: unloading the plugins' modules is not our business (and a
    # plugin's exit-time code could only fail here, after its probes were reported).
    os._exit(0)


def _probe(request: dict[str, Any]) -> int:
    """Run one probe with its output and result in its own files; its exit code."""
    saved = [os.dup(1), os.dup(2)]
    output = os.open(request["output"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    result = os.open(request["result"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    limits = _limit(request.get("memory_mib"), request.get("output_mib"))
    try:
        sys.stdout.flush()
        sys.stderr.flush()
        os.dup2(output, 1)
        os.dup2(output, 2)
        return run_request(request, result)
    finally:
        with contextlib.suppress(Exception):
            sys.stdout.flush()
            sys.stderr.flush()
        _restore_limits(limits)
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        for fd in (*saved, output, result):
            os.close(fd)


Limits = list[tuple[int, tuple[int, int]]]


def _limit(memory_mib: float | None, output_mib: float | None) -> Limits:
    """Lower the soft limits for one probe; what they were, to restore them after it."""
    if sys.platform == "win32":
        return []
    saved: Limits = []
    for kind, mib in ((resource.RLIMIT_DATA, memory_mib), (resource.RLIMIT_FSIZE, output_mib)):
        if mib is None:
            continue
        soft, hard = resource.getrlimit(kind)
        wanted = int(mib * MIB)
        if hard != resource.RLIM_INFINITY:
            wanted = min(wanted, hard)
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(kind, (wanted, hard))
            saved.append((kind, (soft, hard)))
    return saved


def _restore_limits(saved: Limits) -> None:
    if sys.platform == "win32":
        return
    for kind, limits in saved:
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(kind, limits)


def _report(fd: int, message: dict[str, Any]) -> None:
    data = (json.dumps(message) + "\n").encode()
    while data:
        data = data[os.write(fd, data) :]


if __name__ == "__main__":
    main()
