"""Catalogue queries on a synthetic catalogue: filters, free text that cannot break, cursors."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pluginary.catalog.query import catalog_counts, get_plugin, query_plugins
from pluginary.catalog.store import CommitBundle, commit_scan, open_catalog
from pluginary.errors import InvalidQuery, PluginNotFound
from pluginary.models import PluginQuery


def _parameter(index: int, name: str, key: str) -> dict[str, Any]:
    return {
        "index": index,
        "name": name,
        "key": key,
        "type": "float",
        "min": 0.0,
        "max": 1.0,
        "step": 0.1,
        "default_raw": 0.5,
        "default_text": "0.5",
        "boolean": False,
        "discrete": False,
        "num_steps": 11,
        "automatable": True,
        "values": None,
    }


def _bundle(
    name: str, vendor: str, category: str, status: str = "ok", **facts: Any
) -> CommitBundle:
    record = {
        "name": name,
        "vendor": vendor,
        "version": "1.0",
        "category": category,
        "kind": "instrument" if "Instrument" in category else "effect",
        "identifier": f"VST3-{name}",
        "error": None if status == "ok" else "boom",
        "parameters": [_parameter(0, "Dry/Wet", "dry_wet"), _parameter(1, "Decay", "decay_s")]
        if status == "ok"
        else [],
        **facts,
    }
    path = f"/plugins/{name}.vst3"
    return CommitBundle(path, path, "vst3", "fp", [(name, status, record)])


def _facts(channels: list[int], latency: int, ok: bool) -> dict[str, Any]:
    """What the audio checks record (the unlisted plugins had them off: all null)."""
    return {
        "channels": channels,
        "latency_samples": latency,
        "audio_check": {"ok": ok, "peak": 0.5, "non_finite": not ok, "silent": False},
        "state": {"readable": True, "writable": True, "size": 12},
    }


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    connection, problem = open_catalog(tmp_path_factory.mktemp("catalog") / "catalog.sqlite")
    assert problem is None
    bundles = [
        _bundle("Hall Reverb", "Dragonfly", "Fx|Reverb|Stereo", **_facts([2], 0, True)),
        _bundle("Plate Reverb", "Dragonfly", "Fx|Reverb|Stereo", **_facts([1, 2], 64, True)),
        _bundle("ZamComp", "Damien Zammit", "Fx|Dynamics|Mono", **_facts([1], 0, True)),
        _bundle("Synth One", "Acme", "Instrument|Synth", **_facts([2, 4, 6, 8], 512, False)),
        _bundle("Broken", "Acme", "Fx", status="crashed"),
    ] + [_bundle(f"Filler {i:02d}", "Bulk", "Fx|Tools") for i in range(30)]
    change = commit_scan(connection, "scan-1", bundles, [], lambda _: {"scanId": "scan-1"})
    assert len(change.added) == 35
    yield connection
    connection.close()


def names(db: Any, **query: Any) -> list[str]:
    return [p.name for p in query_plugins(db, PluginQuery(limit=100, **query)).plugins]


def test_filters(db: Any) -> None:
    assert names(db, text="reverb") == ["Hall Reverb", "Plate Reverb"]
    assert names(db, text="rev") == ["Hall Reverb", "Plate Reverb"]  # Prefix, as you type.
    assert names(db, text="dragonfly hall") == ["Hall Reverb"]
    assert names(db, vendor="zammit") == ["ZamComp"]
    assert names(db, category="reverb") == ["Hall Reverb", "Plate Reverb"]
    assert names(db, category="verb") == []  # A category component, not a substring.
    assert names(db, kind="instrument") == ["Synth One"]
    assert names(db, status="crashed") == ["Broken"]
    assert names(db, parameter="Decay") == names(db, parameter="decay_s")
    assert "Broken" not in names(db, parameter="decay_s")
    assert names(db, text="decay", vendor="acme") == ["Synth One"]  # Parameter names are text too.


def test_ready_to_insert_filters(db: Any) -> None:
    assert names(db, channels=1) == ["Plate Reverb", "ZamComp"]
    assert names(db, channels=8) == ["Synth One"]
    assert names(db, channels=6, audio_ok=True) == []
    assert names(db, max_latency=0) == ["Hall Reverb", "ZamComp"]
    assert names(db, max_latency=64) == ["Hall Reverb", "Plate Reverb", "ZamComp"]
    assert len(names(db, max_latency=10**30)) == 4  # Any latency; unchecked plugins have none.
    assert names(db, audio_ok=False) == ["Synth One"]
    assert names(db, audio_ok=True, text="reverb", max_latency=0) == ["Hall Reverb"]


def test_summaries_and_records_carry_the_facts(db: Any) -> None:
    synth = query_plugins(db, PluginQuery(text="synth")).plugins[0]
    assert (synth.channels, synth.latency_samples, synth.audio_ok) == ([2, 4, 6, 8], 512, False)
    record = get_plugin(db, synth.id)
    assert record.audio_check is not None and record.audio_check.non_finite is True
    assert record.state is not None and record.state.size == 12
    filler = query_plugins(db, PluginQuery(text="filler")).plugins[0]
    assert (filler.channels, filler.latency_samples, filler.audio_ok) == (None, None, None)


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_any_text_gives_results_never_an_error(db: Any, text: str) -> None:
    page = query_plugins(db, PluginQuery(text=text))
    assert page.total >= 0


@pytest.mark.parametrize(
    "text", ['"', "*", "NEAR(a b)", "-reverb", "(((", "'; DROP TABLE plugins; --", "a OR b", "^"]
)
def test_fts_syntax_is_inert(db: Any, text: str) -> None:
    query_plugins(db, PluginQuery(text=text))
    assert catalog_counts(db).plugins == 35


def test_cursor_pages_through_everything_once(db: Any) -> None:
    seen: list[str] = []
    cursor = None
    while True:
        page = query_plugins(db, PluginQuery(limit=7, cursor=cursor))
        assert page.total == 35
        seen += [p.id for p in page.plugins]
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    assert len(seen) == len(set(seen)) == 35


def test_a_later_page_seeks_to_its_cursor(db: Any) -> None:
    # Each page starts where the last ended, through the name index: walking the index from the
    # start to the cursor would make listing a catalogue cost the square of its size.
    first = query_plugins(db, PluginQuery(limit=7))
    statements: list[str] = []
    db.set_trace_callback(statements.append)  # Statements with their values filled in.
    try:
        query_plugins(db, PluginQuery(limit=7, cursor=first.next_cursor))
    finally:
        db.set_trace_callback(None)
    (page,) = [sql for sql in statements if "ORDER BY" in sql]
    plan = " ".join(row[3] for row in db.execute(f"EXPLAIN QUERY PLAN {page}"))
    assert "SEARCH p USING" in plan and "plugins_name" in plan, plan


@pytest.mark.parametrize(
    ("query", "field"),
    [
        (PluginQuery(limit=0), "limit"),
        (PluginQuery(status="great"), "status"),
        (PluginQuery(kind="vst"), "kind"),
        (PluginQuery(cursor="not-a-cursor"), "cursor"),
        (PluginQuery(channels=10), "channels"),
        (PluginQuery(channels=0), "channels"),
        (PluginQuery(max_latency=-1), "maxLatency"),
    ],
)
def test_bad_queries_name_the_field(db: Any, query: PluginQuery, field: str) -> None:
    with pytest.raises(InvalidQuery) as error:
        query_plugins(db, query)
    assert error.value.data["field"] == field


def test_plugin_by_id(db: Any) -> None:
    summary = query_plugins(db, PluginQuery(text="zamcomp")).plugins[0]
    record = get_plugin(db, summary.id)
    assert [p.key for p in record.parameters] == ["dry_wet", "decay_s"]
    with pytest.raises(PluginNotFound) as error:
        get_plugin(db, "vst3.nope.00000000")
    assert "vst3.nope.00000000" in str(error.value)


def test_counts(db: Any) -> None:
    counts = catalog_counts(db)
    assert counts.plugins == 35 and counts.bundles == 35
    assert counts.by_status["crashed"] == 1 and counts.by_kind["instrument"] == 1


def test_committing_the_same_scan_twice_is_a_no_op(tmp_path: Path) -> None:
    connection, _ = open_catalog(tmp_path / "c.sqlite")
    bundle = _bundle("A", "V", "Fx")
    assert commit_scan(connection, "s", [bundle], [], dict).added
    again = commit_scan(connection, "s", [bundle], [], dict)
    assert (again.added, again.updated, again.removed) == ([], [], [])


@pytest.mark.parametrize(
    "filters",
    [
        {},
        {"text": "reverb"},
        {"text": "f"},
        {"vendor": "a"},
        {"parameter": "decay_s"},
        {"kind": "effect", "text": "filler"},
        {"vendor": "bulk", "parameter": "Dry/Wet", "max_latency": 0},
        {"status": "crashed"},
    ],
)
def test_both_page_plans_give_the_same_pages(
    db: Any, filters: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    # A page either walks the name index or sorts the matches, by how many match; the plan
    # must never change the answer, page boundaries and cursors included.
    from pluginary.catalog import query as query_module

    pages = {}
    for plan, factor in (("sort", 0), ("walk", 10**9)):
        monkeypatch.setattr(query_module, "WIDE_MATCH", factor)
        seen: list[str] = []
        cursor = None
        while True:
            page = query_plugins(db, PluginQuery(limit=4, cursor=cursor, **filters))
            seen += [p.id for p in page.plugins]
            cursor = page.next_cursor
            if cursor is None:
                break
        pages[plan] = (page.total, seen)
    assert pages["sort"] == pages["walk"]
    assert pages["sort"][0] == len(pages["sort"][1])
