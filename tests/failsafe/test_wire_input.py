"""Bad input over the wire, as raw bytes on real pipes: every frame is answered, the server stays.

One sidecar serves the whole module (a damaged frame must not spoil the next test either); every
message it sent is checked against the schema when the module ends.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from faultkit import Launch
from ledger import Ledger
from rawclient import Sidecar, encode, frame, sidecars

from pluginary.server.framing import MAX_BODY_BYTES, MAX_HEADER_BYTES
from wirecheck import SCHEMA, params_schema, validator

pytestmark = pytest.mark.failsafe

PARSE_ERROR, INVALID_REQUEST, METHOD_NOT_FOUND, INVALID_PARAMS = -32700, -32600, -32601, -32602
METHODS = sorted(SCHEMA["x-methods"])
STATUS = {"jsonrpc": "2.0", "method": "pluginary/status"}


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    made = tmp_path_factory.mktemp("wire")
    (made / "empty").mkdir()
    return made


@pytest.fixture(scope="module")
def sidecar(root: Path) -> Iterator[Sidecar]:
    """One sidecar for the module; it must still be up, and exit cleanly, at the end."""
    with sidecars(root / "cache", root / "logs") as start:
        running = start()
        running.initialize()
        yield running
        assert running.process.poll() is None, "the sidecar died"
        assert running.shutdown() == 0


def after(sidecar: Sidecar, damage: bytes, probe_id: str) -> list[dict[str, Any]]:
    """Send ``damage`` then a status request; the answers that came before the status's.

    Errors about the envelope are answered as the frame is read, so they come first; results
    (answered from worker threads) may come in any order.
    """
    seen = len(sidecar.messages)
    sidecar.methods[probe_id] = STATUS["method"]
    sidecar.write(damage + encode({**STATUS, "id": probe_id}))
    answer = sidecar.response(probe_id)
    assert "result" in answer, answer  # The request after the damage is answered.
    responses = [m for m in sidecar.messages[seen:] if "method" not in m]
    return responses[: responses.index(answer)]


def body(message: dict[str, Any]) -> bytes:
    return json.dumps(message).encode()


REQUEST = {"jsonrpc": "2.0", "id": "inner", "method": "pluginary/status"}
FRAMING: dict[str, tuple[bytes, list[int]]] = {
    "malformed JSON": (frame(b'{"jsonrpc": "2.0", "id": 5, "method":'), [PARSE_ERROR]),
    "trailing garbage": (frame(body(REQUEST) + b" }"), [PARSE_ERROR]),
    "invalid UTF-8": (frame(b'{"jsonrpc": "2.0", "method": "\xff\xfe"}'), [PARSE_ERROR]),
    "empty body": (b"Content-Length: 0\r\n\r\n", [PARSE_ERROR]),
    "integer of 5000 digits": (frame(b'{"limit": ' + b"9" * 5000 + b"}"), [PARSE_ERROR]),
    "nesting 100,000 deep": (frame(b"[" * 100_000 + b"]" * 100_000), [PARSE_ERROR]),
    "missing Content-Length": (b"Content-Type: x\r\n\r\n" + body(REQUEST), [PARSE_ERROR]),
    "non-numeric Content-Length": (b"Content-Length: 12a\r\n\r\n" + body(REQUEST), [PARSE_ERROR]),
    "negative Content-Length": (b"Content-Length: -3\r\n\r\n" + body(REQUEST), [PARSE_ERROR]),
    "Content-Length too small": (
        b"Content-Length: 20\r\n\r\n" + body(REQUEST),
        [PARSE_ERROR, PARSE_ERROR],  # The cut body, then the rest of it where a header should be.
    ),
    "header without body": (b"Content-Length: 30\r\n\r\n", [PARSE_ERROR]),
    "header line without line break": (b"x" * (2 * MAX_HEADER_BYTES), [PARSE_ERROR]),
    "body over the limit": (
        b"Content-Length: %d\r\n\r\n" % (2 * MAX_BODY_BYTES)
        + b'{"a": "'
        + b"x" * (2 * MAX_BODY_BYTES - 9)
        + b'"}',
        [PARSE_ERROR],
    ),
    "NUL bytes between frames": (b"\0" * 100 + b"\r\n", [PARSE_ERROR]),
    "NaN": (frame(b'{"jsonrpc": "2.0", "id": 3, "method": "x", "params": NaN}'), [PARSE_ERROR]),
    "Infinity": (frame(b'{"jsonrpc": "2.0", "id": 3, "params": {"a": -Infinity}}'), [PARSE_ERROR]),
}


@pytest.mark.parametrize("case", FRAMING, ids=list(FRAMING))
def test_damaged_frames_are_parse_errors_and_the_next_request_is_answered(
    sidecar: Sidecar, ledger: Ledger, case: str
) -> None:
    damage, codes = FRAMING[case]
    errors = after(sidecar, damage, f"probe-{case}")
    assert [m["error"]["code"] for m in errors] == codes, errors
    assert all(m["id"] is None for m in errors)  # JSON-RPC: no id could be read, so null.
    ledger.record("wire-framing", "ParseError (id null) for each damaged frame; next answered")


def test_lenient_framing_is_understood(sidecar: Sidecar) -> None:
    # Header names in any case, bare line feeds, blank lines between frames.
    request = body({**REQUEST, "id": "lenient"})
    lower = b"content-length: %d\ncontent-type: application/json\n\n" % len(request)
    sidecar.methods["lenient"] = STATUS["method"]
    assert all("result" in m for m in after(sidecar, b"\r\n\r\n" + lower + request, "probe-l"))
    assert "result" in sidecar.response("lenient")


def test_a_content_length_too_large_costs_no_request(sidecar: Sidecar) -> None:
    # The first body runs into the status request's header: split there, both are answered.
    long = b"Content-Length: %d\r\n\r\n" % (len(body(REQUEST)) + 25) + body(
        {**REQUEST, "id": "long"}
    )
    sidecar.methods["long"] = STATUS["method"]
    assert all("result" in m for m in after(sidecar, long, "probe-long"))
    assert "result" in sidecar.response("long")


ENVELOPES: dict[str, tuple[Any, Any]] = {
    "null": (None, None),
    "a number": (42, None),
    "a string": ("pluginary/status", None),
    "a batch": ([REQUEST], None),
    "an empty object": ({}, None),
    "only jsonrpc": ({"jsonrpc": "2.0"}, None),
    "no jsonrpc": ({"id": "e1", "method": "pluginary/status"}, "e1"),
    "jsonrpc 1.0": ({"jsonrpc": "1.0", "id": "e2", "method": "pluginary/status"}, "e2"),
    "jsonrpc 2": ({"jsonrpc": 2, "id": "x", "method": "pluginary/status"}, "x"),
    "id an object": ({**STATUS, "id": {"a": 1}}, None),
    "id an array": ({**STATUS, "id": [1]}, None),
    "id a float": ({**STATUS, "id": 1.5}, None),
    "id a boolean": ({**STATUS, "id": True}, None),
    "id null": ({**STATUS, "id": None}, None),
    "method a number": ({"jsonrpc": "2.0", "id": "e3", "method": 42}, "e3"),
    "method null": ({"jsonrpc": "2.0", "id": "e4", "method": None}, "e4"),
    "method an object": ({"jsonrpc": "2.0", "method": {"a": 1}}, None),
}


@pytest.mark.parametrize("case", ENVELOPES, ids=list(ENVELOPES))
def test_what_is_not_a_json_rpc_message_is_an_invalid_request(
    sidecar: Sidecar, ledger: Ledger, case: str
) -> None:
    message, answered_id = ENVELOPES[case]
    errors = after(sidecar, frame(json.dumps(message).encode()), f"probe-{case}")
    assert [(m["id"], m["error"]["code"]) for m in errors] == [(answered_id, INVALID_REQUEST)]
    ledger.record("wire-envelope", "InvalidRequest (with the id when usable, else null)")


def test_responses_and_notifications_that_make_no_sense_are_ignored(sidecar: Sidecar) -> None:
    nonsense = [
        {"jsonrpc": "2.0", "id": "never-asked", "result": 1},
        {"jsonrpc": "2.0", "id": "never-asked", "error": {"code": 1, "message": "x"}},
        {"jsonrpc": "2.0", "id": [1], "result": None},
        {"jsonrpc": "2.0", "method": "$/cancelRequest", "params": {"id": {"a": 1}}},
        {"jsonrpc": "2.0", "method": "$/cancelRequest", "params": 5},
        {"jsonrpc": "2.0", "method": "$/cancelRequest", "params": {"id": "unknown"}},
        {"jsonrpc": "2.0", "method": "window/workDoneProgress/cancel", "params": {"token": []}},
        {"jsonrpc": "2.0", "method": "$/setTrace", "params": {"value": "verbose"}},
        {"jsonrpc": "2.0", "method": "initialized", "params": [1]},
        {"jsonrpc": "2.0", "method": "pluginary/nope", "params": {}},
        {"jsonrpc": "2.0", "method": "$/nope"},
    ]
    assert after(sidecar, b"".join(encode(m) for m in nonsense), "probe-nonsense") == []


@pytest.mark.parametrize("method", ["pluginary/nope", "nope", "$/nope", "", "pluginary/Status"])
def test_unknown_methods_are_method_not_found(sidecar: Sidecar, method: str) -> None:
    error = sidecar.error(method, {})
    assert error.code == METHOD_NOT_FOUND
    assert sidecar.result("pluginary/status")["version"]


@pytest.mark.parametrize("method", METHODS)
# ([] and [null] are no params, and [{...}] that object: see protocol/README.md, "Requests".)
@pytest.mark.parametrize("params", [[1], [[]], [{}, {}], 5, "x", True, 2.5])
def test_non_object_params_are_invalid_params(
    sidecar: Sidecar, ledger: Ledger, method: str, params: Any
) -> None:
    error = sidecar.error(method, params)
    assert error.code == INVALID_PARAMS and "params must be an object" in error.message
    ledger.record("wire-params", "InvalidParams naming the field (or the params)")


# One value of each JSON type, and the edges of the numeric ranges.
VALUES: list[Any] = [
    "x",
    "",
    "\ud800",
    0,
    -1,
    5,
    10**30,
    2.5,
    True,
    None,
    [],
    ["x"],
    [1],
    {},
    {"k": 1},
]


# Fields the schema types as any string but the server checks by value (InvalidQuery).
CHECKED_BY_VALUE = {"kind", "status", "cursor"}


def field_cases() -> list[tuple[str, str, Any]]:
    cases = []
    for method in METHODS:
        properties = SCHEMA["$defs"][params_schema(method)].get("properties", {})
        for field in properties:
            cases += [(method, field, value) for value in VALUES]
    return cases


def valid(method: str, params: dict[str, Any]) -> bool:
    try:
        validator(params_schema(method)).validate(params)
    except jsonschema.ValidationError:
        return False
    # A lone surrogate is no text: the schema's strings are Unicode.
    return "\\ud800" not in json.dumps(params)


@pytest.mark.parametrize(
    ("method", "field", "value"),
    field_cases(),
    ids=[f"{m.split('/')[1]}-{f}-{json.dumps(v)}" for m, f, v in field_cases()],
)
def test_every_field_of_every_method_takes_only_its_type(
    sidecar: Sidecar, root: Path, ledger: Ledger, method: str, field: str, value: Any
) -> None:
    base: dict[str, Any] = {}
    if method == "pluginary/scan":
        # A valid scan must not search this machine's plugin folders: only an empty one.
        base = {"folders": [str(root / "empty")], "onlyFolders": True}
    if method == "pluginary/plugin":
        base = {"id": "vst3.none.00000000"}
    if field == "onlyFolders" and value is False:
        value = True
    params = {**base, field: value}
    answer = sidecar.call(method, params)
    error = answer.get("error", {})
    if valid(method, params) and field in CHECKED_BY_VALUE:
        # The right type; an unknown kind or status, or a foreign cursor, is InvalidQuery.
        assert "result" in answer or (error["code"], error["data"]) == (
            INVALID_PARAMS,
            {"field": field},
        )
    elif valid(method, params):
        assert error.get("code") not in (INVALID_PARAMS, -32603), answer
    else:
        assert answer["error"]["code"] == INVALID_PARAMS, answer
        assert answer["error"]["data"]["field"].startswith(field), answer
        ledger.record("wire-params", "InvalidParams naming the field (or the params)")


def test_initialization_options_of_every_wrong_type_are_shown_and_defaulted(
    launch: Launch, tmp_path: Path
) -> None:
    options = SCHEMA["$defs"]["InitializationOptions"]["properties"]
    for bad in ([1], {"k": 1}, True):
        sidecar = launch()
        sidecar.initialize({name: bad for name in options} | {"unknownOption": 1})
        shown = " ".join(m["message"] for m in sidecar.notifications("window/showMessage"))
        wrong = [
            n for n in options if not jsonschema.Draft202012Validator(options[n]).is_valid(bad)
        ]
        assert wrong  # Each bad value is wrong for some option.
        for name in [*wrong, "unknownOption"]:
            assert f"'{name}" in shown  # Named ('folders[0]' for an item of folders).
        for name in set(options) - set(wrong):
            assert f"'{name}'" not in shown  # A value of the right type is taken silently.
        status = sidecar.result("pluginary/status")
        assert status["cache"]["root"] == str(sidecar.cache)  # cacheDir fell back to default.
        assert sidecar.shutdown() == 0


def test_requests_after_shutdown_are_invalid_requests(launch: Launch, ledger: Ledger) -> None:
    sidecar = launch()
    sidecar.initialize()
    assert sidecar.result("shutdown") is None
    params = {"processId": None, "capabilities": {}}
    for method, given in [*[(m, {}) for m in METHODS], ("initialize", params), ("shutdown", None)]:
        error = sidecar.error(method, given)
        assert error.code == INVALID_REQUEST
        assert method == "initialize" or "after shutdown" in error.message
    sidecar.notify("initialized", {})  # Notifications are dropped, and exit still works.
    sidecar.notify("exit")
    assert sidecar.wait_exit() == 0
    ledger.record("wire-after-shutdown", "InvalidRequest for every method; exit gives 0")


def test_a_flood_of_1000_queries_during_a_scan_is_answered_in_full(
    launch: Launch, folder: Any, misbehaving_plugins: dict[str, Path], ledger: Ledger
) -> None:
    plugins = folder(extra=(misbehaving_plugins["hang"],))
    sidecar = launch()
    sidecar.initialize()
    base = {"folders": [str(plugins)], "onlyFolders": True, "workers": 2, "timeoutSeconds": 600}
    sidecar.result("pluginary/scan", {**base, "timeoutSeconds": 1})
    queries: list[dict[str, Any]] = [
        {},
        {"text": "zam"},
        {"text": "reverb", "kind": "effect"},
        {"vendor": "zammit", "limit": 3},
        {"status": "failed"},
        {"status": "timeout"},
        {"category": "Dynamics"},
        {"parameter": "Dry"},
        {"text": '"unbalanced ( NEAR * -'},
        {"limit": 1000},
    ]
    expected = [sidecar.result("pluginary/query", q) for q in queries]
    ids = [p["id"] for p in expected[0]["plugins"]]
    assert expected[0]["total"] == len(ids) > 0

    # A rescan probes everything again, then holds on the hanging plugin: it cannot commit
    # while the flood lasts, so the catalogue stays as it was. The flood starts with the probes.
    rescan = sidecar.request("pluginary/scan", {**base, "rescan": True, "workDoneToken": "r"})
    sidecar.wait_for(lambda: sidecar.reports("r"), "the rescan to start probing")
    flood = [(f"flood-{n}", queries[n % len(queries)]) for n in range(1000)]
    started = time.monotonic()
    sidecar.write(
        b"".join(
            encode({"jsonrpc": "2.0", "id": i, "method": "pluginary/query", "params": q})
            for i, q in flood
        )
    )
    for msg_id, query in flood:
        sidecar.methods[msg_id] = "pluginary/query"
        assert sidecar.response(msg_id)["result"] == expected[queries.index(query)]
    answered = time.monotonic() - started
    answers = [m for m in sidecar.responses() if str(m.get("id")).startswith("flood-")]
    assert len(answers) == 1000  # Each exactly once.
    status = sidecar.result("pluginary/status")
    assert status["running"]["pid"] == sidecar.pid  # The scan went on meanwhile.
    plugin = sidecar.result("pluginary/plugin", {"id": ids[0]})
    assert plugin["id"] == ids[0]
    sidecar.notify("$/cancelRequest", {"id": rescan})
    assert sidecar.response(rescan)["error"]["code"] == -32800
    assert sidecar.shutdown() == 0
    ledger.record(
        "wire-flood",
        "all 1,000 answered once, each equal to the same query before the flood",
        flood_answered=answered,
    )
