"""Load a zoo bundle with pedalboard in a plain process that may die for it: no Pluginary.

``python sacrifice.py wrapper BUNDLE [options]`` is what a test starts, in a session of its own.
The wrapper stands in for the fork server: it starts the loader in a process group of its own
(as the fork server starts each probe), with stdout and stderr going to the files given, waits
for it, and prints the loader's fate as one JSON line on its own stdout:
``{"exited": code}``, ``{"signal": "SIGSEGV"}`` or ``{"stopped": "SIGSTOP"}`` (a stopped loader is
then killed). A behaviour that signals its parent or its parent's group hits the wrapper, whose
own fate then tells the test.

The loader does what the probe does (``pluginary/scanner/probe.py``): list the classes, then
load each by name. It writes progress marks to stderr, in order with zoo.c's ``zoo-trace``
lines (ZOO_TRACE), which is how a test tells at which stage a behaviour fired:

    zoo-mark start <pid>
    zoo-mark classes <json list>
    zoo-mark begin <name>
    zoo-mark loaded <name> | zoo-mark failed <name> <error>
    zoo-mark canary open|closed
    zoo-mark done <seconds listing took> <seconds each load took...>

Before the plugin runs, the loader holds a "canary" file open (after stdin, stdout and stderr,
the only descriptor it opens), for behaviours that write into or close other descriptors.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import signal
import subprocess
import sys
import time

MB = 1 << 20


def mark(*words: object) -> None:
    # Straight to the descriptor, unbuffered: the next instant the process may be gone.
    os.write(2, ("zoo-mark " + " ".join(str(word) for word in words) + "\n").encode())


def loader(arguments: argparse.Namespace) -> None:
    mark("start", os.getpid())
    canary = os.open(arguments.canary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    # Deliberate crashes need no core files.
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    if arguments.fsize_mb is not None:
        # Writes past the limit fail (EFBIG) instead of killing us (SIGXFSZ).
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        limit = arguments.fsize_mb * MB
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
    import pedalboard

    if arguments.as_headroom_mb is not None:
        # Address space for what is mapped now plus the headroom: pedalboard is imported.
        with open("/proc/self/status") as status:
            size = next(int(line.split()[1]) for line in status if line.startswith("VmSize:"))
        limit = size * 1024 + arguments.as_headroom_mb * MB
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    started = time.monotonic()
    names = list(pedalboard.VST3Plugin.get_plugin_names_for_file(arguments.bundle))
    seconds = [time.monotonic() - started]
    mark("classes", json.dumps(names))
    for name in names:
        mark("begin", name)
        started = time.monotonic()
        try:
            pedalboard.load_plugin(arguments.bundle, plugin_name=name)
        except Exception as error:
            mark("failed", name, json.dumps(str(error)))
        else:
            mark("loaded", name)
        seconds.append(time.monotonic() - started)
    try:
        os.fstat(canary)
    except OSError:
        mark("canary", "closed")
    else:
        mark("canary", "open")
    mark("done", *(f"{second:.3f}" for second in seconds))
    os._exit(0)  # Like the probe: no interpreter teardown.


def wrapper(arguments: argparse.Namespace, options: list[str]) -> None:
    with open(arguments.stdout, "wb") as stdout, open(arguments.stderr, "wb") as stderr:
        child = subprocess.Popen(
            [sys.executable, __file__, "loader", *options],
            stdin=subprocess.DEVNULL,
            stdout=stdout,
            stderr=stderr,
            process_group=0,
        )
    _, status = os.waitpid(child.pid, os.WUNTRACED)
    fate: dict[str, str | int]
    if os.WIFSTOPPED(status):
        fate = {"stopped": signal.Signals(os.WSTOPSIG(status)).name}
        os.kill(child.pid, signal.SIGKILL)
        os.waitpid(child.pid, 0)
    elif os.WIFSIGNALED(status):
        fate = {"signal": signal.Signals(os.WTERMSIG(status)).name}
    else:
        fate = {"exited": os.waitstatus_to_exitcode(status)}
    print(json.dumps(fate), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("role", choices=("wrapper", "loader"))
    parser.add_argument("bundle")
    parser.add_argument("--stdout", required=True)
    parser.add_argument("--stderr", required=True)
    parser.add_argument("--canary", required=True)
    parser.add_argument("--fsize-mb", type=int, help="limit the loader's file sizes")
    parser.add_argument("--as-headroom-mb", type=int, help="limit the loader's address space")
    arguments = parser.parse_args()
    if arguments.role == "loader":
        loader(arguments)
    else:
        wrapper(arguments, sys.argv[2:])


if __name__ == "__main__":
    main()
