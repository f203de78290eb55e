#!/usr/bin/env python3
"""Live coding with Pluginary: find a reverb in the catalogue and play a test tone through it.

Run it with no arguments (``.venv/bin/python examples/livecode.py``). It

1. asks the catalogue for a reverb by text, scanning first if the catalogue is empty (and, if
   this machine has no reverb installed, scanning the project's test plugins, fetched with
   ``scripts/fetch-plugins``);
2. loads it IN THIS PROCESS with :meth:`pluginary.client.Client.load` (plugin code runs here);
3. sets one parameter, chosen by its display name, to a value inside the range the catalogue
   reports;
4. renders one second of a 440 Hz tone through it into ``livecode-reverb.wav`` in the current
   folder, and prints what it did.

The cache folder is ``$PLUGINARY_CACHE_DIR``, else the OS's user cache folder.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
from pedalboard.io import AudioFile

from pluginary.client import Client

SAMPLE_RATE = 44100
OUTPUT = Path("livecode-reverb.wav")
# Parameters worth hearing on a reverb, by display name, in order of preference.
FAVOURITES = ("Wet Level", "Mix", "Dry/Wet", "Wet", "Decay", "Size", "Room Size")
REPO = Path(__file__).resolve().parent.parent


def test_plugins(fetch: bool) -> Path | None:
    """The project's real test plugins (scripts/fetch-plugins), fetching them if asked."""
    root = Path(os.environ.get("PLUGINARY_FIXTURES", Path.home() / ".cache/pluginary-fixtures"))
    script = REPO / "scripts" / "fetch-plugins"
    if not (root / "vst3").is_dir() and fetch and script.exists():
        print(f"Fetching the project's test plugins into {root} ...")
        subprocess.run([str(script), str(root)], check=True)
    return root / "vst3" if (root / "vst3").is_dir() else None


def scan(pluginary: Client, folders: list[Path]) -> None:
    """Scan the standard plugin folders and ``folders``, printing progress on one line."""
    where = " and ".join(["the standard plugin folders", *map(str, folders)])
    print(f"Scanning {where} ...")

    def progress(value: dict[str, Any]) -> None:
        if value.get("kind") == "report" and sys.stdout.isatty():
            line = f"{value.get('percentage') or 0:3d}% {value.get('message', '')}"
            print(f"\r  {line[:70]:<70}", end="", flush=True)

    summary = pluginary.scan(folders, progress=progress)
    print(f"\r  {summary['ok']} plugins load, {summary['failed']} failed.".ljust(73))


def find_reverb(pluginary: Client) -> dict[str, Any] | None:
    """The first loadable effect whose name, category or parameters mention reverb."""
    plugins = pluginary.query(text="reverb", kind="effect", status="ok")["plugins"]
    return plugins[0] if plugins else None


def choose_parameter(record: dict[str, Any]) -> dict[str, Any]:
    """A continuous, automatable parameter with a range: a favourite if the plugin has one."""
    usable = [
        p
        for p in record["parameters"]
        if p["type"] == "float" and p["automatable"] and p["min"] is not None
        if p["max"] is not None and p["min"] < p["max"]
    ]
    if not usable:
        sys.exit(f"{record['name']} has no continuous parameter to set")
    by_name = {p["name"]: p for p in usable}
    return next((by_name[name] for name in FAVOURITES if name in by_name), usable[0])


def set_by_display_name(plugin: Any, record: dict[str, Any], name: str, value: float) -> float:
    """Set the parameter whose display name is ``name``; pedalboard knows it by its key."""
    key = next(p["key"] for p in record["parameters"] if p["name"] == name)
    setattr(plugin, key, value)
    return float(getattr(plugin, key))


def main() -> None:
    with Client() as pluginary:
        if pluginary.status()["counts"]["plugins"] == 0:
            print("The catalogue is empty.")
            scan(pluginary, [folder] if (folder := test_plugins(fetch=False)) else [])
        reverb = find_reverb(pluginary)
        if reverb is None and (folder := test_plugins(fetch=True)) is not None:
            print("No reverb in the catalogue; adding the project's test plugins.")
            scan(pluginary, [folder])
            reverb = find_reverb(pluginary)
        if reverb is None:
            sys.exit("No reverb plugin found: install one (e.g. dragonfly-reverb) and run again.")
        record = pluginary.plugin(reverb["id"])
        print(f"Found {record['name']} by {record['vendor']} ({record['id']}).")
        plugin = pluginary.load(record["id"])  # Runs the plugin's code in this process.

    parameter = choose_parameter(record)
    low, high = parameter["min"], parameter["max"]
    wanted = round(low + 0.3 * (high - low), 2)
    was = getattr(plugin, parameter["key"])
    now = set_by_display_name(plugin, record, parameter["name"], wanted)
    units = f" {parameter['units']}" if parameter["units"] else ""
    print(
        f"Set {parameter['name']!r} to {now:g}{units} (range {low:g} … {high:g}{units};"
        f" it was {float(was):g}{units})."
    )

    seconds = np.arange(SAMPLE_RATE, dtype=np.float32) / SAMPLE_RATE
    tone = 0.5 * np.sin(2 * np.pi * 440.0 * seconds) * np.minimum(1.0, 20 * (1 - seconds))
    stereo = np.stack([tone, tone]).astype(np.float32)
    rendered = plugin(stereo, SAMPLE_RATE)
    with AudioFile(str(OUTPUT), "w", SAMPLE_RATE, rendered.shape[0]) as wav:
        wav.write(rendered)
    peak = float(np.max(np.abs(rendered)))
    print(
        f"Rendered 1 s of a 440 Hz tone through {record['name']} into {OUTPUT.resolve()}"
        f" ({rendered.shape[0]} channels, {SAMPLE_RATE} Hz, peak {peak:.2f}).",
        flush=True,
    )


if __name__ == "__main__":
    main()
