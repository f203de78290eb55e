"""Child side: every dependency of a binary that the dynamic linker cannot meet, not just the first.

``dlopen`` stops at the first missing library or symbol version, so a plugin needing three
libraries is fixed one reinstall at a time. Where the OS can list them all without running the
binary's code (Linux: ``ldd``, or the dynamic loader's ``--list``, whose trace mode maps the
libraries but runs no constructor), this says every one; elsewhere it says nothing and
``dlopen``'s own words stand. Runs in the probe process (imports nothing of pluginary).
"""

from __future__ import annotations

import glob
import os
import re
import shutil
import subprocess
import sys

# The listing is the dynamic linker's work on files already on disk: seconds at most.
LIST_TIMEOUT_SECONDS = 10.0
_NOT_FOUND = re.compile(r"^\s*(\S+) => not found\s*$")
_NO_VERSION = re.compile(r"(\S+): version [`']([^']+)' not found \(required by ([^)]+)\)")


def unmet_dependencies(binary: str) -> list[str] | None:
    """What the dynamic linker cannot meet for ``binary``, each said once; None where this OS
    (or this machine) cannot list them."""
    if not sys.platform.startswith("linux"):
        return None
    return _linux_unmet(binary)


def _linux_unmet(binary: str) -> list[str] | None:
    command = _linux_lister(binary)
    if command is None:
        return None
    try:
        listed = subprocess.run(
            command,
            capture_output=True,
            timeout=LIST_TIMEOUT_SECONDS,
            env={**os.environ, "LC_ALL": "C"},
            stdin=subprocess.DEVNULL,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    unmet: list[str] = []
    # glibc's ldd prints missing versions with the libraries (stdout), others on stderr.
    for line in (listed.stdout + b"\n" + listed.stderr).decode(errors="replace").splitlines():
        if found := _NOT_FOUND.match(line):
            unmet.append(f"{found[1]} (not found)")
        elif found := _NO_VERSION.search(line):
            library, version, needer = found.groups()
            unmet.append(
                f"version {version} of {os.path.basename(library.rstrip(':'))}"
                f" (required by {os.path.basename(needer)})"
            )
    return list(dict.fromkeys(unmet))


def _linux_lister(binary: str) -> list[str] | None:
    ldd = shutil.which("ldd")
    if ldd is not None:
        return [ldd, binary]
    loaders = sorted(glob.glob("/lib*/ld-linux*.so.*") + glob.glob("/lib/*/ld-linux*.so.*"))
    return [loaders[0], "--list", binary] if loaders else None
