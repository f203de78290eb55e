"""Read-only questions to the catalogue: search, one plugin by id, counts."""

from __future__ import annotations

import base64
import binascii
import dataclasses
import json
import re
import sqlite3
import unicodedata
from dataclasses import dataclass
from typing import Any

from pluginary.errors import InvalidQuery, PluginNotFound
from pluginary.fsnames import from_sql
from pluginary.models import (
    CHANNEL_COUNTS,
    KINDS,
    STATUSES,
    AudioCheck,
    BusLayout,
    CatalogCounts,
    Parameter,
    ParameterSample,
    PluginQuery,
    PluginRecord,
    PluginState,
    PluginSummary,
    ProbeTimes,
    QueryPage,
    channel_bit,
)

MAX_LIMIT = 1000
SQLITE_MAX_INTEGER = 2**63 - 1
SUMMARY_COLUMNS = (
    "p.id, p.name, p.vendor, p.version, p.category, p.kind, p.format, p.status, p.path,"
    " p.class_name, p.parameter_count, p.channel_mask, p.latency_samples, p.audio_ok"
)


# A trigram index holds every three characters of a word: shorter ones cannot be found in it.
TRIGRAM = 3


def search_words(text: str) -> list[str]:
    """The words of a free-text query: its runs of letters and digits, each once, in order.

    Anything else (quotes, ``*``, ``NEAR``, ``-``, parentheses, SQL, emoji, control characters
    and NUL) only separates words, so no FTS5 syntax can reach the index.
    """
    return list(dict.fromkeys(re.findall(r"[^\W_]+", unicodedata.normalize("NFC", text))))


def text_filter(db: sqlite3.Connection, text: str) -> _Filter:
    """What free text asks of a plugin: every word of it appears in its name, vendor, category
    or parameter names, case- and accent-blind. Text without a word matches nothing.

    A word of three or more characters matches inside their words (``comp`` finds ZamComp): the
    trigram index of the word index's words gives the words holding it, and the word index the
    plugins holding those. A shorter one, which no trigram holds, matches the start of a word
    (``eq`` finds EQ and Equalizer), from the word index's prefix indexes.
    """
    groups: list[str] = []
    for word in search_words(text):
        if len(word) < TRIGRAM:
            groups.append(f'"{word}" *')  # Letters and digits only: a plain FTS5 string.
            continue
        found = db.execute(
            "SELECT word FROM words_trigram WHERE words_trigram MATCH ?",
            (f'"{_unaccented(word)}"',),
        ).fetchall()
        if not found:
            return NOTHING
        groups.append("(" + " OR ".join(_fts_string(w) for (w,) in found) + ")")
    if not groups:
        return NOTHING
    return _Filter(
        "p.rowid",
        "IN (SELECT rowid FROM plugins_fts WHERE plugins_fts MATCH ?)",
        (" AND ".join(groups),),
        count="SELECT count(*) FROM plugins_fts WHERE plugins_fts MATCH ?",
    )


def _unaccented(word: str) -> str:
    """``word`` with its Latin letters stripped of their accents, as the word index holds them.

    The word index's tokenizer drops them (unicode61 remove_diacritics 2), so its words have
    none; the trigram tokenizer folds case as it does, but keeps accents.
    """
    letters = []
    for letter in word:
        decomposed = unicodedata.normalize("NFD", letter)
        base, marks = decomposed[0], decomposed[1:]
        plain = base.isascii() and marks and all(unicodedata.category(m) == "Mn" for m in marks)
        letters.append(base if plain else letter)
    return "".join(letters)


def _fts_string(word: str) -> str:
    # A word from the index, quoted: FTS5 reads it as a plain string, whatever it holds.
    return '"' + word.replace('"', '""') + '"'


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
    if query.channels is not None and query.channels not in CHANNEL_COUNTS:
        counts = ", ".join(map(str, CHANNEL_COUNTS))
        raise InvalidQuery(
            f"channels must be one of {counts} (the counts a probe tries)", field="channels"
        )
    if query.max_latency is not None and query.max_latency < 0:
        raise InvalidQuery("maxLatency must be 0 or more (samples)", field="maxLatency")
    filters = _filters(db, query)
    everything = _plugin_count(db)
    total = _count(db, filters) if filters else everything
    # Two plans for a page. A wide match walks the name index and tests each plugin against the
    # filters, stopping after one page; a narrow one fetches its few matches and sorts them.
    # SQLite cannot know which is cheaper (it does not count the matches first); we just did.
    wide = total * total * WIDE_MATCH > query.limit * everything
    where = [f.sql(indexed=not wide) for f in filters] or ["1"]
    args = [arg for f in filters for arg in f.args]
    if query.cursor:
        name, ident = _decode_cursor(query.cursor)
        # The collation on the right, not the left: only then does SQLite seek the name index
        # to the cursor instead of scanning it from the start (every page would cost more).
        where.append("(p.name, p.id) > (? COLLATE NOCASE, ?)")
        args += [name, ident]
    source = "plugins p INDEXED BY plugins_name" if wide else "plugins p"
    rows = db.execute(
        f"SELECT {SUMMARY_COLUMNS} FROM {source} WHERE {' AND '.join(where)}"
        " ORDER BY p.name COLLATE NOCASE, p.id LIMIT ?",
        [*args, query.limit + 1],
    ).fetchall()
    plugins = [_summary(row) for row in rows[: query.limit]]
    more = len(rows) > query.limit
    next_cursor = _encode_cursor(plugins[-1].name, plugins[-1].id) if more else None
    return QueryPage(plugins=plugins, total=total, next_cursor=next_cursor)


# A page walks the name index when matches**2 * WIDE_MATCH > limit * plugins: measured on 20,000
# plugins, testing an index entry costs about a sixth of fetching and sorting one match.
WIDE_MATCH = 6


@dataclass(frozen=True)
class _Filter:
    """One condition on ``plugins p``; ``count`` counts its matches alone, more cheaply."""

    column: str
    condition: str
    args: tuple[Any, ...]
    count: str | None = None

    def sql(self, *, indexed: bool = True) -> str:
        # Unary plus makes the column an expression, which keeps SQLite off its index.
        return f"{'' if indexed else '+'}{self.column} {self.condition}"


# What text without a word asks: nothing matches it.
NOTHING = _Filter("p.rowid", "IN ()", (), count="SELECT 0")


def _filters(db: sqlite3.Connection, query: PluginQuery) -> list[_Filter]:
    filters: list[_Filter] = []
    if query.text is not None:
        filters.append(text_filter(db, query.text))
    if query.vendor:
        # Matched against the few distinct vendors, then found through the vendor index.
        filters.append(
            _Filter(
                "p.vendor",
                "IN (SELECT vendor FROM vendors WHERE vendor LIKE ? ESCAPE '\\')",
                (f"%{_like_escape(query.vendor)}%",),
                count="SELECT coalesce(sum(plugins), 0) FROM vendors"
                " WHERE vendor LIKE ? ESCAPE '\\'",
            )
        )
    if query.parameter:
        filters.append(
            _Filter(
                "p.rowid",
                "IN (SELECT plugin_rowid FROM parameter_terms WHERE term = ?)",
                (query.parameter,),
                count="SELECT count(*) FROM parameter_terms WHERE term = ?",
            )
        )
    if query.format:
        filters.append(_Filter("p.format", "= ?", (query.format.lower(),)))
    if query.category:
        category = f"%|{_like_escape(query.category.lower())}|%"
        filters.append(
            _Filter("('|' || lower(p.category) || '|')", "LIKE ? ESCAPE '\\'", (category,))
        )
    if query.kind:
        filters.append(_Filter("p.kind", "= ?", (query.kind,)))
    if query.status:
        filters.append(_Filter("p.status", "= ?", (query.status,)))
    if query.channels is not None:
        filters.append(_Filter("p.channel_mask & ?", "!= 0", (channel_bit(query.channels),)))
    if query.max_latency is not None:
        # "At most 10**30 samples" is any latency; SQLite's integers stop at 2**63 - 1.
        latency = min(query.max_latency, SQLITE_MAX_INTEGER)
        filters.append(_Filter("p.latency_samples", "<= ?", (latency,)))
    if query.audio_ok is not None:
        filters.append(_Filter("p.audio_ok", "= ?", (query.audio_ok,)))
    return filters


def _count(db: sqlite3.Connection, filters: list[_Filter]) -> int:
    """How many plugins match (some filter given), from the narrowest structure that can tell."""
    if len(filters) == 1 and filters[0].count is not None:
        return int(db.execute(filters[0].count, filters[0].args).fetchone()[0])
    where = " AND ".join(f.sql() for f in filters)
    args = [arg for f in filters for arg in f.args]
    return int(db.execute(f"SELECT count(*) FROM plugins p WHERE {where}", args).fetchone()[0])


def _plugin_count(db: sqlite3.Connection) -> int:
    """All plugins: kept in ``meta`` by each commit (counting 20,000 rows costs over a ms)."""
    row = db.execute("SELECT value FROM meta WHERE key = 'plugins'").fetchone()
    if row is not None:
        return int(row[0])
    return int(db.execute("SELECT count(*) FROM plugins").fetchone()[0])


def _summary(row: tuple[Any, ...]) -> PluginSummary:
    """A summary from a row of SUMMARY_COLUMNS."""
    ident, name, vendor, version, category, kind, fmt, status, path, class_name, count = row[:11]
    mask, latency, audio_ok = row[11:14]
    return PluginSummary(
        id=ident,
        name=name,
        vendor=vendor,
        version=version,
        category=category,
        kind=kind,
        format=fmt,
        status=status,
        path=from_sql(path),
        class_name=class_name,
        parameter_count=count,
        channels=None if mask is None else [n for n in CHANNEL_COUNTS if mask & channel_bit(n)],
        latency_samples=latency,
        audio_ok=None if audio_ok is None else bool(audio_ok),
    )


def _like_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def get_plugin(db: sqlite3.Connection, ident: str) -> PluginRecord:
    """One plugin with its parameters and scan outcome; PluginNotFound names an unknown id."""
    row = db.execute(
        f"SELECT p.rowid, {SUMMARY_COLUMNS}, p.identifier, p.error, p.diagnosis, p.signal,"
        " p.exit_code, p.output_tail, p.duration_ms, p.scan_id, p.scanned_at, p.audio_check,"
        " p.state, p.probe_ms, p.extra FROM plugins p WHERE p.id = ?",
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
            range_problem=p[18],
            samples=None if p[19] is None else [ParameterSample(**s) for s in json.loads(p[19])],
        )
        for p in db.execute(
            "SELECT idx, name, key, units, type, min, max, step, approximate_step, default_raw,"
            " default_text, plugin_default_raw, boolean, discrete, num_steps, automatable,"
            " enum_values, enum_truncated, range_problem, samples"
            " FROM parameters WHERE plugin_rowid = ? ORDER BY idx",
            (row[0],),
        )
    ]
    summary = _summary(row[1:15])
    (identifier, error, diagnosis, signal, exit_code, tail, duration, scan_id, scanned) = row[15:24]
    audio_check, state, probe_ms = (None if v is None else json.loads(v) for v in row[24:27])
    layout = json.loads(row[27] or "{}").get("bus_layout")
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
        audio_check=None if audio_check is None else _audio_check(audio_check),
        state=None if state is None else _plugin_state(state),
        probe_ms=None if probe_ms is None else _probe_times(probe_ms),
        parameters=parameters,
        bus_layout=None if layout is None else BusLayout(layout["inputs"], layout["outputs"]),
    )


# The probe's JSON, read leniently: a field a probe did not write (a crash cut it short) is null.


def _audio_check(data: dict[str, Any]) -> AudioCheck:
    return AudioCheck(
        ok=bool(data.get("ok")),
        peak=data.get("peak"),
        non_finite=data.get("non_finite"),
        silent=data.get("silent"),
        error=data.get("error"),
    )


def _plugin_state(data: dict[str, Any]) -> PluginState:
    return PluginState(
        readable=bool(data.get("readable")),
        writable=bool(data.get("writable")),
        size=data.get("size"),
        error=data.get("error"),
    )


def _probe_times(data: dict[str, Any]) -> ProbeTimes:
    return ProbeTimes(
        load=data.get("load"),
        parameters=data.get("parameters"),
        audio=data.get("audio"),
        describer=data.get("describer"),
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
