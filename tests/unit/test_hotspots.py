"""The rewritten hot spots against pedalboard's own code, on parameters built to cover its paths.

A narrow unit test: the plugin and its native parameters are stand-ins that answer texts from a
list, so that hypothesis can throw every shape of text sequence at both constructors (runs of
any length, numbers with and without units, booleans, one value everywhere, which sends
pedalboard into its slow pass). Everything pedalboard's constructor leaves on a wrapper must be
identical, down to the types of the range keys; so must the native calls, in order. The real
plugins are compared in ``test_describer_oracle.py``.
"""

from __future__ import annotations

import contextlib
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pedalboard
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pluginary.scanner import hotspots
from pluginary.scanner.hotspots import (
    COMPILED_SWEEP,
    HOOK_NAME,
    NATIVE_NAME,
    PROVEN_SOURCES,
    TAILS,
    fast_parameter_finder,
    first_pass,
    keeps_tails,
    rewritten_init,
    source_digest,
)

INTERNALS: Any = pedalboard._pedalboard
WRAPPER = INTERNALS.AudioProcessorParameter
STEPS = 1000


class NativeParameter:
    """A native parameter whose text at raw value x is ``texts[round(x * 1000)]``; with the value
    set (pedalboard's slow pass), ``slow_texts`` at the value set."""

    def __init__(self, name: str, texts: list[Any], slow_texts: list[Any], label: str) -> None:
        self.name = name
        self.units = label
        self.index = 0
        self.texts = texts
        self.slow_texts = slow_texts
        self.value = 0.25
        self.calls: list[tuple[str, float]] = []

    @property
    def raw_value(self) -> float:
        self.calls.append(("get", self.value))
        return self.value

    @raw_value.setter
    def raw_value(self, value: float) -> None:
        self.calls.append(("set", value))
        self.assign(value)

    def assign(self, value: float) -> None:
        self.value = value

    def get_text_for_raw_value(self, raw_value: float) -> Any:
        self.calls.append(("read", raw_value))
        return self.texts[round(raw_value * STEPS)]

    @property
    def label(self) -> str:
        self.calls.append(("label", 0.0))
        return self.units

    @property
    def string_value(self) -> Any:
        self.calls.append(("slow", self.value))
        return self.slow_texts[round(self.value * STEPS)]


class Plugin:
    def __init__(self, parameter: NativeParameter | None) -> None:
        self.parameter = parameter

    def _get_parameter(self, name: str) -> NativeParameter | None:
        return self.parameter


def constructed(init: Any, parameter: NativeParameter) -> tuple[str, Any]:
    """What ``init`` leaves on a new wrapper (or what it raised), and the native calls made."""
    wrapper = WRAPPER.__new__(WRAPPER)
    try:
        init(wrapper, Plugin(parameter), parameter.name)
    except Exception as error:
        return "raised", (type(error), str(error), parameter.calls)
    view = {key: _typed(value) for key, value in vars(wrapper).items() if "plugin" not in key}
    return "built", (view, parameter.calls)


def _typed(value: Any) -> Any:
    """A value with the type of every part spelled out (0 and 0.0 differ here)."""
    if isinstance(value, dict):
        return [(_typed(k), _typed(v)) for k, v in value.items()]
    if isinstance(value, list | tuple):
        return (type(value).__name__, [_typed(v) for v in value])
    return (type(value).__name__, repr(value))


FAST_INIT = rewritten_init(WRAPPER.__init__, vars(INTERNALS))
# The sweep's loops as built (compiled, where the install compiled them) and in Python.
SWEEPS_BUILT = [COMPILED_SWEEP, None] if COMPILED_SWEEP is not None else [None]


@contextlib.contextmanager
def sweep(compiled: Any) -> Iterator[None]:
    """``first_pass`` with its loops ``compiled`` (a built module) or in Python (None)."""
    saved = hotspots.COMPILED_SWEEP
    hotspots.COMPILED_SWEEP = compiled
    try:
        yield
    finally:
        hotspots.COMPILED_SWEEP = saved


TEXTS = st.sampled_from(
    ["0", "1", "0.5", "-inf", "12 dB", "12.5 dB", "3 ms", "On", "Off", "yes", "Sine", "", " "]
) | st.sampled_from(["0.00000005", "0.00000001", "0.123456789"])  # Steps round(..., 8) tells.
TEXTS = TEXTS | st.sampled_from(["-0", "-0.0 dB", "nan", "inf", "1e400"])  # Signed zero, NaN.


def _expanded(runs: list[tuple[str, int]]) -> list[Any]:
    """Runs of texts, cut or padded with the last text to 1,001 values."""
    texts = [text for text, length in runs for _ in range(length)][: STEPS + 1]
    return texts + [runs[-1][0]] * (STEPS + 1 - len(texts))


class Near(str):
    """A number's text that is "equal" to its neighbours: ``!=`` only beyond one apart."""

    __hash__ = str.__hash__

    def __ne__(self, other: object) -> bool:
        return abs(int(self) - int(str(other))) > 1


# 1,001 texts in runs of random lengths (one run only: pedalboard's slow pass follows).
SWEEPS = st.lists(st.tuples(TEXTS, st.integers(1, STEPS + 1)), min_size=1, max_size=12).map(
    _expanded
)


def test_the_installed_pedalboard_is_one_the_rewrites_were_proven_on() -> None:
    assert FAST_INIT is not None
    finder = WRAPPER._AudioProcessorParameter__get_cpp_parameter
    assert fast_parameter_finder(finder) is not None
    assert INTERNALS.__dict__[HOOK_NAME] is first_pass


@settings(max_examples=300, deadline=None)
@given(texts=SWEEPS, slow_texts=SWEEPS, label=st.sampled_from(["", "dB", "ms"]))
def test_the_rewritten_constructor_leaves_what_pedalboards_leaves(
    texts: list[Any], slow_texts: list[Any], label: str
) -> None:
    theirs = constructed(WRAPPER.__init__, NativeParameter("Gain", texts, slow_texts, label))
    # Compiled loops and Python's; each twice: the second time on a tail kept from the first,
    # where its texts are all strings.
    for compiled in SWEEPS_BUILT:
        with sweep(compiled):
            for _ in range(2):
                ours = constructed(FAST_INIT, NativeParameter("Gain", texts, slow_texts, label))
                assert ours == theirs


@pytest.mark.parametrize(
    "texts",
    [
        [None] * 3 + ["1"] * 998,  # A text the loop skips until one arrives.
        [None] * (STEPS + 1),  # None at all: pedalboard's own error.
        ["a"] * 500 + [None] + ["a"] * 500,
        [b"bytes"] * 600 + ["x"] * 401,  # Not a str: the loop's own comparisons.
        # A str whose ``!=`` is not transitive: the loop compares with each run's first text,
        # so grouping by neighbours would find other runs.
        [Near(str(x // 100)) for x in range(STEPS + 1)],
    ],
)
def test_texts_that_are_not_strings_take_the_loops_own_rules(texts: list[Any]) -> None:
    """Anything but exactly ``str`` is grouped by pedalboard's loop, statement for statement."""
    theirs = constructed(WRAPPER.__init__, NativeParameter("Odd", texts, texts, ""))
    for compiled in SWEEPS_BUILT:
        with sweep(compiled):
            assert constructed(FAST_INIT, NativeParameter("Odd", texts, texts, "")) == theirs


def test_a_failing_read_stops_both_at_the_same_call() -> None:
    class Failing(NativeParameter):
        def get_text_for_raw_value(self, raw_value: float) -> Any:
            if raw_value >= 0.3:
                self.calls.append(("failed", raw_value))
                raise ValueError("no text")
            return super().get_text_for_raw_value(raw_value)

    texts = ["1 dB"] * (STEPS + 1)
    theirs = constructed(WRAPPER.__init__, Failing("F", texts, texts, ""))
    assert theirs[0] == "raised"
    for compiled in SWEEPS_BUILT:
        with sweep(compiled):
            assert constructed(FAST_INIT, Failing("F", texts, texts, "")) == theirs


def test_the_compiled_sweep_was_built_here() -> None:
    """The install compiles the sweep's loops where a C compiler is at hand, as on this
    project's machines: what the bench measures and the oracle compares is that build."""
    assert COMPILED_SWEEP is not None, "pip install -e . did not build pluginary.scanner._sweep"


def test_the_compiled_grouping_leaves_anything_but_exact_strings_to_python() -> None:
    assert COMPILED_SWEEP is not None
    group = COMPILED_SWEEP.group_runs
    values = tuple(x / 4 for x in range(5))

    class Text(str):
        pass

    for texts in (["a", "a", None, "b", "b"], ["a", Text("a"), "b", "b", "b"], [b"a"] * 5):
        ranges: dict[tuple[float, float], Any] = {}
        assert group(list(texts), values, ranges) is None
        assert ranges == {}
    assert group([], values, {}) == (0, None)
    assert group(["a"] * 6, values, {}) is None  # More texts than values: not its case.
    ranges = {}
    assert group(["a", "a", "b", "c", "c"], values, ranges) == (0.75, "c")
    assert list(ranges.items()) == [((0, 0.5), "a"), ((0.5, 0.75), "b")]
    assert type(next(iter(ranges))[0]) is int


def test_the_compiled_loops_hold_no_reference_they_should_not() -> None:
    """Every object they touch has as many references afterwards as a Python loop leaves."""
    assert COMPILED_SWEEP is not None
    texts = [f"{x // 100}" for x in range(STEPS + 1)]
    values = tuple(x / STEPS for x in range(STEPS + 1))
    before = [sys.getrefcount(t) for t in texts], [sys.getrefcount(v) for v in values]
    parameter = NativeParameter("P", texts, texts, "")
    original = parameter.value
    held = sys.getrefcount(original)
    for _ in range(3):
        read = COMPILED_SWEEP.read_all(texts.__getitem__, tuple(range(STEPS + 1)))
        ranges: dict[tuple[float, float], Any] = {}
        COMPILED_SWEEP.group_runs(read, values, ranges)
        slow = COMPILED_SWEEP.slow_reads(parameter, values)
        parameter.calls.clear()
        del read, ranges, slow
    after = [sys.getrefcount(t) for t in texts], [sys.getrefcount(v) for v in values]
    assert after == before
    assert parameter.value is original
    assert sys.getrefcount(original) == held


def test_a_compiled_read_that_fails_stops_there_with_its_error() -> None:
    assert COMPILED_SWEEP is not None
    calls: list[float] = []

    def read(value: float) -> str:
        calls.append(value)
        if value >= 0.5:
            raise ValueError("no text at 0.5")
        return "t"

    with pytest.raises(ValueError, match=r"no text at 0\.5"):
        COMPILED_SWEEP.read_all(read, (0.0, 0.25, 0.5, 0.75))
    assert calls == [0.0, 0.25, 0.5]


def test_a_tail_is_reused_only_for_the_same_texts_and_units() -> None:
    """The second of two equal parameters gets the first's tail; different units (read, never
    assumed) or texts that are not all strings get their own."""
    numbers = [f"{x // 8} %" for x in range(STEPS + 1)]  # Units in the text, inferred if none.

    def reuses(texts: list[Any], label: str) -> int:
        before = TAILS.reused
        ours = constructed(FAST_INIT, NativeParameter("P", texts, texts, label))
        assert ours == constructed(WRAPPER.__init__, NativeParameter("P", texts, texts, label))
        return TAILS.reused - before

    reuses(numbers, "")
    assert reuses(numbers, "") == 1
    assert reuses(numbers, "dB") == 0  # Its own units: nothing inferred, its own tail.
    assert reuses(numbers, "dB") == 1
    odd = [b"bytes"] * 600 + ["x"] * 401
    reuses(odd, "")
    assert reuses(odd, "") == 0
    # A continuous parameter's thousand ranges are its own: never kept, never looked up.
    kept = len(TAILS.kept)
    continuous = [f"{x / 10} dB" for x in range(STEPS + 1)]
    reuses(continuous, "")
    assert reuses(continuous, "") == 0
    assert len(TAILS.kept) == kept
    # Each wrapper owns its dicts and lists: a change to one shows in no other.
    wrappers = [WRAPPER.__new__(WRAPPER) for _ in range(2)]
    for wrapper in wrappers:
        assert FAST_INIT is not None
        FAST_INIT(wrapper, Plugin(NativeParameter("P", numbers, numbers, "")), "P")
    shared = [
        name
        for name, value in vars(wrappers[0]).items()
        if isinstance(value, dict | list) and value is vars(wrappers[1])[name]
    ]
    assert shared == []


def test_no_tail_is_reused_where_a_tail_store_would_reach_the_native_parameter() -> None:
    """A native class with an attribute the tail sets: pedalboard's ``__setattr__`` sets it
    there, a native call the hoisted units read would overtake. The tail stays as written."""

    class Native:
        __slots__ = ()
        min_value = None

    namespace = dict(vars(INTERNALS), **{NATIVE_NAME: Native})
    init = rewritten_init(WRAPPER.__init__, namespace)
    assert init is not None and HOOK_NAME in init.__code__.co_names
    assert not keeps_tails(init)
    assert FAST_INIT is not None and keeps_tails(FAST_INIT)


def test_first_pass_keys_start_at_the_int_zero_as_pedalboards_do() -> None:
    ranges: dict[tuple[float, float], Any] = {}
    texts = ["a"] * 10 + ["b"] * 991
    start, last = first_pass(NativeParameter("P", texts, texts, ""), STEPS, ranges)
    [(low, high)] = ranges
    assert (type(low), low, high) == (int, 0, 0.01)
    assert (start, last) == (0.01, "b")


def test_an_unproven_source_is_not_rewritten() -> None:
    def __init__(self: Any, plugin: Any, parameter_name: str) -> None:
        for _ in range(0, 1001):
            pass

    assert source_digest(__init__) not in PROVEN_SOURCES
    assert rewritten_init(__init__, {}) is None
    assert fast_parameter_finder(__init__) is None
    assert source_digest(print) is None  # No source: nothing to prove.


def test_the_finder_finds_what_pedalboards_finds_and_fails_with_its_words() -> None:
    original = WRAPPER._AudioProcessorParameter__get_cpp_parameter
    fast = fast_parameter_finder(original)
    assert fast is not None
    parameter = NativeParameter("Gain", ["1"] * (STEPS + 1), ["1"] * (STEPS + 1), "")
    cases = [(Plugin(parameter), "Gain"), (Plugin(None), "Gain"), (Plugin(parameter), "Other")]
    for plugin, name in cases:
        wrapper = WRAPPER.__new__(WRAPPER)
        object.__setattr__(wrapper, "_AudioProcessorParameter__plugin", plugin)
        object.__setattr__(wrapper, "_AudioProcessorParameter__parameter_name", name)
        outcomes = []
        for finder in (fast, original):
            try:
                with finder(wrapper) as found:
                    outcomes.append(("found", found))
            except RuntimeError as error:
                outcomes.append(("raised", str(error)))
        assert outcomes[0] == outcomes[1]
        assert outcomes[0][0] == ("found" if name == "Gain" and plugin.parameter else "raised")


LOAD_AFTER_A_TAIL = """
import pedalboard
from pluginary.scanner import hotspots
from pluginary.scanner.describer import describer_for

describer = describer_for(pedalboard, "fast")  # Its hooks go in: a process of its own.
hotspots.TAILS.kept[("a kept tail",)] = hotspots._Kept(floats=True)
try:
    describer.load("/nonexistent/None.vst3", "None")
except Exception as error:
    print(type(error).__name__)
print(len(hotspots.TAILS.kept))
"""


def test_each_load_starts_with_no_kept_tail() -> None:
    """Tails are a plugin's parameters' to share: a pool worker's next plugin finds none (and
    holds no memory for them)."""
    done = subprocess.run(
        [sys.executable, "-c", LOAD_AFTER_A_TAIL], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split()[-1] == "0"


class Fragile(NativeParameter):
    """A native parameter whose display text fails at 0.5, and (``stuck``) whose value then
    cannot be set back either."""

    def __init__(self, stuck: bool) -> None:
        super().__init__("Fragile", [], [], "")
        self.stuck = stuck

    def assign(self, value: float) -> None:
        if self.stuck and self.value == 0.5:
            raise RuntimeError("cannot leave 0.5")
        self.value = value

    @property
    def string_value(self) -> str:
        if self.value == 0.5:
            raise ValueError("no text at 0.5")
        return f"{self.value}"


@pytest.mark.parametrize("stuck", [False, True])
def test_a_compiled_slow_read_that_fails_raises_as_pedalboards_does(stuck: bool) -> None:
    """Its ``finally`` restores the value; an error there is raised in the read's place, the
    read's own as its context, as Python's ``finally`` leaves them."""
    assert COMPILED_SWEEP is not None
    values = (0.0, 0.5, 1.0)
    outcomes = []
    for slow_reads in (COMPILED_SWEEP.slow_reads, _python_slow_reads):
        parameter = Fragile(stuck)
        try:
            slow_reads(parameter, values)
        except Exception as error:
            context = error.__context__
            context_words = (type(context), str(context)) if context is not None else None
            outcomes.append((type(error), str(error), context_words, parameter.calls))
    assert outcomes[0] == outcomes[1]
    raised = (RuntimeError, "cannot leave 0.5") if stuck else (ValueError, "no text at 0.5")
    assert outcomes[0][:2] == raised
    assert (outcomes[0][2] is not None) == stuck


def _python_slow_reads(parameter: Any, values: tuple[float, ...]) -> list[Any]:
    read = INTERNALS.__dict__["get_text_for_raw_value"]
    return [read(parameter, value, True) for value in values]
