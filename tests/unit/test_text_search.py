"""Free text as a search box: inside words, short words as word starts, nothing means nothing."""

from __future__ import annotations

import dataclasses
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from pluginary.catalog import SCHEMA_VERSION
from pluginary.catalog import query as query_module
from pluginary.catalog.query import query_plugins, search_words
from pluginary.catalog.store import (
    TEXT_INDEXES,
    CommitBundle,
    _migrations,
    commit_scan,
    open_catalog,
)
from pluginary.models import PluginQuery
from pluginary.server.reads import read_catalog_sync

V2_SCHEMA = (Path(__file__).resolve().parents[1] / "data" / "catalog-v2.sql").read_text()


def _bundle(name: str, vendor: str, category: str, parameters: list[str]) -> CommitBundle:
    record = {
        "name": name,
        "vendor": vendor,
        "category": category,
        "kind": "effect",
        "parameters": [
            {
                "index": i,
                "name": p,
                "key": p.lower().replace(" ", "_"),
                "type": "float",
                "boolean": False,
                "discrete": False,
                "num_steps": 0,
                "automatable": True,
            }
            for i, p in enumerate(parameters)
        ],
    }
    path = f"/plugins/{name}.vst3"
    return CommitBundle(path, path, "vst3", f"fp-{name}", [(name, "ok", record)])


BUNDLES = [
    _bundle("ZamComp", "Damien Zammit", "Fx|Dynamics", ["Attack", "Threshold"]),
    _bundle("ZaMultiComp", "Damien Zammit", "Fx|Dynamics", ["Crossover freq 1"]),
    _bundle("MULTICOMPRESSOR", "Acme", "Fx", ["Gain"]),
    _bundle("EQ Eight", "Acme", "Fx|EQ", ["Low Gain"]),
    _bundle("Equalizer", "Bulk", "Fx|EQ", ["Band"]),
    _bundle("FreqShift", "Bulk", "Fx|Modulation", ["Shift"]),
    _bundle("Château Verb", "Élan", "Fx|Reverb", ["Size"]),
]


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    connection, problem = open_catalog(tmp_path_factory.mktemp("catalog") / "catalog.sqlite")
    assert problem is None
    commit_scan(connection, "scan-1", BUNDLES, [], lambda _: {"scanId": "scan-1"})
    yield connection
    connection.close()


def names(db: Any, **query: Any) -> list[str]:
    return [p.name for p in query_plugins(db, PluginQuery(limit=100, **query)).plugins]


def test_a_word_matches_inside_words_case_and_accent_blind(db: Any) -> None:
    comps = ["MULTICOMPRESSOR", "ZamComp", "ZaMultiComp"]
    assert names(db, text="comp") == names(db, text="COMP") == comps
    assert names(db, text="multicomp") == ["MULTICOMPRESSOR", "ZaMultiComp"]
    assert names(db, text="mmit") == ["ZamComp", "ZaMultiComp"]  # Vendor.
    assert names(db, text="ynamic") == ["ZamComp", "ZaMultiComp"]  # Category.
    assert names(db, text="hresh") == ["ZamComp"]  # Parameter names.
    assert names(db, text="zam comp") == ["ZamComp", "ZaMultiComp"]  # Every word, anywhere.
    chateau = ["Château Verb"]
    assert (
        names(db, text="CHÂTEAU") == names(db, text="chateau") == names(db, text="hâte") == chateau
    )
    assert (
        names(db, text="élan") == names(db, text="ELAN") == names(db, text="teau verb") == chateau
    )
    assert names(db, text="zam gain") == []
    assert names(db, text="compx") == names(db, text="zamcompthreshold") == []  # One word.
    assert query_plugins(db, PluginQuery(text="zam gain")).total == 0


def test_a_short_word_matches_the_start_of_a_word(db: Any) -> None:
    # No trigram holds one or two characters: they match word starts, diacritics ignored.
    assert names(db, text="eq") == ["EQ Eight", "Equalizer"]  # Not FreqShift.
    assert names(db, text="Z") == ["ZamComp", "ZaMultiComp"]
    assert names(db, text="el") == names(db, text="ÉL") == ["Château Verb"]  # Élan.
    assert names(db, text="eq gain") == ["EQ Eight"]  # Short and long words together.
    assert names(db, text="ga eq") == ["EQ Eight"]
    assert query_plugins(db, PluginQuery(text="eq gain")).total == 1


@pytest.mark.parametrize("text", ["", " ", "\t\n", "*", "(", '"', "🎛️", "\x00", "--", "_", "**"])
def test_nothing_searchable_matches_nothing(db: Any, text: str) -> None:
    assert search_words(text) == []
    page = query_plugins(db, PluginQuery(text=text))
    assert (page.plugins, page.total, page.next_cursor) == ([], 0, None)
    assert query_plugins(db, PluginQuery(text=text, vendor="acme")).total == 0


def test_syntax_around_words_only_separates_them(db: Any) -> None:
    assert search_words('"zam*" -(comp) NEAR\x00x 🎛️') == ["zam", "comp", "NEAR", "x"]
    assert names(db, text='"zam*" -(comp)') == names(db, text="zam comp")


@pytest.mark.parametrize("text", ["comp", "e", "zam comp", "fx"])
@pytest.mark.parametrize("plan", [0, 10**9])
def test_pages_keep_name_order_and_the_cursor(
    db: Any, text: str, plan: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(query_module, "WIDE_MATCH", plan)
    seen: list[str] = []
    cursor = None
    while True:
        page = query_plugins(db, PluginQuery(text=text, limit=1, cursor=cursor))
        seen += [p.name for p in page.plugins]
        cursor = page.next_cursor
        if cursor is None:
            break
    assert seen == names(db, text=text) and page.total == len(seen) > 0
    assert seen == sorted(seen, key=str.lower)


@pytest.mark.parametrize("plan", [0, 10**9])
def test_text_and_other_filters_count_and_page_alike(
    db: Any, plan: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(query_module, "WIDE_MATCH", plan)
    for query, expected in (
        ({"text": "comp", "vendor": "zammit"}, ["ZamComp", "ZaMultiComp"]),
        ({"text": "eq gain", "category": "eq"}, ["EQ Eight"]),
        ({"text": "e", "vendor": "bulk"}, ["Equalizer"]),
        ({"text": "comp", "vendor": "bulk"}, []),
    ):
        page = query_plugins(db, PluginQuery(**query))
        assert [p.name for p in page.plugins] == expected and page.total == len(expected), query


@pytest.mark.parametrize("plan", [0, 10**9])
def test_a_word_inside_many_words_finds_them_all(
    tmp_path: Path, plan: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    # "comp" stands inside 300 words here: each is one more term of the word index's query.
    monkeypatch.setattr(query_module, "WIDE_MATCH", plan)
    db, _ = open_catalog(tmp_path / "catalog.sqlite")
    try:
        bundles = [_bundle(f"Comp{i:03d}", "Acme", "Fx", [f"Ratio{i}"]) for i in range(300)]
        commit_scan(db, "s1", bundles, [], dict)
        assert len(db.execute("SELECT word FROM words_trigram('comp')").fetchall()) == 300
        page = query_plugins(db, PluginQuery(text="comp ratio", limit=1000))
        assert [p.name for p in page.plugins] == [f"Comp{i:03d}" for i in range(300)]
        assert page.total == 300
        # Comp012 holds Ratio12 but not "omp12"; Comp121 holds both, inside Ratio121.
        page = query_plugins(db, PluginQuery(text="omp12 atio12"))
        assert [p.name for p in page.plugins] == [f"Comp{i}" for i in range(120, 130)]
    finally:
        db.close()


def fts_checks(db: sqlite3.Connection) -> None:
    """The indexes are sound (FTS5's own check writes: not on a reader's connection)."""
    for table in TEXT_INDEXES:
        db.execute(f"INSERT INTO {table} ({table}) VALUES ('integrity-check')")
    in_step(db)


def in_step(db: sqlite3.Connection) -> None:
    """The word index holds every plugin, and ``words`` its every word."""
    plugins = db.execute("SELECT rowid FROM plugins ORDER BY rowid").fetchall()
    assert db.execute("SELECT rowid FROM plugins_fts ORDER BY rowid").fetchall() == plugins
    words = db.execute("SELECT word FROM words ORDER BY word").fetchall()
    assert words == db.execute("SELECT term FROM plugins_fts_vocab ORDER BY term").fetchall()


def test_a_commit_keeps_the_indexes_in_step(tmp_path: Path) -> None:
    db, _ = open_catalog(tmp_path / "catalog.sqlite")
    try:
        commit_scan(db, "s1", BUNDLES[:2], [], dict)
        assert names(db, text="comp") == ["ZamComp", "ZaMultiComp"]
        # The same bundle, now holding another plugin: its old words are gone from the indexes.
        renamed = _bundle("ZamGate", "Damien Zammit", "Fx|Dynamics", ["Hold"])
        replaced = dataclasses.replace(BUNDLES[0], fingerprint="fp-2", records=renamed.records)
        commit_scan(db, "s2", [replaced], [], dict)
        assert names(db, text="comp") == ["ZaMultiComp"]
        assert names(db, text="gate") == names(db, text="ho") == ["ZamGate"]
        assert names(db, text="at") == names(db, text="tack") == []  # Attack went with ZamComp.
        assert db.execute("SELECT * FROM words WHERE word = 'attack'").fetchall() == []
        fts_checks(db)
        commit_scan(db, "s3", [], [BUNDLES[0].real_path], dict)
        assert names(db, text="gate") == names(db, text="ho") == []
        assert names(db, text="zam") == ["ZaMultiComp"]
        fts_checks(db)
    finally:
        db.close()


def make_v2_catalog(path: Path) -> None:
    """A catalogue as Pluginary left it before issue 13: word index only."""
    db = sqlite3.connect(path)
    db.execute("PRAGMA journal_mode = WAL")
    db.executescript(V2_SCHEMA)
    db.execute("PRAGMA user_version = 2")
    db.execute(
        "INSERT INTO bundles VALUES ('/p/Z.vst3', '/p/Z.vst3', 'vst3', 'fp', 'ok', 's', 1, 1)"
    )
    db.execute(
        "INSERT INTO plugins (rowid, id, bundle, path, class_name, format, name, vendor, category,"
        " kind, status, parameter_count, scan_id, scanned_at) VALUES (7, 'vst3.z.1', '/p/Z.vst3',"
        " '/p/Z.vst3', 'ZamComp', 'vst3', 'ZamComp', 'Damien Zammit', 'Fx|Dynamics', 'effect',"
        " 'ok', 1, 's', 1)"
    )
    db.execute(
        "INSERT INTO parameters (plugin_rowid, idx, name, key, type, boolean, discrete,"
        " num_steps, automatable) VALUES (7, 0, 'Threshold', 'threshold', 'float', 0, 0, 0, 1)"
    )
    db.execute(
        "INSERT INTO plugins_fts (rowid, name, vendor, category, parameters)"
        " VALUES (7, 'ZamComp', 'Damien Zammit', 'Fx Dynamics', 'Threshold')"
    )
    db.commit()
    db.close()


def answers_inside_words(db: sqlite3.Connection) -> None:
    assert names(db, text="comp") == names(db, text="hresh") == ["ZamComp"]
    assert names(db, text="ynam") == names(db, text="da") == ["ZamComp"]
    assert names(db, text="*") == names(db, text="comb") == []
    in_step(db)


def version(path: Path) -> int:
    db = sqlite3.connect(path)
    try:
        return int(db.execute("PRAGMA user_version").fetchone()[0])
    finally:
        db.close()


def make_v3_catalog(path: Path) -> None:
    """A catalogue as the timeout retry left it (version 3): still the word index only."""
    make_v2_catalog(path)
    db = sqlite3.connect(path)
    db.executescript(_migrations()[2])
    db.execute("PRAGMA user_version = 3")
    db.commit()
    db.close()


@pytest.mark.parametrize("make", [make_v2_catalog, make_v3_catalog])
def test_a_scan_upgrades_an_older_catalogue_in_place(tmp_path: Path, make: Any) -> None:
    path = tmp_path / "catalog.sqlite"
    make(path)
    db, problem = open_catalog(path)
    try:
        assert problem is None and version(path) == SCHEMA_VERSION == 5
        answers_inside_words(db)
        fts_checks(db)
    finally:
        db.close()
    assert not list(tmp_path.glob("*.broken-*"))


@pytest.mark.parametrize("make", [make_v2_catalog, make_v3_catalog])
def test_a_reader_upgrades_an_older_catalogue_in_place(tmp_path: Path, make: Any) -> None:
    path = tmp_path / "catalog.sqlite"
    make(path)
    read_catalog_sync(path, answers_inside_words)
    assert version(path) == SCHEMA_VERSION
