"""One bundle described by one describer, in a fresh process: what the probe records, and after.

``python describe_one.py BUNDLE fast|pedalboard`` loads every class of BUNDLE the way the probe
does (``probe.load_described``, one class after another in one process) and prints one JSON
object: per class, the probe's record (or its failure's error and type), pedalboard's wrapper
view, and every native parameter's raw value and text once describing is done. Floats are
printed exactly (repr) and NaN as NaN, so two runs agree only if they are JSON-equal as text.

The oracle test (``test_describer_oracle.py``) runs it once per describer and compares.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

SIDECAR = Path(__file__).resolve().parent.parent / "sidecar"


def describe(bundle: str, kind: str) -> dict[str, Any]:
    import pedalboard

    from pluginary.scanner.describer import choose, describer_for
    from pluginary.scanner.probe import load_described

    try:
        names = list(pedalboard.VST3Plugin.get_plugin_names_for_file(bundle))
    except Exception as error:
        return {"error": str(error), "error_type": type(error).__name__}
    describer = describer_for(pedalboard, choose(pedalboard, kind))
    classes = []
    for name in names:
        started = time.perf_counter()
        try:
            plugin, record, probe_ms = load_described(describer, bundle, name, started)
        except Exception as error:
            classes.append({"class": name, "error": str(error), "type": type(error).__name__})
            continue
        classes.append(
            {
                "class": name,
                "describer": describer.kind,
                "hotspots": list(describer.hotspots),
                "full_passes": list(describer.full_passes),
                "parameters_ms": probe_ms["parameters"],
                "record": record,
                "wrappers": wrapper_view(plugin),
                "natives": natives(plugin),
            }
        )
        del plugin
    return {"classes": classes}


def wrapper_view(plugin: Any) -> list[dict[str, Any]]:
    """What pedalboard's own wrappers hold (cached by describing: reading sweeps nothing)."""
    return [
        {
            "key": key,
            "python_name": parameter.python_name,
            "type": parameter.type.__name__,
            "ranges": [[low, high, value] for (low, high), value in parameter.ranges.items()],
            "valid_values": list(parameter.valid_values),
            "range": list(parameter.range),
            "approximate_step_size": parameter.approximate_step_size,
            "label": parameter.label,
        }
        for key, parameter in plugin.parameters.items()
    ]


def natives(plugin: Any) -> list[list[Any]]:
    """Every native parameter's index, name, raw value and text."""
    return [[p.index, p.name, p.raw_value, p.string_value] for p in plugin._parameters]


def run(bundle: str | Path, kind: str) -> dict[str, Any]:
    """``describe(bundle, kind)`` in a fresh Python process (a plugin keeps static state)."""
    env = {**os.environ, "PYTHONPATH": str(SIDECAR)}
    done = subprocess.run(
        [sys.executable, __file__, str(bundle), kind],
        capture_output=True,
        env=env,
        check=False,
    )
    lines = done.stdout.decode(errors="replace").strip().splitlines()
    marked = [line[len(MARK) :] for line in lines if line.startswith(MARK)]
    if done.returncode != 0 or not marked:
        return {"exit": done.returncode, "stderr": done.stderr.decode(errors="replace")[-2000:]}
    result: dict[str, Any] = json.loads(marked[-1])
    return result


# Plugins print to stdout too: the result is the line that starts with this.
MARK = "@@describe_one@@"

if __name__ == "__main__":
    print(MARK + json.dumps(describe(sys.argv[1], sys.argv[2])), flush=True)
