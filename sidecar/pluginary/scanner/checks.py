"""Child side: what a host must know before it inserts a plugin, measured on the loaded plugin.

Runs in the probe process only (imports nothing of pluginary). Each check is plain data out:
the channel counts ``process()`` accepts, the reported latency, a short audio check (does it
produce finite, non-silent output?), whether its state round-trips, and per-parameter range
problems and display-text samples.
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Callable
from typing import Any

# models.CHANNEL_COUNTS, which this child-side module cannot import (a test keeps them equal).
CHANNEL_COUNTS = (1, 2, 3, 4, 5, 6, 7, 8, 9, 16, 25, 36, 49, 64)
SAMPLE_RATE = 48_000
CHECK_FRAMES = 4_800  # 100 ms at 48 kHz.
SILENCE = 1e-6  # -120 dBFS: quieter than any real output.
SAMPLE_POINTS = (0.0, 0.25, 0.5, 0.75, 1.0)
# JUCE reports 0x7fffffff steps for a continuous parameter; that is "continuous", not suspect.
CONTINUOUS_STEPS = 0x7FFFFFFF
SUSPECT_STEPS = 1_000_000


# pedalboard processes as many channels out as in: a plugin whose main buses differ (mono in,
# stereo out) is refused at load with these words, which read like a fact about channels.
_LAYOUT_REFUSED = re.compile(
    r"does not support \d+-channel output\. \(Main bus currently expects (\d+) input"
    r" channels? and (\d+) output channels?\.\)"
)


def unhostable_layout(message: str) -> dict[str, int] | None:
    """The main buses' channel counts, when ``message`` is pedalboard refusing them."""
    found = _LAYOUT_REFUSED.search(message)
    if found is None:
        return None
    inputs, outputs = int(found[1]), int(found[2])
    return {"inputs": inputs, "outputs": outputs} if inputs != outputs else None


def layout_error(layout: dict[str, int]) -> str:
    """What a refused layout is: pedalboard's limit, not the plugin's channels."""
    return (
        f"pedalboard cannot host its bus layout: its main buses have {_channels(layout['inputs'])}"
        f" in and {_channels(layout['outputs'])} out, and pedalboard processes as many channels"
        " out as in"
    )


def _channels(count: int) -> str:
    return f"{count} channel{'' if count == 1 else 's'}"


def supported_channels(
    plugin: Any,
    instrument: bool = False,
    trying: Callable[[int], None] = lambda count: None,
    counts: tuple[int, ...] = CHANNEL_COUNTS,
    first_only: bool = False,
) -> list[int]:
    """The channel counts among ``counts`` for which ``process()`` accepts a buffer (with
    ``first_only``, up to the first it accepts).

    An instrument takes no audio in (pedalboard refuses any input buffer): what counts is how
    many channels it renders from MIDI, so it is asked for that many instead. ``trying`` is told
    each count before it is tried (a hang then says which).
    """
    import numpy as np

    accepted: list[int] = []
    for count in counts:
        if first_only and accepted:
            break
        trying(count)
        try:
            if instrument:
                plugin([], duration=64 / SAMPLE_RATE, sample_rate=SAMPLE_RATE, num_channels=count)
            else:
                plugin.process(np.zeros((count, 64), dtype=np.float32), SAMPLE_RATE)
        except Exception:  # pedalboard's "does not support N-channel output", or any refusal.
            continue
        accepted.append(count)
    return accepted


def audio_check(plugin: Any, channels: list[int], instrument: bool) -> dict[str, Any]:
    """Process 100 ms of noise (a MIDI note for an instrument); judge the output."""
    import numpy as np

    result: dict[str, Any] = {"ok": False, "peak": None, "non_finite": False, "silent": None}
    if not channels:
        result["error"] = "accepts no buffer of 1 to 8, 9, 16, 25, 36, 49 or 64 channels"
        return result
    count = channels[0]
    try:
        plugin.reset()
        if instrument:
            note = [([0x90, 60, 100], 0.0), ([0x80, 60, 0], 0.05)]
            output = plugin(
                note,
                duration=CHECK_FRAMES / SAMPLE_RATE,
                sample_rate=SAMPLE_RATE,
                num_channels=count,
            )
        else:
            output = plugin.process(noise_burst()[:count], SAMPLE_RATE)
    except Exception as error:
        result["error"] = str(error) or type(error).__name__
        return result
    finite = np.isfinite(output)
    result["non_finite"] = not bool(finite.all())
    peak = float(np.abs(output[finite]).max()) if finite.any() else 0.0
    result["peak"] = round(peak, 9)
    result["silent"] = peak < SILENCE
    result["ok"] = not result["non_finite"]
    return result


@functools.cache
def noise_burst() -> Any:
    """100 ms of seeded uniform noise at -6 dBFS, one row per channel (up to 64), float32.

    Made once: the fork server makes it before forking, so no probe pays for numpy.random.
    """
    import numpy as np

    noise = np.random.default_rng(0).uniform(-0.5, 0.5, (max(CHANNEL_COUNTS), CHECK_FRAMES))
    return noise.astype(np.float32)


def state_check(plugin: Any) -> dict[str, Any]:
    """Whether ``raw_state`` can be read and written back, and its size in bytes."""
    result: dict[str, Any] = {"readable": False, "writable": False, "size": None}
    try:
        state = plugin.raw_state
    except Exception as error:
        result["error"] = str(error) or type(error).__name__
        return result
    result["readable"] = True
    result["size"] = len(state)
    try:
        # The native property itself: pedalboard's Python __setattr__ would first re-sweep every
        # parameter's range (hundreds of ms) before it even looks at the attribute's name.
        _native_property(plugin, "raw_state").__set__(plugin, state)
    except Exception as error:
        result["error"] = str(error) or type(error).__name__
        return result
    result["writable"] = True
    return result


def _native_property(plugin: Any, name: str) -> Any:
    for klass in type(plugin).__mro__:
        if name in vars(klass):
            return vars(klass)[name]
    raise AttributeError(name)


def range_problem(parameter: Any, num_steps: int) -> str | None:
    """``degenerate``, ``unbounded``, ``suspectSteps`` or None, for one pedalboard parameter
    of ``num_steps`` native steps."""
    if parameter.type is float:
        low, high = parameter.min_value, parameter.max_value
        if low is None or high is None or not (math.isfinite(low) and math.isfinite(high)):
            return "unbounded"
        if low == high:
            return "degenerate"
    if SUSPECT_STEPS < num_steps != CONTINUOUS_STEPS:
        return "suspectSteps"
    return None


def text_samples(parameter: Any, native: Any) -> list[dict[str, Any]]:
    """The display text at raw 0, 0.25, 0.5, 0.75 and 1 (read from ``native``, the parameter
    pedalboard's wrapper ``parameter`` stands for), with the value pedalboard reads."""
    samples = []
    strip = _float_suffix_stripper() if parameter.type is float else None
    for raw in SAMPLE_POINTS:
        try:
            text = native.get_text_for_raw_value(raw)
        except Exception:
            text = None
        samples.append({"raw": raw, "value": _value_of(parameter, text, strip), "text": text})
    return samples


def _value_of(parameter: Any, text: str | None, strip: Callable[[str], Any] | None) -> Any:
    """The value in the parameter's own terms (pedalboard's ranges), where it has one; a number
    read through ``strip`` (pedalboard's ``strip_common_float_suffixes``)."""
    if text is None:
        return None
    if parameter.type is float:
        if strip is None:
            return None
        try:
            value = float(strip(text))
        except ValueError:
            return None
        return value if math.isfinite(value) else None
    if parameter.type is bool:
        return text.strip().lower() in ("on", "yes", "true", "enabled")
    return text


def _float_suffix_stripper() -> Callable[[str], Any] | None:
    """pedalboard's own text-to-number helper (the one its ranges come from), as it is now: the
    fast describer memoises it in place. None on a pedalboard without it."""
    try:
        from pedalboard import _pedalboard
    except ImportError:
        return None
    strip: Callable[[str], Any] | None = getattr(_pedalboard, "strip_common_float_suffixes", None)
    return strip
