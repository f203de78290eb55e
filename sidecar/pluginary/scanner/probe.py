"""The child side of a probe: load one bundle's plugins with pedalboard and report what they are.

This module runs inside the disposable probe process, the only place a plugin is ever loaded.
It imports nothing of pluginary but its sibling child-side modules ``checks``, ``loadable``,
``linkage``, ``describer`` and ``bundles``
(the parent and the child share only the record format below), so a plugin that corrupts this
process can damage nothing but its own report.

Reports are JSON lines written with plain ``os.write`` to a result file descriptor, one event at
a time, so that a crash halfway through a multi-plugin bundle still leaves every finished class
on disk:

- ``{"event": "classes", "names": [...]}`` once the bundle's classes are known;
- ``{"event": "begin", "class": name, "output_at": N}`` before a class is loaded (a crash after
  it blames it); ``output_at`` is the probe's output file offset then (the class's output starts
  there: the parent slices each class's own output tail), null when it cannot be told;
  ``elapsed_ms`` is the probe's time until then (a class that ends its probe is charged the
  rest, not the classes before it);
- ``{"event": "describing", "class": name, "done": N, "total": M}`` while its parameters are
  described (N of M swept in the current pass; at most every quarter second), so that a probe
  killed for its time can say how far it got;
- ``{"event": "result", "class": name, "status": "ok"|"failed", ...}`` when a class is loaded
  (an ``ok`` one says which ``describer`` described it: ``"fast"`` or ``"pedalboard"``);
- ``{"event": "processing", "class": name, "step": S}`` before each step of the checks on a
  loaded plugin (a crash or hang after it is a failure to process, not to load): ``S`` is
  ``"channels"`` (finding the channel counts it accepts: one event per count tried, with
  ``"channels": N``), ``"audio"`` (the audio check and its latency), ``"state"`` (the state
  round trip);
- ``{"event": "checked", "class": name, "facts": {...}}`` with what processing showed: first
  with the lowest channel count it accepts, then again once every higher count was tried
  (those tries are ``channels`` steps carrying ``"accepted": [...]``, the counts so far);
- ``{"event": "unloading", "class": name}`` before the plugin is destroyed (a crash after it is
  the plugin failing to unload);
- ``{"event": "done"}`` last: a probe that ends without it did not finish, whatever its status.

A write to the result file that fails for a reason of the disk's (full, read-only, I/O error)
ends the probe with ``RESULT_UNWRITABLE``: that is the scanner's failure, not the plugin's.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import functools
import json
import math
import os
import sys
import time
import traceback
from collections.abc import Callable
from typing import Any

from pluginary.scanner.bundles import binary_path, load_path, missing_binary
from pluginary.scanner.checks import (
    CHANNEL_COUNTS,
    CONTINUOUS_STEPS,
    audio_check,
    layout_error,
    noise_burst,
    range_problem,
    state_check,
    supported_channels,
    text_samples,
    unhostable_layout,
)
from pluginary.scanner.describer import Describer, choose, describer_for
from pluginary.scanner.hotspots import native_parameter
from pluginary.scanner.linkage import unmet_dependencies
from pluginary.scanner.loadable import Unloadable, loadable_path
from pluginary.scanner.versions import readable_version

# Enumerations longer than this are cut; a host cannot show thousands of choices anyway.
MAX_ENUM_VALUES = 256
# The probe's exit status when its result could not be written for the disk's reasons (EX_TEMPFAIL).
RESULT_UNWRITABLE = 75
# Its exit status when its own code raised (EX_SOFTWARE): a plugin broke something under it.
PROBE_FAILED = 70
_DISK_ERRORS = {errno.ENOSPC, errno.EDQUOT, errno.EIO, errno.EROFS}


class ResultUnwritable(Exception):
    """The result file cannot be written because of the disk (never because of the plugin)."""


def probe_bundle(
    bundle: str,
    class_names: list[str] | None,
    result_fd: int,
    skip: list[str] | None = None,
    format: str = "vst3",
    audio: bool = True,
    split: bool = False,
) -> None:
    """Probe each class of ``bundle`` (or only ``class_names``), writing events to ``result_fd``.

    Classes named in ``skip`` (the user's ignore list) are never loaded. With ``audio``, each
    loaded plugin is also made to process a little audio (see ``checks.py``). With ``split``, a
    bundle found to hold several classes has them all listed but only the first probed: the
    scanner gives the others to other probes, in parallel.
    """
    probe_started = time.perf_counter()
    import pedalboard

    def emit(event: dict[str, Any]) -> None:
        data = (json.dumps(event, allow_nan=False, default=str) + "\n").encode()
        try:
            while data:
                data = data[os.write(result_fd, data) :]
        except OSError as error:
            if error.errno in _DISK_ERRORS:
                raise ResultUnwritable(str(error)) from error
            raise  # EBADF and the like: the plugin broke our descriptor.

    try:  # A name that is not UTF-8 is loaded through a shadow; an unreadable bundle says why.
        bundle = loadable_path(bundle, result_fd)
    except Unloadable as error:
        emit({"event": "result", "class": None, "status": "failed", "error": str(error)})
        emit({"event": "done"})
        return
    target = load_path(bundle)  # A Windows bundle's DLL; the bundle itself elsewhere.

    if class_names is None:
        started = time.perf_counter()
        try:
            plugin_class = pedalboard.AudioUnitPlugin if format == "au" else pedalboard.VST3Plugin
            class_names = list(plugin_class.get_plugin_names_for_file(target))
        except Exception as error:  # Any failure to enumerate is this bundle's outcome.
            emit(_failure(None, error, bundle, started))
            emit({"event": "done"})
            return
    if skip:
        class_names = [name for name in class_names if name not in skip]
    emit({"event": "classes", "names": class_names})
    if split:
        class_names = class_names[:1]
    describer = describer_for(pedalboard, choose(pedalboard))
    for name in class_names:
        elapsed = _ms(time.perf_counter() - probe_started)
        emit({"event": "begin", "class": name, "output_at": output_offset(), "elapsed_ms": elapsed})
        describer.progress = _progress(emit, name)
        started = time.perf_counter()
        try:
            plugin, record, probe_ms = load_described(describer, target, name, started)
        except Exception as error:
            emit(_failure(name, error, bundle, started))
            continue
        described = time.perf_counter()
        emit(
            {
                "event": "result",
                "class": name,
                "status": "ok",
                "plugin": record,
                "probe_ms": probe_ms,
                "describer": describer.kind,
            }
        )
        if audio:
            # From here on a crash or hang is the plugin failing to process, not to load.
            instrument, step = bool(record["is_instrument"]), _steps(emit, name)
            facts = check_plugin(plugin, instrument, step)
            facts["audio_ms"] = _ms(time.perf_counter() - described)
            emit({"event": "checked", "class": name, "facts": facts})
            # The other channel counts last: a plugin that breaks on one (some crash once a
            # count was refused) keeps its audio, latency and state facts, and the counts so far.
            facts["channels"] = more_channels(plugin, instrument, facts["channels"], step)
            facts["audio_ms"] = _ms(time.perf_counter() - described)
            emit({"event": "checked", "class": name, "facts": facts})
        emit({"event": "unloading", "class": name})
        del plugin
    emit({"event": "done"})


def warm_up() -> None:
    """What every probe of a long-lived process (the fork server, a pool worker) would do first,
    done once in it: pedalboard imported, the audio check's noise made (numpy.random costs a
    probe 10 ms), the describer set up (its hooks in, pedalboard's constructor recompiled: 17
    ms). numpy's BLAS is kept to one thread: forking is only safe single-threaded."""
    for variable in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(variable, "1")
    import pedalboard

    noise_burst()
    describer_for(pedalboard, choose(pedalboard))


def run_request(request: dict[str, Any], result_fd: int) -> int:
    """Probe what a launcher's request names (the fork server's and the pool's alike), writing
    events to ``result_fd``; the probe's exit code: 0, ``RESULT_UNWRITABLE`` when the disk
    refused its result, ``PROBE_FAILED`` when a plugin broke our code under it."""
    try:
        probe_bundle(
            request["bundle"],
            request.get("classes"),
            result_fd,
            request.get("skip") or [],
            format=request.get("format", "vst3"),
            audio=request.get("audio", True),
            split=bool(request.get("split")) and request.get("classes") is None,
        )
    except ResultUnwritable:
        return RESULT_UNWRITABLE  # Our disk, not the plugin: the scanner checks and says so.
    except Exception:
        with contextlib.suppress(Exception):
            traceback.print_exc()
            sys.stderr.flush()
        return PROBE_FAILED
    return 0


def check_plugin(
    plugin: Any, instrument: bool, step: Callable[..., None] = lambda name, **detail: None
) -> dict[str, Any]:
    """What a host must know before inserting the plugin: its first channel count, latency,
    audio, state (:func:`more_channels` finds the other counts).

    ``step`` is told each step before it runs, so that a hang says which one it was.
    """
    channels = supported_channels(
        plugin, instrument, lambda count: step("channels", channels=count), first_only=True
    )
    step("audio")
    audio = audio_check(plugin, channels, instrument)
    # Read after processing: many plugins settle their latency when first prepared.
    latency = int(plugin.reported_latency_samples)
    step("state")
    return {
        "channels": channels,
        "audio_check": audio,
        "latency_samples": latency,
        "state": state_check(plugin),
    }


def more_channels(
    plugin: Any, instrument: bool, found: list[int], step: Callable[..., None]
) -> list[int]:
    """``found`` (the first accepted count, if any) and every higher count ``process()`` takes;
    ``step`` is told each count before it is tried, with those accepted so far."""
    accepted = list(found)
    if not found:
        return accepted  # Every count was tried already.

    def trying(count: int) -> None:
        step("channels", channels=count, accepted=list(accepted))

    higher = tuple(count for count in CHANNEL_COUNTS if count > found[-1])
    for count in higher:
        accepted += supported_channels(plugin, instrument, trying, counts=(count,))
    return accepted


def _steps(emit: Callable[[dict[str, Any]], None], name: str) -> Callable[..., None]:
    def step(kind: str, **detail: Any) -> None:
        emit({"event": "processing", "class": name, "step": kind, **detail})

    return step


def output_offset() -> int | None:
    """Where the probe's output file is now, everything printed so far flushed into it.

    Descriptors 1 and 2 share one open file (one offset): C code writing to them directly is
    there already; Python's and C stdio's buffers are flushed first so that what a class printed
    lands before the next class's mark, not after it.
    """
    with contextlib.suppress(Exception):
        sys.stdout.flush()
        sys.stderr.flush()
    _flush_c_stdio()
    try:
        return os.lseek(1, 0, os.SEEK_CUR)
    except OSError:
        return None  # Not a file (a pipe, a closed descriptor): the output stays per probe.


def _flush_c_stdio() -> None:
    # fflush(NULL) flushes every C stdio stream of the process (a plugin's printf included).
    with contextlib.suppress(Exception):
        _c_library().fflush(None)


@functools.cache
def _c_library() -> Any:
    if sys.platform == "win32":
        return ctypes.cdll.msvcrt  # The C runtime's stdio; a plugin's own runtime may differ.
    return ctypes.CDLL(None)


def load_described(
    describer: Describer, target: str, name: str, started: float
) -> tuple[Any, dict[str, Any], dict[str, Any]]:
    """Load class ``name`` of ``target`` and describe it: the plugin, its record, ``probe_ms``."""
    with describer.uncollected():
        plugin = describer.load(target, name)
        loaded = time.perf_counter()
        with describer.describing(plugin):
            record = describe_plugin(plugin)
        described = time.perf_counter()
    # The constructor's own sweep is describing, not loading.
    swept = describer.swept
    probe_ms = {
        "load": _ms(loaded - started - swept),
        "parameters": _ms(described - loaded + swept),
        "audio": None,
    }
    return plugin, record, probe_ms


def _progress(emit: Callable[[dict[str, Any]], None], name: str) -> Callable[[int, int], None]:
    """How far describing got, for a timeout's message; a write that fails is only skipped (the
    next event's write says why), never raised inside pedalboard's constructor."""

    def report(done: int, total: int) -> None:
        with contextlib.suppress(Exception):
            emit({"event": "describing", "class": name, "done": done, "total": total})

    return report


def _ms(seconds: float) -> float:
    return round(seconds * 1000, 3)


def describe_plugin(plugin: Any) -> dict[str, Any]:
    """The catalogue's view of a loaded pedalboard plugin: identity plus every parameter."""
    import pedalboard

    vst3 = isinstance(plugin, pedalboard.VST3Plugin)
    return {
        "name": plugin.name,
        "vendor": plugin.manufacturer_name or None,
        "version": readable_version(plugin.version) or None,
        "category": plugin.category or None,
        "is_effect": bool(plugin.is_effect),
        "is_instrument": bool(plugin.is_instrument),
        "identifier": plugin.identifier,
        "descriptive_name": plugin.descriptive_name or None,
        "parameters": [
            describe_parameter(key, parameter, vst3) for key, parameter in plugin.parameters.items()
        ],
    }


def describe_parameter(key: str, parameter: Any, vst3: bool = True) -> dict[str, Any]:
    """One parameter as pedalboard's wrapper understands it, plus the raw VST3 facts.

    ``discrete`` is JUCE's own definition, worked out from the step count: pedalboard's patched
    VST3 format computes ``is_discrete`` before it reads the step count, so it says true for
    every VST3 parameter (issue 15). Audio Units report theirs properly.
    """
    # Its native facts read once from the native parameter, not each through the wrapper.
    native = native_parameter(parameter)
    num_steps = int(native.num_steps)
    kind = {float: "float", bool: "bool", str: "str"}.get(parameter.type, "str")
    values: list[Any] | None = None
    truncated = False
    if kind in ("str", "bool"):
        all_values = [_jsonable(v) for v in parameter.valid_values]
        values = all_values[:MAX_ENUM_VALUES]
        truncated = len(all_values) > MAX_ENUM_VALUES
    return {
        "index": native.index,
        "name": native.name,
        "key": key,
        "units": parameter.label or None,
        "type": kind,
        "min": _jsonable(parameter.min_value),
        "max": _jsonable(parameter.max_value),
        "step": _jsonable(parameter.step_size),
        "approximate_step": _jsonable(parameter.approximate_step_size),
        "default_raw": _jsonable(native.raw_value),
        "default_text": native.string_value,
        "plugin_default_raw": _jsonable(native.default_raw_value),
        "boolean": bool(native.is_boolean),
        "discrete": num_steps != CONTINUOUS_STEPS if vst3 else bool(native.is_discrete),
        "num_steps": num_steps,
        "automatable": bool(native.is_automatable),
        "values": values,
        "values_truncated": truncated,
        "range_problem": range_problem(parameter, num_steps),
        "samples": text_samples(parameter, native),
    }


def _jsonable(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):  # NaN and inf have no JSON form.
        return None
    if isinstance(value, bool | int | float | str) or value is None:
        return value
    return str(value)


def _failure(name: str | None, error: BaseException, bundle: str, started: float) -> dict[str, Any]:
    message = str(error) or type(error).__name__
    failure: dict[str, Any] = {
        "event": "result",
        "class": name,
        "status": "failed",
        "error": message,
        "error_type": type(error).__name__,
        "load_ms": round((time.perf_counter() - started) * 1000, 3),
    }
    layout = unhostable_layout(message)
    if layout is None:
        failure["diagnosis"] = diagnose_binary(bundle)
    else:  # The binary loaded: pedalboard refused its buses. Its own words are the diagnosis.
        failure.update(error=layout_error(layout), diagnosis=f"pedalboard: {message}")
        failure["bus_layout"] = layout
    return failure


def diagnose_binary(bundle: str) -> str | None:
    """Why a bundle's binary will not load: missing, or what the dynamic linker says.

    pedalboard says only "unsupported plugin format or scan failure"; a bundle without a binary
    for this OS and architecture says what it holds instead, and dlopen (LoadLibrary) names a
    missing library or an old libc: the first one only, so where the OS can list every unmet
    dependency (``linkage.py``) they are all named before its words. Returns None when the
    binary loads fine, or there is none.
    """
    binary = binary_path(bundle)
    if binary is None:
        return missing_binary(bundle)
    try:
        ctypes.CDLL(binary)
    except OSError as error:
        unmet = unmet_dependencies(binary)
        if not unmet:
            return str(error)
        count = f"{len(unmet)} unmet dependencies" if len(unmet) > 1 else "an unmet dependency"
        return f"{count}: {', '.join(unmet)}; the dynamic linker said: {error}"
    return None
