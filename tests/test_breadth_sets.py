"""The breadth sets (issue 16): present, described by their manifest, relinked right, loadable.

Each pedalboard load runs in a fresh, sacrificial process (``breadth_load.py``); the loads run
side by side, since most of their time is spent waiting (LSP's factory sleeps per class).
"""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from breadth_bundles import ROOT, SETS, BreadthSets
from breadth_load import load_in_fresh_process

pytestmark = pytest.mark.worker

# (set, bundle, class or None for the first): one representative each; bookworm's Zam is the
# second build of a plugin the main set has from trixie, and needs Debian 12's libsamplerate.
REPRESENTATIVES = [
    ("iem", "StereoEncoder.vst3", None),  # JUCE; libfftw3f and sid's libstdc++ symbols.
    ("dpf", "3BandEQ.vst3", None),
    ("zam-bookworm", "ZamDelay.vst3", None),
    ("lsp", "lsp-plugins.vst3", "Compressor Mono"),  # One class of ~180 in one bundle.
]
# Unmodified binaries from newer suites: the loader refuses them for their glibc/libstdc++.
ORIGINALS = [("iem", "StereoEncoder.vst3"), ("dpf", "3BandEQ.vst3")]


def relinker() -> ModuleType:
    """``scripts/relink_plugins.py`` (standalone, so not on the path): its check is the test's."""
    spec = importlib.util.spec_from_file_location(
        "relink_plugins", ROOT / "scripts" / "relink_plugins.py"
    )
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("relink_plugins", module)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def loads(breadth_plugins: BreadthSets) -> dict[tuple[str, str, str], dict[str, Any]]:
    """Every representative's and original's load, in fresh processes, two at a time."""
    jobs = [("loadable", s, b, c) for s, b, c in REPRESENTATIVES]
    jobs += [("original", s, b, None) for s, b in ORIGINALS]

    def run(job: tuple[str, str, str, str | None]) -> dict[str, Any]:
        kind, name, bundle, plugin = job
        return load_in_fresh_process(
            breadth_plugins.root / name / kind / bundle, plugin, timeout=90
        )

    with ThreadPoolExecutor(max_workers=3) as pool:
        results = list(pool.map(run, jobs))
    return {(kind, s, b): result for (kind, s, b, _), result in zip(jobs, results, strict=True)}


def test_every_set_is_there_with_its_bundles_as_shipped_and_relinked(
    breadth_plugins: BreadthSets,
) -> None:
    for name, fewest in SETS.items():
        entry = breadth_plugins.manifest["sets"][name]
        original = sorted(p.name for p in breadth_plugins.original(name).glob("*.vst3"))
        loadable = sorted(p.name for p in breadth_plugins.loadable(name).glob("*.vst3"))
        assert len(original) >= fewest, name
        assert original == loadable == entry["bundles"], name


def test_the_manifest_says_what_each_set_is_and_what_relinking_did(
    breadth_plugins: BreadthSets,
) -> None:
    manifest = breadth_plugins.manifest
    compat = set(manifest["compat"]["symbols"])
    assert {"__isoc23_strtol", "__cxa_call_terminate"} <= compat
    for name, entry in manifest["sets"].items():
        assert entry["package"] and entry["version"] and entry["suite"], name
        assert set(entry["compat_symbols"]) <= compat, name
        assert entry["unmet"] == [] and entry["symbols_undefined"] == [], name
        assert isinstance(entry["libraries_missing"], list)
        # Every version made weak is one an original needs and this machine lacks.
        lacking = {need for needs in entry["original_unmet"].values() for need in needs}
        assert set(entry["versions_marked_weak"]) <= lacking, name
        cleared_versions = {symbol.split("@")[1] for symbol in entry["symbols_cleared"]}
        weak_versions = {need.split(":")[1] for need in entry["versions_marked_weak"]}
        assert cleared_versions <= weak_versions, name
        if entry["suite"] == "bookworm":
            assert entry["symbols_cleared"] == entry["versions_marked_weak"] == [], name
        else:
            assert any(re.match(r"GLIBC_2\.3[89]|GLIBC_2\.4", v) for v in weak_versions), name
    assert manifest["sets"]["iem"]["private_libraries"] == ["libfftw3f.so.3"]
    assert "libsndfile.so.1" in manifest["sets"]["lsp"]["private_libraries"]


def test_loadable_copies_need_no_version_this_machine_lacks(breadth_plugins: BreadthSets) -> None:
    relink = relinker()
    host = relink.Host()
    for name in SETS:
        for bundle in breadth_plugins.loadable(name).glob("*.vst3"):
            for binary in relink.binaries(bundle):
                assert relink.unmet(binary, host) == [], binary
                missing = host.closure(relink.read_elf(binary))[1]
                assert set(missing) <= set(
                    breadth_plugins.manifest["sets"][name]["libraries_missing"]
                )


def test_originals_from_newer_suites_need_what_this_machine_lacks(
    breadth_plugins: BreadthSets,
) -> None:
    relink = relinker()
    host = relink.Host()
    for name, entry in breadth_plugins.manifest["sets"].items():
        if entry["suite"] == "bookworm":
            continue
        for bundle in breadth_plugins.original(name).glob("*.vst3"):
            needs = [n for b in relink.binaries(bundle) for n in relink.unmet(b, host)]
            assert any("GLIBC" in need for need in needs), bundle


@pytest.mark.parametrize(("name", "bundle", "plugin"), REPRESENTATIVES)
def test_a_relinked_plugin_loads_with_pedalboard(
    loads: dict[tuple[str, str, str], dict[str, Any]], name: str, bundle: str, plugin: str | None
) -> None:
    result = loads[("loadable", name, bundle)]
    assert result["loaded"], result
    assert result["names"], result
    assert result["name"] == (plugin or result["names"][0])
    if name == "lsp":
        assert len(result["names"]) >= 150


@pytest.mark.parametrize(("name", "bundle"), ORIGINALS)
def test_an_original_fails_to_load_naming_the_glibc_it_needs(
    loads: dict[tuple[str, str, str], dict[str, Any]], name: str, bundle: str
) -> None:
    result = loads[("original", name, bundle)]
    assert not result["loaded"]
    assert result["names"] == []
    assert re.search(r"version `(GLIBC|GLIBCXX|CXXABI)_[0-9.]+' not found", result["diagnosis"])
    assert re.search(r"GLIBC|GLIBCXX", result["diagnosis"])


COMPAT_CHECK = r"""
#include <cstdio>
#include <cstring>
#include <string>
extern "C" int __isoc23_sscanf(const char *, const char *, ...);
extern "C" long __isoc23_strtol(const char *, char **, int);
extern "C" size_t strlcpy(char *, const char *, size_t);
extern "C" size_t strlcat(char *, const char *, size_t);
extern "C" void replace_cold(void *, char *, size_t, const char *, size_t, size_t) __asm__(
    "_ZNSt7__cxx1112basic_stringIcSt11char_traitsIcESaIcEE15_M_replace_coldEPcmPKcmm");
int main() {
    int a = 0; char word[8]; char small[4] = "";
    if (__isoc23_sscanf("12 hello", "%d %7s", &a, word) != 2 || a != 12) return 1;
    if (std::strcmp(word, "hello") || __isoc23_strtol("0x1f", nullptr, 0) != 31) return 2;
    if (strlcpy(small, "abcdef", sizeof small) != 6 || std::strcmp(small, "abc")) return 3;
    if (strlcat(small, "xyz", sizeof small) != 6 || std::strcmp(small, "abc")) return 4;
    // Replace [pos, pos+len1) of a string by a piece of itself, as std::string::replace would.
    const std::string text = "0123456789abcdefghij";
    for (size_t pos = 0; pos <= 8; ++pos)
        for (size_t len1 = 0; pos + len1 <= 8; ++len1)
            for (size_t from = 0; from <= 8; ++from)
                for (size_t len2 = 0; from + len2 <= 8; ++len2) {
                    char buffer[64] = {};
                    std::memcpy(buffer, text.data(), 8);
                    std::string expected = text.substr(0, 8);
                    expected.replace(pos, len1, text.substr(from, len2));
                    replace_cold(nullptr, buffer + pos, len1, buffer + from, len2, 8 - pos - len1);
                    if (expected != std::string(buffer, 8 - len1 + len2)) return 5;
                }
    std::puts("ok");
    return 0;
}
"""


def test_the_compat_library_does_what_the_newer_libraries_do(
    breadth_plugins: BreadthSets, tmp_path: Path
) -> None:
    lib = breadth_plugins.root / "lib"
    (tmp_path / "check.cpp").write_text(COMPAT_CHECK)
    build = ["g++", "-O1", str(tmp_path / "check.cpp"), "-o", str(tmp_path / "check")]
    subprocess.run([*build, f"-L{lib}", "-lpluginary-compat", f"-Wl,-rpath,{lib}"], check=True)
    done = subprocess.run([str(tmp_path / "check")], capture_output=True, text=True)
    assert (done.returncode, done.stdout) == (0, "ok\n")
