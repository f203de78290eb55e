"""A Python client of the sidecar, for scripts, live coding and the CLI.

:class:`AsyncClient` spawns ``pluginary serve`` and speaks the protocol of ``protocol/`` through
pygls's JSON-RPC client (which does the framing); :class:`Client` is the same, synchronous.
Results are the protocol's JSON objects (camelCase keys), exactly as the server sends them.

``load()`` is the one exception to "plugins never run here": it returns a ready pedalboard plugin
loaded *in the caller's process*, from the catalogue's path and class name. Use it to play a
plugin, knowing a plugin that crashes takes the caller with it.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
import uuid
from collections.abc import Callable, Sequence
from types import TracebackType
from typing import Any

import anyio
from anyio.from_thread import BlockingPortal, start_blocking_portal
from lsprotocol import types
from pygls.exceptions import JsonRpcException
from pygls.lsp.client import LanguageClient

from pluginary.server import wire

ProgressCallback = Callable[[dict[str, Any]], None]
LogCallback = Callable[[str], None]
JSON = dict[str, Any]

SERVER_COMMAND = (sys.executable, "-m", "pluginary", "serve")


class ServerError(Exception):
    """The sidecar answered a request with an error; ``code`` is the protocol's error code."""

    def __init__(self, code: int, message: str, data: Any = None) -> None:
        super().__init__(message)
        self.code = code
        self.data = data


class ScanCancelled(ServerError):
    """The scan was cancelled; ``pluginary resume`` (or :meth:`AsyncClient.resume`) finishes it."""


REQUEST_CANCELLED = -32800


class _Connection(LanguageClient):
    """pygls's client with the few server-to-client messages the sidecar sends."""

    def __init__(self) -> None:
        super().__init__("pluginary-client", "1", converter_factory=wire.converter)
        self.progress_callbacks: dict[str, ProgressCallback] = {}
        self.on_log: LogCallback | None = None
        self.on_catalog_changed: Callable[[JSON], None] | None = None

        # Plain functions of ``params``: pygls passes the client only to a first parameter
        # named ``ls``, and marks each handler with attributes a bound method cannot take.
        handlers: dict[str, Callable[[Any], None]] = {
            # Accept the server's token; this client passes its own anyway.
            types.WINDOW_WORK_DONE_PROGRESS_CREATE: lambda params: None,
            types.PROGRESS: lambda params: self._on_progress(params),
            types.WINDOW_LOG_MESSAGE: lambda params: self._on_log(params),
            types.WINDOW_SHOW_MESSAGE: lambda params: self._on_log(params),
            "pluginary/catalogChanged": lambda params: self._on_catalog_changed(params),
        }
        for method, handler in handlers.items():
            self.feature(method)(handler)

    def _on_progress(self, params: Any) -> None:
        callback = self.progress_callbacks.get(_field(params, "token"))
        if callback is not None:
            callback(_plain(_field(params, "value")))

    def _on_log(self, params: Any) -> None:
        # "Log" messages repeat what an answer says (a scan's summary): for a host's log file.
        if _field(params, "type") == types.MessageType.Log:
            return
        if self.on_log is not None:
            self.on_log(str(_field(params, "message")))

    def _on_catalog_changed(self, params: Any) -> None:
        if self.on_catalog_changed is not None:
            self.on_catalog_changed(_plain(params))


class AsyncClient:
    """One sidecar process and a connection to it; use ``async with``."""

    def __init__(
        self,
        *,
        cache_dir: str | os.PathLike[str] | None = None,
        command: Sequence[str] = SERVER_COMMAND,
        initialization_options: JSON | None = None,
        on_log: LogCallback | None = None,
        on_catalog_changed: Callable[[JSON], None] | None = None,
    ) -> None:
        self.command = list(command)
        self.options = dict(initialization_options or {})
        if cache_dir is not None:
            self.options["cacheDir"] = os.fspath(cache_dir)
        self._connection = _Connection()
        self._connection.on_log = on_log
        self._connection.on_catalog_changed = on_catalog_changed
        self._stderr_tail: list[str] = []
        self.server_info: JSON = {}

    async def __aenter__(self) -> AsyncClient:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def start(self) -> None:
        """Spawn the sidecar and run the LSP handshake."""
        connection = self._connection
        await connection.start_io(*self.command)
        assert connection._server is not None and connection._server.stderr is not None
        # The sidecar's stderr is its log: drain it (a full pipe would stall the sidecar).
        connection._async_tasks.append(
            asyncio.ensure_future(self._drain_stderr(connection._server.stderr))
        )
        params = types.InitializeParams(
            process_id=os.getpid(),
            capabilities=types.ClientCapabilities(
                window=types.WindowClientCapabilities(work_done_progress=True)
            ),
            initialization_options=self.options or None,
        )
        result = await connection.initialize_async(params)
        info = result.server_info
        self.server_info = {"name": info.name, "version": info.version} if info else {}
        connection.initialized(types.InitializedParams())

    async def close(self) -> None:
        """``shutdown`` then ``exit``; wait for the sidecar to end."""
        connection = self._connection
        server = connection._server
        if server is None or server.returncode is not None:
            return
        with anyio.CancelScope(shield=True):
            with contextlib.suppress(Exception):
                with anyio.fail_after(10):
                    await connection.shutdown_async(None)
                connection.exit(None)
            with anyio.move_on_after(5):
                await server.wait()
            if server.returncode is None:
                server.kill()
                await server.wait()
            await connection.stop()  # type: ignore[no-untyped-call]

    async def _drain_stderr(self, stream: Any) -> None:
        while line := await stream.readline():
            self._stderr_tail = [*self._stderr_tail[-20:], line.decode(errors="replace")]

    async def request(self, method: str, params: JSON | None = None) -> Any:
        """Send one request; its result, or ServerError with the protocol's code."""
        msg_id = str(uuid.uuid4())
        # Shielded: if our caller is cancelled, pygls's own future must stay pending until the
        # sidecar's answer (RequestCancelled) arrives for it.
        answer = self._connection.protocol.send_request_async(method, params, msg_id=msg_id)
        try:
            return _plain(await asyncio.shield(answer))
        except JsonRpcException as error:
            raise _server_error(error) from None
        except anyio.get_cancelled_exc_class():
            # Our caller gave up (Ctrl-C): ask the sidecar to stop too, and wait for its answer
            # so the scan's journal is left resumable before we go.
            self._connection.protocol.notify(types.CANCEL_REQUEST, types.CancelParams(id=msg_id))
            with (
                anyio.CancelScope(shield=True),
                anyio.move_on_after(10),
                contextlib.suppress(Exception),
            ):
                await answer
            raise
        except RuntimeError as error:  # pygls: the server process exited.
            tail = "".join(self._stderr_tail).strip()
            raise ServerError(-32099, f"the sidecar stopped: {error}\n{tail}".strip()) from None

    async def _scan_like(
        self, method: str, params: JSON, progress: ProgressCallback | None
    ) -> JSON:
        token = f"pluginary-client-{uuid.uuid4().hex}"
        if progress is not None:
            self._connection.progress_callbacks[token] = progress
        try:
            result: JSON = await self.request(method, {**params, "workDoneToken": token})
            return result
        finally:
            self._connection.progress_callbacks.pop(token, None)

    async def scan(
        self,
        folders: Sequence[str | os.PathLike[str]] = (),
        *,
        only_folders: bool = False,
        rescan: bool = False,
        retry_failed: bool = False,
        workers: int | None = None,
        timeout_seconds: float | None = None,
        audio_check: bool | None = None,
        memory_limit_mib: float | None = None,
        output_limit_mib: float | None = None,
        progress: ProgressCallback | None = None,
    ) -> JSON:
        """Scan (probing what is new or changed) and commit; the scan summary.

        ``None`` leaves an option to the sidecar's initialization options.
        """
        params: JSON = {"folders": [os.fspath(f) for f in folders], "onlyFolders": only_folders}
        params.update(rescan=rescan, retryFailed=retry_failed)
        if workers is not None:
            params["workers"] = workers
        if timeout_seconds is not None:
            params["timeoutSeconds"] = timeout_seconds
        if audio_check is not None:
            params["audioCheck"] = audio_check
        if memory_limit_mib is not None:
            params["memoryLimitMib"] = memory_limit_mib
        if output_limit_mib is not None:
            params["outputLimitMib"] = output_limit_mib
        return await self._scan_like("pluginary/scan", params, progress)

    async def resume(self, *, progress: ProgressCallback | None = None) -> JSON:
        """Finish an interrupted scan; its summary."""
        return await self._scan_like("pluginary/resume", {}, progress)

    async def query(self, **filters: Any) -> JSON:
        """One page of plugins: filters ``text, vendor, format, category, kind, parameter,
        status, limit, cursor`` as in the protocol (snake_case accepted)."""
        params = {wire.camel(key): value for key, value in filters.items() if value is not None}
        result: JSON = await self.request("pluginary/query", params)
        return result

    async def query_all(self, **filters: Any) -> list[JSON]:
        """Every plugin matching ``filters``, following the cursor."""
        plugins: list[JSON] = []
        cursor = None
        while True:
            page = await self.query(**filters, cursor=cursor, limit=filters.pop("limit", 1000))
            plugins += page["plugins"]
            cursor = page["nextCursor"]
            if cursor is None:
                return plugins

    async def plugin(self, plugin_id: str) -> JSON:
        """One plugin with its parameters and last probe outcome."""
        result: JSON = await self.request("pluginary/plugin", {"id": plugin_id})
        return result

    async def status(self) -> JSON:
        """Version, cache paths, counts, running/interrupted/last scans."""
        result: JSON = await self.request("pluginary/status")
        return result

    async def find(self, id_or_name: str) -> JSON:
        """The full record of the plugin given by id, unique id prefix, or name (any case).

        The same resolution as ``pluginary show`` (:func:`pluginary.catalog.lookup.resolve`);
        ServerError 1003 when nothing or more than one plugin fits (the message says which).
        """
        from pluginary.catalog.lookup import resolve
        from pluginary.errors import PluginNotFound

        with contextlib.suppress(ServerError):
            return await self.plugin(id_or_name)  # An exact id needs no list of names.
        summaries = await self.query_all()
        try:
            ident = resolve(id_or_name, [(p["id"], p["name"]) for p in summaries])
        except PluginNotFound as error:
            raise ServerError(1003, str(error), error.data) from None
        return await self.plugin(ident)

    async def load(self, id_or_name: str) -> Any:
        """A pedalboard plugin, loaded IN THIS PROCESS from the catalogue's path and class."""
        record = await self.find(id_or_name)
        return load_record(record)


def load_record(record: JSON) -> Any:
    """Load a catalogue record's plugin with pedalboard, in this process."""
    import pedalboard

    return pedalboard.load_plugin(record["path"], plugin_name=record["className"])


class Client:
    """The synchronous client: the same methods as :class:`AsyncClient`, blocking."""

    def __init__(self, **kwargs: Any) -> None:
        self._kwargs = kwargs
        self._portal_cm: contextlib.AbstractContextManager[BlockingPortal] | None = None
        self._portal: BlockingPortal | None = None
        self._client: AsyncClient | None = None

    def __enter__(self) -> Client:
        self._portal_cm = start_blocking_portal()
        self._portal = self._portal_cm.__enter__()
        self._client = AsyncClient(**self._kwargs)
        self._portal.call(self._client.start)
        return self

    def __exit__(self, *exc_info: Any) -> None:
        assert self._portal is not None and self._client is not None
        assert self._portal_cm is not None
        try:
            self._portal.call(self._client.close)
        finally:
            self._portal_cm.__exit__(None, None, None)

    def _call(self, name: str, *args: Any, **kwargs: Any) -> Any:
        assert self._portal is not None and self._client is not None
        method = getattr(self._client, name)
        future = self._portal.start_task_soon(lambda: method(*args, **kwargs))
        try:
            return future.result()
        except KeyboardInterrupt:
            # Cancel the request the async way, which tells the sidecar, then re-raise.
            future.cancel()
            with contextlib.suppress(BaseException):
                future.exception(timeout=15)
            raise

    def scan(self, folders: Sequence[str | os.PathLike[str]] = (), **options: Any) -> JSON:
        return self._call("scan", folders, **options)  # type: ignore[no-any-return]

    def resume(self, **options: Any) -> JSON:
        return self._call("resume", **options)  # type: ignore[no-any-return]

    def query(self, **filters: Any) -> JSON:
        return self._call("query", **filters)  # type: ignore[no-any-return]

    def query_all(self, **filters: Any) -> list[JSON]:
        return self._call("query_all", **filters)  # type: ignore[no-any-return]

    def plugin(self, plugin_id: str) -> JSON:
        return self._call("plugin", plugin_id)  # type: ignore[no-any-return]

    def status(self) -> JSON:
        return self._call("status")  # type: ignore[no-any-return]

    def find(self, id_or_name: str) -> JSON:
        return self._call("find", id_or_name)  # type: ignore[no-any-return]

    def load(self, id_or_name: str) -> Any:
        return load_record(self.find(id_or_name))


def _server_error(error: JsonRpcException) -> ServerError:
    code = getattr(error, "code", -32603)
    kind = ScanCancelled if code == REQUEST_CANCELLED else ServerError
    return kind(code, str(getattr(error, "message", error)), getattr(error, "data", None))


def _field(params: Any, name: str) -> Any:
    return params[name] if isinstance(params, dict) else getattr(params, name)


def _plain(value: Any) -> Any:
    """pygls may hand back lsprotocol objects or namedtuples; callers get plain JSON."""
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_plain(item) for item in value]
    if hasattr(value, "_asdict"):
        return _plain(value._asdict())
    if hasattr(value, "__attrs_attrs__"):
        return _plain(wire.converter().unstructure(value))
    return value
