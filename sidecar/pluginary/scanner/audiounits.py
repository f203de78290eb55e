"""List macOS Audio Units by reading ``auval -a``, which names them without loading them.

Each listed unit is one line of three four-character codes (type, subtype, manufacturer), a
dash, and the component's "Vendor: Name"::

    aumu dls  appl  -  Apple: DLSMusicDevice

A code is exactly four characters and may contain spaces ("dls "), so codes are read by fixed
width and kept verbatim: they are what ``auval -v`` and hosts need to name the unit again.
Plugins sometimes print their own chatter into the listing; lines not of this shape are ignored.
"""

from __future__ import annotations

import platform
import re
import subprocess
from collections.abc import Callable
from dataclasses import dataclass

AUVAL_TIMEOUT = 120.0  # Seconds; auval can be slow when the component registry is being rebuilt.

_LINE = re.compile(
    r"^\s*(?P<type>\S{4}) (?P<subtype>.{4}) (?P<manufacturer>.{4})  -  (?P<label>.*)$"
)

_KINDS = {"aumu": "instrument", "aufx": "effect", "aumf": "effect"}


class AudioUnitListError(RuntimeError):
    """``auval -a`` could not list the Audio Units (missing, failed or timed out)."""


@dataclass(frozen=True)
class AudioUnit:
    """One Audio Unit component as auval lists it."""

    type: str
    subtype: str
    manufacturer: str
    vendor: str  # "" when the component's name has no "Vendor: " part.
    name: str
    kind: str | None


def parse_auval_listing(text: str) -> list[AudioUnit]:
    """The Audio Units in ``auval -a`` output, in listed order; other lines are ignored."""
    units = []
    for line in text.splitlines():
        match = _LINE.match(line)
        if match is None:
            continue
        label = match["label"].strip()
        # The vendor comes first and is split off at the first ": "; the rest, colons and
        # all, is the unit's name.
        vendor, separator, name = label.partition(": ")
        if not separator:
            vendor, name = "", label
        if not name.strip() or (name.endswith(":") and not vendor):
            continue  # A vendor without a name ("Apple:"), or nothing at all.
        units.append(
            AudioUnit(
                type=match["type"],
                subtype=match["subtype"],
                manufacturer=match["manufacturer"],
                vendor=vendor.strip(),
                name=name.strip(),
                kind=_KINDS.get(match["type"]),
            )
        )
    return units


def list_audio_units(
    run: Callable[..., subprocess.CompletedProcess[str]] = subprocess.run,
    system: str | None = None,
    *,
    timeout: float = AUVAL_TIMEOUT,
) -> list[AudioUnit]:
    """The machine's Audio Units; [] when not on macOS. Raises AudioUnitListError on failure.

    A failure is raised, never returned as an empty list, so that a broken auval cannot make
    every Audio Unit look uninstalled.
    """
    if (system or platform.system()).lower() != "darwin":
        return []
    try:
        completed = run(
            ["auval", "-a"],
            capture_output=True,
            text=True,
            encoding="utf-8",
            errors="replace",
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired as error:
        raise AudioUnitListError(f"auval -a timed out after {timeout:g} s") from error
    except OSError as error:
        raise AudioUnitListError(f"cannot run auval: {error}") from error
    if completed.returncode != 0:
        detail = (completed.stderr or "").strip().splitlines()
        reason = detail[-1] if detail else "no message"
        raise AudioUnitListError(f"auval -a exited with {completed.returncode}: {reason}")
    return parse_auval_listing(completed.stdout or "")
