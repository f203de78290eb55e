"""Fixtures of the failsafe tier: real sidecars over raw pipes, plugin folders, the ledger."""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from faultkit import Dump, Launch, build_native, normalised
from ledger import LEDGER, REPORT_ENV, Ledger, write_report
from rawclient import sidecars

from pluginary.paths import cache_paths
from scan_helpers import dump_catalog, scan

HERE = Path(__file__).resolve().parent


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    target = os.environ.get(REPORT_ENV)
    if target and exitstatus == 0 and LEDGER.entries:
        write_report(Path(target))


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    # Known bugs (strict xfails) go into the report too, with the reason each one gives.
    if report.when == "call" and getattr(report, "wasxfail", None) and "failsafe" in report.nodeid:
        LEDGER.known[report.nodeid.rpartition("::")[2]] = report.wasxfail


@pytest.fixture(scope="session")
def ledger() -> Ledger:
    """Where tests record the faults they survived, for ``docs/reliability.md``."""
    return LEDGER


@pytest.fixture
def launch(tmp_path: Path) -> Iterator[Launch]:
    """Start sidecars (on ``tmp_path/cache`` unless told); stop and check each at the end."""
    with sidecars(tmp_path / "cache", tmp_path / "logs") as start:
        yield start


@pytest.fixture
def folder(tmp_path: Path, real_plugins: Path) -> Callable[..., Path]:
    """A folder of symlinks to chosen real bundles (all if none named, none if not ``real``),
    plus extra bundles.

    Extra bundles are real copies in a subfolder that sorts after every real bundle, so a scan
    with one worker reaches them last.
    """

    def make(
        *names: str, extra: tuple[Path, ...] = (), name: str = "plugins", real: bool = True
    ) -> Path:
        made = tmp_path / name
        made.mkdir()
        for bundle in sorted(real_plugins.glob("*.vst3")):
            if real and (not names or bundle.name in names):
                (made / bundle.name).symlink_to(bundle)
        for bundle in extra:
            shutil.copytree(bundle, made / "zz" / bundle.name, symlinks=True)
        return made

    return make


@pytest.fixture(scope="session")
def real_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("real")


def _fill(made: Path, real_plugins: Path) -> Path:
    if made.exists():
        shutil.rmtree(made)
    made.mkdir()
    for bundle in sorted(real_plugins.glob("*.vst3")):
        (made / bundle.name).symlink_to(bundle)
    return made


@pytest.fixture(scope="session")
def clean_real(real_root: Path, real_plugins: Path) -> Dump:
    """The catalogue of a clean, uninterrupted scan of :func:`real_folder` (paths normalised).

    Plugins' identifiers hash the path they were loaded from, so a comparison needs the very
    same folder: every test that compares with this catalogue scans ``real_folder``.
    """
    made = _fill(real_root / "plugins", real_plugins)
    scan(real_root / "clean-cache", made, workers=2)
    return normalised(dump_catalog(cache_paths(real_root / "clean-cache")), made)


@pytest.fixture
def real_folder(real_root: Path, real_plugins: Path, clean_real: Dump) -> Path:
    """The folder :func:`clean_real` scanned, with every real bundle in it again."""
    return _fill(real_root / "plugins", real_plugins)


@pytest.fixture(scope="session")
def hang_tree() -> Path:
    """A bundle that starts a child and an escaped grandchild, then hangs (``native/``)."""
    if not sys.platform.startswith("linux"):
        pytest.skip("the misbehaving bundles are Linux shared objects")
    return build_native(HERE / "native" / "hang_tree.c")
