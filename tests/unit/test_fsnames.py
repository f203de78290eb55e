"""Paths that are not UTF-8: their SQLite, display and exact forms; ids; journal and catalogue."""

from __future__ import annotations

import base64
import json
import os
import sqlite3
import subprocess
from pathlib import Path

import pytest

from pluginary.catalog.query import get_plugin, query_plugins
from pluginary.catalog.store import CommitBundle, bundle_states, commit_scan, open_catalog
from pluginary.fsnames import (
    display,
    exact_bytes,
    from_exact_bytes,
    from_sql,
    is_path_text,
    is_text,
    shell_quoted,
    to_sql,
)
from pluginary.ids import plugin_id
from pluginary.models import PluginQuery
from pluginary.scanner.journal import Journal, PlannedTask

# b"/plugins/caf\xe9 \xff/Zam\xffComp.vst3": Latin-1 and a byte no encoding gives meaning.
ODD = os.fsdecode(b"/plugins/caf\xe9 \xff/Zam\xffComp.vst3")


def test_odd_path_forms() -> None:
    assert not is_text(ODD) and is_text("/plugins/café/Zam.vst3")
    assert to_sql(ODD) == b"/plugins/caf\xe9 \xff/Zam\xffComp.vst3"
    assert from_sql(to_sql(ODD)) == ODD
    assert to_sql("/plugins/café.vst3") == "/plugins/café.vst3"  # Text stays TEXT.
    assert display(ODD) == "/plugins/caf\ufffd \ufffd/Zam\ufffdComp.vst3"
    assert display("\ud800 alone") == "\ufffd alone"
    assert exact_bytes("/plugins/café.vst3") is None
    encoded = exact_bytes(ODD)
    assert encoded is not None and base64.b64decode(encoded) == os.fsencode(ODD)
    assert from_exact_bytes(encoded) == ODD
    with pytest.raises(ValueError):
        from_exact_bytes("not base64!")
    assert is_path_text(ODD) and not is_path_text("/x\ud800")


def test_shell_quoted_names_the_exact_bytes(tmp_path: Path) -> None:
    name = os.fsdecode(b"it's caf\xe9\\")
    quoted = shell_quoted(os.path.join(str(tmp_path), name))
    assert quoted.startswith("$'") and quoted.isascii()
    done = subprocess.run(
        ["bash", "-c", f"printf %s {quoted}"], capture_output=True, check=True, timeout=60
    )
    assert done.stdout == os.fsencode(os.path.join(str(tmp_path), name))
    assert shell_quoted("/plain/Path.vst3") == "/plain/Path.vst3"


def test_ids_are_stable_and_exact() -> None:
    # Unchanged for every path that is text: the catalogue's ids survive this change.
    assert plugin_id("vst3", "/p/ZamComp.vst3", "ZamComp") == "vst3.zamcomp.6432519b"
    first = plugin_id("vst3", ODD, "ZamComp")
    assert first == plugin_id("vst3", ODD, "ZamComp")
    # Two bundles whose names show alike are different bundles.
    look_alike = os.fsdecode(b"/plugins/caf\xe9 \xfe/Zam\xffComp.vst3")
    assert plugin_id("vst3", look_alike, "ZamComp") != first
    assert plugin_id("vst3", ODD, None).startswith("vst3.zamcomp.")


def test_journal_and_catalogue_keep_odd_paths(tmp_path: Path) -> None:
    journal, _ = Journal.open(tmp_path / "journal.sqlite")
    task = PlannedTask(bundle=ODD, real_path=ODD, format="vst3", fingerprint="f")
    journal.begin(
        "s1", {}, [os.path.dirname(ODD)], [task], removed=[], discovered=1, unchanged=0, ignored=0
    )
    (pending,) = journal.pending("s1")
    assert (pending.bundle, pending.real_path) == (ODD, ODD)
    journal.start(pending.id)
    record = {"name": None, "error": f"cannot read {ODD}"}
    journal.settle(pending, "failed", [(None, "failed", record)])
    # A new scan carries the settled bundle over rather than probing it again.
    assert journal.begin("s2", {}, [], [task], removed=[], discovered=1, unchanged=0, ignored=0)
    (found,) = list(journal.results("s2"))
    assert (found.bundle, found.real_path, found.records[0][2]) == (ODD, ODD, record)
    journal.close()

    db, _ = open_catalog(tmp_path / "catalog.sqlite")
    bundle = CommitBundle(ODD, ODD, "vst3", "f", found.records)
    change = commit_scan(db, "s2", [bundle], [], dict)
    (ident,) = change.added
    assert bundle_states(db)[ODD].path == ODD
    stored = db.execute("SELECT typeof(path), name, error FROM plugins").fetchone()
    assert stored == ("blob", "Zam\ufffdComp", f"cannot read {display(ODD)}")
    (summary,) = query_plugins(db, PluginQuery()).plugins
    assert summary.path == ODD and get_plugin(db, ident).path == ODD
    # A later scan that no longer finds it removes it by the same key.
    assert commit_scan(db, "s3", [], [ODD], dict).removed == [ident]
    assert bundle_states(db) == {}
    db.close()


def test_a_catalogue_from_before_reads_the_same(tmp_path: Path) -> None:
    db, _ = open_catalog(tmp_path / "catalog.sqlite")
    commit_scan(db, "s1", [CommitBundle("/p/A.vst3", "/p/A.vst3", "vst3", "f", [])], [], dict)
    assert db.execute("SELECT typeof(real_path) FROM bundles").fetchone() == ("text",)
    db.close()
    db = sqlite3.connect(tmp_path / "catalog.sqlite")
    assert json.loads(json.dumps(list(bundle_states(db)))) == ["/p/A.vst3"]
    db.close()
