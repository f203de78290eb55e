"""The oracle: pedalboard itself, loading each plugin in-process, in a fresh Python process.

A fresh process matters: a plugin's shared object keeps static state between loads in one
process (DPF's "Buffer Size" parameter remembers the last host block size), so an oracle that
shares the test process would disagree with a probe for reasons that are not the probe's.

Run as a script: ``python oracle.py [--no-slow-pass] BUNDLE...`` prints one JSON object keyed
by bundle path. ``--no-slow-pass`` makes pedalboard's parameter sweep skip its slow pass (set,
read, restore each value), to show what that pass changes (``test_dpf_edge_controls.py``).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

# What a host could ask of a plugin: every count to 7.1, and full-sphere Ambisonics orders 2-7.
CHANNEL_COUNTS = (1, 2, 3, 4, 5, 6, 7, 8, 9, 16, 25, 36, 49, 64)


def describe(path: str, slow_pass: bool = True) -> dict[str, Any]:
    import pedalboard

    if not slow_pass:
        from pedalboard import _pedalboard

        # The sweep calls this module-level helper by name; forcing its fast path makes the
        # "slow" retry a plain repeat, so no parameter is set during the description.
        sweep = _pedalboard.get_text_for_raw_value
        _pedalboard.get_text_for_raw_value = lambda p, raw, slow=False: sweep(p, raw)

    try:
        names = list(pedalboard.VST3Plugin.get_plugin_names_for_file(path))
    except ImportError as error:
        return {"error": str(error)}
    try:
        plugin = pedalboard.load_plugin(path)
    except (ImportError, ValueError, RuntimeError) as error:  # pedalboard refuses the plugin.
        return {"names": names, "error": str(error)}
    described = {
        "names": names,
        "name": plugin.name,
        "vendor": plugin.manufacturer_name,
        "version": plugin.version,
        "category": plugin.category,
        "identifier": plugin.identifier,
        "is_instrument": plugin.is_instrument,
        "is_effect": plugin.is_effect,
        "parameters": [
            {
                "key": key,
                "name": p.name,
                "min": p.min_value,
                "max": p.max_value,
                "step": p.step_size,
                "text": p.string_value,
                "units": p.label or None,
                "type": p.type.__name__,
                "values": list(p.valid_values) if p.type is str else None,
            }
            for key, p in plugin.parameters.items()
        ],
    }
    return {**described, "hosted": hosted(plugin), **ready_to_insert(plugin)}


def hosted(plugin: Any) -> list[dict[str, Any]]:
    """Every parameter as the host (JUCE) lists it: unlike ``parameters``, no name is merged."""
    return [
        {
            "name": p.name,
            "label": p.label,
            "text": p.string_value,
            "raw": p.raw_value,
            "default_raw": p.default_raw_value,
            "automatable": p.is_automatable,
            "boolean": p.is_boolean,
            "steps": p.num_steps,
        }
        for p in plugin._parameters
    ]


def accepted_channels(plugin: Any, counts: tuple[int, ...] = CHANNEL_COUNTS) -> list[int]:
    """The ``counts`` pedalboard lets ``plugin`` process (an instrument: render from MIDI)."""
    import numpy as np

    channels = []
    for count in counts:
        try:
            if plugin.is_instrument:  # Renders from MIDI; takes no audio in.
                plugin([], duration=0.01, sample_rate=48_000, num_channels=count)
            else:
                plugin.process(np.zeros((count, 64), dtype=np.float32), 48_000)
        except Exception:
            continue
        channels.append(count)
    return channels


def ready_to_insert(plugin: Any) -> dict[str, Any]:
    """The probe's insert facts, found here the plain way: ask pedalboard, catch what it refuses."""
    import numpy as np

    channels = accepted_channels(plugin)
    finite = None
    if channels and not plugin.is_instrument:
        noise = np.random.default_rng(1).uniform(-0.5, 0.5, (channels[0], 4800))
        finite = bool(np.isfinite(plugin.process(noise.astype(np.float32), 48_000)).all())
    return {
        "channels": channels,
        "finite": finite,
        "latency": plugin.reported_latency_samples,
        "state_size": len(plugin.raw_state),
        "samples": {
            key: [p.get_text_for_raw_value(raw) for raw in (0.0, 0.25, 0.5, 0.75, 1.0)]
            for key, p in plugin.parameters.items()
        },
    }


def run_oracle(bundles: list[Path], slow_pass: bool = True) -> dict[str, dict[str, Any]]:
    """What pedalboard says of each bundle, computed in a separate process."""
    flags = [] if slow_pass else ["--no-slow-pass"]
    done = subprocess.run(
        [sys.executable, __file__, *flags, *map(str, bundles)],
        capture_output=True,
        text=True,
        check=True,
        timeout=300,
    )
    return dict(json.loads(done.stdout))


if __name__ == "__main__":
    import os

    # Plugins print to stdout from native code; keep our JSON on a private copy of it.
    out = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)
    arguments = sys.argv[1:]
    slow = "--no-slow-pass" not in arguments
    paths = [argument for argument in arguments if argument != "--no-slow-pass"]
    json.dump({path: describe(path, slow) for path in paths}, out)
    out.flush()
