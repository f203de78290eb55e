"""Where the sidecar's log lines go: stderr always, and the client's ``window/logMessage``.

stdout carries frames only, so nothing here ever writes to it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys

from lsprotocol.types import LogMessageParams, MessageType
from pygls.exceptions import JsonRpcException
from pygls.lsp.server import LanguageServer

from pluginary.fsnames import display

FORMAT = "pluginary: %(levelname)s %(name)s: %(message)s"


class ClientLogHandler(logging.Handler):
    """Forwards records to the client as ``window/logMessage``, from any thread."""

    def __init__(self, server: LanguageServer, loop: asyncio.AbstractEventLoop) -> None:
        super().__init__(logging.INFO)
        self._server = server
        self._loop = loop

    def emit(self, record: logging.LogRecord) -> None:
        # A line may quote a path that is not UTF-8: the client gets its display form (fsnames).
        message = display(record.getMessage())
        # A line that repeats what the client gets as an answer goes as a "Log" message: hosts
        # keep it in their logs, and a client printing the answer can leave it out.
        kind = MessageType.Log if getattr(record, "repeats_answer", False) else None
        params = LogMessageParams(type=kind or message_type(record.levelno), message=message)
        # Records come from the scanner's worker threads too; frames are written on the loop.
        # Once the loop has closed the session is over, and the record stays on stderr only.
        with contextlib.suppress(RuntimeError):
            self._loop.call_soon_threadsafe(self._server.window_log_message, params)


def message_type(level: int) -> MessageType:
    """The LSP message type for a logging level."""
    if level >= logging.ERROR:
        return MessageType.Error
    if level >= logging.WARNING:
        return MessageType.Warning
    return MessageType.Info if level >= logging.INFO else MessageType.Log


def _not_an_answered_error(record: logging.LogRecord) -> bool:
    # pygls logs a traceback for every error response, and for every message whose params do not
    # fit their type; ours are answers (InvalidParams, see app.py), already logged if unexpected
    # (see server/errors.py), so those tracebacks are noise.
    if record.exc_info and isinstance(record.exc_info[1], JsonRpcException):
        return False
    return not str(record.msg).startswith("Unable to deserialize message")


def setup_logging(server: LanguageServer, loop: asyncio.AbstractEventLoop) -> None:
    """Send pluginary's records to stderr and the client, and pygls's warnings to stderr."""
    stderr = logging.StreamHandler(sys.stderr)
    stderr.setFormatter(logging.Formatter(FORMAT))
    stderr.addFilter(_not_an_answered_error)
    ours = logging.getLogger("pluginary")
    ours.setLevel(logging.INFO)
    ours.propagate = False
    ours.handlers[:] = [stderr, ClientLogHandler(server, loop)]
    pygls = logging.getLogger("pygls")
    pygls.setLevel(logging.WARNING)
    pygls.propagate = False
    pygls.handlers[:] = [stderr]
