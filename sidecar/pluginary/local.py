"""The catalogue's answers in this process, in the sidecar's JSON form, for the CLI.

Reading the catalogue needs no server: each function makes the same domain call as the
sidecar's method (on a read-only connection, holding no lock, see :mod:`pluginary.server.reads`)
and encodes it with the same rule (:mod:`pluginary.encoding`), so ``--json`` prints the same
answer either way. Nothing here imports the protocol stack (pygls, lsprotocol) or the scan engine.
"""

from __future__ import annotations

import dataclasses
import sqlite3
from typing import Any

from pluginary import __version__
from pluginary.catalog.lookup import find_plugin, plugin_names
from pluginary.catalog.query import MAX_LIMIT, query_plugins
from pluginary.encoding import to_wire
from pluginary.models import PluginQuery, PluginSummary
from pluginary.paths import CachePaths
from pluginary.server.reads import read_catalog_sync

JSON = dict[str, Any]


def list_plugins(paths: CachePaths, query: PluginQuery) -> list[JSON]:
    """Every plugin matching ``query``'s filters, by name then id (``pluginary/query``'s order)."""

    def every_page(db: sqlite3.Connection) -> list[PluginSummary]:
        plugins: list[PluginSummary] = []
        page_query = dataclasses.replace(query, limit=MAX_LIMIT, cursor=None)
        while True:
            page = query_plugins(db, page_query)
            plugins += page.plugins
            if page.next_cursor is None:
                return plugins
            page_query = dataclasses.replace(page_query, cursor=page.next_cursor)

    encoded: list[JSON] = to_wire(read_catalog_sync(paths.catalog, every_page))
    return encoded


def show_plugin(paths: CachePaths, text: str) -> JSON:
    """The plugin ``text`` names (id, id prefix or name), as ``pluginary/plugin`` sends it."""
    record: JSON = to_wire(read_catalog_sync(paths.catalog, lambda db: find_plugin(db, text)))
    return record


def names(paths: CachePaths) -> list[tuple[str, str]]:
    """Every plugin's (id, name), for shell completion."""
    return read_catalog_sync(paths.catalog, plugin_names)


def status(paths: CachePaths) -> JSON:
    """What ``pluginary/status`` reports for this cache (no scan runs in this process)."""
    from pluginary.server.status import status_snapshot

    info: JSON = to_wire(status_snapshot(paths, __version__))
    return info
