"""A catalogue written by the first schema (v1) is upgraded in place, by a scan or by a reader."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest

from pluginary.catalog import SCHEMA_VERSION
from pluginary.catalog.query import get_plugin, query_plugins
from pluginary.catalog.store import _migrations, bundle_states, open_catalog, upgrade_catalog
from pluginary.errors import StorageError
from pluginary.models import PluginQuery
from pluginary.server.reads import read_catalog_sync
from pluginary.storage import migrate_database, transaction

V1_SCHEMA = (Path(__file__).resolve().parents[1] / "data" / "catalog-v1.sql").read_text()


def make_v1_catalog(path: Path) -> None:
    """A catalogue as Pluginary 1.0 left it: one bundle, one plugin, two parameters."""
    db = sqlite3.connect(path)
    db.execute("PRAGMA journal_mode = WAL")  # As every Pluginary catalogue is.
    db.executescript(V1_SCHEMA)
    db.execute("PRAGMA user_version = 1")
    db.execute(
        "INSERT INTO bundles VALUES ('/p/Echo.vst3', '/p/Echo.vst3', 'vst3', 'fp', 'ok', 's1', 1)"
    )
    db.execute(
        "INSERT INTO plugins (rowid, id, bundle, path, class_name, format, name, vendor, kind,"
        " status, parameter_count, scan_id, scanned_at) VALUES (7, 'vst3.echo.1', '/p/Echo.vst3',"
        " '/p/Echo.vst3', 'Echo', 'vst3', 'Echo', 'Acme Audio', 'effect', 'ok', 2, 's1', 1)"
    )
    for idx, name, key in ((0, "Feedback", "feedback"), (1, "Wet Level", "wet_level")):
        db.execute(
            "INSERT INTO parameters (plugin_rowid, idx, name, key, type, boolean, discrete,"
            " num_steps, automatable) VALUES (7, ?, ?, ?, 'float', 0, 0, 0, 1)",
            (idx, name, key),
        )
    db.execute(
        "INSERT INTO plugins_fts (rowid, name, vendor, category, parameters)"
        " VALUES (7, 'Echo', 'Acme Audio', '', 'Feedback Wet Level')"
    )
    db.commit()
    db.close()


def version(path: Path) -> int:
    db = sqlite3.connect(path)
    try:
        return int(db.execute("PRAGMA user_version").fetchone()[0])
    finally:
        db.close()


def assert_answers_like_before(db: sqlite3.Connection) -> None:
    def ids(**filters: object) -> list[str]:
        return [p.id for p in query_plugins(db, PluginQuery(**filters)).plugins]  # type: ignore[arg-type]

    assert ids(parameter="WET LEVEL") == ids(parameter="wet_level") == ["vst3.echo.1"]
    assert ids(text="fee") == ids(text="acme") == ids(vendor="acme") == ["vst3.echo.1"]
    assert ids(parameter="dry") == ids(channels=2) == ids(audio_ok=True) == []
    record = get_plugin(db, "vst3.echo.1")
    # Probed before the new facts existed: they read as unknown, never as a wrong answer.
    assert (record.channels, record.latency_samples, record.audio_check) == (None, None, None)
    assert [p.samples for p in record.parameters] == [None, None]


def test_a_scan_upgrades_a_v1_catalogue_and_marks_its_bundles_for_checking(
    tmp_path: Path,
) -> None:
    path = tmp_path / "catalog.sqlite"
    make_v1_catalog(path)
    db, problem = open_catalog(path)
    try:
        assert problem is None  # Upgraded, not moved aside.
        assert version(path) == SCHEMA_VERSION
        assert_answers_like_before(db)
        # Fingerprint kept, but unchecked: the next checking scan probes it again.
        state = bundle_states(db)["/p/Echo.vst3"]
        assert (state.fingerprint, state.checked) == ("fp", False)
    finally:
        db.close()
    assert not list(tmp_path.glob("*.broken-*"))


def test_a_reader_upgrades_a_v1_catalogue_in_place(tmp_path: Path) -> None:
    path = tmp_path / "catalog.sqlite"
    make_v1_catalog(path)
    read_catalog_sync(path, assert_answers_like_before)
    assert version(path) == SCHEMA_VERSION


def test_two_upgraders_at_once_both_end_on_the_new_version(tmp_path: Path) -> None:
    path = tmp_path / "catalog.sqlite"
    make_v1_catalog(path)
    holder = sqlite3.connect(path, isolation_level=None)
    errors: list[BaseException] = []
    with transaction(holder):  # The write lock: the other upgrader waits on it.
        waiting = threading.Thread(target=_upgrade_recording_errors, args=(path, errors))
        waiting.start()
        upgrade_catalog_in(holder)
    waiting.join(30)
    holder.close()
    assert not waiting.is_alive() and errors == []
    assert version(path) == SCHEMA_VERSION


def upgrade_catalog_in(db: sqlite3.Connection) -> None:
    """Run the v1 -> v2 step on an open transaction, as a concurrent upgrader would."""
    from pluginary.catalog.store import _migrations
    from pluginary.storage import _statements

    for statement in _statements(_migrations()[1]):
        db.execute(statement)
    db.execute("PRAGMA user_version = 2")


def _upgrade_recording_errors(path: Path, errors: list[BaseException]) -> None:
    try:
        upgrade_catalog(path)
    except BaseException as error:  # Reported by the test's assertion, not lost in the thread.
        errors.append(error)


def test_a_reader_refuses_a_catalogue_from_a_newer_pluginary_and_leaves_it(
    tmp_path: Path,
) -> None:
    path = tmp_path / "catalog.sqlite"
    make_v1_catalog(path)
    db = sqlite3.connect(path)
    db.execute("PRAGMA user_version = 99")
    db.close()
    with pytest.raises(
        StorageError, match=f"schema version 99; this Pluginary uses {SCHEMA_VERSION}"
    ):
        read_catalog_sync(path, lambda db: None)
    assert version(path) == 99 and not list(tmp_path.glob("*.broken-*"))


def test_a_v4_catalogues_channel_masks_move_and_every_bundle_is_probed_again(
    tmp_path: Path,
) -> None:
    path = tmp_path / "catalog.sqlite"
    make_v1_catalog(path)
    migrate_database(path, 4, _migrations(), what="catalogue")
    db = sqlite3.connect(path)
    # Version 4 kept bit n for n channels: this plugin took 1, 2 and 8.
    db.execute("UPDATE plugins SET channel_mask = ? WHERE id = 'vst3.echo.1'", (2 | 4 | 256,))
    db.execute("UPDATE bundles SET checked = 1")
    db.commit()
    db.close()

    db, problem = open_catalog(path)
    try:
        assert problem is None and version(path) == SCHEMA_VERSION
        assert get_plugin(db, "vst3.echo.1").channels == [1, 2, 8]
        for count, found in ((1, True), (2, True), (8, True), (4, False), (64, False)):
            page = query_plugins(db, PluginQuery(channels=count))
            assert [p.id for p in page.plugins] == (["vst3.echo.1"] if found else []), count
        # Probed before its channels 3, 5, 7 and 9-64 were offered: probed again next time.
        assert bundle_states(db)["/p/Echo.vst3"].checked is False
    finally:
        db.close()
