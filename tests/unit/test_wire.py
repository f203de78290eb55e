"""The wire layer: params decoding (errors name the field), encoding, settings, error table."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest
from pygls.exceptions import JsonRpcInternalError

from pluginary.errors import (
    InvalidQuery,
    NothingToResume,
    PluginNotFound,
    ScanInProgress,
    StorageError,
)
from pluginary.models import Parameter, PluginQuery, QueryPage
from pluginary.scan_models import CatalogChange, ScanOptions, ScanProblem, ScanSummary
from pluginary.server import wire
from pluginary.server.errors import to_rpc_error
from pluginary.server.settings import Settings
from pluginary.server.wire import InvalidParams


def test_camel() -> None:
    assert wire.camel("timed_out") == "timedOut"
    assert wire.camel("values_truncated") == "valuesTruncated"
    assert wire.camel("id") == "id"


def test_scan_params_decode_every_field() -> None:
    params = {
        "folders": ["/a", "/b"],
        "onlyFolders": True,
        "rescan": True,
        "retryFailed": True,
        "workers": 3,
        "timeoutSeconds": 5,
        "workDoneToken": "t-1",
    }
    options, token = wire.scan_params(params, Settings())
    assert options == ScanOptions(
        folders=("/a", "/b"),
        only_folders=True,
        rescan=True,
        retry_failed=True,
        workers=3,
        timeout_seconds=5.0,
    )
    assert token == "t-1"


def test_scan_params_default_to_the_settings() -> None:
    settings = Settings(workers=2, timeout_seconds=9.0, folders=("/extra",))
    options, token = wire.scan_params(None, settings)
    assert options == ScanOptions(folders=("/extra",), workers=2, timeout_seconds=9.0)
    assert token is None
    options, _ = wire.scan_params({"folders": ["/mine", "/extra"], "workers": None}, settings)
    assert options.folders == ("/extra", "/mine")
    assert options.workers is None


@pytest.mark.parametrize(
    ("params", "field", "words"),
    [
        ({"folders": "/a"}, "folders", "must be an array, not a string"),
        ({"folders": ["/a", 3]}, "folders[1]", "must be a string, not a number"),
        ({"onlyFolders": "yes"}, "onlyFolders", "must be a boolean"),
        ({"workers": 2.5}, "workers", "must be an integer, not a number"),
        ({"workers": True}, "workers", "must be an integer, not a boolean"),
        ({"workers": 0}, "workers", "at least 1"),
        ({"timeoutSeconds": 0}, "timeoutSeconds", "greater than 0"),
        ({"timeoutSeconds": "1"}, "timeoutSeconds", "must be a number, not a string"),
        ({"only_folders": True}, "only_folders", "unknown field"),
        ({"workDoneToken": 1.5}, "workDoneToken", "integer or a string"),
    ],
)
def test_malformed_scan_params_name_the_field(
    params: dict[str, Any], field: str, words: str
) -> None:
    with pytest.raises(InvalidParams) as raised:
        wire.scan_params(params, Settings())
    assert raised.value.field == field
    assert words in str(raised.value) and repr(field) in str(raised.value)


def test_params_must_be_an_object() -> None:
    with pytest.raises(InvalidParams, match="params must be an object, not an array"):
        wire.query_params([1, 2])
    with pytest.raises(InvalidParams, match="not an array of a number"):
        wire.query_params([1])
    with pytest.raises(InvalidParams, match="not a string"):
        wire.query_params("text")


@pytest.mark.parametrize("params", [None, {}, [], [None]])
def test_no_params_may_come_as_an_empty_array_or_null_by_position(params: object) -> None:
    assert wire.query_params(params) == wire.query_params({})
    wire.status_params(params)
    assert wire.resume_params(params) is None


def test_an_object_may_come_by_position() -> None:
    assert wire.query_params([{"text": "reverb"}]).text == "reverb"
    assert wire.plugin_params([{"id": "vst3.x.1"}]) == "vst3.x.1"


def test_query_params() -> None:
    assert wire.query_params(None) == PluginQuery()
    query = wire.query_params({"text": "verb", "kind": "effect", "limit": 5, "cursor": None})
    assert query == PluginQuery(text="verb", kind="effect", limit=5)
    with pytest.raises(InvalidParams) as raised:
        wire.query_params({"limit": "5"})
    assert raised.value.field == "limit"


def test_plugin_params_require_the_id() -> None:
    assert wire.plugin_params({"id": "vst3.x.1"}) == "vst3.x.1"
    with pytest.raises(InvalidParams, match="missing required field 'id'") as raised:
        wire.plugin_params({})
    assert raised.value.field == "id"
    with pytest.raises(InvalidParams, match="'id' must be a string"):
        wire.plugin_params({"id": 7})


def test_resume_and_status_params() -> None:
    assert wire.resume_params(None) is None
    assert wire.resume_params({"workDoneToken": 4}) == 4
    wire.status_params(None)
    wire.status_params({})
    with pytest.raises(InvalidParams, match="unknown field 'rescan'"):
        wire.resume_params({"rescan": True})
    with pytest.raises(InvalidParams, match="unknown field 'x'"):
        wire.status_params({"x": 1})


def test_to_wire_is_camel_case_json_with_every_field() -> None:
    problem = ScanProblem("vst3.x.0", "X", "failed", "/p/X.vst3", "no")
    summary = ScanSummary("s", 3, 2, 1, 1, 0, 0, 1, 0, 12.5, 0, 0, 0, ["/p"], [problem], {"ok": 1})
    assert wire.to_wire(summary) == {
        "scanId": "s",
        "discovered": 3,
        "probed": 2,
        "ok": 1,
        "failed": 1,
        "timedOut": 0,
        "crashed": 0,
        "unchanged": 1,
        "removed": 0,
        "durationMs": 12.5,
        "ignored": 0,
        "kept": 0,
        "retried": 0,
        "folders": ["/p"],
        "problems": [
            {"id": "vst3.x.0", "name": "X", "status": "failed", "path": "/p/X.vst3", "error": "no"}
        ],
        "catalogByStatus": {"ok": 1},
    }
    page = wire.to_wire(QueryPage(plugins=[], total=0, next_cursor=None))
    assert page == {"plugins": [], "total": 0, "nextCursor": None}
    assert wire.to_wire(CatalogChange(added=["a"])) == {
        "added": ["a"],
        "updated": [],
        "removed": [],
    }


def test_to_wire_never_emits_nan() -> None:
    parameter = Parameter(
        0, "Gain", "gain", "dB", "float", -math.inf, math.nan, None, None, 0.5, "0 dB",
        None, False, False, 0, True, ["a", "b"], False, "unbounded", None,
    )  # fmt: skip
    encoded = wire.to_wire(parameter)
    assert encoded["min"] is None and encoded["max"] is None
    json.dumps(encoded, allow_nan=False)


def test_read_settings_reports_each_bad_option_and_keeps_its_default() -> None:
    settings, problems = wire.read_settings(
        {"cacheDir": "/c", "workers": "many", "timeoutSeconds": 4, "colour": "red"}
    )
    assert settings == Settings(cache_dir="/c", workers=None, timeout_seconds=4.0)
    assert len(problems) == 2
    assert "'workers'" in problems[0] and "default" in problems[0]
    assert "'colour'" in problems[1]
    assert wire.read_settings(None) == (Settings(), [])
    settings, problems = wire.read_settings(["not", "an", "object"])
    assert settings == Settings() and "must be an object" in problems[0]


def test_converter_keeps_params_plain_json() -> None:
    from pygls.protocol import JsonRPCNotification, JsonRPCRequestMessage

    converter = wire.converter()
    raw = {"jsonrpc": "2.0", "id": 1, "method": "pluginary/query", "params": {"class": {"a": 1}}}
    request = converter.structure(raw, JsonRPCRequestMessage)
    assert request.params == {"class": {"a": 1}}
    bare = converter.structure(
        {"jsonrpc": "2.0", "id": 2, "method": "pluginary/status"}, JsonRPCRequestMessage
    )
    assert bare.params is None
    note = converter.structure({"jsonrpc": "2.0", "method": "x"}, JsonRPCNotification)
    assert note.params is None


@pytest.mark.parametrize(
    ("error", "code", "data"),
    [
        (ScanInProgress("busy", owner={"pid": 1}), 1001, {"owner": {"pid": 1}}),
        (NothingToResume("nothing"), 1002, None),
        (PluginNotFound("no such", id="x"), 1003, {"id": "x"}),
        (StorageError("broken", path="/p"), 1004, {"path": "/p"}),
        (InvalidQuery("bad cursor", field="cursor"), -32602, {"field": "cursor"}),
        (InvalidParams("bad", field="limit"), -32602, {"field": "limit"}),
    ],
)
def test_error_table(error: Exception, code: int, data: Any) -> None:
    rpc = to_rpc_error(error)
    assert (rpc.code, rpc.message, rpc.data) == (code, str(error), data)


def test_unmapped_errors_are_internal_errors() -> None:
    rpc = to_rpc_error(KeyError("oops"))
    assert isinstance(rpc, JsonRpcInternalError)
    assert rpc.code == -32603 and "KeyError" in rpc.message
