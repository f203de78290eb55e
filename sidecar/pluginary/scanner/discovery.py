"""Find VST3 bundles on disk and fingerprint them, without loading anything.

A rescan that finds nothing changed must stay within a few tens of milliseconds for hundreds of
bundles, so the walk uses :func:`os.scandir` (whose entries know their type without a stat),
stats only the directories it descends into, and fingerprints a bundle from its binaries and
moduleinfo.json alone, never its resources (some bundles carry thousands of presets).
"""

from __future__ import annotations

import hashlib
import ntpath
import os
import platform
import stat
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

VST3_SUFFIX = ".vst3"
# Bundle suffix per plugin format; Audio Units exist only on macOS.
SUFFIXES = {"vst3": VST3_SUFFIX, "au": ".component"}


@dataclass(frozen=True)
class Bundle:
    """One plugin bundle found on disk."""

    path: str  # Absolute, as found: what the user recognises.
    real_path: str  # Symlinks resolved: the identity for de-duplication and ids.
    format: str
    fingerprint: str


def standard_vst3_folders(
    system: str | None = None,
    environ: Mapping[str, str] | None = None,
    home: Path | None = None,
) -> list[Path]:
    """The VST3 specification's plugin folders for ``system`` (plus ``$VST3_PATH`` on Linux)."""
    system = (system or platform.system()).lower()
    environ = os.environ if environ is None else environ
    home = Path.home() if home is None else home
    if system == "windows":
        # Built with ntpath so the folders come out right when unit tests fake Windows elsewhere.
        common = _getenv(environ, "COMMONPROGRAMFILES") or r"C:\Program Files\Common Files"
        local = _getenv(environ, "LOCALAPPDATA") or ntpath.join(str(home), "AppData", "Local")
        folders = [
            Path(ntpath.join(common, "VST3")),
            Path(ntpath.join(local, "Programs", "Common", "VST3")),
        ]
    elif system == "darwin":
        folders = [
            home / "Library" / "Audio" / "Plug-Ins" / "VST3",
            Path("/Library/Audio/Plug-Ins/VST3"),
        ]
    else:
        folders = [home / ".vst3", Path("/usr/lib/vst3"), Path("/usr/local/lib/vst3")]
        # ":" rather than os.pathsep: this branch describes a Unix, whatever the host is.
        for entry in environ.get("VST3_PATH", "").split(":"):
            if entry:
                folders.append(_expand_home(entry, home))
    return list(dict.fromkeys(folders))


def supported_formats(system: str | None = None) -> tuple[str, ...]:
    """The plugin formats pedalboard can load on ``system``."""
    return ("vst3", "au") if (system or platform.system()).lower() == "darwin" else ("vst3",)


def standard_folders(
    format: str,
    system: str | None = None,
    environ: Mapping[str, str] | None = None,
    home: Path | None = None,
) -> list[Path]:
    """The standard plugin folders of ``format`` on ``system``."""
    if format == "vst3":
        return standard_vst3_folders(system, environ, home)
    if format == "au" and (system or platform.system()).lower() == "darwin":
        home = Path.home() if home is None else home
        return [
            home / "Library" / "Audio" / "Plug-Ins" / "Components",
            Path("/Library/Audio/Plug-Ins/Components"),
        ]
    return []


def discover_vst3(folders: Sequence[Path]) -> list[Bundle]:
    """Every VST3 bundle under ``folders`` (searched recursively), de-duplicated, by path."""
    return discover(folders, "vst3")


def discover(folders: Sequence[Path], format: str) -> list[Bundle]:
    """Every bundle of ``format`` under ``folders`` (searched recursively), de-duplicated."""
    suffix = SUFFIXES[format]
    found: dict[str, Bundle] = {}
    visited: set[tuple[int, int]] = set()
    for folder in folders:
        for path, real_path in _walk(os.path.abspath(folder), visited, suffix):
            if real_path in found:
                continue
            try:
                digest = _fingerprint(path)
            except OSError:
                continue  # Vanished (or turned unreadable) since the walk saw it.
            found[real_path] = Bundle(path, real_path, format, digest)
    return sorted(found.values(), key=lambda bundle: bundle.path)


def fingerprint(bundle: Path) -> str:
    """A digest of the size and mtime of the files that decide what a bundle loads.

    Those are the binaries (``Contents/*-linux/``, ``Contents/MacOS/``, ``Contents/*-win/``)
    and ``Contents/Resources/moduleinfo.json``, or the file itself for a single-file bundle.
    Raises FileNotFoundError when the bundle is gone.
    """
    return _fingerprint(os.fspath(bundle))


def _fingerprint(bundle: str) -> str:
    facts = _fingerprint_facts(bundle)
    digest = hashlib.blake2b(digest_size=16)
    for relative, size, mtime_ns in sorted(facts):
        digest.update(f"{relative}\0{size}\0{mtime_ns}\n".encode("utf-8", "surrogateescape"))
    return digest.hexdigest()


def _walk(
    root: str, visited: set[tuple[int, int]], suffix: str = VST3_SUFFIX
) -> Iterator[tuple[str, str]]:
    """Yield (path, real path) of each bundle under ``root``, depth first, by name."""
    if root.lower().endswith(suffix):  # A bundle named directly, e.g. in VST3_PATH.
        if os.path.exists(root):
            yield root, os.path.realpath(root)
        return
    try:
        info = os.stat(root)
    except OSError:
        return
    if not stat.S_ISDIR(info.st_mode) or (info.st_dev, info.st_ino) in visited:
        return
    visited.add((info.st_dev, info.st_ino))
    # A directory's real path is computed once and extended by name for its plain entries,
    # which saves os.path.realpath's lstat of every path component for every bundle.
    stack = [(root, os.path.realpath(root))]
    while stack:
        directory, real_directory = stack.pop()
        try:
            with os.scandir(directory) as scan:
                entries = sorted(scan, key=lambda entry: entry.name)
        except OSError:
            continue  # Unreadable or vanished: skipped, like a missing folder.
        subfolders = []
        for entry in entries:
            try:
                if entry.name.lower().endswith(suffix):
                    # A bundle is a unit (directory, or one file on old Windows): never entered.
                    if entry.is_dir() or entry.is_file():
                        yield entry.path, _real_path(entry, real_directory)
                elif entry.is_dir():
                    info = entry.stat()
                    if (info.st_dev, info.st_ino) not in visited:
                        visited.add((info.st_dev, info.st_ino))
                        subfolders.append((entry.path, _real_path(entry, real_directory)))
            except OSError:
                continue  # Dangling or looping symlink, or gone since listed.
        stack.extend(reversed(subfolders))


def _real_path(entry: os.DirEntry[str], real_directory: str) -> str:
    if entry.is_symlink():
        return os.path.realpath(entry.path)
    return os.path.join(real_directory, entry.name)


def _fingerprint_facts(bundle: str) -> list[tuple[str, int, int]]:
    contents = os.path.join(bundle, "Contents")
    try:
        scan = os.scandir(contents)
    except (FileNotFoundError, NotADirectoryError):
        info = os.stat(bundle)  # Raises FileNotFoundError when the bundle itself is gone.
        if stat.S_ISREG(info.st_mode):
            return [(".", info.st_size, info.st_mtime_ns)]
        return []  # A directory without Contents: nothing that could load.
    facts = []
    with scan:
        binary_folders = [
            entry
            for entry in scan
            if (entry.name == "MacOS" or entry.name.endswith(("-linux", "-win"))) and entry.is_dir()
        ]
    for folder in binary_folders:
        # A file or folder vanishing mid-way (an installer at work) just counts as absent; only
        # a vanished bundle is an error.
        try:
            with os.scandir(folder.path) as scan:
                files = [entry for entry in scan if entry.is_file()]
        except FileNotFoundError:
            continue
        for entry in files:
            try:
                info = entry.stat()
            except FileNotFoundError:
                continue
            facts.append((f"Contents/{folder.name}/{entry.name}", info.st_size, info.st_mtime_ns))
    try:
        info = os.stat(os.path.join(contents, "Resources", "moduleinfo.json"))
    except (FileNotFoundError, NotADirectoryError):
        pass
    else:
        facts.append(("Contents/Resources/moduleinfo.json", info.st_size, info.st_mtime_ns))
    return facts


def _expand_home(entry: str, home: Path) -> Path:
    if entry == "~" or entry.startswith("~/"):
        return home / entry[2:]
    return Path(entry)


def _getenv(environ: Mapping[str, str], name: str) -> str | None:
    # Windows variable names are case-insensitive ("CommonProgramFiles"); so is this lookup.
    for key, value in environ.items():
        if key.upper() == name and value:
            return value
    return None
