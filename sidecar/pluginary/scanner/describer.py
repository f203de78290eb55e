"""Child side: pedalboard's own parameter descriptions, exactly, without its quadratic costs.

pedalboard describes a parameter by sweeping its display text over 1,001 raw values (and, when
that looks wrong, again by setting each value, reading and restoring: the slow pass), twice per
load: inside the plugin's constructor, on a temporary wrapper then discarded, and again on the
first ``plugin.parameters``. Every wrapper read finds its native parameter by name with a linear
C++ scan. The fast describer keeps pedalboard's own Python code doing all the describing and
changes two things under it, in this disposable process only:

- name lookups (``_get_parameter``) come from a dict of the same "first parameter with that
  name", dropped whenever a slow pass sets a value (that may rename parameters);
- ``plugin.parameters`` does not sweep a parameter again when the constructor's sweep of it
  still holds: its wrapper gets that sweep's findings. They hold when that sweep did not need
  the slow pass, no slow pass since left any parameter's name, raw value or text changed (the
  epoch, see ``_snapshot``), and the parameter's name, units and texts at a few raw values are
  what they were. Otherwise (``full_passes`` says why) pedalboard sweeps it again for real.

Within the constructor, pedalboard's per-value Python loops run as C-level ``map``s making the
same calls (``hotspots.py``), where pedalboard's source is the one proven.

The slow pass always runs for real, in pedalboard's order, so the plugin ends in exactly the
state pedalboard leaves it in. This rests on pedalboard's internals, so it is used only on a
pedalboard it was proven against; anything else (or ``PLUGINARY_DESCRIBER=pedalboard``) gets
pedalboard's own path, only timed and counted.
"""

from __future__ import annotations

import contextlib
import functools
import gc
import os
import time
from collections.abc import Callable, Iterator
from typing import Any

from pluginary.scanner import hotspots
from pluginary.scanner.hotspots import fast_parameter_finder, keeps_tails, rewritten_init

# The pedalboard versions whose internals the fast describer replays (see the oracle test).
PROVEN_VERSIONS = ("0.9.26",)
# "pedalboard" forces pedalboard's own path (the oracle test compares the two).
DESCRIBER_ENV = "PLUGINARY_DESCRIBER"
# The raw values re-read before a recorded sweep is trusted again (x of pedalboard's 0..1000).
SPOT_CHECKS = (0, 250, 500, 750, 1000)
# Progress is reported at most this often (seconds): it is for a timeout's message only.
PROGRESS_INTERVAL = 0.25

Progress = Callable[[int, int], None]


def choose(pedalboard: Any, forced: str | None = None) -> str:
    """``"fast"`` on a proven pedalboard with the internals it replays, else ``"pedalboard"``."""
    wanted = forced or os.environ.get(DESCRIBER_ENV) or "fast"
    if wanted == "pedalboard":
        return "pedalboard"
    version = getattr(getattr(pedalboard, "version", None), "__version__", None)
    internals = getattr(pedalboard, "_pedalboard", None)
    needed = (
        "AudioProcessorParameter",
        "get_text_for_raw_value",
        "_PythonExternalPluginMixin",
        "_AVAILABLE_PLUGIN_CLASSES",
    )
    if version not in PROVEN_VERSIONS or not all(hasattr(internals, n) for n in needed):
        return "pedalboard"
    return "fast"


_INSTANCE: list[Describer] = []


def describer_for(pedalboard: Any, kind: str) -> Describer:
    """This process's describer, set to ``kind`` (a pool worker probes bundle after bundle: its
    hooks go in once, or each probe would wrap the last one's)."""
    if not _INSTANCE or _INSTANCE[0].pedalboard is not pedalboard:
        _INSTANCE[:] = [Describer(pedalboard)]
    describer = _INSTANCE[0]
    describer.use(kind)
    return describer


class Describer:
    """pedalboard's parameter sweeps, hooked: timed, counted and (for ``kind == "fast"``)
    shortcut. Use ``load`` then ``describing`` around the reads; one per process."""

    def __init__(self, pedalboard: Any) -> None:
        self.kind = "pedalboard"
        self.progress: Progress | None = None
        self.swept = 0.0  # Seconds spent sweeping inside the constructor.
        # The parameters (index, why) the constructor's sweep could not serve: full pass.
        self.full_passes: list[tuple[int, str]] = []
        self.pedalboard = pedalboard
        self._internals: Any = getattr(pedalboard, "_pedalboard", None)
        self._phase: str | None = None  # "record" in the constructor, "replay" after it.
        self._in_constructor = False
        self._done = 0
        self._total = 0
        self._reported = 0.0
        self._natives_hooked = False
        self._names: dict[str, Any] | None = None
        self._epoch = 0
        # (name, index) -> what the constructor's sweep of that parameter found.
        self._memo: dict[tuple[str, int], _Recorded] = {}
        self._sweep: _Sweep | None = None
        # pedalboard's constructor as ``hotspots.rewritten_init`` compiles it (None: its own).
        self._fast_init: Callable[..., None] | None = None
        self._wrapper_init: Callable[..., None] | None = None  # pedalboard's own.
        self._fast_finder: Callable[[Any], Any] | None = None
        self._hook_sweeps()
        self._reset()

    def use(self, kind: str) -> None:
        """Describe with ``kind`` from the next ``load`` on (its hooks go in on first use)."""
        if kind == "fast" and not self._natives_hooked:
            self._hook_natives()
            self._natives_hooked = True
        self.kind = kind

    @property
    def hotspots(self) -> tuple[str, ...]:
        """Which of pedalboard's hot spots run rewritten (``hotspots.py``) for this kind."""
        if self.kind != "fast":
            return ()
        init = self._fast_init
        slow_read = getattr(self._internals, "get_text_for_raw_value", None)
        batched = hasattr(slow_read, hotspots.BATCH_ATTRIBUTE)
        rewritten = (
            ("first pass", init is not None),
            ("kept tails", init is not None and keeps_tails(init)),
            ("compiled sweep", init is not None and hotspots.COMPILED_SWEEP is not None),
            ("compiled slow reads", init is not None and batched),
            ("parameter finder", self._fast_finder is not None),
        )
        return tuple(name for name, used in rewritten if used)

    def load(self, target: str, name: str) -> Any:
        """``pedalboard.load_plugin`` by class name, its constructor's sweep timed in ``swept``."""
        self._reset()
        self.swept = 0.0
        self.full_passes = []
        self._in_constructor = True
        try:
            return self.pedalboard.load_plugin(target, plugin_name=name)
        finally:
            self._in_constructor = False
            self._phase = None

    @contextlib.contextmanager
    def describing(self, plugin: Any) -> Iterator[None]:
        """Around every read of ``plugin.parameters`` and its wrappers, right after ``load``."""
        self._phase = "replay" if self.kind == "fast" else None
        self._names = None
        try:
            yield
        finally:
            self._phase = None
            self._names = None
            self._memo = {}

    @contextlib.contextmanager
    def uncollected(self) -> Iterator[None]:
        """Python's cyclic garbage collector paused around a "fast" load and describe: the
        sweeps allocate hundreds of thousands of small containers, none of them cyclic garbage,
        and each 700 set off a collection (some of them over the whole heap)."""
        pause = self.kind == "fast" and gc.isenabled()
        if pause:
            gc.disable()
        try:
            yield
        finally:
            if pause:
                gc.enable()

    def _reset(self) -> None:
        self._names = None
        self._epoch = 0
        self._memo = {}
        self._sweep = None
        hotspots.TAILS.clear()  # Kept for one plugin's parameters; nothing outlives its load.

    def _hook_sweeps(self) -> None:
        """Count and time each parameter's sweep (both paths); for "fast", record or replay it."""
        internals = self._internals
        wrapper_class = getattr(internals, "AudioProcessorParameter", None)
        mixin = getattr(internals, "_PythonExternalPluginMixin", None)
        if wrapper_class is None or mixin is None:
            return  # pedalboard's internals moved: its path, untimed (all of it is "load").
        wrapper_init = self._wrapper_init = wrapper_class.__init__
        get_parameters = mixin._get_parameters
        describer = self

        def swept_init(self: Any, plugin: Any, parameter_name: str, *args: Any, **kw: Any) -> None:
            started = time.perf_counter()
            phase = describer._phase
            sweep = _Sweep(plugin)
            describer._sweep = sweep
            try:
                replay = phase == "replay" and not (args or kw)
                if replay and describer._replayed(self, plugin, parameter_name):
                    return
                init = describer._fast_init if describer.kind == "fast" else None
                (init or wrapper_init)(self, plugin, parameter_name, *args, **kw)
                if phase == "record" and not (args or kw):
                    describer._record(self, plugin, parameter_name, sweep.before is not None)
            finally:
                describer._sweep = None
                if sweep.before is not None:  # It set values: did it leave anything changed?
                    describer._names = None
                    if sweep.before != _snapshot(plugin):
                        describer._epoch += 1
                if describer._in_constructor:
                    describer.swept += time.perf_counter() - started
                describer._count()

        def counted_get_parameters(self: Any) -> Any:
            describer._done = 0
            describer._total = len(self._parameters)
            describer._reported = 0.0
            describer._count(force=True)
            return get_parameters(self)

        # This process is disposable; nobody else sees the patches.
        wrapper_class.__init__ = swept_init
        mixin._get_parameters = counted_get_parameters

    def _record(self, wrapper: Any, plugin: Any, name: str, slow: bool) -> None:
        """Keep what the constructor's sweep of ``name`` found, with what it depended on."""
        try:
            cpp_parameter = plugin._get_parameter(name)
            attributes = None if slow else dict(vars(wrapper))
            facts = () if slow else _facts(cpp_parameter)
            self._memo[(name, int(cpp_parameter.index))] = _Recorded(self._epoch, attributes, facts)
        except Exception:  # Whatever cannot be recorded gets the full pass.
            pass

    def _replayed(self, wrapper: Any, plugin: Any, name: str) -> bool:
        """Give ``wrapper`` the constructor's findings for ``name`` if they still hold: nothing
        visible changed since (same epoch), its name and units are the same, and its text at
        each spot-checked value is too. False (the full pass follows) otherwise."""
        index = -1
        try:
            cpp_parameter = plugin._get_parameter(name)
            if cpp_parameter is None:
                return False  # pedalboard's own error follows.
            index = int(cpp_parameter.index)
            # Taken, not read: its values go to this wrapper, and to no other.
            recorded = self._memo.pop((name, index), None)
            why = _why_not(recorded, self._epoch, cpp_parameter)
        except Exception:
            recorded, why = None, "unreadable"
        if why is not None or recorded is None or recorded.attributes is None:
            self.full_passes.append((index, why or "unreadable"))
            return False
        # The temporary wrapper it was recorded on is garbage (its plugin object was pedalboard's
        # constructor's own, now gone): its dicts and lists pass to this wrapper uncopied.
        attributes = recorded.attributes
        attributes[_PLUGIN_ATTRIBUTE] = plugin
        vars(wrapper).update(attributes)
        return True

    def _hook_natives(self) -> None:
        internals = self._internals
        initial_values = internals._PythonExternalPluginMixin.__set_initial_parameter_values__
        get_text = internals.get_text_for_raw_value
        describer = self

        def recorded_initial_values(self: Any, parameter_values: Any = None) -> Any:
            # Values to set would change state behind the recording's back: pedalboard's way.
            if not parameter_values and describer._in_constructor and describer.kind == "fast":
                describer._phase = "record"
            try:
                return initial_values(self, parameter_values)
            finally:
                describer._phase = None

        def text(cpp_parameter: Any, raw_value: float, slow: bool = False) -> Any:
            if not slow:  # pedalboard's own first-pass read, without a frame more.
                return cpp_parameter.get_text_for_raw_value(raw_value)
            describer._before_slow_read()
            return get_text(cpp_parameter, raw_value, slow)

        compiled = hotspots.COMPILED_SWEEP
        if compiled is not None and hotspots.proven_slow_read(get_text):

            def slow_reads(cpp_parameter: Any, raw_values: tuple[float, ...]) -> list[Any]:
                """``text(cpp_parameter, x, True)`` at each value: the first read's bookkeeping,
                then pedalboard's slow reads, compiled (the rest of the bookkeeping repeats)."""
                if not raw_values:
                    return []
                describer._before_slow_read()
                texts: list[Any] = compiled.slow_reads(cpp_parameter, raw_values)
                return texts

            setattr(text, hotspots.BATCH_ATTRIBUTE, slow_reads)

        internals._PythonExternalPluginMixin.__set_initial_parameter_values__ = (
            recorded_initial_values
        )
        internals.get_text_for_raw_value = text
        _memoise_text_parsers(internals)
        if self._wrapper_init is not None:
            self._fast_init = rewritten_init(self._wrapper_init, vars(internals))
        for plugin_class in internals._AVAILABLE_PLUGIN_CLASSES:
            self._hook_lookup(plugin_class)
        self._hook_finder(internals.AudioProcessorParameter)

    def _before_slow_read(self) -> None:
        """A slow read sets a value: the sweep keeps the state before its first one (did it leave
        anything changed?), and names are looked up afresh (a value may rename parameters)."""
        sweep = self._sweep
        if sweep is not None and sweep.before is None and self._phase is not None:
            sweep.before = _snapshot(sweep.plugin)
        self._names = None

    def _hook_finder(self, wrapper_class: Any) -> None:
        """Wrappers find their native parameter without a generator, while "fast" describes."""
        attribute = "_AudioProcessorParameter__get_cpp_parameter"
        original = getattr(wrapper_class, attribute, None)
        fast = self._fast_finder = fast_parameter_finder(original)
        if fast is None or original is None:
            return
        describer = self

        def finder(self: Any) -> Any:
            return (fast if describer.kind == "fast" else original)(self)

        setattr(wrapper_class, attribute, finder)

    def _hook_lookup(self, plugin_class: Any) -> None:
        native_lookup = plugin_class._get_parameter
        describer = self

        def lookup(self: Any, name: str) -> Any:
            if describer._phase is None:
                return native_lookup(self, name)
            if describer._names is None:
                describer._names = _first_by_name(self)
            if describer._names is None:  # A name pybind cannot read: the native scan decides.
                return native_lookup(self, name)
            return describer._names.get(name)

        plugin_class._get_parameter = lookup

    def _count(self, force: bool = False) -> None:
        self._done += 0 if force else 1
        now = time.monotonic()
        if self.progress is not None and (force or now - self._reported >= PROGRESS_INTERVAL):
            self._reported = now
            self.progress(min(self._done, self._total), self._total)


_PLUGIN_ATTRIBUTE = "_AudioProcessorParameter__plugin"
# Parsed texts kept by each memoised parser (least recently used dropped first).
MEMO_LIMIT = 1 << 16


def _memoise_text_parsers(internals: Any) -> None:
    """pedalboard's two text parsers, memoised: pure functions of their arguments, they parse
    the same few texts ("0" to "127") half a million times on a 2,000-parameter plugin. Typed
    (``True``, ``1.0`` and ``"1"`` are never one key) and bounded; a C-level cache, so that the
    texts seen once (a continuous parameter's thousand) cost next to nothing more."""
    cache = functools.lru_cache(maxsize=MEMO_LIMIT, typed=True)
    internals.strip_common_float_suffixes = cache(internals.strip_common_float_suffixes)
    internals.looks_like_float = cache(internals.looks_like_float)


class _Sweep:
    """One wrapper's sweep: the state before it first set a value (None if it never did)."""

    def __init__(self, plugin: Any) -> None:
        self.plugin = plugin
        self.before: tuple[Any, ...] | None = None


class _Recorded:
    """A constructor sweep's outcome: the wrapper's attributes, and what they were derived from
    besides the texts (the epoch they were read in, the name, units and spot-checked texts)."""

    def __init__(
        self, epoch: int, attributes: dict[str, Any] | None, facts: tuple[Any, ...]
    ) -> None:
        self.epoch = epoch
        self.attributes = attributes
        self.facts = facts


def _why_not(recorded: _Recorded | None, epoch: int, cpp_parameter: Any) -> str | None:
    """Why a recorded sweep cannot stand for a new one (None: it can)."""
    if recorded is None:
        return "not recorded"
    if recorded.attributes is None:
        return "slow pass"  # pedalboard sets values to read it: that must happen again.
    if _PLUGIN_ATTRIBUTE not in recorded.attributes:
        return "unknown wrapper"
    if recorded.epoch != epoch:
        return "state changed"  # A slow pass since left some parameter changed.
    if _facts(cpp_parameter) != recorded.facts:
        return "texts changed"
    return None


def _facts(cpp_parameter: Any) -> tuple[Any, ...]:
    """What a wrapper's findings rest on besides its texts, plus the texts at a few values."""
    read = cpp_parameter.get_text_for_raw_value
    spots = tuple(read(x / 1000) for x in SPOT_CHECKS)
    return (cpp_parameter.name, cpp_parameter.label, spots)


def _first_by_name(plugin: Any) -> dict[str, Any] | None:
    """What pedalboard's native ``_get_parameter`` finds for each name: the first of that name."""
    names: dict[str, Any] = {}
    try:
        for parameter in plugin._parameters:
            names.setdefault(parameter.name, parameter)
    except Exception:
        return None
    return names


def _snapshot(plugin: Any) -> tuple[Any, ...]:
    """Everything a parameter shows: each one's name, raw value and text, in order."""
    try:
        return tuple((p.name, p.raw_value, p.string_value) for p in plugin._parameters)
    except Exception:  # Unreadable: never equal to anything, so nothing is trusted.
        return (object(),)
