"""Real VST3 plugins that load fine and misbehave only once they process audio, built with DPF.

Misbehaving at load is easy to fake with a bare shared object (``native_bundles.py``); failing in
``process()`` needs a plugin pedalboard accepts, so these are built from ``tests/dpf/plugin.cpp``
with the DISTRHO Plugin Framework (``dpf-source``, which ``scripts/fetch-plugins`` unpacks into
the fixture cache). Builds are cached under ``<fixtures>/dpf-builds/<hash>/`` like the others.
One more, ``EdgeCases``, misbehaves in nothing but its parameters: edge cases for parameter
describers (see plugin.cpp; its controls are ``test_dpf_edge_controls.py``).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from native_bundles import cached_bundle

SOURCES = Path(__file__).resolve().parent / "dpf"
FIXTURES = Path(os.environ.get("PLUGINARY_FIXTURES", Path.home() / ".cache" / "pluginary-fixtures"))
CACHE = FIXTURES / "dpf-builds"
FLAGS = ("-shared", "-fPIC", "-O1", "-std=gnu++11", "-DDISTRHO_PLUGIN_TARGET_VST3")

# name: (behaviour, reported latency in samples); behaviours are listed in plugin.cpp.
PLUGINS = {
    "PassThrough": (0, 256),
    "NaNMaker": (1, 0),
    "ProcessCrasher": (2, 0),
    "ProcessHanger": (3, 0),
    "TestSynth": (4, 0),
    "EdgeCases": (5, 0),
}


def dpf_root() -> Path | None:
    """Where DPF's sources are: the fixture cache first, then a system-wide dpf-source."""
    for root in (FIXTURES / "dpf", Path("/usr/share/dpf")):
        if (root / "distrho" / "DistrhoPluginMain.cpp").exists():
            return root
    return None


def build_dpf_bundle(name: str, dest: Path | None = None) -> Path:
    """Build the ``NAME.vst3`` bundle of :data:`PLUGINS` (cached) and return its path."""
    root = dpf_root()
    if root is None:
        raise FileNotFoundError("no DPF sources: run scripts/fetch-plugins")
    behaviour, latency = PLUGINS[name]
    uid = int.from_bytes(hashlib.sha256(name.encode()).digest()[:4], "big") & 0x7FFFFFFF
    defines = (
        f'-DPLUGINARY_NAME="{name}"',
        f"-DPLUGINARY_BEHAVIOUR={behaviour}",
        f"-DPLUGINARY_LATENCY={latency}",
        f"-DPLUGINARY_UID={uid}",
    )
    inputs = b"".join(path.read_bytes() for path in sorted(SOURCES.iterdir()))
    distrho = root / "distrho"

    def command(output: Path) -> list[str]:
        return [
            "g++",
            *FLAGS,
            *defines,
            f"-I{SOURCES}",
            f"-I{distrho}",
            str(SOURCES / "plugin.cpp"),
            str(distrho / "DistrhoPluginMain.cpp"),
            f"-Wl,--version-script={root / 'utils' / 'symbols' / 'vst3.version'}",
            "-o",
            str(output),
        ]

    return cached_bundle(CACHE, name, inputs + " ".join(FLAGS + defines).encode(), command, dest)


@pytest.fixture(scope="session")
def dpf_plugins() -> dict[str, Path]:
    """Every DPF-built test bundle by name (see :data:`PLUGINS`)."""
    if not sys.platform.startswith("linux"):
        pytest.skip("the DPF test bundles are built for Linux")
    if shutil.which("g++") is None:
        pytest.fail("g++ is needed to build the DPF test plugins")
    # A g++ run of a second or two each on a cold cache (a clean CI clone): one per core at a time.
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        return dict(zip(PLUGINS, pool.map(build_dpf_bundle, PLUGINS), strict=True))
