"""A scan's work-done progress, on pygls's own ``Progress``: begin, throttled reports, end.

Reports are throttled to one per ``interval`` (a tenth of a second) so a 5,000-plugin scan does
not flood the host; a report held back is sent when the interval is up, and the final state is
always sent before ``end``.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any

from lsprotocol.types import WorkDoneProgressBegin, WorkDoneProgressEnd, WorkDoneProgressReport
from pygls.lsp.server import LanguageServer
from pygls.progress import Progress

from pluginary.fsnames import display
from pluginary.models import ScanProgress

ProgressToken = int | str
REPORT_INTERVAL = 0.1

logger = logging.getLogger(__name__)


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
        self._percentage = max(self._percentage, percentage(state))
        # The message may name a bundle by its file name: shown as text, whatever its bytes.
        message = display(f"{state.done}/{state.total} {state.message}")
        value = WorkDoneProgressReport(message=message, percentage=self._percentage)
        self._progress.report(self.token, value)
        self._sent, self._sent_at = state, self._clock()


def percentage(state: ScanProgress) -> int:
    """Whole percent of the probes settled; an empty plan is done."""
    return 100 if state.total <= 0 else min(100, state.done * 100 // state.total)


async def open_reporter(server: LanguageServer, token: ProgressToken | None) -> ScanReporter | None:
    """A reporter on the client's token, or on a new one if the client supports that; else None."""
    if token is None:
        window = server.client_capabilities.window
        if window is None or not window.work_done_progress:
            return None
        token = f"pluginary-{uuid.uuid4()}"
        try:
            await server.work_done_progress.create_async(token)
        except Exception as error:
            logger.warning("the client refused a progress token (%s); scanning without", error)
            return None
    return ScanReporter(server.work_done_progress, token)
