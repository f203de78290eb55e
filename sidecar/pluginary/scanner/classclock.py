"""Each class's own time limit: a probe's deadline restarts when it begins another class.

A probe loads a bundle's classes one after another; charging the fifth class for the library's
start-up and the four before it would time out a bundle whose every class is quick enough. The
probe's ``begin`` events are in its result file, which whoever enforces the limit (the fork
server, the worker pool) reads as it grows, here: the first class's limit includes listing the
classes, each later one starts afresh when the probe begins it.

The file is a plugin's to scribble in too. A line only counts when it is a well-formed ``begin``
naming a class of the probe (the request's, else the first ``classes`` event's) not begun
before, and no probe gets more than :data:`MAX_CLASS_LIMITS` limits: a forged report can stretch
a hang, never make it endless.
"""

from __future__ import annotations

import json
from pathlib import Path

# Most limits one probe gets, whatever its report claims (LSP's bundle holds 184 classes).
MAX_CLASS_LIMITS = 1024
# A line kept whole while it grows; longer ones (a result's parameters) are not ours to read.
MAX_LINE = 1024 * 1024
_BEGIN = b'{"event": "begin"'
_CLASSES = b'{"event": "classes"'


class ClassClock:
    """The deadline of the class a probe is on, read from its growing result file."""

    def __init__(
        self, result: Path, timeout: float, now: float, classes: list[str] | None = None
    ) -> None:
        self.result = result
        self.timeout = timeout
        self.deadline = now + timeout
        self.classes: set[str] | None = None if classes is None else set(classes)
        self.begun: set[str] = set()
        self._offset = 0
        self._partial = b""
        self._skipping = False  # Inside a line too long to be one of ours.

    def poll(self, now: float) -> bool:
        """Read what the probe wrote since the last poll; True when it began another class
        (the deadline then restarts from ``now``)."""
        try:
            with open(self.result, "rb") as file:
                file.seek(self._offset)
                data = file.read(16 * MAX_LINE)
        except OSError:
            return False  # Not created yet, or gone: the probe's end tells the rest.
        self._offset += len(data)
        restarted = False
        for line in self._lines(data):
            if self._begins_another(line):
                self.deadline = now + self.timeout
                restarted = True
        return restarted

    def delay(self, seconds: float) -> None:
        """Move the deadline on (a stall of the enforcer's own, not the probe's time)."""
        self.deadline += seconds

    def _lines(self, data: bytes) -> list[bytes]:
        *complete, rest = data.split(b"\n")
        lines = []
        for line in complete:
            if self._skipping:
                self._skipping = False  # The end of the long line: the next one is whole.
                continue
            lines.append(self._partial + line)
            self._partial = b""
        if self._skipping:
            return lines
        self._partial += rest
        if len(self._partial) > MAX_LINE:
            self._partial, self._skipping = b"", True
        return lines

    def _begins_another(self, line: bytes) -> bool:
        if not line.startswith((_BEGIN, _CLASSES)):
            return False
        try:
            event = json.loads(line)
        except (ValueError, RecursionError):
            return False
        if not isinstance(event, dict):
            return False
        if event.get("event") == "classes":
            names = event.get("names")
            if self.classes is None and isinstance(names, list):
                self.classes = {name for name in names if isinstance(name, str)}
            return False
        name = event.get("class")
        if (
            event.get("event") != "begin"
            or not isinstance(name, str)
            or name in self.begun
            or (self.classes is not None and name not in self.classes)
            or len(self.begun) >= MAX_CLASS_LIMITS
        ):
            return False
        self.begun.add(name)
        # The first class's limit is the one the probe started with (it includes the listing).
        return len(self.begun) > 1
