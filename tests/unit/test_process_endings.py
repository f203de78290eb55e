"""How a pool worker's end is told (issue 14): a signal on POSIX, a crash's NTSTATUS on Windows."""

from __future__ import annotations

import signal

from pluginary.scanner.processtree import PosixGroups
from pluginary.scanner.processtree_windows import ending as windows_ending


def test_posix_return_codes() -> None:
    groups = PosixGroups()
    assert groups.ending(-signal.SIGSEGV) == (None, "SIGSEGV")
    assert groups.ending(3) == (3, None)
    assert groups.ending(0) == (0, None)


def test_windows_crashes_are_named_and_exits_stay_statuses() -> None:
    assert windows_ending(0xC0000005) == (None, "EXCEPTION_ACCESS_VIOLATION")
    assert windows_ending(-1073741819) == (None, "EXCEPTION_ACCESS_VIOLATION")  # Signed.
    assert windows_ending(0xC0000409) == (None, "STATUS_STACK_BUFFER_OVERRUN")
    assert windows_ending(0xC0000135) == (None, "NTSTATUS 0xC0000135")  # A DLL not found.
    assert windows_ending(3) == (3, None)  # abort() on Windows: an exit status.
    assert windows_ending(0) == (0, None)
