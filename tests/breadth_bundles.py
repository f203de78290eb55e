"""The breadth sets: real plugins from more frameworks and Debian suites (issue 16).

``scripts/fetch-breadth`` (run by ``scripts/fetch-plugins``) puts each set under
``<fixtures>/breadth/<set>/``: ``original/`` as Debian ships it (the trixie and sid builds need a
newer glibc and libstdc++ than Debian 12's, so they fail to load here: the real missing-dependency
case) and ``loadable/``, the same bundles relinked by ``scripts/relink_plugins.py``. The
``manifest.json`` beside them says what each set is and what the relinking did.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = Path(os.environ.get("PLUGINARY_FIXTURES", Path.home() / ".cache" / "pluginary-fixtures"))

# set -> the fewest bundles it must have (Debian's packages as of this writing).
SETS = {"iem": 21, "lsp": 1, "dpf": 15, "zam-bookworm": 17}


@dataclass(frozen=True)
class BreadthSets:
    root: Path
    manifest: dict[str, Any]

    def original(self, name: str) -> Path:
        return self.root / name / "original"

    def loadable(self, name: str) -> Path:
        return self.root / name / "loadable"


@pytest.fixture(scope="session")
def breadth_plugins() -> BreadthSets:
    """The breadth sets' folders and manifest, fetched (and relinked) once by the fetch scripts."""
    if not sys.platform.startswith("linux"):
        pytest.skip("the breadth sets are Debian's Linux builds")
    subprocess.run([str(ROOT / "scripts" / "fetch-plugins"), str(FIXTURES)], check=True)
    root = FIXTURES / "breadth"
    return BreadthSets(root, json.loads((root / "manifest.json").read_text()))
