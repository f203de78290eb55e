"""The oracle: pedalboard itself, loading each plugin in-process, in a fresh Python process.

A fresh process matters: a plugin's shared object keeps static state between loads in one
process (DPF's "Buffer Size" parameter remembers the last host block size), so an oracle that
shares the test process would disagree with a probe for reasons that are not the probe's.

It asks what a host asks, in a host's order: the classes, then the plugin loaded and described
(every parameter, and each one's text at five raw values), then the lowest channel count
``process()`` accepts, 100 ms of noise at it, the latency, the state, then the higher counts,
and last the plugin destroyed. It says what it is doing before each step (``doing``), so a
plugin that kills pedalboard or hangs it is an answer too: what it learnt until then, and
``crashed`` (the signal) or ``timeout`` (the step's limit) with the step it was on.

Run as a script: ``python oracle.py [--no-slow-pass] [--class NAME | --names] BUNDLE...``
prints JSON lines ``{"path": BUNDLE, ...}``, each adding to that bundle's answer.
``--no-slow-pass`` makes pedalboard's parameter sweep skip its slow pass (set, read, restore
each value), to show what that pass changes (``test_dpf_edge_controls.py``). ``--class`` loads
that class of a bundle of many (without listing them: pedalboard lists them again to load one);
``--names`` only lists the classes.
"""

from __future__ import annotations

import json
import queue
import signal
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

# What a host could ask of a plugin: every count to 7.1, and full-sphere Ambisonics orders 2-7.
CHANNEL_COUNTS = (1, 2, 3, 4, 5, 6, 7, 8, 9, 16, 25, 36, 49, 64)
# Each step's time limit in seconds, a safety net: listing and loading (pedalboard's own
# parameter sweep takes about a minute for LSP's samplers), and each step after it.
LOADING_LIMIT = 300.0
STEP_LIMIT = 60.0

Tell = Callable[..., None]


def describe(
    path: str,
    slow_pass: bool = True,
    plugin_name: str | None = None,
    tell: Tell | None = None,
    names_only: bool = False,
) -> dict[str, Any]:
    """What pedalboard says of ``path`` (its class ``plugin_name``, else its only one); each
    part is told to ``tell`` as soon as it is known."""
    import pedalboard

    answer: dict[str, Any] = {}

    def add(**part: Any) -> None:
        answer.update(part)
        if tell is not None:
            tell(**part)

    if not slow_pass:
        from pedalboard import _pedalboard

        # The sweep calls this module-level helper by name; forcing its fast path makes the
        # "slow" retry a plain repeat, so no parameter is set during the description.
        sweep = _pedalboard.get_text_for_raw_value
        _pedalboard.get_text_for_raw_value = lambda p, raw, slow=False: sweep(p, raw)

    add(doing="listing")
    if plugin_name is None:
        try:
            add(names=list(pedalboard.VST3Plugin.get_plugin_names_for_file(path)))
        except ImportError as error:
            add(error=str(error), done=True)
            return answer
        if names_only:
            add(done=True)
            return answer
    add(doing="loading", **({} if plugin_name is None else {"class": plugin_name}))
    try:
        plugin = pedalboard.load_plugin(path, plugin_name=plugin_name)
    except (ImportError, ValueError, RuntimeError) as error:  # pedalboard refuses the plugin.
        add(error=str(error), done=True)
        return answer
    add(**identity(plugin))
    ready_to_insert(plugin, add)
    add(doing="unloading")
    del plugin
    add(doing=None, done=True)
    return answer


def identity(plugin: Any) -> dict[str, Any]:
    """The plugin and its parameters, as pedalboard describes them once loaded."""
    return {
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
        "hosted": hosted(plugin),
        "samples": {
            key: [p.get_text_for_raw_value(raw) for raw in (0.0, 0.25, 0.5, 0.75, 1.0)]
            for key, p in plugin.parameters.items()
        },
    }


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


def accepted_channels(
    plugin: Any,
    counts: tuple[int, ...] = CHANNEL_COUNTS,
    trying: Callable[[int], None] = lambda count: None,
    first_only: bool = False,
) -> list[int]:
    """The ``counts`` pedalboard lets ``plugin`` process (an instrument: render from MIDI);
    with ``first_only``, up to the first it lets it. ``trying`` is told each count first."""
    import numpy as np

    channels: list[int] = []
    for count in counts:
        if first_only and channels:
            break
        trying(count)
        try:
            if plugin.is_instrument:  # Renders from MIDI; takes no audio in.
                plugin([], duration=0.01, sample_rate=48_000, num_channels=count)
            else:
                plugin.process(np.zeros((count, 64), dtype=np.float32), 48_000)
        except Exception:
            continue
        channels.append(count)
    return channels


def ready_to_insert(plugin: Any, add: Tell) -> None:
    """The probe's insert facts, found here the plain way: ask pedalboard, catch what it refuses.

    In a host's order: the lowest count it accepts, the audio and latency there, the state, and
    only then the higher counts (some plugins crash on one: what came before is kept).
    """
    import numpy as np

    def trying(count: int) -> None:
        add(doing="channels", trying=count, accepted=[])

    channels = accepted_channels(plugin, trying=trying, first_only=True)
    add(doing="audio")
    finite = None
    if channels and not plugin.is_instrument:
        noise = np.random.default_rng(1).uniform(-0.5, 0.5, (channels[0], 4800))
        finite = bool(np.isfinite(plugin.process(noise.astype(np.float32), 48_000)).all())
    add(finite=finite, latency=plugin.reported_latency_samples)
    add(doing="state")
    add(state_size=len(plugin.raw_state))
    if channels:
        higher = tuple(count for count in CHANNEL_COUNTS if count > channels[-1])
        for count in higher:
            add(doing="channels", trying=count, accepted=list(channels))
            channels += accepted_channels(plugin, (count,))
    add(channels=channels)


def run_oracle(bundles: list[Path], slow_pass: bool = True) -> dict[str, dict[str, Any]]:
    """What pedalboard says of each bundle (its only class), computed in a separate process;
    a bundle that ended it early is answered ``crashed`` or ``timeout`` (``oracle_script``)."""
    return oracle_script([*([] if slow_pass else ["--no-slow-pass"]), *map(str, bundles)])


def run_oracle_class(bundle: Path, class_name: str) -> dict[str, Any]:
    """What pedalboard says of class ``class_name`` of ``bundle``, in a fresh process."""
    return oracle_script(["--class", class_name, str(bundle)])[str(bundle)]


def list_classes(bundle: Path) -> list[str]:
    """The classes pedalboard lists in ``bundle``, in a fresh process."""
    return list(oracle_script(["--names", str(bundle)])[str(bundle)]["names"])


def oracle_script(
    arguments: list[str], loading_limit: float = LOADING_LIMIT, step_limit: float = STEP_LIMIT
) -> dict[str, dict[str, Any]]:
    """Run this file on ``arguments``; each bundle's answer put together from its lines.

    Each step must end within its limit (``loading_limit`` to list and load, ``step_limit``
    after); a process that stops early (a signal, an exit) or overruns a step is ended, and the
    bundle it was on is answered ``crashed`` (the signal's name, or the exit status) or
    ``timeout`` (the limit), keeping the step it was on (``doing``, ``trying``, ``accepted``).
    """
    process = subprocess.Popen(
        [sys.executable, __file__, *arguments],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert process.stdout is not None
    lines: queue.Queue[str] = queue.Queue()

    def read(stream: Any) -> None:
        for line in stream:
            lines.put(line)
        lines.put("")  # End of output.

    threading.Thread(target=read, args=(process.stdout,), daemon=True).start()
    answers: dict[str, dict[str, Any]] = {}
    current: dict[str, Any] | None = None
    timed_out: float | None = None
    while True:
        step = current.get("doing") if current else None
        limit = step_limit if step in ("channels", "audio", "state", "unloading") else loading_limit
        try:
            line = lines.get(timeout=limit)
        except queue.Empty:
            timed_out = limit
            process.kill()
            break
        if not line:
            break
        part = json.loads(line)
        current = answers.setdefault(part.pop("path"), {})
        current.update(part)
    status = process.wait()
    if current is not None and not current.get("done"):
        if timed_out is not None:
            current["timeout"] = timed_out
        elif status < 0:
            current["crashed"] = signal.Signals(-status).name
        else:
            current["crashed"] = f"exit status {status}"
    elif status != 0:
        raise RuntimeError(f"the oracle ended with status {status} after its answers")
    return answers


if __name__ == "__main__":
    import os

    # Plugins print to stdout from native code; keep our JSON on a private copy of it.
    out = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)
    arguments = sys.argv[1:]
    slow = "--no-slow-pass" not in arguments
    names_only = "--names" in arguments
    name = arguments[arguments.index("--class") + 1] if "--class" in arguments else None
    flags = {"--no-slow-pass", "--names", "--class", name}
    for path in [argument for argument in arguments if argument not in flags]:

        def tell(path: str = path, **part: Any) -> None:
            out.write(json.dumps({"path": path, **part}) + "\n")
            out.flush()

        describe(path, slow, name, tell, names_only)
