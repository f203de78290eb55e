"""protocol/ is the contract: the schema, the README and the Python wire types must agree."""

from __future__ import annotations

import dataclasses
import json
import re
import types
import typing
from collections.abc import Callable
from pathlib import Path
from typing import Any

import attrs
import jsonschema
import pytest
from lsprotocol import types as lsp
from lsprotocol.types import WorkDoneProgressBegin, WorkDoneProgressEnd, WorkDoneProgressReport

from pluginary.server import wire
from pluginary.server.app import create_server
from pluginary.server.errors import ERROR_CODES
from pluginary.server.progress import CREATE_TIMEOUT
from pluginary.server.settings import Settings

PROTOCOL = Path(__file__).resolve().parents[2] / "protocol"
SCHEMA = json.loads((PROTOCOL / "pluginary.schema.json").read_text())
README = (PROTOCOL / "README.md").read_text()
DEFS = SCHEMA["$defs"]
JSON_TYPES = {str: "string", int: "integer", float: "number", bool: "boolean"}


def test_schema_is_valid_json_schema_2020_12() -> None:
    jsonschema.Draft202012Validator.check_schema(SCHEMA)
    assert SCHEMA["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert SCHEMA["x-protocolVersion"] == wire.PROTOCOL_VERSION


@pytest.mark.parametrize("name", sorted(wire.SCHEMA_TYPES))
def test_schema_shape_matches_the_dataclass(name: str) -> None:
    cls = wire.SCHEMA_TYPES[name]
    shape = DEFS[name]
    fields = wire.wire_fields(cls)
    extras = set(wire.EXTRA_FIELDS.get(name, ()))
    assert set(shape["properties"]) == set(fields) | extras, "field names differ"
    assert set(shape["required"]) == wire.required_fields(name), "required fields differ"
    hints = typing.get_type_hints(cls)
    for key, field in fields.items():
        expected = _json_types(hints[field.name])
        assert _schema_types(shape["properties"][key]) == expected, f"{name}.{key}"


def test_every_registered_method_is_in_the_schema_and_the_readme() -> None:
    registered = {name for name in create_server().protocol.fm.features if "pluginary/" in name}
    assert registered == set(wire.METHODS) == set(SCHEMA["x-methods"])
    for method, spec in wire.METHODS.items():
        entry = SCHEMA["x-methods"][method]
        assert entry["params"]["anyOf"][0] == {"$ref": f"#/$defs/{spec.params}"}
        assert entry["result"] == {"$ref": f"#/$defs/{spec.result}"}
        assert entry.get("progress", False) == spec.progress
        assert _has_section(method), f"protocol/README.md has no section for {method}"


# How the server decodes each method's params: what it accepts, the schema must accept.
DECODERS: dict[str, Callable[[Any], object]] = {
    "pluginary/scan": lambda params: wire.scan_params(params, Settings()),
    "pluginary/resume": wire.resume_params,
    "pluginary/query": wire.query_params,
    "pluginary/plugin": wire.plugin_params,
    "pluginary/status": wire.status_params,
}
# The smallest params object each method takes.
SMALLEST: dict[str, dict[str, Any]] = {"pluginary/plugin": {"id": "vst3.x.00000000"}}


def params_forms(method: str) -> list[Any]:
    """Every form params may come in: none, the object, by position, and what is none of these."""
    given = SMALLEST.get(method, {})
    by_position = [[], [None], [given], [given, given], [given, None], [None, given], [None, None]]
    return [None, given, {}, *by_position, [[]], [[given]], [1], 5, "x", True, 2.5, [{}]]


@pytest.mark.parametrize("method", sorted(wire.METHODS))
def test_the_schema_takes_every_params_form_the_server_takes_and_no_other(method: str) -> None:
    assert set(DECODERS) == set(wire.METHODS)
    check = jsonschema.Draft202012Validator(
        {"$defs": DEFS, **SCHEMA["x-methods"][method]["params"]}
    )
    for params in params_forms(method):
        try:
            DECODERS[method](params)
            server = True
        except wire.InvalidParams:
            server = False
        # A request without params is read as null: the schema's null stands for both.
        assert check.is_valid(params) == server, f"{method} {json.dumps(params)}: server {server}"


def test_the_server_request_ids_and_answer_time_are_the_schemas() -> None:
    create = SCHEMA["x-serverRequests"][lsp.WINDOW_WORK_DONE_PROGRESS_CREATE]
    assert create["answerWithinSeconds"] == CREATE_TIMEOUT
    assert f"{CREATE_TIMEOUT:g} s" in README
    assert create["id"] == {"$ref": "#/$defs/ServerRequestId"}
    assert DEFS["ServerRequestId"]["type"] == "integer"


def test_every_notification_is_in_the_schema_and_the_readme() -> None:
    assert set(wire.NOTIFICATIONS) == set(SCHEMA["x-notifications"])
    for method, shape in wire.NOTIFICATIONS.items():
        assert SCHEMA["x-notifications"][method]["params"] == {"$ref": f"#/$defs/{shape}"}
        assert _has_section(method), f"protocol/README.md has no section for {method}"


def test_every_error_code_is_in_the_schema_and_the_readme() -> None:
    documented = {entry["title"]: entry["const"] for entry in DEFS["ErrorCode"]["oneOf"]}
    for kind, code in ERROR_CODES.items():
        if code > 0:  # Application codes are named after their exception.
            assert documented.get(kind.__name__) == code, kind.__name__
        assert code in documented.values()
    for name, code in documented.items():
        assert re.search(rf"\b{name}\b", README) and str(code) in README, name
    listed = {code for entry in SCHEMA["x-methods"].values() for code in entry["errors"]}
    assert listed <= set(documented.values())


@pytest.mark.parametrize(
    ("name", "cls"),
    [
        ("WorkDoneProgressBegin", WorkDoneProgressBegin),
        ("WorkDoneProgressReport", WorkDoneProgressReport),
        ("WorkDoneProgressEnd", WorkDoneProgressEnd),
    ],
)
def test_progress_values_match_lsprotocol(name: str, cls: type[Any]) -> None:
    assert set(DEFS[name]["properties"]) == {wire.camel(f.name) for f in attrs.fields(cls)}


def _has_section(method: str) -> bool:
    return re.search(rf"^#+ `{re.escape(method)}`", README, re.MULTILINE) is not None


def _json_types(hint: Any) -> tuple[frozenset[str], str | None]:
    """The JSON types a field's value can take, and the ``$defs`` shape it refers to."""
    allowed: set[str] = set()
    ref = None
    options = typing.get_args(hint) if _is_union(hint) else (hint,)
    for option in options:
        origin = typing.get_origin(option) or option
        if option is type(None):
            allowed.add("null")
        elif origin in JSON_TYPES:
            allowed.add(JSON_TYPES[origin])
        elif origin in (list, tuple):
            allowed.add("array")
        elif origin is dict:
            allowed.add("object")
        elif dataclasses.is_dataclass(origin):
            ref = next(name for name, cls in wire.SCHEMA_TYPES.items() if cls is origin)
            allowed.add("object")
        else:
            raise AssertionError(f"no JSON type for {option!r}")
    return frozenset(allowed), ref


def _schema_types(node: dict[str, Any]) -> tuple[frozenset[str], str | None]:
    if "$ref" in node:
        return frozenset({"object"}), node["$ref"].rsplit("/", 1)[1]
    if "anyOf" in node:
        found = [_schema_types(option) for option in node["anyOf"]]
        refs = [ref for _, ref in found if ref is not None]
        return frozenset().union(*(kinds for kinds, _ in found)), (refs[0] if refs else None)
    kinds = node["type"]
    return frozenset([kinds] if isinstance(kinds, str) else kinds), None


def _is_union(hint: Any) -> bool:
    return typing.get_origin(hint) in (typing.Union, types.UnionType)


def test_the_channel_counts_are_one_list_everywhere() -> None:
    """The probe's counts (child side, which imports no model), the catalogue's, the oracle's
    and the schema's enums are one list."""
    from oracle import CHANNEL_COUNTS as ORACLE_COUNTS
    from pluginary.models import CHANNEL_COUNTS
    from pluginary.scanner import checks

    assert checks.CHANNEL_COUNTS == CHANNEL_COUNTS == ORACLE_COUNTS
    enums = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            channels = node.get("properties", {}).get("channels")
            if channels is not None:
                enums.append(channels.get("enum") or channels["items"]["enum"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(SCHEMA)
    counts = list(CHANNEL_COUNTS)
    assert enums == [[*counts, None], counts, counts]  # QueryParams, PluginSummary, PluginRecord
