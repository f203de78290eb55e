"""A bundle whose binary lacks several dependencies is diagnosed with all of them (issue 16).

The bundle is built with gcc at test time: its binary needs two libraries that exist nowhere on
the machine's search path and a symbol version (``PLUGINARY_2``) that the library found beside it
(through its ``$ORIGIN`` run path) does not define, as a plugin built on a newer system needs a
newer glibc. ``dlopen`` names only the first; the diagnosis must name all three.
"""

from __future__ import annotations

import platform
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import anyio
import pytest

from pluginary.paths import cache_paths
from pluginary.scan_models import ScanOptions
from pluginary.scanner.engine import Scanner
from pluginary.scanner.launchers import LAUNCHER_ENV
from pluginary.scanner.probe import diagnose_binary

pytestmark = pytest.mark.worker

MAIN = """
int pluginary_missing_a(void); int pluginary_missing_b(void); int pluginary_versioned(void);
int GetPluginFactory(void) {
    return pluginary_missing_a() + pluginary_missing_b() + pluginary_versioned();
}
"""


def _library(build: Path, name: str, symbol: str, version: str | None = None) -> Path:
    source = build / f"{name}.c"
    source.write_text(f"int {symbol}(void) {{ return 1; }}\n")
    command = ["gcc", "-shared", "-fPIC", f"-Wl,-soname,lib{name}.so"]
    if version is not None:
        script = build / f"{name}-{version}.map"
        script.write_text(f"{version} {{ global: {symbol}; local: *; }};\n")
        command.append(f"-Wl,--version-script={script}")
    output = build / version / f"lib{name}.so" if version else build / f"lib{name}.so"
    output.parent.mkdir(exist_ok=True)
    subprocess.run([*command, "-o", str(output), str(source)], check=True)
    return output


@pytest.fixture
def unmet_bundle(tmp_path: Path) -> Path:
    if not sys.platform.startswith("linux"):
        pytest.skip("the dynamic linker's listing is Linux's")
    if shutil.which("gcc") is None:
        pytest.fail("gcc is needed to build the bundle")
    build = tmp_path / "build"
    build.mkdir()
    for name in ("pluginary_missing_a", "pluginary_missing_b"):
        _library(build, name, name)  # Linked against, then left behind: missing at load.
    _library(build, "pluginary_versioned", "pluginary_versioned", "PLUGINARY_2")
    older = _library(build, "pluginary_versioned", "pluginary_versioned", "PLUGINARY_1")
    binaries = tmp_path / "plugins" / "unmet.vst3" / "Contents" / f"{platform.machine()}-linux"
    binaries.mkdir(parents=True)
    main = build / "main.c"
    main.write_text(MAIN)
    search = [f"-L{build}", f"-L{build / 'PLUGINARY_2'}", "-Wl,-rpath,$ORIGIN"]
    link = ["-lpluginary_missing_a", "-lpluginary_missing_b", "-lpluginary_versioned"]
    output = ["-o", str(binaries / "unmet.so"), str(main)]
    subprocess.run(["gcc", "-shared", "-fPIC", *output, *search, *link], check=True)
    shutil.copy(older, binaries)  # Found, but too old: it lacks PLUGINARY_2.
    return binaries.parent.parent


def _names_every_problem(diagnosis: str | None) -> None:
    assert diagnosis is not None
    assert diagnosis.startswith("3 unmet dependencies: ")
    assert "libpluginary_missing_a.so (not found)" in diagnosis
    assert "libpluginary_missing_b.so (not found)" in diagnosis
    assert "version PLUGINARY_2 of libpluginary_versioned.so (required by unmet.so)" in diagnosis
    # dlopen's own words stay: they are what a user searches the web for.
    assert "cannot open shared object file" in diagnosis


def test_the_diagnosis_names_every_unmet_dependency(unmet_bundle: Path) -> None:
    _names_every_problem(diagnose_binary(str(unmet_bundle)))


@pytest.mark.parametrize("launcher", ["forkserver", "pool"])
def test_a_scan_records_every_unmet_dependency(
    launcher: str, unmet_bundle: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(LAUNCHER_ENV, launcher)
    scanner = Scanner(
        cache_paths(tmp_path / "cache"), log=lambda line: None, standard_folders=lambda fmt: []
    )
    options = ScanOptions(folders=(str(unmet_bundle.parent),), only_folders=True, workers=1)
    summary = anyio.run(scanner.scan, options).summary
    assert summary.failed == 1
    db = sqlite3.connect(cache_paths(tmp_path / "cache").catalog)
    try:
        ((diagnosis,),) = db.execute("SELECT diagnosis FROM plugins").fetchall()
    finally:
        db.close()
    _names_every_problem(diagnosis)
