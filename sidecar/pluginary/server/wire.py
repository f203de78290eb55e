"""The one module that knows the wire: camelCase JSON <-> the domain's dataclasses.

Params are decoded field by field against the target dataclass's type hints, so a malformed
field is reported by name (InvalidParams) and an unknown one is refused rather than ignored.
Results are encoded by one generic rule: every dataclass field, camelCased, always present
(``null`` when there is no value). ``protocol/pluginary.schema.json`` states the same contract,
and a unit test holds the two together through :data:`SCHEMA_TYPES` and :data:`METHODS`.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from cattrs import Converter
from lsprotocol.converters import get_converter
from pygls.protocol import JsonRPCNotification, JsonRPCRequestMessage, JsonRPCResponseMessage

from pluginary.encoding import EXACT_PATHS as EXACT_PATHS
from pluginary.encoding import camel as camel
from pluginary.encoding import to_wire as to_wire
from pluginary.fsnames import is_path_text, is_text
from pluginary.models import (
    AudioCheck,
    BusLayout,
    CatalogCounts,
    Parameter,
    ParameterSample,
    PluginQuery,
    PluginRecord,
    PluginState,
    PluginSummary,
    ProbeTimes,
    QueryPage,
)
from pluginary.scan_models import (
    CacheInfo,
    CatalogChange,
    InterruptedScan,
    RunningScan,
    ScanOptions,
    ScanProblem,
    ScanSummary,
    ServerStatus,
)
from pluginary.server.settings import Settings

PROTOCOL_VERSION = "1.2"
WORK_DONE_TOKEN = "workDoneToken"

D = TypeVar("D")
ProgressToken = int | str


class InvalidParams(Exception):
    """Params that do not fit the method's shape; ``field`` names the culprit (camelCase)."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


# -- the contract's shapes ----------------------------------------------------------------


@dataclass(frozen=True)
class PluginRef:
    """``pluginary/plugin`` params: the id of one plugin."""

    id: str


@dataclass(frozen=True)
class Capabilities:
    """``capabilities.experimental.pluginary`` in the initialize result."""

    protocol_version: str
    formats: list[str]
    methods: list[str]


@dataclass(frozen=True)
class MethodSpec:
    """One request: its params and result ``$defs`` names, and whether it reports progress."""

    params: str
    result: str
    progress: bool = False


METHODS: dict[str, MethodSpec] = {
    "pluginary/scan": MethodSpec("ScanParams", "ScanSummary", progress=True),
    "pluginary/resume": MethodSpec("ResumeParams", "ScanSummary", progress=True),
    "pluginary/query": MethodSpec("QueryParams", "QueryResult"),
    "pluginary/plugin": MethodSpec("PluginParams", "PluginRecord"),
    "pluginary/status": MethodSpec("StatusParams", "Status"),
}
NOTIFICATIONS: dict[str, str] = {"pluginary/catalogChanged": "CatalogChanged"}

# Every object shape of the contract and the dataclass it is made from (or decoded into).
SCHEMA_TYPES: dict[str, type[Any]] = {
    "InitializationOptions": Settings,
    "PluginaryCapabilities": Capabilities,
    "ScanParams": ScanOptions,
    "ScanSummary": ScanSummary,
    "ScanProblem": ScanProblem,
    "QueryParams": PluginQuery,
    "QueryResult": QueryPage,
    "PluginSummary": PluginSummary,
    "PluginParams": PluginRef,
    "PluginRecord": PluginRecord,
    "Parameter": Parameter,
    "ParameterSample": ParameterSample,
    "AudioCheck": AudioCheck,
    "PluginState": PluginState,
    "ProbeTimes": ProbeTimes,
    "BusLayout": BusLayout,
    "Status": ServerStatus,
    "CacheInfo": CacheInfo,
    "CatalogCounts": CatalogCounts,
    "RunningScan": RunningScan,
    "InterruptedScan": InterruptedScan,
    "CatalogChanged": CatalogChange,
}
# Shapes the client sends: fields with a default are optional. Results always carry every field.
PARAMS_TYPES = ("InitializationOptions", "ScanParams", "QueryParams", "PluginParams")
# Wire-only fields besides a dataclass's own: optional in params, always present in results.
EXTRA_FIELDS: dict[str, tuple[str, ...]] = {
    "ScanParams": (WORK_DONE_TOKEN,),
    "PluginSummary": ("pathBytes",),
    "PluginRecord": ("pathBytes",),
}
# Params fields holding paths: PEP 383's lone surrogates U+DC80-U+DCFF stand for the bytes of a
# name that is not UTF-8 (what Python itself gives for one); no other lone surrogate is taken.
PATH_PARAMS = frozenset({"folders"})

# Range checks the type hints cannot express, by wire name; the schema states the same bounds.
CONSTRAINTS: dict[str, tuple[Callable[[Any], bool], str]] = {
    "workers": (lambda value: value >= 1, "must be at least 1"),
    "timeoutSeconds": (lambda value: value > 0, "must be greater than 0"),
    "memoryLimitMib": (lambda value: value > 0, "must be greater than 0"),
    "outputLimitMib": (lambda value: value > 0, "must be greater than 0"),
    "launcher": (
        lambda value: _launcher_works(value),
        'must be "pool" or (on Linux) "forkserver"',
    ),
    "recycleAfter": (lambda value: value >= 1, "must be at least 1"),
}


# -- names --------------------------------------------------------------------------------


def _launcher_works(kind: str) -> bool:
    # The launchers' own rule; imported only when a host sets one (not at every start-up).
    from pluginary.scanner.launchers import launcher_works

    return launcher_works(kind)


def wire_fields(cls: type[Any]) -> dict[str, dataclasses.Field[Any]]:
    """A dataclass's fields by their wire (camelCase) name."""
    return {camel(f.name): f for f in dataclasses.fields(cls)}


def required_fields(name: str) -> set[str]:
    """The wire names a ``SCHEMA_TYPES`` shape must carry."""
    fields = wire_fields(SCHEMA_TYPES[name])
    if name not in PARAMS_TYPES:
        return set(fields) | set(EXTRA_FIELDS.get(name, ()))
    return {
        key
        for key, f in fields.items()
        if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
    }


# -- the envelope ------------------------------------------------------------------------


def converter() -> Converter:
    """pygls's converter, but ``pluginary/*`` params and results stay plain JSON.

    pygls turns untyped params into namedtuples (renaming keys that are not identifiers) and
    refuses a request without ``params``, which JSON-RPC allows; decoding is this module's job.
    """
    conv = get_converter()
    conv.register_structure_hook(
        JsonRPCRequestMessage,
        lambda obj, cls: cls(obj["id"], obj["method"], obj["jsonrpc"], obj.get("params")),
    )
    conv.register_structure_hook(
        JsonRPCNotification,
        lambda obj, cls: cls(obj["method"], obj["jsonrpc"], obj.get("params")),
    )
    conv.register_structure_hook(
        JsonRPCResponseMessage,
        lambda obj, cls: cls(obj["id"], obj["jsonrpc"], obj.get("result")),
    )
    # A result that is already plain JSON goes out as it is: cattrs would walk every value of a
    # page again. An lsprotocol result (an attrs object) is still unstructured, by json.dumps's
    # ``default`` hook in pygls, when the encoder reaches it.
    conv.register_unstructure_hook(
        JsonRPCResponseMessage,
        lambda message: {"id": message.id, "jsonrpc": message.jsonrpc, "result": message.result},
    )
    return conv


# -- encoding -----------------------------------------------------------------------------


def capabilities(formats: list[str], methods: list[str]) -> dict[str, Any]:
    """The ``experimental`` capabilities object of the initialize result."""
    return {"pluginary": to_wire(Capabilities(PROTOCOL_VERSION, formats, methods))}


# -- decoding -----------------------------------------------------------------------------


def decode(
    cls: type[D],
    params: Any,
    *,
    base: D | None = None,
    extra: tuple[str, ...] = (),
) -> tuple[D, dict[str, Any]]:
    """Decode a params object into ``cls`` (starting from ``base``); also return ``extra`` keys.

    Raises InvalidParams naming the first field that is unknown, missing or of the wrong type.
    """
    fields = wire_fields(cls)
    given = _as_object(params)
    values: dict[str, Any] = {}
    extras: dict[str, Any] = {}
    for key, raw in given.items():
        if key in extra:
            extras[key] = raw
        elif key in fields:
            values[fields[key].name] = decode_field(key, raw, _hints(cls)[fields[key].name])
        else:
            raise InvalidParams(f"unknown field {key!r}", field=key)
    if base is not None:
        return dataclasses.replace(base, **values), extras  # type: ignore[type-var]
    for key, f in fields.items():
        missing = f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
        if missing and f.name not in values:
            raise InvalidParams(f"missing required field {key!r}", field=key)
    return cls(**values), extras


def decode_field(key: str, raw: Any, hint: Any) -> Any:
    """One field's value checked against its type hint (and :data:`CONSTRAINTS`)."""
    value = _convert(key, raw, hint)
    check = CONSTRAINTS.get(key)
    if check is not None and value is not None and not check[0](value):
        raise InvalidParams(f"field {key!r} {check[1]}", field=key)
    return value


def _as_object(params: Any) -> dict[str, Any]:
    """The params object; also given by position, as an array of at most one object or null.

    Clients send that for "no params" or "this object": Lua encodes an empty table as ``[]``,
    and vscode-jsonrpc sends ``[null]`` or ``[{...}]`` for a single positional argument.
    """
    if isinstance(params, list) and len(params) <= 1:
        params = params[0] if params else None
        if params is not None and not isinstance(params, dict):
            raise InvalidParams(f"params must be an object, not an array of {_json_type(params)}")
    if params is None:
        return {}
    if not isinstance(params, dict):
        if isinstance(params, list):
            raise InvalidParams("params must be an object, not an array of several values")
        raise InvalidParams(f"params must be an object, not {_json_type(params)}")
    return params


_HINTS: dict[type[Any], dict[str, Any]] = {}


def _hints(cls: type[Any]) -> dict[str, Any]:
    hints = _HINTS.get(cls)
    if hints is None:  # Resolving string annotations is slow: once per class.
        hints = _HINTS[cls] = typing.get_type_hints(cls)
    return hints


def _convert(key: str, raw: Any, hint: Any) -> Any:
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        if raw is None and type(None) in args:
            return None
        (inner,) = (arg for arg in args if arg is not type(None))
        return _convert(key, raw, inner)
    if origin is tuple and args[1:] == (...,):
        if not isinstance(raw, list):
            raise InvalidParams(f"field {key!r} must be an array, not {_json_type(raw)}", key)
        return tuple(_convert(f"{key}[{index}]", item, args[0]) for index, item in enumerate(raw))
    expected = {bool: "a boolean", int: "an integer", float: "a number", str: "a string"}
    if hint is float and isinstance(raw, int | float) and not isinstance(raw, bool):
        return float(raw)
    if hint is str and isinstance(raw, str) and not is_text(raw):
        # JSON's \ud800 escapes can smuggle in lone surrogates, which no SQLite string or UTF-8
        # text can hold; in a path, U+DC80-U+DCFF are the bytes of a name that is not UTF-8.
        if key.split("[", 1)[0] not in PATH_PARAMS:
            raise InvalidParams(
                f"field {key!r} must be valid Unicode (it holds a lone surrogate)", key
            )
        if not is_path_text(raw):
            raise InvalidParams(
                f"field {key!r} holds a lone surrogate other than U+DC80-U+DCFF"
                " (PEP 383's undecodable bytes, the only ones a path may hold)",
                key,
            )
    if hint in expected and isinstance(raw, hint) and (hint is bool or not isinstance(raw, bool)):
        return raw
    if hint in expected:
        raise InvalidParams(f"field {key!r} must be {expected[hint]}, not {_json_type(raw)}", key)
    raise TypeError(f"the wire cannot decode {hint!r} (field {key!r})")


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    return "an array" if isinstance(value, list) else "an object"


# -- per-method params --------------------------------------------------------------------


def scan_params(params: Any, settings: Settings) -> tuple[ScanOptions, ProgressToken | None]:
    """``pluginary/scan`` params -> options (initialization options fill the gaps) and token."""
    base = ScanOptions(
        workers=settings.workers,
        timeout_seconds=settings.timeout_seconds,
        memory_limit_mib=settings.memory_limit_mib,
        output_limit_mib=settings.output_limit_mib,
        audio_check=settings.audio_check,
    )
    options, extras = decode(ScanOptions, params, base=base, extra=(WORK_DONE_TOKEN,))
    # Folders from the initialization options are scanned by every scan, before the scan's own.
    folders = tuple(dict.fromkeys(settings.folders + options.folders))
    return dataclasses.replace(options, folders=folders), _token(extras)


def resume_params(params: Any) -> ProgressToken | None:
    """``pluginary/resume`` params -> the work-done token, if any."""
    given = _as_object(params)
    for key in given:
        if key != WORK_DONE_TOKEN:
            raise InvalidParams(f"unknown field {key!r}", field=key)
    return _token(given)


def query_params(params: Any) -> PluginQuery:
    """``pluginary/query`` params -> a PluginQuery."""
    return decode(PluginQuery, params)[0]


def plugin_params(params: Any) -> str:
    """``pluginary/plugin`` params -> the plugin id."""
    return decode(PluginRef, params)[0].id


def status_params(params: Any) -> None:
    """``pluginary/status`` takes no params (an empty object or none)."""
    for key in _as_object(params):
        raise InvalidParams(f"unknown field {key!r}", field=key)


def _token(extras: dict[str, Any]) -> ProgressToken | None:
    if WORK_DONE_TOKEN not in extras:
        return None
    token = extras[WORK_DONE_TOKEN]
    if isinstance(token, str) and not is_text(token):
        raise InvalidParams(
            f"field {WORK_DONE_TOKEN!r} must be valid Unicode (it holds a lone surrogate)",
            field=WORK_DONE_TOKEN,
        )
    if isinstance(token, int | str) and not isinstance(token, bool):
        return token
    raise InvalidParams(
        f"field {WORK_DONE_TOKEN!r} must be an integer or a string, not {_json_type(token)}",
        field=WORK_DONE_TOKEN,
    )


def read_settings(options: Any) -> tuple[Settings, list[str]]:
    """Initialization options -> Settings; each invalid option is described and left default."""
    if options is None:
        return Settings(), []
    if not isinstance(options, dict):
        return Settings(), [f"initializationOptions must be an object, not {_json_type(options)}"]
    fields = wire_fields(Settings)
    values: dict[str, Any] = {}
    problems: list[str] = []
    for key, raw in options.items():
        if key not in fields:
            problems.append(f"unknown initialization option {key!r} ignored")
            continue
        try:
            values[fields[key].name] = decode_field(key, raw, _hints(Settings)[fields[key].name])
        except InvalidParams as error:
            problems.append(f"initialization option {error}; using the default")
    return Settings(**values), problems
