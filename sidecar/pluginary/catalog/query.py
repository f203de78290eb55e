"""Read-only questions to the catalogue: search, one plugin by id, counts."""

from __future__ import annotations

import base64
import binascii
import dataclasses
import json
import re
import sqlite3
from typing import Any

from pluginary.errors import InvalidQuery, PluginNotFound
from pluginary.models import (
    KINDS,
    STATUSES,
    CatalogCounts,
    Parameter,
    PluginQuery,
    PluginRecord,
    PluginSummary,
    QueryPage,
)

MAX_LIMIT = 1000
SUMMARY_COLUMNS = (
    "p.id, p.name, p.vendor, p.version, p.category, p.kind, p.format, p.status, p.path,"
    " p.class_name, p.parameter_count"
)


def fts_expression(text: str) -> str | None:
    """Turn anything a user can type into a safe FTS5 query: every word must appear.

    Each word becomes a quoted FTS string (so quotes, ``*``, ``NEAR``, ``-``, parentheses and SQL
    mean nothing special), and the last one matches as a prefix, for search-as-you-type.
    """
    # Control characters (NUL above all, which ends the string inside SQLite) separate words too.
    words = [word for word in re.split(r"[\s\"\x00-\x1f\x7f]+", text) if re.search(r"\w", word)]
    if not words:
        return None
    quoted = ['"' + word.replace('"', '""') + '"' for word in words]
    quoted[-1] += " *"
    return " ".join(quoted)


def _encode_cursor(name: str, ident: str) -> str:
    return base64.urlsafe_b64encode(json.dumps([name, ident]).encode()).decode()


def _decode_cursor(cursor: str) -> tuple[str, str]:
    try:
        name, ident = json.loads(base64.urlsafe_b64decode(cursor.encode()))
    except (ValueError, TypeError, binascii.Error):
        raise InvalidQuery(
            f"cursor {cursor!r} is not one this server gave out", field="cursor"
        ) from None
    if not isinstance(name, str) or not isinstance(ident, str):
        raise InvalidQuery(f"cursor {cursor!r} is not one this server gave out", field="cursor")
    return name, ident


def query_plugins(db: sqlite3.Connection, query: PluginQuery) -> QueryPage:
    """Plugins matching every given filter, by name then id, ``limit`` at a time."""
    if not 1 <= query.limit <= MAX_LIMIT:
        raise InvalidQuery(f"limit must be between 1 and {MAX_LIMIT}", field="limit")
    if query.status is not None and query.status not in STATUSES:
        raise InvalidQuery(f"status must be one of {', '.join(STATUSES)}", field="status")
    if query.kind is not None and query.kind not in KINDS:
        raise InvalidQuery(f"kind must be one of {', '.join(KINDS)}", field="kind")
    where: list[str] = []
    args: list[Any] = []
    if query.text is not None and (expression := fts_expression(query.text)) is not None:
        where.append("p.rowid IN (SELECT rowid FROM plugins_fts WHERE plugins_fts MATCH ?)")
        args.append(expression)
    if query.vendor:
        where.append("p.vendor LIKE ? ESCAPE '\\'")
        args.append(f"%{_like_escape(query.vendor)}%")
    if query.format:
        where.append("p.format = ?")
        args.append(query.format.lower())
    if query.category:
        where.append("('|' || lower(p.category) || '|') LIKE ? ESCAPE '\\'")
        args.append(f"%|{_like_escape(query.category.lower())}|%")
    if query.kind:
        where.append("p.kind = ?")
        args.append(query.kind)
    if query.status:
        where.append("p.status = ?")
        args.append(query.status)
    if query.parameter:
        where.append(
            "p.rowid IN (SELECT plugin_rowid FROM parameters WHERE key = ? COLLATE NOCASE"
            " UNION SELECT plugin_rowid FROM parameters WHERE name = ? COLLATE NOCASE)"
        )
        args += [query.parameter, query.parameter]
    filters = " AND ".join(where) or "1"
    total = db.execute(f"SELECT count(*) FROM plugins p WHERE {filters}", args).fetchone()[0]
    page_where, page_args = filters, list(args)
    if query.cursor:
        name, ident = _decode_cursor(query.cursor)
        page_where += " AND (p.name > ? COLLATE NOCASE OR (p.name = ? COLLATE NOCASE AND p.id > ?))"
        page_args += [name, name, ident]
    rows = db.execute(
        f"SELECT {SUMMARY_COLUMNS} FROM plugins p WHERE {page_where}"
        " ORDER BY p.name COLLATE NOCASE, p.id LIMIT ?",
        [*page_args, query.limit + 1],
    ).fetchall()
    plugins = [PluginSummary(*row) for row in rows[: query.limit]]
    more = len(rows) > query.limit
    next_cursor = _encode_cursor(plugins[-1].name, plugins[-1].id) if more else None
    return QueryPage(plugins=plugins, total=total, next_cursor=next_cursor)


def _like_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def get_plugin(db: sqlite3.Connection, ident: str) -> PluginRecord:
    """One plugin with its parameters and scan outcome; PluginNotFound names an unknown id."""
    row = db.execute(
        f"SELECT p.rowid, {SUMMARY_COLUMNS}, p.identifier, p.error, p.diagnosis, p.signal,"
        " p.exit_code, p.output_tail, p.duration_ms, p.scan_id, p.scanned_at"
        " FROM plugins p WHERE p.id = ?",
        (ident,),
    ).fetchone()
    if row is None:
        raise PluginNotFound(f"no plugin with id {ident!r} in the catalogue", id=ident)
    parameters = [
        Parameter(
            index=p[0],
            name=p[1],
            key=p[2],
            units=p[3],
            type=p[4],
            min=p[5],
            max=p[6],
            step=p[7],
            approximate_step=p[8],
            default_raw=p[9],
            default_text=p[10],
            plugin_default_raw=p[11],
            boolean=bool(p[12]),
            discrete=bool(p[13]),
            num_steps=p[14],
            automatable=bool(p[15]),
            values=None if p[16] is None else json.loads(p[16]),
            values_truncated=bool(p[17]),
        )
        for p in db.execute(
            "SELECT idx, name, key, units, type, min, max, step, approximate_step, default_raw,"
            " default_text, plugin_default_raw, boolean, discrete, num_steps, automatable,"
            " enum_values, enum_truncated FROM parameters WHERE plugin_rowid = ? ORDER BY idx",
            (row[0],),
        )
    ]
    summary = PluginSummary(*row[1:12])
    identifier, error, diagnosis, signal, exit_code, tail, duration, scan_id, scanned = row[12:]
    return PluginRecord(
        **dataclasses.asdict(summary),
        identifier=identifier,
        error=error,
        diagnosis=diagnosis,
        signal=signal,
        exit_code=exit_code,
        output_tail=tail,
        duration_ms=duration,
        scan_id=scan_id,
        scanned_at=scanned,
        parameters=parameters,
    )


def catalog_counts(db: sqlite3.Connection) -> CatalogCounts:
    by_status = dict(db.execute("SELECT status, count(*) FROM plugins GROUP BY status"))
    by_kind = dict(
        db.execute("SELECT kind, count(*) FROM plugins WHERE kind IS NOT NULL GROUP BY kind")
    )
    return CatalogCounts(
        plugins=sum(by_status.values()),
        bundles=db.execute("SELECT count(*) FROM bundles").fetchone()[0],
        by_status={status: by_status.get(status, 0) for status in STATUSES},
        by_kind={kind: by_kind.get(kind, 0) for kind in KINDS},
    )
