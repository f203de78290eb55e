"""Linux process containment for the fork server: PID namespace, death signals, process tables.

Used only inside the fork server process (never by the sidecar). The strongest containment is a
PID namespace of the probes' own: a plugin there cannot name (so cannot signal) the sidecar, the
host or the fork server's parent; its signals to the namespace's first process (the fork server)
are dropped by the kernel unless that process handles them; and when that process ends, the kernel
kills everything left in the namespace, whatever it did to its group, session or death signal.
Where namespaces are refused (an unprivileged user in a container that forbids user namespaces),
the fork server falls back to process groups, a child subreaper and death signals.

Process ids: the fork server sees its probes' ids in its own namespace, while ``/proc`` (mounted
for the sidecar's) names them by their ids there ("host pids"). Both are mapped here.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import resource
import signal

PR_SET_PDEATHSIG = 1
PR_SET_CHILD_SUBREAPER = 36
CLONE_NEWUSER = 0x10000000
CLONE_NEWPID = 0x20000000
# Set to anything to refuse the namespace (tests prove the fallback with it).
NO_NAMESPACE_ENV = "PLUGINARY_NO_PID_NAMESPACE"

_libc = ctypes.CDLL(None, use_errno=True)


def set_death_signal(signum: int) -> None:
    """Have the kernel send ``signum`` to this process when its parent dies (0 clears it)."""
    with contextlib.suppress(OSError, AttributeError):
        _libc.prctl(PR_SET_PDEATHSIG, signum, 0, 0, 0)


def become_subreaper() -> None:
    """Orphaned descendants are re-parented to this process instead of init."""
    with contextlib.suppress(OSError, AttributeError):
        _libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)


def enter_pid_namespace() -> bool:
    """Put this process's future children in a new PID namespace; False if it is refused.

    The first child forked afterwards is the namespace's init. As root this needs nothing more;
    otherwise a user namespace (mapping this user to itself) is created with it.
    """
    if os.environ.get(NO_NAMESPACE_ENV):
        return False
    if _libc.unshare(CLONE_NEWPID) == 0:
        return True
    uid, gid = os.getuid(), os.getgid()
    if _libc.unshare(CLONE_NEWUSER | CLONE_NEWPID) != 0:
        return False
    try:
        _write("/proc/self/setgroups", "deny")
        _write("/proc/self/uid_map", f"{uid} {uid} 1")
        _write("/proc/self/gid_map", f"{gid} {gid} 1")
    except OSError:
        return False  # The namespace exists but we could not map ourselves: do without it.
    return True


def _write(path: str, text: str) -> None:
    with open(path, "w") as file:
        file.write(text)


def host_pid() -> int:
    """This process's id as ``/proc`` names it (differs from os.getpid() in a PID namespace)."""
    try:
        return int(os.readlink("/proc/self"))
    except (OSError, ValueError):
        return os.getpid()


def child_host_pids(self_host_pid: int) -> list[int]:
    """The ``/proc`` ids of this (single-threaded) process's children."""
    try:
        with open(f"/proc/{self_host_pid}/task/{self_host_pid}/children") as children:
            return [int(pid) for pid in children.read().split()]
    except OSError:
        return []


def namespace_pid(host: int) -> int | None:
    """The id a host pid has in the innermost namespace it lives in (what kill() here takes)."""
    try:
        with open(f"/proc/{host}/status") as status:
            for line in status:
                if line.startswith("NSpid:"):
                    return int(line.split()[-1])
    except (OSError, ValueError):
        pass
    return None


def data_bytes(host: int) -> int | None:
    """Private writable memory of a process (VmData + stack), or None once it is gone."""
    try:
        with open(f"/proc/{host}/statm") as statm:
            return int(statm.read().split()[5]) * resource.getpagesize()
    except (OSError, ValueError, IndexError):
        return None


def kill_process_and_group(pid: int) -> None:
    """SIGKILL a probe and its process group; the probe may have left the group it led."""
    for kill, target in ((os.killpg, pid), (os.kill, pid)):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            kill(target, signal.SIGKILL)


def limit_resources(*, memory_bytes: int | None, output_bytes: int | None) -> None:
    """Cap a probe's private memory (RLIMIT_DATA) and the size of any file it writes."""
    if memory_bytes is not None:
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_DATA, (memory_bytes, memory_bytes))
    if output_bytes is not None:
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_FSIZE, (output_bytes, output_bytes))


def kill_marked(variable: str, token: str) -> None:
    """SIGKILL every process whose environment carries ``variable=token`` (read from /proc)."""
    marker = f"{variable}={token}".encode()
    for entry in os.listdir("/proc") if os.path.isdir("/proc") else []:
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/environ", "rb") as environ:
                if marker not in environ.read().split(b"\0"):
                    continue
        except OSError:
            continue
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(int(entry), signal.SIGKILL)
