"""The sidecar's settings, from the client's ``initializationOptions``."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Settings:
    """What a host may set at ``initialize``. Every field has a default."""

    cache_dir: str | None = None  # None: $PLUGINARY_CACHE_DIR, else the OS's cache folder
    workers: int | None = None  # None: one probe per core
    timeout_seconds: float = 30.0
    memory_limit_mib: float = 4096.0  # Defaults of every scan's own limits
    output_limit_mib: float = 64.0
    folders: tuple[str, ...] = ()  # Scanned by every scan, besides the standard folders
    audio_check: bool = True  # The default of every scan's own audioCheck
    launcher: str | None = None  # None: $PLUGINARY_LAUNCHER, else this OS's (launchers.py)
    recycle_after: int | None = None  # None: $PLUGINARY_RECYCLE_AFTER, else the pool's default
