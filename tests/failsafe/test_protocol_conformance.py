"""Protocol conformance as third-party clients found it wanting (issue 12, item 13), as classes.

The real ``pluginary serve`` over real pipes, driven by the raw client, which answers the
server's own requests as each test tells it to (or not at all):

- however the client answers ``window/workDoneProgress/create`` (an error, a response without a
  result, the wrong id, nothing), the scan goes on, without progress if it must, and no
  response of the client's is ever answered;
- the server's requests carry integer ids, one counter per connection;
- a work-done token reports one scan at a time: a request that reuses a running scan's token is
  refused, and that scan's progress and cancellation stay intact;
- every LSP method the server does not implement is MethodNotFound whatever its params (a
  notification is ignored).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from faultkit import Launch, scan_params
from ledger import Ledger
from lsprotocol import types
from rawclient import Answer, Sidecar, accept, encode, frame, sidecars

from pluginary.server.progress import CREATE_TIMEOUT

pytestmark = pytest.mark.failsafe

CREATE = "window/workDoneProgress/create"
METHOD_NOT_FOUND, REQUEST_CANCELLED, SCAN_IN_PROGRESS = -32601, -32800, 1001


def raw(**members: Any) -> Answer:
    """An answer to the server's request of these JSON-RPC members, with its id unless given."""

    def answer(request: dict[str, Any]) -> bytes:
        return frame(json.dumps({"jsonrpc": "2.0", "id": request["id"], **members}).encode())

    return answer


def without_jsonrpc(request: dict[str, Any]) -> bytes:
    return frame(json.dumps({"id": request["id"], "result": None}).encode())


def silence(request: dict[str, Any]) -> None:
    return None


# How a client may answer window/workDoneProgress/create, and whether it gets progress.
ANSWERS: dict[str, tuple[Answer, bool]] = {
    "null (polite)": (accept, True),
    "a response without result or error": (raw(), False),
    "an error": (raw(error={"code": -32601, "message": "no progress here"}), False),
    "an error without a message": (raw(error={"code": -32603}), False),
    "an error that is null": (raw(error=None), False),
    "an error that is a number": (raw(error=5), False),
    "both a result and an error": (raw(result=None, error={"code": 1, "message": "m"}), False),
    "no jsonrpc member": (without_jsonrpc, False),
    "its id as a string": (lambda r: raw(id=str(r["id"]), result=None)(r), False),
    "nothing": (silence, False),
}


def server_requests(sidecar: Sidecar) -> list[dict[str, Any]]:
    return [m for m in sidecar.messages if "method" in m and "id" in m]


def answered_only_requests(sidecar: Sidecar) -> None:
    """Every response the sidecar wrote answers a request the client sent."""
    stray = [m for m in sidecar.responses() if m.get("id") not in sidecar.methods]
    assert not stray, f"the sidecar answered what was no request of the client's: {stray}"


@pytest.mark.parametrize("how", ANSWERS, ids=list(ANSWERS))
def test_a_scan_goes_on_however_the_client_answers_window_work_done_progress_create(
    launch: Launch, tmp_path: Path, ledger: Ledger, how: str
) -> None:
    answer, creates = ANSWERS[how]
    sidecar = launch(answer=answer)
    sidecar.initialize()
    (tmp_path / "empty").mkdir()
    scan = sidecar.request("pluginary/scan", scan_params(tmp_path / "empty"))
    summary = sidecar.response(scan)
    assert summary["result"]["discovered"] == 0, summary

    (create,) = server_requests(sidecar)
    assert create["method"] == CREATE
    token = create["params"]["token"]
    kinds = [value["kind"] for value in sidecar.progress(token)]
    assert (kinds[:1], kinds[-1:]) == ((["begin"], ["end"]) if creates else ([], [])), kinds
    if not creates:
        # Said on stderr and to the client, naming the request; never answered.
        logged = [line for line in sidecar.logs() if "progress" in line]
        assert any("scanning without progress" in line for line in logged), sidecar.logs()
        if answer is silence:
            assert f"within {CREATE_TIMEOUT:g} s" in " ".join(logged)
    # An answer now comes too late (or twice): it answers nothing, and nothing answers it.
    sidecar.write(encode({"jsonrpc": "2.0", "id": create["id"], "result": None}))
    # The next scan asks again, under the next integer id; the sidecar is none the worse.
    again = sidecar.request("pluginary/scan", scan_params(tmp_path / "empty"))
    assert "result" in sidecar.response(again)
    assert [m["id"] for m in server_requests(sidecar)] == [1, 2]
    assert sidecar.shutdown() == 0
    answered_only_requests(sidecar)
    if not creates:
        ledger.record("wire-progress-create", "the scan went on without progress; nothing answered")


def hanging_scan(sidecar: Sidecar, plugins: Path, token: Any = None) -> tuple[Any, Any]:
    """Start a scan that hangs on its one plugin; once it probes, its request id and token.

    With no ``token`` the client gives none and the server creates one.
    """
    params = scan_params(plugins, workers=1, timeoutSeconds=600)  # Cancelled long before.
    if token is not None:
        params["workDoneToken"] = token
    scan = sidecar.request("pluginary/scan", params)
    if token is None:
        created = sidecar.wait_for(lambda: server_requests(sidecar), "a progress token's creation")
        token = created[0]["params"]["token"]
    sidecar.wait_for(lambda: sidecar.reports(token), "the scan to probe the hanging plugin")
    return scan, token


def kinds(sidecar: Sidecar, token: Any) -> list[str]:
    return [value["kind"] for value in sidecar.progress(token)]


CANCELLED = {"kind": "end", "message": "cancelled; pluginary/resume continues it"}


def cancel(sidecar: Sidecar, how: str, scan: Any, token: Any) -> None:
    if how == "by its token":
        sidecar.notify("window/workDoneProgress/cancel", {"token": token})
    else:
        sidecar.notify("$/cancelRequest", {"id": scan})


@pytest.mark.parametrize("how", ["by its token", "by its request id"])
def test_a_running_scans_token_is_refused_to_other_requests_and_stays_the_scans(
    launch: Launch,
    folder: Callable[..., Path],
    misbehaving_plugins: dict[str, Path],
    ledger: Ledger,
    how: str,
) -> None:
    plugins = folder(extra=(misbehaving_plugins["hang"],), real=False)
    sidecar = launch()
    sidecar.initialize()
    scan, token = hanging_scan(sidecar, plugins, "7")

    reuse = scan_params(plugins, workDoneToken="7")
    for method, params in [("pluginary/scan", reuse), ("pluginary/resume", {"workDoneToken": "7"})]:
        refused = sidecar.error(method, params)
        assert refused.code == SCAN_IN_PROGRESS, refused
        assert refused.data["field"] == "workDoneToken"
        assert refused.data["owner"]["pid"] == sidecar.pid
        assert "'7'" in refused.message
    # The integer 7 is another token: that scan is refused by the scan lock, as any second scan
    # is, and reports its refusal on its own token.
    other = sidecar.error("pluginary/scan", scan_params(plugins, workDoneToken=7))
    assert other.code == SCAN_IN_PROGRESS and "field" not in other.data
    assert kinds(sidecar, 7) == ["begin", "end"]
    assert kinds(sidecar, "7")[:1] == ["begin"] and kinds(sidecar, "7").count("begin") == 1
    assert "end" not in kinds(sidecar, "7")

    cancel(sidecar, how, scan, token)
    assert sidecar.response(scan)["error"]["code"] == REQUEST_CANCELLED
    assert sidecar.progress("7")[-1] == CANCELLED and kinds(sidecar, "7").count("end") == 1

    # Once its scan has ended, a token is free: the resume reports on it, and cancels by it.
    resume = sidecar.request("pluginary/resume", {"workDoneToken": "7"})
    sidecar.wait_for(lambda: kinds(sidecar, "7").count("begin") == 2, "the resume to begin")
    sidecar.notify("window/workDoneProgress/cancel", {"token": "7"})
    assert sidecar.response(resume)["error"]["code"] == REQUEST_CANCELLED
    assert kinds(sidecar, "7").count("end") == 2
    assert sidecar.shutdown() == 0
    ledger.record("wire-token-reuse", "refused ScanInProgress; the running scan kept its token")


def test_the_token_the_server_created_is_refused_to_a_client_request(
    launch: Launch, folder: Callable[..., Path], misbehaving_plugins: dict[str, Path]
) -> None:
    plugins = folder(extra=(misbehaving_plugins["hang"],), real=False)
    sidecar = launch()
    sidecar.initialize()
    scan, token = hanging_scan(sidecar, plugins)

    refused = sidecar.error("pluginary/scan", scan_params(plugins, workDoneToken=token))
    assert (refused.code, refused.data["field"]) == (SCAN_IN_PROGRESS, "workDoneToken")
    assert kinds(sidecar, token).count("begin") == 1 and "end" not in kinds(sidecar, token)
    cancel(sidecar, "by its token", scan, token)
    assert sidecar.response(scan)["error"]["code"] == REQUEST_CANCELLED
    assert sidecar.progress(token)[-1] == CANCELLED
    assert sidecar.shutdown() == 0


def test_responses_to_nothing_the_sidecar_asked_are_never_answered_and_change_nothing(
    launch: Launch, folder: Callable[..., Path], misbehaving_plugins: dict[str, Path]
) -> None:
    plugins = folder(extra=(misbehaving_plugins["hang"],), real=False)
    sidecar = launch()
    sidecar.initialize()
    scan, token = hanging_scan(sidecar, plugins, "s")
    nonsense: list[dict[str, Any]] = [
        # The id of the client's own running request: no answer to the sidecar's.
        {"jsonrpc": "2.0", "id": scan, "result": None},
        {"jsonrpc": "2.0", "id": scan, "error": {"code": 1, "message": "x"}},
        {"jsonrpc": "2.0", "id": scan},
        # Ids the sidecar never used, of either type.
        {"jsonrpc": "2.0", "id": 1, "result": None},
        {"jsonrpc": "2.0", "id": "1", "result": None},
        {"jsonrpc": "2.0", "id": 10**6, "error": {"code": -32601, "message": "x"}},
        {"jsonrpc": "2.0", "id": 10**6},
        {"jsonrpc": "2.0", "id": 10**6, "result": 1, "error": {"code": 1, "message": "x"}},
        {"jsonrpc": "2.0", "id": 10**6, "error": "no"},
        {"id": 10**6, "result": None},
        # No usable id at all.
        {"jsonrpc": "2.0", "result": None},
        {"jsonrpc": "2.0", "error": {"code": 1, "message": "x"}},
        {"jsonrpc": "2.0", "id": None, "result": None},
        {"jsonrpc": "2.0", "id": 1.5, "error": {"code": 1, "message": "x"}},
    ]
    seen = len(sidecar.messages)
    sidecar.write(b"".join(encode(m) for m in nonsense))
    # Answers to what was read are written as it is read: any would come before this one.
    status = sidecar.request("pluginary/status", msg_id="after the nonsense")
    assert "result" in sidecar.response(status)
    answered = [m["id"] for m in sidecar.messages[seen:] if "method" not in m]
    assert answered == [status], answered

    # The running scan is still the client's to cancel by its request id.
    assert sidecar.result("pluginary/status")["running"]["pid"] == sidecar.pid
    cancel(sidecar, "by its request id", scan, token)
    assert sidecar.response(scan)["error"]["code"] == REQUEST_CANCELLED
    assert sidecar.shutdown() == 0


# The LSP methods the sidecar implements (protocol/README.md, "Lifecycle" and "Notifications").
IMPLEMENTED = {
    types.INITIALIZE,
    types.INITIALIZED,
    types.SHUTDOWN,
    types.EXIT,
    types.CANCEL_REQUEST,
    types.SET_TRACE,
    types.WINDOW_WORK_DONE_PROGRESS_CANCEL,
}
LSP = {
    method: "id" in {f.name for f in message.__attrs_attrs__}
    for method, (message, *_) in types.METHOD_TO_TYPES.items()
    if method not in IMPLEMENTED
}
REQUESTS = sorted(method for method, request in LSP.items() if request)
NOTIFICATIONS = sorted(method for method, request in LSP.items() if not request)
# Params of every shape, and params that would be valid for the method if the sidecar had it.
PARAMS: list[Any] = [{}, None, [1], "x", {"textDocument": 5}, {"command": "pluginary.scan"}]
VALID: dict[str, Any] = {
    types.TEXT_DOCUMENT_HOVER: {
        "textDocument": {"uri": "file:///x.txt"},
        "position": {"line": 0, "character": 0},
    },
    types.WORKSPACE_EXECUTE_COMMAND: {"command": "pluginary.scan", "arguments": []},
    types.TEXT_DOCUMENT_DID_OPEN: {
        "textDocument": {"uri": "file:///x.txt", "languageId": "x", "version": 1, "text": "x"}
    },
}


@pytest.fixture(scope="module")
def plain(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sidecar]:
    """One initialized sidecar for the module's method checks."""
    root = tmp_path_factory.mktemp("conformance")
    with sidecars(root / "cache", root / "logs") as start:
        running = start()
        running.initialize()
        yield running
        assert running.shutdown() == 0


def test_requests_for_lsp_methods_the_sidecar_lacks_are_method_not_found_whatever_the_params(
    plain: Sidecar, ledger: Ledger
) -> None:
    assert {"textDocument/hover", "workspace/executeCommand", "completionItem/resolve"} <= set(
        REQUESTS
    )
    sent = {}
    for method in REQUESTS:
        for index, params in enumerate([*PARAMS, VALID.get(method, {})]):
            sent[plain.request(method, params, msg_id=f"{method} {index}")] = method
    for msg_id, method in sent.items():
        error = plain.response(msg_id).get("error", {})
        assert error.get("code") == METHOD_NOT_FOUND, (method, error)
    ledger.record("wire-lsp-methods", "MethodNotFound for every request; notifications ignored")


def test_notifications_of_lsp_methods_the_sidecar_lacks_are_ignored(plain: Sidecar) -> None:
    assert {"textDocument/didOpen", "workspace/didChangeWorkspaceFolders"} <= set(NOTIFICATIONS)
    asked, seen = set(plain.methods), len(plain.messages)
    for method in NOTIFICATIONS:
        for params in [*PARAMS, VALID.get(method, {})]:
            plain.notify(method, params)
    status = plain.request("pluginary/status", msg_id="after the notifications")
    assert "result" in plain.response(status)
    later = plain.messages[seen:]
    answered = [m for m in later if "method" not in m and m.get("id") not in asked]
    assert [m["id"] for m in answered] == [status], answered
    # Not errors either: nothing of them reaches the client's log.
    logged = [m["params"] for m in later if m.get("method") == "window/logMessage"]
    assert not logged, logged
