"""The border where a probe's report enters the scanner: untrusted bytes in, checked events out.

A probe writes its events (see ``probe.py``) to a file a plugin can also write to, so nothing in it
is trusted: each line must be JSON of a known event with fields of the right types, all the way
down to every parameter, before ``interpret()`` or the catalogue see it. Reading stops at the first
line that is not; the problem is returned so that the class being probed when the garbage was
written is blamed for it. A last line without its newline was cut short by the probe's death: it
ends the readable part without being anybody's fault.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

# A report larger than this is not a probe's (the largest real one is a few MiB).
MAX_REPORT_BYTES = 64 * 1024 * 1024

_NUMBER = (int, float)
_SCALAR = (int, float, str, bool, type(None))
_TEXT = (str, type(None))


class MalformedReport(ValueError):
    """A report line that is not an event the probe writes."""


def parse_report(data: bytes) -> tuple[list[dict[str, Any]], str | None]:
    """The events in a probe's result file, and what was wrong with it (None if nothing)."""
    if len(data) > MAX_REPORT_BYTES:
        return [], f"its report is {len(data) // 2**20} MiB, over the limit of {_mib()} MiB"
    lines = data.split(b"\n")
    complete, last = lines[:-1], lines[-1]
    events: list[dict[str, Any]] = []
    for number, line in enumerate(complete, start=1):
        if not line.strip():
            continue
        try:
            events.append(check_event(json.loads(line, parse_constant=_no_constant)))
        except (ValueError, RecursionError) as error:
            return events, f"line {number} of its report is malformed: {_short(error)}"
    del last  # Cut short by the probe's death, if anything.
    return events, None


def _no_constant(name: str) -> Any:
    raise MalformedReport(f"{name} is not a JSON value")


def check_event(event: Any) -> dict[str, Any]:
    """``event`` itself if it is well-formed, else MalformedReport saying what is wrong."""
    if not isinstance(event, dict):
        raise MalformedReport(f"an event must be an object, not {_type(event)}")
    kind = event.get("event")
    check = _EVENTS.get(kind) if isinstance(kind, str) else None
    if check is None:
        raise MalformedReport(f"unknown event {_clip(kind)}")
    check(event)
    return event


def _classes(event: dict[str, Any]) -> None:
    names = _field(event, "names", list, "classes")
    for name in names:
        _is(name, str, "classes.names[]")


def _class_event(event: dict[str, Any]) -> None:
    _field(event, "class", _TEXT, event["event"])


def _result(event: dict[str, Any]) -> None:
    _field(event, "class", _TEXT, "result")
    status = _field(event, "status", str, "result")
    if status == "ok":
        _plugin(_field(event, "plugin", dict, "result"))
        probe_ms = _field(event, "probe_ms", dict, "result")
        for key in ("load", "parameters"):
            _field(probe_ms, key, _NUMBER, "result.probe_ms")
        _field(probe_ms, "audio", (*_NUMBER, type(None)), "result.probe_ms")
        _optional(event, "describer", str, "result")
    elif status == "failed":
        _field(event, "error", str, "result")
        for key in ("error_type", "diagnosis"):
            _optional(event, key, _TEXT, "result")
        _optional(event, "load_ms", (*_NUMBER, type(None)), "result")
        if "bus_layout" in event:
            layout = _field(event, "bus_layout", dict, "result")
            for key in ("inputs", "outputs"):
                _field(layout, key, int, "result.bus_layout")
    else:
        raise MalformedReport(f"result.status is {_clip(status)}, not ok or failed")


def _plugin(plugin: dict[str, Any]) -> None:
    where = "result.plugin"
    _field(plugin, "name", str, where)
    for key in ("vendor", "version", "category", "identifier", "descriptive_name"):
        _optional(plugin, key, _TEXT, where)
    for key in ("is_effect", "is_instrument"):
        _field(plugin, key, bool, where)
    for parameter in _field(plugin, "parameters", list, where):
        _parameter(parameter)


def _parameter(parameter: Any) -> None:
    where = "result.plugin.parameters[]"
    _is(parameter, dict, where)
    _field(parameter, "index", int, where)
    _field(parameter, "name", str, where)
    _field(parameter, "key", str, where)
    if _field(parameter, "type", str, where) not in ("float", "bool", "str"):
        raise MalformedReport(f"{where}.type is {_clip(parameter['type'])}")
    for key in ("units", "default_text", "range_problem"):
        _optional(parameter, key, _TEXT, where)
    for key in ("min", "max", "step", "approximate_step", "default_raw", "plugin_default_raw"):
        _optional(parameter, key, _SCALAR, where)
    for key in ("boolean", "discrete", "automatable", "values_truncated"):
        _optional(parameter, key, bool, where)
    _optional(parameter, "num_steps", (int, type(None)), where)
    for key in ("values", "samples"):
        _optional(parameter, key, (list, type(None)), where)


def _begin(event: dict[str, Any]) -> None:
    _field(event, "class", _TEXT, "begin")
    _optional(event, "output_at", (int, type(None)), "begin")
    _optional(event, "elapsed_ms", (int, float), "begin")


def _processing(event: dict[str, Any]) -> None:
    _field(event, "class", _TEXT, "processing")
    _optional(event, "step", str, "processing")
    _optional(event, "channels", int, "processing")
    _optional(event, "accepted", list, "processing")
    for count in event.get("accepted") or []:
        _is(count, int, "processing.accepted[]")


def _describing(event: dict[str, Any]) -> None:
    _field(event, "class", _TEXT, "describing")
    for key in ("done", "total"):
        _field(event, key, int, "describing")


def _checked(event: dict[str, Any]) -> None:
    _field(event, "class", _TEXT, "checked")
    facts = _field(event, "facts", dict, "checked")
    for count in _field(facts, "channels", list, "checked.facts"):
        _is(count, int, "checked.facts.channels[]")
    _field(facts, "latency_samples", int, "checked.facts")
    for key in ("audio_check", "state"):
        _optional(facts, key, (dict, type(None)), "checked.facts")
    _field(facts, "audio_ms", _NUMBER, "checked.facts")


def _done(event: dict[str, Any]) -> None:
    pass


_EVENTS: dict[str, Callable[[dict[str, Any]], None]] = {
    "classes": _classes,
    "begin": _begin,
    "result": _result,
    "describing": _describing,
    "processing": _processing,
    "checked": _checked,
    "unloading": _class_event,
    "done": _done,
}


def _field(container: dict[str, Any], key: str, types: Any, where: str) -> Any:
    if key not in container:
        raise MalformedReport(f"{where} has no {key!r}")
    return _is(container[key], types, f"{where}.{key}")


def _optional(container: dict[str, Any], key: str, types: Any, where: str) -> None:
    if key in container:
        _is(container[key], types, f"{where}.{key}")


def _is(value: Any, types: Any, where: str) -> Any:
    # bool is an int in Python, but a count or an index that is true/false is still malformed.
    wanted = types if isinstance(types, tuple) else (types,)
    if (isinstance(value, bool) and bool not in wanted) or not isinstance(value, wanted):
        raise MalformedReport(f"{where} is {_type(value)}")
    return value


def _type(value: Any) -> str:
    names = {dict: "an object", list: "an array", str: "a string", bool: "a boolean"}
    if value is None:
        return "null"
    number = "a number" if isinstance(value, _NUMBER) else type(value).__name__
    return names.get(type(value), number)


def _clip(value: Any) -> str:
    return _short(repr(value))


def _short(error: object, limit: int = 120) -> str:
    text = str(error)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _mib() -> int:
    return MAX_REPORT_BYTES // 2**20
