"""A stand-in host: starts ``pluginary serve`` and relays bytes both ways, nothing else.

The failsafe tests talk to the sidecar through it and then SIGKILL it, to see what a sidecar does
when its host dies: only this process holds the sidecar's pipes, so they break as they would.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading


def pump(source: int, sink: int) -> None:
    while chunk := os.read(source, 1 << 16):
        os.write(sink, chunk)


def main() -> None:
    sidecar = subprocess.Popen(
        [sys.executable, "-m", "pluginary", "serve"], stdin=subprocess.PIPE, stdout=subprocess.PIPE
    )
    assert sidecar.stdin is not None and sidecar.stdout is not None
    threading.Thread(target=pump, args=(sidecar.stdout.fileno(), 1), daemon=True).start()
    pump(0, sidecar.stdin.fileno())
    sidecar.stdin.close()
    sys.exit(sidecar.wait())


if __name__ == "__main__":
    main()
