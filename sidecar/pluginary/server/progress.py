"""A scan's work-done progress, on pygls's own ``Progress``: begin, throttled reports, end.

Reports are throttled to one per ``interval`` (a tenth of a second) so a 5,000-plugin scan does
not flood the host; a report held back is sent when the interval is up, and the final state is
always sent before ``end``.

A token reports one scan at a time: it is claimed before its ``begin`` (or before the server asks
the client to create it) and released at its ``end``. pygls's ``Progress.tokens`` (a cancel future
per token) is the register of tokens in use, so ``window/workDoneProgress/cancel`` always reaches
the scan that holds the token.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any

from lsprotocol.types import (
    WorkDoneProgressBegin,
    WorkDoneProgressCreateParams,
    WorkDoneProgressEnd,
    WorkDoneProgressReport,
)
from pygls.exceptions import JsonRpcException
from pygls.lsp.server import LanguageServer
from pygls.progress import Progress

from pluginary.fsnames import display
from pluginary.scan_models import ScanProgress

ProgressToken = int | str
REPORT_INTERVAL = 0.1
# How long the client has to answer ``window/workDoneProgress/create`` (protocol/README.md):
# a client that never answers must not hold the scan; it goes on without progress.
CREATE_TIMEOUT = 5.0

logger = logging.getLogger(__name__)


class TokenInUse(Exception):
    """The token reports a scan that has not ended: it cannot report another."""

    def __init__(self, token: ProgressToken) -> None:
        super().__init__(f"workDoneToken {token!r} reports a scan that is still running")
        self.token = token


class ScanReporter:
    """Reports one scan on one work-done token; call it on the event loop's thread."""

    def __init__(
        self,
        progress: Progress,
        token: ProgressToken,
        *,
        clock: Callable[[], float] = time.monotonic,
        interval: float = REPORT_INTERVAL,
    ) -> None:
        self._progress = progress
        self.token = token
        self._clock = clock
        self._interval = interval
        self._loop = asyncio.get_running_loop()
        self._latest: ScanProgress | None = None
        self._sent: ScanProgress | None = None
        self._sent_at = -float("inf")
        self._percentage = 0
        self._timer: asyncio.TimerHandle | None = None
        self._ended = False

    def begin(self, title: str, message: str) -> Future[Any]:
        """Send ``begin`` (cancellable); return the future pygls cancels on the token's cancel."""
        value = WorkDoneProgressBegin(title=title, cancellable=True, message=message, percentage=0)
        self._progress.begin(self.token, value)
        return self._progress.tokens[self.token]

    def update(self, state: ScanProgress) -> None:
        """Take the scan's latest state; report it now or when the interval is up."""
        if self._ended:
            return
        self._latest = state
        wait = self._sent_at + self._interval - self._clock()
        if wait <= 0:
            self._flush()
        elif self._timer is None:
            self._timer = self._loop.call_later(wait, self._flush)

    def end(self, message: str, *, complete: bool) -> None:
        """Send the final state (100% when ``complete``), then ``end`` with ``message``."""
        if complete and self._percentage < 100:
            latest = self._latest
            self._latest = ScanProgress(
                done=latest.total if latest else 0,
                total=latest.total if latest else 0,
                message=latest.message if latest else "finished",
            )
        self._flush()
        self._ended = True
        self._progress.end(self.token, WorkDoneProgressEnd(message=message))
        # pygls keeps a token's cancel future forever; dropping it lets a host reuse its token.
        self._progress.tokens.pop(self.token, None)

    def _flush(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        state = self._latest
        if state is None or state is self._sent:
            return
        # Follow-up tasks can grow the total; the bar must never move backwards.
        self._percentage = max(self._percentage, state.percentage)
        # The message may name a bundle by its file name: shown as text, whatever its bytes.
        message = display(f"{state.done}/{state.total} {state.message}")
        value = WorkDoneProgressReport(message=message, percentage=self._percentage)
        self._progress.report(self.token, value)
        self._sent, self._sent_at = state, self._clock()


async def open_reporter(
    server: LanguageServer,
    token: ProgressToken | None,
    *,
    create_timeout: float = CREATE_TIMEOUT,
) -> ScanReporter | None:
    """A reporter on the client's token, or on a new one if the client supports that; else None.

    Raises TokenInUse when the client's token reports a scan that has not ended. A client that
    refuses to create a token, answers nonsense, or does not answer within ``create_timeout``
    seconds gets no progress (logged); the scan goes on.
    """
    progress = server.work_done_progress
    if token is not None:
        claim(progress, token)
        return ScanReporter(progress, token)
    window = server.client_capabilities.window
    if window is None or not window.work_done_progress:
        return None
    token = f"pluginary-{uuid.uuid4()}"
    # Claimed while the client is asked: a client that reuses it at once cannot take it over.
    claim(progress, token)
    create = server.window_work_done_progress_create_async(WorkDoneProgressCreateParams(token))
    try:
        await asyncio.wait_for(create, create_timeout)
    except BaseException as error:
        progress.tokens.pop(token, None)
        if isinstance(error, TimeoutError):
            logger.warning(
                "the client did not answer window/workDoneProgress/create within %g s;"
                " scanning without progress",
                create_timeout,
            )
            return None
        if isinstance(error, JsonRpcException):
            logger.warning(
                "the client did not create a progress token (%s); scanning without progress",
                error,
            )
            return None
        raise
    return ScanReporter(progress, token)


def claim(progress: Progress, token: ProgressToken) -> None:
    """Take ``token`` for one scan, or raise TokenInUse; its ``end`` gives it back.

    Tokens are told apart by JSON type too: ``1`` and ``"1"`` are two tokens (the wire refuses
    booleans and fractions, which Python would take for ``1``).
    """
    if token in progress.tokens:
        raise TokenInUse(token)
    progress.tokens[token] = Future()
