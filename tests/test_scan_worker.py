"""The scanner on the real plugin set: probes, oracle equality, fingerprints, memory of failures."""

from __future__ import annotations

import os
import shutil
import sqlite3
from pathlib import Path

import pytest

from oracle import run_oracle
from oracle_compare import differences
from pluginary.catalog.query import get_plugin, query_plugins
from pluginary.models import PluginQuery
from pluginary.paths import cache_paths
from pluginary.scanner.ignorelist import add_ignore_entry
from scan_helpers import copy_bundles, scan

pytestmark = pytest.mark.worker

FAILING = {"ZamHeadX2.vst3", "ZamVerb.vst3", "lsp-plugins.vst3"}
SMALL_SET = ["ZamComp.vst3", "ZamAutoSat.vst3", "DragonflyPlateReverb.vst3"]


@pytest.fixture(scope="module")
def real_scan(real_plugins: Path, tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    cache = tmp_path_factory.mktemp("cache")
    result = scan(cache, real_plugins, workers=2)
    db = sqlite3.connect(cache_paths(cache).catalog)
    yield result, db
    db.close()


def test_real_set_summary(real_scan, real_plugins: Path) -> None:  # type: ignore[no-untyped-def]
    result, _ = real_scan
    bundles = sorted(p.name for p in real_plugins.glob("*.vst3"))
    summary = result.summary
    assert summary.discovered == len(bundles) == 22
    assert summary.probed == 22
    assert (summary.ok, summary.failed, summary.timed_out, summary.crashed) == (19, 3, 0, 0)
    assert len(result.change.added) == 22 and not result.change.updated


def test_every_plugin_matches_pedalboard_in_process(real_scan, real_plugins: Path) -> None:  # type: ignore[no-untyped-def]
    _, db = real_scan
    page = query_plugins(db, PluginQuery(limit=100))
    assert page.total == 22
    oracle = run_oracle(sorted(real_plugins.glob("*.vst3")))
    mismatches = []
    for summary in page.plugins:
        record = get_plugin(db, summary.id)
        expected = oracle[record.path]
        mismatches += differences(record, expected)
        assert (Path(record.path).name in FAILING) == ("error" in expected)
        if "error" in expected:
            continue
        assert record.state is not None and record.state.readable and record.state.writable
        assert record.audio_check is not None and record.audio_ok is record.audio_check.ok
        assert record.audio_ok is expected["finite"]  # ZamEQ2's output is all NaN.
        assert record.probe_ms is not None and record.probe_ms.audio is not None
    assert not mismatches, "\n".join(mismatches)


def test_missing_dependencies_are_diagnosed(real_scan) -> None:  # type: ignore[no-untyped-def]
    _, db = real_scan
    failed = query_plugins(db, PluginQuery(status="failed")).plugins
    assert {Path(p.path).name for p in failed} == FAILING
    for summary in failed:
        record = get_plugin(db, summary.id)
        assert record.diagnosis is not None and "cannot open shared object file" in record.diagnosis
    lsp = next(p for p in failed if p.path.endswith("lsp-plugins.vst3"))
    # Never loaded, yet named from its moduleinfo.json.
    assert lsp.vendor == "LSP VST3"


def test_ids_are_readable_unique_and_shell_safe(real_scan) -> None:  # type: ignore[no-untyped-def]
    _, db = real_scan
    ids = [row[0] for row in db.execute("SELECT id FROM plugins")]
    assert len(set(ids)) == len(ids)
    assert all(set(i) <= set("abcdefghijklmnopqrstuvwxyz0123456789.-") for i in ids)
    assert any(i.startswith("vst3.dragonfly-hall-reverb.") for i in ids)


def test_same_bundle_name_in_two_folders_gets_two_ids(real_plugins: Path, tmp_path: Path) -> None:
    copy_bundles(real_plugins, ["ZamComp.vst3"], tmp_path / "a")
    copy_bundles(real_plugins, ["ZamComp.vst3"], tmp_path / "b")
    result = scan(tmp_path / "cache", tmp_path / "a", tmp_path / "b", workers=2)
    assert result.summary.ok == 2
    assert len(set(result.change.added)) == 2


def test_fingerprints_decide_what_is_probed_again(real_plugins: Path, tmp_path: Path) -> None:
    folder = copy_bundles(real_plugins, [*SMALL_SET, "ZamVerb.vst3"], tmp_path / "plugins")
    cache = tmp_path / "cache"
    first = scan(cache, folder)
    assert (first.summary.probed, first.summary.ok, first.summary.failed) == (4, 3, 1)

    again = scan(cache, folder)
    assert (again.summary.probed, again.summary.unchanged) == (0, 4)  # Failures remembered too.

    retry = scan(cache, folder, retry_failed=True)
    assert (retry.summary.probed, retry.summary.failed) == (1, 1)

    binary = folder / "ZamComp.vst3" / "Contents" / "x86_64-linux" / "ZamComp.so"
    stat = binary.stat()
    os.utime(binary, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    changed = scan(cache, folder)
    assert (changed.summary.probed, changed.summary.ok, changed.summary.unchanged) == (1, 1, 3)
    assert len(changed.change.updated) == 1 and not changed.change.added

    full = scan(cache, folder, rescan=True)
    assert full.summary.probed == 4

    (folder / "ZamAutoSat.vst3").rename(tmp_path / "elsewhere.vst3")
    removed = scan(cache, folder)
    assert (removed.summary.removed, removed.summary.probed) == (1, 0)
    assert len(removed.change.removed) == 1
    db = sqlite3.connect(cache_paths(cache).catalog)
    names = {row[0] for row in db.execute("SELECT name FROM plugins")}
    assert names == {"ZamComp", "Dragonfly Plate Reverb", "ZamVerb"}


def test_ignored_bundles_and_classes_are_never_loaded(real_plugins: Path, tmp_path: Path) -> None:
    folder = copy_bundles(real_plugins, SMALL_SET, tmp_path / "plugins")
    cache = tmp_path / "cache"
    add_ignore_entry(cache_paths(cache).ensure().ignore_list, str(folder / "ZamComp.vst3"))
    add_ignore_entry(cache_paths(cache).ignore_list, "ZamAutoSat.vst3", "ZamAutoSat")
    result = scan(cache, folder)
    assert (result.summary.discovered, result.summary.probed, result.summary.ok) == (3, 2, 1)
    db = sqlite3.connect(cache_paths(cache).catalog)
    names = {row[0] for row in db.execute("SELECT name FROM plugins")}
    assert names == {"Dragonfly Plate Reverb"}


def test_misbehaving_plugins_end_as_data_and_the_scan_completes(
    real_plugins: Path, misbehaving_plugins: dict[str, Path], tmp_path: Path
) -> None:
    folder = copy_bundles(real_plugins, ["ZamComp.vst3"], tmp_path / "plugins")
    for name in ("segfault", "hang", "noise", "grandchild"):
        shutil.copytree(misbehaving_plugins[name], folder / f"{name}.vst3", symlinks=True)
    result = scan(tmp_path / "cache", folder, workers=2, timeout_seconds=3)
    summary = result.summary
    assert (summary.ok, summary.failed, summary.timed_out, summary.crashed) == (1, 2, 1, 1)
    db = sqlite3.connect(cache_paths(tmp_path / "cache").catalog)
    rows = dict(db.execute("SELECT name, status || ' ' || coalesce(signal, '') FROM plugins"))
    assert rows == {
        "ZamComp": "ok ",
        "segfault": "crashed SIGSEGV",
        "hang": "timeout SIGKILL",
        "noise": "failed ",
        "grandchild": "failed ",
    }
    noise_tail = db.execute("SELECT output_tail FROM plugins WHERE name = 'noise'").fetchone()[0]
    assert "HIJACK" in noise_tail  # Kept with the record, never on anybody's stdout.
