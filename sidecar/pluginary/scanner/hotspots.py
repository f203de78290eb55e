"""Two of pedalboard's Python hot spots, without their per-call cost, only where proven.

- **The first text sweep.** pedalboard's ``AudioProcessorParameter.__init__`` reads a parameter's
  display text at 1,001 raw values and groups equal neighbours into ranges, in a Python loop. On a
  2,000-parameter plugin that loop costs as much as the native reads themselves.
  ``rewritten_init`` compiles pedalboard's own ``__init__`` again with only that loop, and only
  on its first (not the slow) pass, handed to ``first_pass``: the same native calls in the same
  order through a C-level ``map``, and the same ranges, keys and text objects. Its
  comprehensions over the ranges (128 of them on a MIDI-CC parameter) become ``map``s over the
  same functions, step rounding memoised (``REWRITES``, ``_memo``); the attributes its
  ``__setattr__`` can only store on the wrapper are stored directly (``_DirectStores``).
  ``first_pass``'s own two loops run compiled where the install built ``_sweep.c``; so do the
  slow pass's set, read and restore at each value (``slow_pass``), where pedalboard's
  ``get_text_for_raw_value`` is proven (or the describer's hook on it offers its whole pass).
- **The constructor's tail** (type, bounds, step, inferred units, value maps) is a pure
  function of the ranges found and of whether the parameter has units: its outcome is kept by
  those inputs and copied to the next wrapper with equal ones (``TAIL_REWRITES``, ``Tails``).
  Everything else in the constructor stays pedalboard's code, read from pedalboard's own source.
- **Finding a wrapper's native parameter.** Every public attribute a wrapper reads or sets
  looks its parameter up through a generator-based context manager (64 per parameter while
  describing). ``fast_parameter_finder`` gives the same lookup as a plain context manager, and
  leaves anything it does not find to pedalboard's own (its error, word for word).

Each is used only when pedalboard's source of it is one proven (``PROVEN_SOURCES``);
otherwise pedalboard's own code runs.
"""

from __future__ import annotations

import ast
import functools
import hashlib
import inspect
import operator
import textwrap
from collections.abc import Callable
from itertools import compress, islice
from types import ModuleType
from typing import Any

# sha256 of the source of each pedalboard function rewritten here, as proven against by the
# describer's oracle test (pedalboard 0.9.26's ``AudioProcessorParameter.__init__`` and
# ``__get_cpp_parameter``, and ``get_text_for_raw_value``, whose slow read ``_sweep.c`` makes).
PROVEN_SOURCES = frozenset(
    {
        "0e13a566e54511316c0322aebd214a98eb9e187649a4c65abbd7c836312d07ad",
        "9da8d4d11a0398644c89347438112ac2cf9f755bee96a0ae4a15f47143faecc6",
        "d8b4aa28443bd6e6f4ee5a15ecc9da82b439ca580b09fafde41f2b846876dabb",
    }
)
# What the rewritten constructor finds in pedalboard's module namespace besides its own names.
HOOK_NAME = "_pluginary_first_pass"
SLOW_NAME = "_pluginary_slow_pass"
SLOW_RESULT = "_pluginary_slow"
SUB_NAME = "_pluginary_sub"
ROUND_NAME = "_pluginary_round_8"
# Exact text of the proven source -> its replacement, with how often it occurs there. Each keeps
# what is computed and in what order (calls, arguments, exceptions), only without a Python frame
# per item: a loop or comprehension becomes ``map`` over the same functions (rounding memoised).
REWRITES = (
    (  # The first pass goes to ``first_pass``; the slow one to ``slow_pass``, which leaves it
        # to pedalboard's loop (None) where it cannot make its reads compiled.
        "for x in range(0, search_steps + 1):",
        f"{SLOW_RESULT} = None\n"
        "if not fetch_slow:\n"
        f"    start_of_range, text_value = {HOOK_NAME}(cpp_parameter, search_steps, self.ranges)\n"
        "else:\n"
        f"    {SLOW_RESULT} = {SLOW_NAME}(\n"
        "        cpp_parameter, search_steps, self.ranges, get_text_for_raw_value\n"
        "    )\n"
        f"    if {SLOW_RESULT} is not None:\n"
        f"        start_of_range, text_value = {SLOW_RESULT}\n"
        f"for x in range(0, search_steps + 1) if fetch_slow and {SLOW_RESULT} is None else ():",
        1,
    ),
    (
        "all(looks_like_float(v) for v in self.ranges.values())",
        "all(map(looks_like_float, self.ranges.values()))",
        2,
    ),
    (
        "k: float(strip_common_float_suffixes(v)) for k, v in self.ranges.items()",
        "**dict(zip(self.ranges, map(float, map(strip_common_float_suffixes,"
        " self.ranges.values()))))",
        1,
    ),
    (
        "[round(abs(b - a), 8) for a, b in zip(sorted_values, sorted_values[1:])]",
        f"map({ROUND_NAME}, map(abs, map({SUB_NAME}, sorted_values[1:], sorted_values)))",
        1,
    ),
    (
        "{value: _range for _range, value in self.ranges.items()}",
        "dict(zip(self.ranges.values(), self.ranges))",
        1,
    ),
)


# The constructor's tail (type, bounds, step, inferred units and value maps) is a pure function
# of the ranges the sweep found and of whether the parameter has units, which it reads once,
# only for numbers. Hoisted to the tail's start, that read is the same call at the same point
# when none of the tail's public stores is a native call (``TAIL_STORES``); the tail's outcome
# for ranges seen before is then copied (``Tails``): MIDI-CC parameters share theirs by the
# thousand.
TAILS_NAME = "_pluginary_tails"
PENDING_NAME = "_pluginary_tail"
UNLABELLED_NAME = "_pluginary_unlabelled"
TAIL_STORES = frozenset(
    {"min_value", "max_value", "step_size", "approximate_step_size", "type", "ranges"}
    | {"valid_values", "range"}
)
TAIL_REWRITES = (
    (
        "if all(map(looks_like_float, self.ranges.values())):",
        f"if {PENDING_NAME}.floats:",
        1,
    ),
    ("if not self.label:", f"if {UNLABELLED_NAME}:", 1),
    (
        "self.min_value = None",
        f"{PENDING_NAME} = {TAILS_NAME}.begin(self, looks_like_float)\n"
        f"{UNLABELLED_NAME} = (not self.label) if {PENDING_NAME}.floats else None\n"
        f"if {PENDING_NAME}.reused(self, {UNLABELLED_NAME}):\n"
        "    return\n"
        "self.min_value = None",
        1,
    ),
    (
        "self._value_to_raw_value_ranges = dict(zip(self.ranges.values(), self.ranges))",
        "self._value_to_raw_value_ranges = dict(zip(self.ranges.values(), self.ranges))\n"
        f"{PENDING_NAME}.keep(self)",
        1,
    ),
)


def source_digest(function: Any) -> str | None:
    """sha256 of a function's source text, or None when Python cannot read it."""
    try:
        return hashlib.sha256(inspect.getsource(function).encode()).hexdigest()
    except (OSError, TypeError):
        return None


def rewritten_init(
    original: Callable[..., None], namespace: dict[str, Any]
) -> Callable[..., None] | None:
    """pedalboard's wrapper constructor ``original`` with ``REWRITES`` made (and
    ``TAIL_REWRITES`` where they are shown to keep its calls), run against ``namespace``
    (pedalboard's module globals, which gain the helpers' names). None when the source is not
    one proven."""
    if source_digest(original) not in PROVEN_SOURCES:
        return None
    lines, first_line = inspect.getsourcelines(original)
    source = textwrap.dedent("".join(lines))
    owner_class = namespace.get(original.__qualname__.rpartition(".")[0])
    direct = _plain_attributes(ast.parse(source).body[0], owner_class, namespace.get(NATIVE_NAME))
    # The tail's native reads move before its stores: the same calls only if no store is one.
    tail_kept = direct >= TAIL_STORES
    for old, new, count in REWRITES + (TAIL_REWRITES if tail_kept else ()):
        if source.count(old) != count:
            return None
        source = "".join(_replaced(line, old, new) for line in source.splitlines(keepends=True))
    try:
        return _compiled(source, original, first_line, namespace, direct)
    except Exception:  # A Python that compiles it otherwise: pedalboard's own code runs.
        return None


def keeps_tails(init: Callable[..., None]) -> bool:
    """Whether a constructor ``rewritten_init`` compiled reuses kept tails (``TAIL_REWRITES``)."""
    code = getattr(init, "__code__", None)
    return code is not None and TAILS_NAME in code.co_names


def _compiled(
    source: str,
    original: Callable[..., None],
    first_line: int,
    namespace: dict[str, Any],
    direct_names: set[str],
) -> Callable[..., None]:
    function = _DirectStores(direct_names).visit(ast.parse(source).body[0])
    ast.increment_lineno(function, first_line - 1)  # Tracebacks name pedalboard's lines.
    # Compiled inside a class of the same name, so that ``self.__plugin`` is mangled as before.
    owner_name = original.__qualname__.rpartition(".")[0]
    owner = ast.ClassDef(name=owner_name, bases=[], keywords=[], body=[function], decorator_list=[])
    if "type_params" in ast.ClassDef._fields:  # Python 3.12 on.
        setattr(owner, "type_params", [])  # noqa: B010 - unknown to this Python's stubs.
    ast.copy_location(owner, function)
    module = ast.Module(body=[owner], type_ignores=[])
    code = compile(module, inspect.getsourcefile(original) or "", "exec")
    helpers = {
        HOOK_NAME: first_pass,
        SLOW_NAME: slow_pass,
        SUB_NAME: operator.sub,
        ROUND_NAME: _memo(lambda difference: round(difference, 8)),
        TAILS_NAME: TAILS,
    }
    namespace.update(helpers)
    compiled: dict[str, Any] = {}
    exec(code, namespace, compiled)  # pedalboard's own source, checked above.
    init: Callable[..., None] = compiled[owner_name].__dict__["__init__"]
    return init


# pedalboard's name for the native parameter class, in its module namespace.
NATIVE_NAME = "_AudioProcessorParameter"


def _plain_attributes(function: ast.AST, wrapper_class: Any, native_class: Any) -> set[str]:
    """The public attributes ``function`` sets on ``self`` that pedalboard's ``__setattr__``
    can only store on the wrapper: the native class has no such attribute (and its instances
    no ``__dict__`` to grow one), and the wrapper's classes no descriptor of that name. For
    those, its lookup of the native parameter first (a read with no effect, whose failure it
    catches) decides nothing; an empty set when any of that cannot be shown."""
    if wrapper_class is None or native_class is None or native_class.__dictoffset__ != 0:
        return set()
    stored = {
        target.attr
        for node in ast.walk(function)
        for target in _targets(node)
        if isinstance(target, ast.Attribute)
        and isinstance(target.value, ast.Name)
        and target.value.id == "self"
    }
    return {
        name
        for name in stored
        if not name.startswith("_")
        and not hasattr(native_class, name)
        and not any(name in vars(klass) for klass in wrapper_class.__mro__)
    }


def _targets(node: ast.AST) -> list[ast.expr]:
    if isinstance(node, ast.Assign):
        return list(node.targets)
    if isinstance(node, ast.AnnAssign):
        return [node.target]
    return []


class _DirectStores(ast.NodeTransformer):
    """``self.name = value`` as ``self.__dict__["name"] = value`` for ``names``: where
    pedalboard's ``__setattr__`` ends anyway, without its frames."""

    def __init__(self, names: set[str]) -> None:
        self.names = names

    def visit_Assign(self, node: ast.Assign) -> ast.Assign:
        node.targets = [self._direct(target) for target in node.targets]
        return node

    def visit_AnnAssign(self, node: ast.AnnAssign) -> ast.stmt:
        target = self._direct(node.target)
        if target is node.target or node.value is None:
            return node
        # Python never evaluates an annotation inside a function: dropping it changes nothing.
        return ast.copy_location(ast.Assign(targets=[target], value=node.value), node)

    def _direct(self, target: ast.expr) -> ast.expr:
        if not (
            isinstance(target, ast.Attribute)
            and isinstance(target.value, ast.Name)
            and target.value.id == "self"
            and target.attr in self.names
        ):
            return target
        instance_dict = ast.Attribute(
            value=ast.Name(id="self", ctx=ast.Load()), attr="__dict__", ctx=ast.Load()
        )
        store = ast.Subscript(value=instance_dict, slice=ast.Constant(target.attr), ctx=ast.Store())
        return ast.fix_missing_locations(ast.copy_location(store, target))


def _replaced(line: str, old: str, new: str) -> str:
    """``line`` with ``old`` replaced; each further line of ``new`` indented as ``line`` is."""
    if old not in line:
        return line
    indent = line[: len(line) - len(line.lstrip())]
    return line.replace(old, new.replace("\n", "\n" + indent))


# Results kept by each memoised helper (least recently used dropped first).
MEMO_LIMIT = 1 << 16


def _memo(function: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """A pure function of one argument, memoised by value and type (``1`` and ``1.0`` are two
    keys). The same few steps (1.0 on a MIDI-CC parameter) are rounded thousands of times.

    Only where sharing one result object between equal arguments changes nothing: a float's
    identity matters only for NaN (a dict or set tells NaNs apart by identity), and a NaN
    argument is a new object each time here, so it never finds a kept result. Parsed floats are
    not memoised for that reason: equal texts "nan" would share one NaN."""
    return functools.lru_cache(maxsize=MEMO_LIMIT, typed=True)(function)


# Distinct ranges whose tails are kept (the first seen); a plugin's MIDI-CC parameters need one.
TAIL_LIMIT = 1024
# Tails of more ranges are never kept: a continuous parameter's 1,000 ranges are its own, and
# keeping them would cost more than it could save (a bound on memory too: about 40 KB a tail).
MAX_KEPT_RANGES = 256
_MISSING = object()


class Tails:
    """What the constructor's tail found and stored on a wrapper, by what it was computed from:
    the ranges (keys and texts, every text a ``str``), and for numbers whether the parameter
    has units. Equal inputs give equal outcomes: the tail calls only pedalboard's pure text
    helpers, and the range keys' types (the int 0 and 1 at the ends, floats between) follow
    from their values. Each wrapper gets its own copy of every dict and list. The describer
    clears them at each load: a plugin's parameters share tails, plugins seldom do."""

    def __init__(self) -> None:
        self.kept: dict[tuple[Any, ...], _Kept] = {}
        self.reused = 0

    def clear(self) -> None:
        self.kept.clear()

    def begin(self, wrapper: Any, looks_like_float: Callable[[Any], bool]) -> _Tail:
        ranges = vars(wrapper).get("ranges")
        key: tuple[Any, ...] | None = None
        if type(ranges) is dict and len(ranges) <= MAX_KEPT_RANGES:
            texts = tuple(ranges.values())
            if operator.countOf(map(type, texts), str) == len(texts):
                key = (tuple(ranges), texts)
        kept = self.kept.get(key) if key is not None else None
        if kept is not None:
            return _Tail(self, key, kept, kept.floats)
        # pedalboard's own test, as it makes it (a non-str text may raise).
        return _Tail(self, key, None, all(map(looks_like_float, wrapper.ranges.values())))


class _Kept:
    __slots__ = ("floats", "outcomes")

    def __init__(self, floats: bool) -> None:
        self.floats = floats
        # Whether it has units (None: not asked, for text) -> the attributes the tail stored.
        self.outcomes: dict[bool | None, tuple[tuple[str, Any], ...]] = {}


class _Tail:
    """One constructor's tail: ``floats`` is pedalboard's "every text a number" test."""

    __slots__ = ("before", "floats", "kept", "key", "tails", "unlabelled")

    def __init__(
        self, tails: Tails, key: tuple[Any, ...] | None, kept: _Kept | None, floats: bool
    ) -> None:
        self.tails = tails
        self.key = key
        self.kept = kept
        self.floats = floats
        self.unlabelled: bool | None = None
        self.before: dict[str, Any] = {}

    def reused(self, wrapper: Any, unlabelled: bool | None) -> bool:
        """Give ``wrapper`` a kept outcome for the same inputs; False (the tail runs) if none."""
        attributes = vars(wrapper)
        outcome = self.kept.outcomes.get(unlabelled) if self.kept is not None else None
        if outcome is None:
            self.unlabelled = unlabelled
            self.before = dict(attributes)
            return False
        for name, value in outcome:
            attributes[name] = _fresh(value)
        self.tails.reused += 1
        return True

    def keep(self, wrapper: Any) -> None:
        """Keep what the tail just stored on ``wrapper``, for the next equal inputs."""
        tails = self.tails
        if self.key is None:
            return
        kept = self.kept or tails.kept.get(self.key)
        if kept is None:
            if len(tails.kept) >= TAIL_LIMIT:
                return
            kept = tails.kept[self.key] = _Kept(self.floats)
        before = self.before
        kept.outcomes[self.unlabelled] = tuple(
            (name, _fresh(value))
            for name, value in vars(wrapper).items()
            if before.get(name, _MISSING) is not value
        )


def _fresh(value: Any) -> Any:
    # The tail's values are dicts and lists of immutables, tuples of them, and immutables.
    if type(value) is dict:
        return dict(value)
    if type(value) is list:
        return list(value)
    return value


TAILS = Tails()


def _compiled_sweep() -> ModuleType | None:
    try:
        from pluginary.scanner import _sweep
    except ImportError:  # Not built (no C compiler at install): the Python loops run.
        return None
    return _sweep


COMPILED_SWEEP = _compiled_sweep()


@functools.lru_cache(maxsize=8)
def _raw_values(search_steps: int) -> tuple[float, ...]:
    return tuple(x / search_steps for x in range(0, search_steps + 1))


def first_pass(
    cpp_parameter: Any, search_steps: int, ranges: dict[tuple[float, float], Any]
) -> tuple[float, Any]:
    """pedalboard's first pass: fill ``ranges`` with each run of equal texts but the last, and
    return where the last run starts and its text (``start_of_range``, ``text_value``). Its two
    loops run compiled (``_sweep.c``) where that was built at install."""
    raw_values = _raw_values(search_steps)
    compiled = COMPILED_SWEEP
    if compiled is not None:
        texts = compiled.read_all(cpp_parameter.get_text_for_raw_value, raw_values)
        grouped = compiled.group_runs(texts, raw_values, ranges)
        return grouped if grouped is not None else _grouped(raw_values, texts, ranges)
    return python_first_pass(cpp_parameter, search_steps, ranges)


def python_first_pass(
    cpp_parameter: Any, search_steps: int, ranges: dict[tuple[float, float], Any]
) -> tuple[float, Any]:
    """``first_pass`` without the compiled loops."""
    raw_values = _raw_values(search_steps)
    texts = list(map(cpp_parameter.get_text_for_raw_value, raw_values))
    # Exactly str all (pybind's std::string), else the loop's own rules: a subclass's ``!=``
    # need not be transitive, and the loop compares with a run's first text, not the last.
    if operator.countOf(map(type, texts), str) != len(texts):
        return _grouped(raw_values, texts, ranges)
    start: float = 0  # pedalboard's first range starts at the int 0.
    run = 0
    # Where a text differs from the one before it (``!=`` between strings is transitive).
    for change in compress(range(1, len(texts)), map(operator.ne, texts, islice(texts, 1, None))):
        ranges[(start, raw_values[change])] = texts[run]
        start, run = raw_values[change], change
    return start, (texts[run] if texts else None)


# An attribute of a slow-read function (pedalboard's ``get_text_for_raw_value`` as its module
# holds it) that does its whole slow pass at once: ``(parameter, raw_values) -> texts``.
BATCH_ATTRIBUTE = "slow_reads"
SlowReads = Callable[[Any, tuple[float, ...]], list[Any]]


def slow_pass(
    cpp_parameter: Any,
    search_steps: int,
    ranges: dict[tuple[float, float], Any],
    read: Callable[..., Any],
) -> tuple[float, Any] | None:
    """pedalboard's slow pass (``read(cpp_parameter, x, True)`` at each raw value, in order,
    then grouped as its loop groups them) with the reads compiled: where ``read`` is pedalboard's
    own proven function, or offers its whole pass at once (``BATCH_ATTRIBUTE``). None, with
    nothing done, otherwise: pedalboard's loop runs."""
    batch: SlowReads | None = getattr(read, BATCH_ATTRIBUTE, None)
    compiled = COMPILED_SWEEP
    if batch is None and compiled is not None and proven_slow_read(read):
        batch = compiled.slow_reads
    if batch is None:
        return None
    raw_values = _raw_values(search_steps)
    texts = batch(cpp_parameter, raw_values)
    grouped = compiled.group_runs(texts, raw_values, ranges) if compiled is not None else None
    return grouped if grouped is not None else _grouped(raw_values, texts, ranges)


@functools.lru_cache(maxsize=8)
def proven_slow_read(read: Callable[..., Any]) -> bool:
    """Whether ``read`` is pedalboard's ``get_text_for_raw_value`` as proven (``_sweep.c``'s
    ``slow_reads`` makes its slow read)."""
    return source_digest(read) in PROVEN_SOURCES


def _grouped(
    raw_values: tuple[float, ...], texts: list[Any], ranges: dict[tuple[float, float], Any]
) -> tuple[float, Any]:
    """pedalboard's loop, statement for statement, over texts already read."""
    start: float = 0
    text_value: Any = None
    for raw_value, text in zip(raw_values, texts, strict=True):
        if text_value is None:
            text_value = text
        elif text != text_value:
            ranges[(start, raw_value)] = text_value
            text_value = text
            start = raw_value
    return start, text_value


def fast_parameter_finder(original: Any) -> Callable[[Any], Any] | None:
    """A stand-in for pedalboard's ``AudioProcessorParameter.__get_cpp_parameter`` (``original``,
    a ``contextmanager`` function): the same lookup and name check, without a generator. None
    when the source is not one proven."""
    if source_digest(getattr(original, "__wrapped__", None)) not in PROVEN_SOURCES:
        return None

    class Found:
        __slots__ = ("wrapper",)

        def __init__(self, wrapper: Any) -> None:
            self.wrapper = wrapper

        def __enter__(self) -> Any:
            wrapper = self.wrapper
            name = wrapper._AudioProcessorParameter__parameter_name
            found = wrapper._AudioProcessorParameter__plugin._get_parameter(name)
            if found and found.name == name:
                return found
            return original(wrapper).__enter__()  # pedalboard's own raises its own error.

        def __exit__(self, *exc_info: object) -> None:
            return None

    return Found


def native_parameter(wrapper: Any) -> Any:
    """The native parameter a pedalboard wrapper stands for, found as the wrapper finds it for
    every attribute it does not hold itself; the wrapper when it finds none (reading through it
    then fails as pedalboard's would)."""
    try:
        with wrapper._AudioProcessorParameter__get_cpp_parameter() as native:
            return native
    except Exception:
        return wrapper
