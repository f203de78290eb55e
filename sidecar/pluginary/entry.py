"""The ``pluginary`` command's entry point (also ``python -m pluginary``).

``pluginary serve`` on its own goes straight to the sidecar: a host waits for it to answer
``initialize``, and click and rich (the CLI's table and progress bars) would add a twentieth to
that wait for nothing. Every other command line, ``serve --help`` included, goes through click.
"""

from __future__ import annotations

import gc
import sys


def main() -> None:
    if sys.argv[1:] == ["serve"]:
        # Importing the server (lsprotocol above all) makes some hundred thousand objects that
        # live as long as the process: looking for garbage among them only delays the answer to
        # ``initialize``. So the collector waits, and what the imports made is frozen (never
        # examined) until ``initialized``, when the server collects once (see app.py).
        gc.disable()
        from pluginary.server.main import serve

        gc.freeze()
        gc.enable()
        sys.exit(serve())
    from pluginary.cli import main as cli

    cli(prog_name="pluginary")  # Not "python -m pluginary" in usage and version lines.
