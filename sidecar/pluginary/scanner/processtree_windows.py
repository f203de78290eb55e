"""Windows job objects for the pool's workers (see ``processtree.py``), through ctypes.

Each worker gets a job of its own, so one worker's tree can be killed without the others'. Every
job is created with kill-on-close: the scanner holds the only handle, so when it exits or dies
the system kills every process in the job. Crash dialogs (Windows Error Reporting's "stopped
working" box) would hang a probe until someone clicks: the job makes an unhandled exception end
the process at once, and each worker sets its own error mode (``suppress_crash_dialogs``).

Imported only on Windows, except by the tests of ``ending`` (plain arithmetic).
"""

from __future__ import annotations

import ctypes
from ctypes import wintypes
from typing import Any

JOB_OBJECT_EXTENDED_LIMIT_INFORMATION = 9
JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE = 0x2000
JOB_OBJECT_LIMIT_DIE_ON_UNHANDLED_EXCEPTION = 0x400
PROCESS_SET_QUOTA = 0x0100
PROCESS_TERMINATE = 0x0001
SEM_FAILCRITICALERRORS = 0x0001
SEM_NOGPFAULTERRORBOX = 0x0002
CREATE_NO_WINDOW = 0x08000000


class _IoCounters(ctypes.Structure):
    _fields_ = [(name, ctypes.c_ulonglong) for name in (
        "ReadOperationCount", "WriteOperationCount", "OtherOperationCount",
        "ReadTransferCount", "WriteTransferCount", "OtherTransferCount",
    )]  # fmt: skip


class _BasicLimits(ctypes.Structure):
    _fields_ = [
        ("PerProcessUserTimeLimit", ctypes.c_int64),
        ("PerJobUserTimeLimit", ctypes.c_int64),
        ("LimitFlags", wintypes.DWORD),
        ("MinimumWorkingSetSize", ctypes.c_size_t),
        ("MaximumWorkingSetSize", ctypes.c_size_t),
        ("ActiveProcessLimit", wintypes.DWORD),
        ("Affinity", ctypes.c_size_t),
        ("PriorityClass", wintypes.DWORD),
        ("SchedulingClass", wintypes.DWORD),
    ]


class _ExtendedLimits(ctypes.Structure):
    _fields_ = [
        ("BasicLimitInformation", _BasicLimits),
        ("IoInfo", _IoCounters),
        ("ProcessMemoryLimit", ctypes.c_size_t),
        ("JobMemoryLimit", ctypes.c_size_t),
        ("PeakProcessMemoryUsed", ctypes.c_size_t),
        ("PeakJobMemoryUsed", ctypes.c_size_t),
    ]


# How Windows ends a process that crashed: its exit code is the exception's NTSTATUS. Named as a
# signal is on POSIX, so a record says "died with EXCEPTION_ACCESS_VIOLATION", not a number.
CRASHES = {
    0xC0000005: "EXCEPTION_ACCESS_VIOLATION",
    0xC000001D: "EXCEPTION_ILLEGAL_INSTRUCTION",
    0xC0000094: "EXCEPTION_INT_DIVIDE_BY_ZERO",
    0xC00000FD: "EXCEPTION_STACK_OVERFLOW",
    0xC0000017: "STATUS_NO_MEMORY",
    0xC0000374: "STATUS_HEAP_CORRUPTION",
    0xC0000409: "STATUS_STACK_BUFFER_OVERRUN",
    0xC0000420: "STATUS_ASSERTION_FAILURE",
    0x80000003: "EXCEPTION_BREAKPOINT",
}


def ending(returncode: int) -> tuple[int | None, str | None]:
    """A Windows process's exit code as (exit status, crash name): a crash's NTSTATUS is named
    (an unknown one by its hexadecimal value), anything else is an exit status."""
    code = returncode & 0xFFFFFFFF
    if code in CRASHES:
        return None, CRASHES[code]
    if code >= 0xC0000000:
        return None, f"NTSTATUS 0x{code:08X}"
    return returncode, None


def _kernel32() -> Any:
    return ctypes.WinDLL("kernel32", use_last_error=True)  # type: ignore[attr-defined]


def suppress_crash_dialogs() -> None:
    """In a worker: a crash ends the process, never waiting on a dialog."""
    _kernel32().SetErrorMode(SEM_FAILCRITICALERRORS | SEM_NOGPFAULTERRORBOX)


class WindowsJobs:
    """One kill-on-close job object per worker."""

    def __init__(self) -> None:
        self._kernel32 = _kernel32()
        self._jobs: dict[int, int] = {}  # worker pid -> job handle

    def spawn_options(self) -> dict[str, Any]:
        return {"creationflags": CREATE_NO_WINDOW}

    def command(self, worker: list[str]) -> list[str]:
        return worker  # No signals to misdirect: the worker is the job's first process.

    def adopt(self, pid: int, token: str | None = None) -> None:
        kernel32 = self._kernel32
        job = kernel32.CreateJobObjectW(None, None)
        if not job:
            raise ctypes.WinError(ctypes.get_last_error())  # type: ignore[attr-defined]
        limits = _ExtendedLimits()
        limits.BasicLimitInformation.LimitFlags = (
            JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE | JOB_OBJECT_LIMIT_DIE_ON_UNHANDLED_EXCEPTION
        )
        kernel32.SetInformationJobObject(
            job, JOB_OBJECT_EXTENDED_LIMIT_INFORMATION, ctypes.byref(limits), ctypes.sizeof(limits)
        )
        process = kernel32.OpenProcess(PROCESS_SET_QUOTA | PROCESS_TERMINATE, False, pid)
        try:
            if not process or not kernel32.AssignProcessToJobObject(job, process):
                kernel32.CloseHandle(job)
                raise ctypes.WinError(ctypes.get_last_error())  # type: ignore[attr-defined]
        finally:
            if process:
                kernel32.CloseHandle(process)
        self._jobs[pid] = job

    def wake(self, pid: int) -> None:
        pass  # Nothing on Windows stops a process from outside the way SIGSTOP does.

    def ending(self, returncode: int) -> tuple[int | None, str | None]:
        return ending(returncode)

    def kill(self, pid: int, worker: int | None = None, token: str | None = None) -> None:
        # The job holds every process the worker started (none may break away from it).
        job = self._jobs.pop(pid, None)
        if job is not None:
            self._kernel32.TerminateJobObject(job, 1)
            self._kernel32.CloseHandle(job)

    def close(self) -> None:
        for pid in list(self._jobs):
            self.kill(pid)
