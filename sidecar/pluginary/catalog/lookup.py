"""Find a plugin the way a person names it: its id, a unique start of its id, or its name.

The resolution itself (:func:`resolve`) is a plain function of the catalogue's ids and names,
so the ``pluginary`` command (reading the catalogue in its own process) and
:mod:`pluginary.client` (asking the sidecar) answer the same text with the same plugin.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence

from pluginary.catalog.query import get_plugin
from pluginary.errors import PluginNotFound
from pluginary.models import PluginRecord

# How many candidates an ambiguous answer names, and how many close names a miss suggests.
MAX_CANDIDATES = 20
MAX_SUGGESTIONS = 5


class AmbiguousPlugin(PluginNotFound):
    """More than one plugin fits the text; ``candidates`` holds their (id, name) pairs."""

    def __init__(self, message: str, candidates: list[tuple[str, str]]) -> None:
        super().__init__(message, candidates=[list(pair) for pair in candidates])
        self.candidates = candidates


def resolve(text: str, plugins: Sequence[tuple[str, str]]) -> str:
    """The id of the one plugin ``text`` names among ``plugins`` (id, name) pairs.

    In order: an exact id; a name, ignoring case; the start of an id, ignoring case. Several
    fits raise AmbiguousPlugin; none raises PluginNotFound suggesting the closest names.
    """
    if any(ident == text for ident, _ in plugins):
        return text
    wanted = text.casefold()
    by_name = [(ident, name) for ident, name in plugins if name.casefold() == wanted]
    if len(by_name) == 1:
        return by_name[0][0]
    by_prefix = [(ident, name) for ident, name in plugins if ident.casefold().startswith(wanted)]
    if not by_name and len(by_prefix) == 1:
        return by_prefix[0][0]
    fits = by_name or by_prefix
    if fits:
        raise AmbiguousPlugin(
            f"{text!r} fits {len(fits)} plugins; give one of their ids", sorted(fits)
        )
    raise PluginNotFound(_not_found(text, [name for _, name in plugins]), id=text)


def _not_found(text: str, names: list[str]) -> str:
    folded = {name.casefold(): name for name in names}
    import difflib  # Only a miss needs it.

    close = difflib.get_close_matches(text.casefold(), folded, n=MAX_SUGGESTIONS, cutoff=0.6)
    message = f"no plugin with id or name {text!r} in the catalogue"
    if close:
        message += "; did you mean " + ", ".join(repr(folded[name]) for name in close) + "?"
    return message


def plugin_names(db: sqlite3.Connection) -> list[tuple[str, str]]:
    """Every plugin's (id, name), by name: what :func:`resolve` and shell completion choose from."""
    rows = db.execute("SELECT id, name FROM plugins ORDER BY name COLLATE NOCASE, id").fetchall()
    return [(ident, name) for ident, name in rows]


def find_plugin(db: sqlite3.Connection, text: str) -> PluginRecord:
    """The plugin ``text`` names (see :func:`resolve`), with its parameters and outcome."""
    try:
        return get_plugin(db, text)  # An exact id, the common case, needs no list of names.
    except PluginNotFound:
        return get_plugin(db, resolve(text, plugin_names(db)))
