"""Ready to insert: plugins that load fine and then misbehave, the audio-check switch, the filters.

The DPF-built plugins (``dpf_bundles.py``) are real VST3s: one passes audio through with 256
samples of latency, one writes NaN, one segfaults inside ``process()``, one never returns from it.
An instrument renders a MIDI note instead. (The real set's facts are checked against pedalboard
in ``test_scan_worker.py``.)
"""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import pytest

from pluginary.catalog.query import get_plugin, query_plugins
from pluginary.models import PluginQuery, PluginRecord
from pluginary.paths import cache_paths
from scan_helpers import copy_bundles, scan

pytestmark = pytest.mark.worker

TIMEOUT = 5.0


def records(cache: Path) -> dict[str, PluginRecord]:
    db = sqlite3.connect(cache_paths(cache).catalog)
    try:
        page = query_plugins(db, PluginQuery(limit=100))
        return {summary.name: get_plugin(db, summary.id) for summary in page.plugins}
    finally:
        db.close()


@pytest.fixture(scope="module")
def dpf_scan(
    dpf_plugins: dict[str, Path], real_plugins: Path, tmp_path_factory: pytest.TempPathFactory
):  # type: ignore[no-untyped-def]
    folder = tmp_path_factory.mktemp("plugins")
    for name, bundle in dpf_plugins.items():
        # TestSynth is slow to describe (it has its own scan, below); EdgeCases is a describer
        # fixture with no audio misbehaviour (tests/test_dpf_edge_controls.py covers it).
        if name not in ("TestSynth", "EdgeCases"):
            shutil.copytree(bundle, folder / bundle.name)
    copy_bundles(real_plugins, ["ZamComp.vst3"], folder)
    cache = tmp_path_factory.mktemp("cache")
    result = scan(cache, folder, workers=2, timeout_seconds=TIMEOUT)
    return result, records(cache), cache


def test_the_scan_completes_past_plugins_that_fail_in_process(dpf_scan) -> None:  # type: ignore[no-untyped-def]
    result, found, _ = dpf_scan
    summary = result.summary
    assert (summary.probed, summary.ok, summary.crashed, summary.timed_out) == (5, 3, 1, 1)
    assert set(found) == {"PassThrough", "NaNMaker", "ProcessCrasher", "ProcessHanger", "ZamComp"}


def test_a_well_behaved_plugin_reports_its_facts(dpf_scan) -> None:  # type: ignore[no-untyped-def]
    plugin = dpf_scan[1]["PassThrough"]
    assert plugin.status == "ok" and plugin.error is None
    assert plugin.channels == [2]  # DPF's stereo plugin: no other layout.
    assert plugin.latency_samples == 256
    check = plugin.audio_check
    assert check is not None and check.ok and plugin.audio_ok is True
    assert check.non_finite is False and check.silent is False
    assert check.peak is not None and 0.4 < check.peak <= 0.5  # The noise burst, passed through.
    assert plugin.state is not None and plugin.state.readable and plugin.state.writable
    times = plugin.probe_ms
    assert times is not None and times.load is not None and times.audio is not None
    assert times.load >= 0 and times.audio >= 0


def test_parameters_carry_range_problems_and_text_samples(dpf_scan) -> None:  # type: ignore[no-untyped-def]
    parameters = {p.name: p for p in dpf_scan[1]["PassThrough"].parameters}
    assert parameters["Fixed"].range_problem == "degenerate"
    assert parameters["Gain"].range_problem is None
    samples = parameters["Gain"].samples
    assert samples is not None and [s.raw for s in samples] == [0.0, 0.25, 0.5, 0.75, 1.0]
    values = [s.value for s in samples]
    assert values[0] == pytest.approx(-60.0) and values[-1] == pytest.approx(12.0)
    assert values == sorted(values)  # Continuous and rising: each text parsed to its value.
    assert all(s.text for s in samples)


def test_a_plugin_that_outputs_nan_loads_but_fails_the_audio_check(dpf_scan) -> None:  # type: ignore[no-untyped-def]
    plugin = dpf_scan[1]["NaNMaker"]
    assert plugin.status == "ok"
    assert plugin.audio_ok is False
    assert plugin.audio_check is not None and plugin.audio_check.non_finite is True
    assert plugin.channels == [2]


@pytest.mark.parametrize(
    ("name", "status", "cause"),
    [("ProcessCrasher", "crashed", "SIGSEGV"), ("ProcessHanger", "timeout", "did not finish")],
)
def test_a_plugin_that_dies_in_process_keeps_what_loading_learnt(
    dpf_scan, name: str, status: str, cause: str
) -> None:  # type: ignore[no-untyped-def]
    plugin = dpf_scan[1][name]
    assert plugin.status == status
    assert plugin.error is not None and cause in plugin.error
    assert plugin.error.endswith("while processing audio")
    assert plugin.audio_ok is False
    assert plugin.audio_check is not None and plugin.audio_check.error == plugin.error
    # Loading went fine, so the catalogue still knows the plugin and its parameters.
    assert plugin.vendor == "Pluginary Tests" and plugin.version == "1.2.3"
    assert [p.name for p in plugin.parameters][-2:] == ["Gain", "Fixed"]


def test_an_instrument_is_checked_with_a_midi_note(
    dpf_plugins: dict[str, Path], tmp_path: Path
) -> None:
    folder = tmp_path / "plugins"
    shutil.copytree(dpf_plugins["TestSynth"], folder / "TestSynth.vst3")
    # DPF maps 16 x 130 MIDI CCs to parameters: 2,083 to describe, within the default limit
    # (issue 15: pedalboard's own path takes 35-90 s, the fast describer a few seconds).
    scan(tmp_path / "cache", folder)
    synth = records(tmp_path / "cache")["TestSynth"]
    assert (synth.status, synth.kind) == ("ok", "instrument"), synth.error
    assert len(synth.parameters) > 2000
    assert synth.probe_ms is not None and synth.probe_ms.describer == "fast"
    assert synth.channels == [2]  # What it renders from MIDI; it takes no audio in.
    check = synth.audio_check
    assert check is not None and check.ok and check.silent is False  # The note sounded.
    assert check.peak is not None and 0.2 < check.peak <= 0.25  # Its sine's amplitude.


def test_query_filters_on_the_new_facts(dpf_scan) -> None:  # type: ignore[no-untyped-def]
    _, found, cache = dpf_scan
    db = sqlite3.connect(cache_paths(cache).catalog)

    def names(**filters: object) -> set[str]:
        return {p.name for p in query_plugins(db, PluginQuery(**filters)).plugins}  # type: ignore[arg-type]

    try:
        assert names(channels=2) == {n for n, p in found.items() if p.channels and 2 in p.channels}
        assert names(channels=1) == {"ZamComp"}  # Mono only: it refuses a stereo buffer.
        assert names(audio_ok=True) == {"PassThrough", "ZamComp"}
        assert names(audio_ok=False) == {"NaNMaker", "ProcessCrasher", "ProcessHanger"}
        assert names(max_latency=0) == {"NaNMaker", "ZamComp"}
        assert names(max_latency=256) == {"NaNMaker", "ZamComp", "PassThrough"}
        assert names(channels=2, max_latency=0, audio_ok=True) == set()
    finally:
        db.close()


def test_audio_check_off_leaves_the_facts_null_until_a_checking_scan(
    real_plugins: Path, tmp_path: Path
) -> None:
    folder = copy_bundles(real_plugins, ["ZamComp.vst3", "ZamHeadX2.vst3"], tmp_path / "plugins")
    cache = tmp_path / "cache"
    first = scan(cache, folder, audio_check=False)
    assert first.summary.probed == 2
    comp = records(cache)["ZamComp"]
    assert comp.status == "ok" and comp.parameters
    assert (comp.channels, comp.latency_samples, comp.audio_ok) == (None, None, None)
    assert (comp.audio_check, comp.state) == (None, None)
    assert comp.probe_ms is not None and comp.probe_ms.audio is None
    # Unchecked bundles are probed again by a checking scan (the one that failed to load is not:
    # there was nothing to check); after that, nothing is left to do.
    second = scan(cache, folder)
    assert (second.summary.probed, second.summary.unchanged) == (1, 1)
    assert records(cache)["ZamComp"].channels == [1]
    third = scan(cache, folder)
    assert (third.summary.probed, third.summary.unchanged) == (0, 2)
    # And a scan without checks does not throw the facts away by probing again.
    assert scan(cache, folder, audio_check=False).summary.probed == 0
