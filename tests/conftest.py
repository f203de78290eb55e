from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

# Misbehaving test bundles built at test time: bare shared objects (gcc) and DPF plugins (g++).
pytest_plugins = ["native_bundles", "dpf_bundles", "zoo_bundles", "breadth_bundles"]


@pytest.fixture(scope="session")
def real_plugins() -> Path:
    """The folder of real third-party VST3 bundles, fetched once by scripts/fetch-plugins."""
    if not sys.platform.startswith("linux"):
        pytest.skip("the real set is Debian's Linux builds (macOS and Windows CI run without it)")
    dest = Path(os.environ.get("PLUGINARY_FIXTURES", Path.home() / ".cache" / "pluginary-fixtures"))
    subprocess.run([str(ROOT / "scripts" / "fetch-plugins"), str(dest)], check=True)
    return dest / "vst3"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tests marked ``slow`` run only when ``-m`` names them (``pytest -m slow``): without
    ``-m``, or with one that does not mention them (``-m worker``), they are deselected."""
    if "slow" in (config.option.markexpr or ""):
        return
    slow = [item for item in items if item.get_closest_marker("slow")]
    if slow:
        config.hook.pytest_deselected(items=slow)
        items[:] = [item for item in items if item.get_closest_marker("slow") is None]
