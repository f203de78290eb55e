"""Run the original tool's scan (pedalboard-pluginary 1.1.6) on one folder with a worker count.

    <original venv>/bin/python bench/original_scan.py --workers N FOLDER

Runs inside the original tool's own virtual environment (see bench/run), never the project's.
It calls the tool's own scanner, ``IsolatedPedalboardScanner(max_workers=N).scan(...)``, as its
``scan --workers N --extra-folders FOLDER`` command does, with the one difference that the
standard VST3 folders are left out so that both tools scan exactly FOLDER.

The caller provides what the tool needs to run here: a ``$HOME`` holding its data folder
(``Library/Application Support/com.twardoch.pedalboard-pluginary``, which it never creates) and
``PYTHONSAFEPATH=1`` (its per-plugin script lives beside a ``types.py`` that would otherwise
shadow the standard library's).

Prints one JSON line: {"seconds": time spent in scan(), "plugins": plugins in its cache}.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--timeout", type=int, default=30)
    parser.add_argument("folder")
    args = parser.parse_args()
    # Its progress bar and messages go to stderr; stdout carries our one report line.
    report = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)

    from pedalboard_pluginary.core import PedalboardPluginary
    from pedalboard_pluginary.scanner_isolated import IsolatedPedalboardScanner

    folder = Path(args.folder)

    def only_the_folder(self: object, extra_folders: object = None) -> list[Path]:
        return [folder]

    IsolatedPedalboardScanner._get_vst3_folders = only_the_folder
    scanner = IsolatedPedalboardScanner(max_workers=args.workers, timeout=args.timeout)
    started = time.perf_counter()
    scanner.scan(extra_folders=[str(folder)])
    seconds = time.perf_counter() - started
    plugins = len(PedalboardPluginary().list_plugins())
    report.write(json.dumps({"seconds": seconds, "plugins": plugins}) + "\n")
    report.flush()
    sys.exit(0)


if __name__ == "__main__":
    main()
