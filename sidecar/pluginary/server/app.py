"""The sidecar's LanguageServer: lifecycle, and one thin handler per ``pluginary/*`` method.

Each handler decodes its params (``wire``), makes one domain call, and encodes the result
(``wire``); errors become JSON-RPC errors through the one table in ``server/errors.py``.
"""

from __future__ import annotations

import gc
import itertools
import json
import logging
import sqlite3
from collections.abc import Callable, Generator
from concurrent.futures import Future
from typing import Any, TypeVar

import anyio
from anyio.abc import TaskGroup
from cattrs import transform_error
from cattrs.errors import ClassValidationError
from lsprotocol import types
from pygls.exceptions import (
    FeatureRequestError,
    JsonRpcException,
    JsonRpcInvalidParams,
    JsonRpcInvalidRequest,
    JsonRpcParseError,
    JsonRpcServerNotInitialized,
)
from pygls.lsp.server import LanguageServer
from pygls.protocol import (
    JsonRPCNotification,
    JsonRPCRequestMessage,
    LanguageServerProtocol,
    lsp_method,
)
from pygls.protocol.json_rpc import MsgId, RPCMessage, RPCRequest

from pluginary import __version__
from pluginary.paths import cache_paths
from pluginary.scan_models import CatalogChange
from pluginary.scanner.discovery import supported_formats
from pluginary.server import wire
from pluginary.server.errors import mapped
from pluginary.server.framing import DamagedFrame
from pluginary.server.reads import read_catalog
from pluginary.server.scans import ScanRunner
from pluginary.server.settings import Settings

# The catalogue, scanner and status modules are imported by the handlers that use them: a host
# waits for the answer to ``initialize``, and importing them first would add a tenth to that.

T = TypeVar("T")

logger = logging.getLogger("pluginary.server")
scanner_logger = logging.getLogger("pluginary.scanner")

CATALOG_CHANGED = "pluginary/catalogChanged"

# The LSP methods this server implements besides its own ``pluginary/*``: the lifecycle, the
# base protocol's notifications, and cancelling a scan's progress. pygls also has built-in
# handlers for text and notebook documents, workspace folders and commands; this server offers
# none of them, so those methods are MethodNotFound like any other it does not have.
LSP_METHODS = frozenset(
    {
        types.INITIALIZE,
        types.INITIALIZED,
        types.SHUTDOWN,
        types.EXIT,
        types.CANCEL_REQUEST,
        types.SET_TRACE,
        types.WINDOW_WORK_DONE_PROGRESS_CANCEL,
    }
)


class PluginaryProtocol(LanguageServerProtocol):
    """pygls's LSP protocol plus what pygls leaves out: the not-initialized rule, capabilities."""

    _server: PluginaryServer

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.initialize_received = False
        # The server's own requests to the client, apart from the client's requests to it
        # (pygls keeps both in one map, where the client's id 3 and the server's id 3 collide).
        self._server_requests: dict[int, Future[Any]] = {}
        self._request_ids = itertools.count(1)
        # pygls's built-in handlers, but only for the LSP methods this server implements.
        builtins = self.fm.builtin_features
        for method in set(builtins) - LSP_METHODS:
            del builtins[method]

    def handles(self, method: str) -> bool:
        """Whether this server implements ``method`` (else it is MethodNotFound)."""
        return method in LSP_METHODS or method in self.fm.features

    def receive(self, frame: bytes | DamagedFrame) -> None:
        """One frame from the host: parse it, check its envelope, and hand it on.

        As JSON-RPC 2.0 has it, what is not JSON is answered ParseError and what is not a
        JSON-RPC message InvalidRequest, with the message's id if it has a usable one, else null.
        """
        if isinstance(frame, DamagedFrame):
            self._refuse(None, JsonRpcParseError(f"a damaged frame: {frame.reason}"))
            return
        try:
            data = json.loads(frame, parse_constant=_not_json)
        except (ValueError, RecursionError) as error:
            self._refuse(None, JsonRpcParseError(f"not JSON: {error}"))
            return
        if is_response(data):
            message = self._read_response(data)
            if message is None:
                return
        elif (problem := envelope_problem(data)) is not None:
            envelope = data if isinstance(data, dict) else {}
            msg_id = envelope.get("id")
            self._refuse(msg_id if usable_id(msg_id) else None, JsonRpcInvalidRequest(problem))
            return
        else:
            try:
                message = self.structure_message(data)
            except JsonRpcException:
                return  # Answered (a request) or logged (a notification) by structure_message.
        try:
            self.handle_message(message)
        except Exception:
            # pygls answers a request's failures itself; anything else is a bug, not a reason to
            # drop the host: log it with its traceback and read on.
            logger.exception("could not handle a message from the host")

    def _read_response(self, data: dict[str, Any]) -> RPCMessage | None:
        """A response from the host, to hand on; None if malformed. Never answered either way.

        JSON-RPC answers requests only. A well-formed response settles the server's request of
        its id (see ``_handle_response``). A malformed one is logged, and fails the server's
        request of that id at once: the server does not guess what the host meant.
        """
        problem = response_problem(data) or envelope_problem(data)
        if problem is None:
            try:
                message: RPCMessage = self.structure_message(data)
            except JsonRpcException:
                problem = "its error is not a JSON-RPC error object"
            else:
                return message
        logger.warning("ignored a malformed response from the host: %s", problem)
        future = self._server_requests.get(data["id"]) if usable_id(data.get("id")) else None
        if future is not None:
            future.set_exception(JsonRpcException(message=f"a malformed response: {problem}"))
        return None

    def _handle_response(
        self, msg_id: MsgId, result: Any | None = None, error: types.ResponseError | None = None
    ) -> None:
        """Settle the server's request ``msg_id``; a response to no such request is ignored."""
        future = self._server_requests.get(msg_id) if isinstance(msg_id, int) else None
        if future is None:
            logger.warning(
                "ignored a response to %r: the sidecar awaits no answer of that id", msg_id
            )
        elif error is not None:
            future.set_exception(JsonRpcException.from_error(error))
        else:
            future.set_result(result)

    def send_request(
        self,
        method: str,
        params: Any | None = None,
        callback: Callable[[Any], None] | None = None,
        msg_id: MsgId | None = None,
    ) -> Future[Any]:
        """Send a request to the client, under the next integer id of this connection.

        pygls's ids are UUID strings, which some clients cannot answer; integers every JSON-RPC
        client reads. The future is forgotten once it is done (answered, failed or given up), so
        a late answer is a response to nothing.
        """
        if msg_id is not None:
            raise ValueError("the ids of the server's requests are the protocol's to choose")
        request_id = next(self._request_ids)
        request_type = self.get_message_type(method) or JsonRPCRequestMessage
        request = request_type(id=request_id, method=method, params=params, jsonrpc="2.0")
        future: Future[Any] = Future()
        self._server_requests[request_id] = future
        future.add_done_callback(lambda _: self._server_requests.pop(request_id, None))
        if callback is not None:
            future.add_done_callback(
                lambda done: (
                    None if done.cancelled() or done.exception() else callback(done.result())
                )
            )
        self._send_data(request)
        return future

    def _refuse(self, msg_id: int | str | None, error: JsonRpcException) -> None:
        logger.warning("refused a message from the host: %s", error.message)
        # Written by hand: the converter would drop the null id JSON-RPC requires here.
        response = {"jsonrpc": "2.0", "id": msg_id}
        self._send_data({**response, "error": {"code": error.code, "message": error.message}})

    def structure_message(self, data: dict[str, Any]) -> Any:
        """pygls's decoding; a request whose params do not fit gets InvalidParams, not silence.

        The params of a method this server does not implement are not decoded: pygls would read
        an LSP method's params by its type and answer InvalidParams for a method that is not
        here. Such a request is MethodNotFound whatever its params; a notification is ignored.
        """
        method = data.get("method")
        if isinstance(method, str) and not self.handles(method):
            generic = JsonRPCRequestMessage if "id" in data else JsonRPCNotification
            return self._converter.structure(data, generic)
        try:
            return super().structure_message(data)
        except JsonRpcException as error:
            if "id" in data and "method" in data:
                cause = error.__cause__
                details = (
                    "; ".join(transform_error(cause))
                    if isinstance(cause, ClassValidationError)
                    else str(error)
                )
                invalid = JsonRpcInvalidParams(f"invalid params for {data['method']}: {details}")
                self._send_response(data["id"], error=invalid.to_response_error())
            raise

    def handle_message(self, message: RPCMessage) -> None:
        """Apply LSP's lifecycle rules pygls leaves out, then hand the message to pygls.

        Before ``initialize``: requests get ServerNotInitialized, notifications but ``exit`` are
        dropped. A second ``initialize``, or a request after ``shutdown``: InvalidRequest.
        """
        method = getattr(message, "method", None)
        if method == types.INITIALIZE and self.initialize_received:
            if isinstance(message, RPCRequest):
                again = JsonRpcInvalidRequest("initialize may only be sent once")
                self._send_response(message.id, error=again.to_response_error())
            return
        if method == types.INITIALIZE:
            self.initialize_received = True
        elif not self.initialize_received and method not in (None, types.EXIT):
            if isinstance(message, RPCRequest):
                error = JsonRpcServerNotInitialized(f"{method} before initialize")
                self._send_response(message.id, error=error.to_response_error())
            return
        elif self._server.shut_down and isinstance(message, RPCRequest):
            # pygls drops these without an answer; LSP wants InvalidRequest.
            late = JsonRpcInvalidRequest(f"{method} after shutdown")
            self._send_response(message.id, error=late.to_response_error())
            return
        elif method == types.CANCEL_REQUEST and not usable_id(_cancelled_id(message)):
            logger.warning("ignored $/cancelRequest: its id is not an integer or a string")
            return
        super().handle_message(message)

    @lsp_method(types.INITIALIZE)
    def lsp_initialize(
        self, params: types.InitializeParams
    ) -> Generator[Any, Any, types.InitializeResult]:
        """pygls's initialize, answering only the capabilities this server has."""
        result = yield from super().lsp_initialize(params)
        # pygls derives text-document and workspace capabilities from its built-in handlers;
        # this server offers none of them, only its own methods.
        result.capabilities = types.ServerCapabilities(
            position_encoding=result.capabilities.position_encoding,
            experimental=self._server.experimental_capabilities(),
        )
        self.server_capabilities = result.capabilities
        return result


def _not_json(constant: str) -> Any:
    """Python reads NaN and Infinity; JSON has neither, and no field here can take them."""
    raise ValueError(f"{constant} is not JSON")


def _cancelled_id(message: RPCMessage) -> Any:
    return getattr(getattr(message, "params", None), "id", None)


def usable_id(value: Any) -> bool:
    """Whether a message id is one LSP allows: an integer or a string."""
    return isinstance(value, str) or _integer(value)


def is_response(data: Any) -> bool:
    """Whether ``data`` is meant as a response: no method, and an id, a result or an error."""
    return (
        isinstance(data, dict)
        and "method" not in data
        and bool({"id", "result", "error"} & data.keys())
    )


def response_problem(data: dict[str, Any]) -> str | None:
    """What makes a response no JSON-RPC 2.0 response (its envelope aside), or None."""
    if "id" not in data:
        return "a response must have an id"
    if ("result" in data) == ("error" in data):
        return "a response must have either a result or an error"
    error = data.get("error", {"code": 0, "message": ""})
    if not isinstance(error, dict) or not _integer(error.get("code")):
        return "a response's error must be an object with an integer code"
    if not isinstance(error.get("message"), str):
        return "a response's error must have a string message"
    return None


def _integer(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def envelope_problem(data: Any) -> str | None:
    """What makes ``data`` no JSON-RPC 2.0 message, or None if it is one."""
    if not isinstance(data, dict):
        kind = "an array" if isinstance(data, list) else f"a {type(data).__name__} value"
        return f"a message must be a JSON object, not {kind}"
    if data.get("jsonrpc") != "2.0":
        return 'a message must have "jsonrpc": "2.0"'
    if "id" in data and not usable_id(data["id"]):
        return "a message id must be an integer or a string"
    if "method" in data and not isinstance(data["method"], str):
        return "a method must be a string"
    if "method" not in data and ("id" not in data or not {"result", "error"} & data.keys()):
        return "neither a request, a notification nor a response"
    return None


class PluginaryServer(LanguageServer):
    """The stdio sidecar; :func:`pluginary.server.main.serve` runs it."""

    def __init__(self) -> None:
        super().__init__(
            "pluginary",
            __version__,
            text_document_sync_kind=types.TextDocumentSyncKind.None_,
            protocol_cls=PluginaryProtocol,
            converter_factory=wire.converter,
        )
        self.settings = Settings()
        self.tasks: TaskGroup | None = None
        self._runner: ScanRunner | None = None
        self.shut_down = False

    def receive(self, frame: bytes | DamagedFrame) -> None:
        """Hand one frame from the host to the protocol."""
        assert isinstance(self.protocol, PluginaryProtocol)
        self.protocol.receive(frame)

    @property
    def configured(self) -> bool:
        """Whether ``initialize`` has set the server up."""
        return self._runner is not None

    @property
    def runner(self) -> ScanRunner:
        """The scan runner ``initialize`` set up."""
        if self._runner is None:
            raise RuntimeError("the server is not initialized")
        return self._runner

    def configure(self, settings: Settings) -> None:
        """Adopt the client's settings: a scanner on their cache folder."""
        if self.tasks is None:
            raise RuntimeError("the server is not running")
        self.settings = settings
        paths = cache_paths(settings.cache_dir)
        self._runner = ScanRunner(
            paths,
            scanner_logger.info,
            self,
            self.tasks,
            self.catalog_changed,
            launcher=settings.launcher,
            recycle_after=settings.recycle_after,
        )

    async def read(self, question: Callable[[sqlite3.Connection], T]) -> T:
        """Ask the catalogue, off the event loop, on a read-only connection."""
        return await read_catalog(self.runner.paths.catalog, question)

    def experimental_capabilities(self) -> dict[str, Any]:
        """``experimental.pluginary``: protocol version, formats on this OS, methods."""
        formats = list(supported_formats())
        methods = sorted(
            name for name in self.protocol.fm.features if name.startswith("pluginary/")
        )
        return wire.capabilities(formats, methods)

    def catalog_changed(self, change: CatalogChange) -> None:
        """Tell the client what a commit changed."""
        self.protocol.notify(CATALOG_CHANGED, wire.to_wire(change))

    def report_server_error(self, error: Exception, source: Any) -> None:
        """Log out-of-band errors (stderr and window/logMessage), without pygls's pop-ups."""
        if source is FeatureRequestError:
            return  # An error response: the client has it, and server/errors.py logged bugs.
        logger.error("%s: %s", getattr(source, "__name__", source), error)


def create_server() -> PluginaryServer:
    """A server with every handler registered."""
    server = PluginaryServer()

    @server.feature(types.INITIALIZE)
    def initialize(ls: PluginaryServer, params: types.InitializeParams) -> None:
        """Read the initialization options; invalid ones are reported and left at default."""
        settings, problems = wire.read_settings(params.initialization_options)
        for problem in problems:
            ls.window_show_message(
                types.ShowMessageParams(type=types.MessageType.Warning, message=problem)
            )
        ls.configure(settings)

    @server.feature(types.INITIALIZED)
    def initialized(ls: PluginaryServer, params: types.InitializedParams) -> None:
        """Commit, in the background, a scan that finished probing but died before its commit."""
        ls.runner.settle()
        # The start-up's garbage (frozen by entry.py, so that initialize was answered sooner):
        # some 17,000 objects, 2 MiB, collected once now that the host has its answer.
        gc.unfreeze()
        gc.collect()

    @server.feature(types.SHUTDOWN)
    async def shutdown(ls: PluginaryServer, params: None) -> None:
        """Stop the running scan (it stays resumable) before answering."""
        ls.shut_down = True
        await ls.runner.stop()

    @server.feature("pluginary/scan")
    @mapped
    async def scan(ls: PluginaryServer, params: Any) -> Any:
        """Scan for plugins and commit what was found; answers the scan summary."""
        options, token = wire.scan_params(params, ls.settings)
        return wire.to_wire(await ls.runner.scan(options, token))

    @server.feature("pluginary/resume")
    @mapped
    async def resume(ls: PluginaryServer, params: Any) -> Any:
        """Finish the interrupted scan; answers its summary."""
        token = wire.resume_params(params)
        return wire.to_wire(await ls.runner.resume(token))

    @server.feature("pluginary/query")
    @mapped
    async def query(ls: PluginaryServer, params: Any) -> Any:
        """Plugins matching every given filter, a page at a time."""
        from pluginary.catalog.query import query_plugins

        plugin_query = wire.query_params(params)
        return wire.to_wire(await ls.read(lambda db: query_plugins(db, plugin_query)))

    @server.feature("pluginary/plugin")
    @mapped
    async def plugin(ls: PluginaryServer, params: Any) -> Any:
        """One plugin with its parameters and the outcome of its last probe."""
        from pluginary.catalog.query import get_plugin

        ident = wire.plugin_params(params)
        return wire.to_wire(await ls.read(lambda db: get_plugin(db, ident)))

    @server.feature("pluginary/status")
    @mapped
    async def status(ls: PluginaryServer, params: Any) -> Any:
        """Version, cache paths, catalogue counts, and the running, interrupted and last scans."""
        from pluginary.server.status import collect_status

        wire.status_params(params)
        await ls.runner.settled()  # Report the state after start-up, not the commit it finishes.
        scanner = ls.runner.scanner
        return wire.to_wire(await anyio.to_thread.run_sync(collect_status, scanner, __version__))

    return server
