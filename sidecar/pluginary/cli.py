"""The ``pluginary`` command."""

from __future__ import annotations

import os
import sys

import click

from pluginary.paths import CACHE_DIR_ENV


@click.group()
@click.option(
    "--cache-dir",
    type=click.Path(file_okay=False),
    help=f"The cache folder (default: ${CACHE_DIR_ENV}, else the OS's cache folder).",
)
def main(cache_dir: str | None) -> None:
    """Pluginary: scan audio plugins and query their catalogue."""
    if cache_dir is not None:
        # The sidecar and everything it starts read the cache folder from the environment.
        os.environ[CACHE_DIR_ENV] = cache_dir


@main.command()
def serve() -> None:
    """Serve the Pluginary protocol over stdin/stdout (LSP base protocol) for a host program."""
    # Imported here: the server's dependencies (pygls, lsprotocol) cost time other commands skip.
    from pluginary.server.main import serve as run

    sys.exit(run())
