"""Where Pluginary keeps its files: one cache folder, overridable by ``PLUGINARY_CACHE_DIR``."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

CACHE_DIR_ENV = "PLUGINARY_CACHE_DIR"


@dataclass(frozen=True)
class CachePaths:
    """Every file in the cache folder; the folder itself is created on first use."""

    root: Path

    @property
    def catalog(self) -> Path:
        return self.root / "catalog.sqlite"

    @property
    def journal(self) -> Path:
        return self.root / "journal.sqlite"

    @property
    def ignore_list(self) -> Path:
        return self.root / "ignore.txt"

    @property
    def scan_lock(self) -> Path:
        return self.root / "scan.lock"

    @property
    def scan_owner(self) -> Path:
        """Who holds the scan lock, while it is held (see ``scanner/lock.py``)."""
        return self.root / "scan.owner"

    @property
    def probes(self) -> Path:
        """Scratch folder for the probes' result and output files."""
        return self.root / "probes"

    def ensure(self) -> CachePaths:
        """Create the cache folder (and its scratch folder) if needed; return self."""
        self.probes.mkdir(parents=True, exist_ok=True)
        return self


def cache_paths(override: str | os.PathLike[str] | None = None) -> CachePaths:
    """The cache folder: ``override``, else ``$PLUGINARY_CACHE_DIR``, else the OS's cache dir."""
    if override is not None:
        root = Path(override)
    elif os.environ.get(CACHE_DIR_ENV):
        root = Path(os.environ[CACHE_DIR_ENV])
    else:
        import platformdirs  # Here, not above: a host that sets the folder skips its 10 ms.

        root = Path(platformdirs.user_cache_dir("pluginary", appauthor=False))
    return CachePaths(root.expanduser().resolve())
