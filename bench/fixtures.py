"""What the benchmarks run on: the real bundles, N renamed copies of them, a synthetic catalogue.

The copies are hard links where the file system allows (a copy otherwise): each copy is a
distinct bundle, ``NAME-i.vst3``, whose shared object is renamed ``NAME-i.so`` to match, since
pedalboard (JUCE) looks for ``Contents/<arch>-linux/<bundle name>.so`` and refuses a bundle whose
binary keeps the old name.
"""

from __future__ import annotations

import os
import random
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = Path(os.environ.get("PLUGINARY_FIXTURES", Path.home() / ".cache" / "pluginary-fixtures"))


def real_plugins() -> Path:
    """The folder of real VST3 bundles (fetched by scripts/fetch-plugins if needed)."""
    subprocess.run([str(ROOT / "scripts" / "fetch-plugins"), str(FIXTURES)], check=True)
    return FIXTURES / "vst3"


def real_bundles(limit: int | None = None) -> list[Path]:
    bundles = sorted(real_plugins().glob("*.vst3"))
    return bundles if limit is None else bundles[:limit]


# The breadth sets' loadable copies the bench scans (issue 16), and what it leaves out: bookworm's
# ZamVerb does not finish loading in pedalboard (see docs/breadth-sets.md); LSP's one bundle of
# 184 classes takes minutes of its own.
BREADTH_SETS = ("iem", "dpf", "zam-bookworm")
BREADTH_LEFT_OUT = {"ZamVerb.vst3"}


def breadth_bundles(limit: int | None = None) -> list[Path]:
    """The breadth sets' loadable bundles (fetched and relinked by scripts/fetch-plugins)."""
    real_plugins()  # The same fetch brings the breadth sets.
    bundles = [
        bundle
        for name in BREADTH_SETS
        for bundle in sorted((FIXTURES / "breadth" / name / "loadable").glob("*.vst3"))
        if bundle.name not in BREADTH_LEFT_OUT
    ]
    return bundles if limit is None else bundles[:: max(1, len(bundles) // limit)][:limit]


def subset_folder(bundles: list[Path], dest: Path) -> Path:
    """A folder of symlinks to ``bundles`` (the smoke run's small real set)."""
    dest.mkdir(parents=True, exist_ok=True)
    for bundle in bundles:
        (dest / bundle.name).symlink_to(bundle)
    return dest


def copies_folder(bundles: list[Path], count: int, dest: Path) -> Path:
    """``count`` distinct bundles cycling through ``bundles``: ``NAME-i.vst3`` with ``NAME-i.so``.

    The copies are hard links (a real copy where that fails) with the shared object renamed.
    """
    dest.mkdir(parents=True, exist_ok=True)
    for i in range(count):
        source = bundles[i % len(bundles)]
        copy = dest / f"{source.stem}-{i}.vst3"
        _link_tree(source, copy)
        for binary in copy.glob("Contents/*-linux/*.so"):
            if binary.stem == source.stem:
                binary.rename(binary.with_name(f"{copy.stem}.so"))
    return dest


def _link_tree(source: Path, dest: Path) -> None:
    try:
        shutil.copytree(source, dest, symlinks=True, copy_function=os.link)
    except OSError:
        shutil.rmtree(dest, ignore_errors=True)
        shutil.copytree(source, dest, symlinks=True)


def hang_bundle(dest: Path) -> Path:
    """The misbehaving bundle that never finishes loading (tests/native/hang.c), in ``dest``."""
    sys.path.insert(0, str(ROOT / "tests"))
    try:
        from native_bundles import build_bundle
    finally:
        sys.path.pop(0)
    dest.mkdir(parents=True, exist_ok=True)
    return Path(build_bundle("hang", dest))


def dpf_bundle(name: str) -> Path:
    """A DPF test bundle (tests/dpf_bundles.py: ``TestSynth`` has 2,083 parameters), cached."""
    sys.path.insert(0, str(ROOT / "tests"))
    try:
        from dpf_bundles import build_dpf_bundle
    finally:
        sys.path.pop(0)
    return Path(build_dpf_bundle(name))


# -- the synthetic catalogue -----------------------------------------------------------------

_WORDS = (
    "reverb delay chorus flanger phaser compressor limiter gate expander equalizer filter "
    "distortion overdrive fuzz saturator exciter enhancer vocoder pitch shifter harmonizer "
    "tremolo vibrato rotary leslie tape echo shimmer plate spring hall room chamber ambience "
    "granular spectral convolution transient shaper multiband dynamic stereo imager widener "
    "analog vintage modern tube valve optical digital lofi bitcrusher synth sampler drum bass "
    "lead pad organ piano strings brass choir"
)
WORDS = tuple(_WORDS.split())
_PARAMETERS = (
    "Gain Mix Dry Wet Output Input Threshold Ratio Attack Release Knee Makeup Cutoff Resonance "
    "Drive Tone Depth Rate Feedback Time Decay Size Damping Predelay Width Bypass Mode Frequency "
    "Bandwidth Q Lookahead Ceiling Sync Spread Shape Octave Detune Glide Volume Pan"
)
PARAMETERS = tuple(_PARAMETERS.split())
CATEGORIES = (
    "Fx|Reverb",
    "Fx|Delay",
    "Fx|Dynamics",
    "Fx|EQ",
    "Fx|Modulation",
    "Fx|Distortion",
    "Instrument|Synth",
    "Instrument|Sampler",
    "Fx|Filter",
    "Fx|Spatial",
)


def synthetic_catalog(cache: Path, plugins: int, parameters: int = 20, seed: int = 5) -> float:
    """Commit ``plugins`` made-up plugins (``parameters`` each) with ``commit_scan``; seconds."""
    from pluginary.catalog.store import CommitBundle, commit_scan, open_catalog
    from pluginary.paths import cache_paths

    rng = random.Random(seed)
    vendors = [
        f"{rng.choice(WORDS).title()} {rng.choice(['Audio', 'Labs', 'DSP', 'Sound'])} {i}"
        for i in range(400)
    ]
    bundles = []
    for i in range(plugins):
        name = f"{rng.choice(WORDS).title()} {rng.choice(WORDS).title()} {i}"
        kind = "instrument" if rng.random() < 0.2 else "effect"
        params = [_parameter(index, rng) for index in range(parameters)]
        record: dict[str, Any] = {
            "name": name,
            "vendor": rng.choice(vendors),
            "version": f"{rng.randint(1, 9)}.{rng.randint(0, 20)}.{rng.randint(0, 9)}",
            "category": rng.choice(CATEGORIES),
            "kind": kind,
            "identifier": f"VST3-{name}-{i:08x}",
            "parameters": params,
            "duration_ms": round(rng.uniform(5, 200), 3),
            "output_tail": "",
            "extra": {},
        }
        path = f"/synthetic/{name.replace(' ', '')}.vst3"
        bundles.append(CommitBundle(path, path, "vst3", f"fp{i}", [(name, "ok", record)]))
    paths = cache_paths(cache).ensure()
    started = time.perf_counter()
    db, _ = open_catalog(paths.catalog)
    try:
        summary = {"scanId": "synthetic", "discovered": plugins}
        commit_scan(db, "synthetic", bundles, [], lambda _totals: summary)
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        db.close()
    return time.perf_counter() - started


def _parameter(index: int, rng: random.Random) -> dict[str, Any]:
    name = rng.choice(PARAMETERS) if index else "Bypass"
    if rng.random() < 0.3:
        name = f"{name} {rng.randint(1, 4)}"
    enumerated = rng.random() < 0.15
    return {
        "index": index,
        "name": name,
        "key": name.lower().replace(" ", "_") + (f"_{index}" if index > 10 else ""),
        "units": rng.choice([None, "dB", "ms", "Hz", "%"]),
        "type": "str" if enumerated else "float",
        "min": 0.0,
        "max": 1.0,
        "step": None,
        "approximate_step": 0.001,
        "default_raw": rng.random(),
        "default_text": f"{rng.uniform(-24, 24):.1f}",
        "plugin_default_raw": rng.random(),
        "boolean": False,
        "discrete": enumerated,
        "num_steps": 4 if enumerated else 2147483647,
        "automatable": True,
        "values": ["Off", "Low", "Mid", "High"] if enumerated else None,
        "values_truncated": False,
    }
