"""Load one VST3 bundle with pedalboard in a fresh, sacrificial process (the breadth sets' oracle).

Run as a script: ``python breadth_load.py BUNDLE [--plugin NAME] [--channels]`` prints one JSON
object: the class names ``get_plugin_names_for_file`` lists (or its error), whether
``load_plugin(BUNDLE, plugin_name=NAME or the first)`` worked, how long each step took, the
error when not with the dynamic linker's word on it (the probe's ``diagnose_binary``), and with
``--channels`` the channel counts (up to 64) that ``process`` accepts.
:func:`load_in_fresh_process` runs it with a timeout and reports a crash or a hang as such.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

CHANNELS = (1, 2, 4, 8, 16, 36, 64)


def load(path: str, plugin: str | None, channels: bool) -> dict[str, Any]:
    import pedalboard

    started = time.perf_counter()
    result: dict[str, Any] = {}
    try:
        names = list(pedalboard.VST3Plugin.get_plugin_names_for_file(path))
    except Exception as error:
        names, result["names_error"] = [], f"{type(error).__name__}: {error}"
    result.update(names=names, names_seconds=round(time.perf_counter() - started, 3))
    name = plugin or (names[0] if names else None)
    started = time.perf_counter()
    try:
        loaded = pedalboard.load_plugin(path, plugin_name=name)
    except Exception as error:
        from pluginary.scanner.probe import diagnose_binary

        # pedalboard says only "scan failure"; the probe's diagnosis is what dlopen says.
        result.update(loaded=False, error=f"{type(error).__name__}: {error}")
        result["diagnosis"] = diagnose_binary(path)
        return result
    result.update(
        loaded=True,
        load_seconds=round(time.perf_counter() - started, 3),
        name=loaded.name,
        is_instrument=loaded.is_instrument,
        parameters=len(loaded.parameters),
    )
    if channels:
        from oracle import accepted_channels  # Beside this script: the oracle's own way.

        result["channels"] = accepted_channels(loaded, CHANNELS)
    return result


def load_in_fresh_process(
    bundle: Path, plugin: str | None = None, channels: bool = False, timeout: float = 60
) -> dict[str, Any]:
    """:func:`load` in a new interpreter; a crash or a hang is a result, not an exception."""
    command = [sys.executable, __file__, str(bundle)]
    command += ["--plugin", plugin] if plugin else []
    command += ["--channels"] if channels else []
    started = time.perf_counter()
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"loaded": False, "error": f"timed out after {timeout} s"}
    seconds = round(time.perf_counter() - started, 3)
    if done.returncode != 0 or not done.stdout.strip():
        tail = done.stderr.strip().splitlines()[-3:]
        return {"loaded": False, "error": f"exit {done.returncode}: {' | '.join(tail)}"}
    return {**json.loads(done.stdout), "process_seconds": seconds}


if __name__ == "__main__":
    # Plugins print to stdout from native code; keep our JSON on a private copy of it.
    out = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)
    arguments = sys.argv[1:]
    chosen = arguments[arguments.index("--plugin") + 1] if "--plugin" in arguments else None
    json.dump(load(arguments[0], chosen, "--channels" in arguments), out)
    out.flush()
