"""Find VST3 bundles on disk and fingerprint them, without loading anything.

A rescan that finds nothing changed must stay within a few tens of milliseconds for hundreds of
bundles, so the walk uses :func:`os.scandir` (whose entries know their type without a stat),
stats only the directories it descends into, and fingerprints a bundle from its binaries and
moduleinfo.json alone, never its resources (some bundles carry thousands of presets).
"""

from __future__ import annotations

import errno
import hashlib
import ntpath
import os
import platform
import stat
from collections.abc import Callable, Hashable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

VST3_SUFFIX = ".vst3"
# Bundle suffix per plugin format; Audio Units exist only on macOS.
SUFFIXES = {"vst3": VST3_SUFFIX, "au": ".component"}

# How the walk stats a folder it may descend into (injectable: tests fake a file system without
# inode numbers, as FAT and some network shares are).
Stat = Callable[[str], os.stat_result]


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
    """The VST3 SDK's plugin folders for ``system``, in its scan priority (the user's first).

    From Steinberg's "Plug-in Locations" table (VST 3 Developer Portal, Technical Documentation,
    VST 3 Locations / Format); its "Application" rows are each host's own and not ours.

    - macOS: ``~/Library``, ``/Library`` and ``/Network/Library``, each ``/Audio/Plug-Ins/VST3``.
      Steinberg writes "Plug-ins"; the folder macOS makes is "Plug-Ins", the only spelling that
      exists on a case-sensitive volume (the default one ignores case, where both name it).
    - Windows: ``%LOCALAPPDATA%\\Programs\\Common\\VST3`` and ``%COMMONPROGRAMFILES%\\VST3``, the
      latter "native bitdepth": a 32-bit process on 64-bit Windows sees ``%COMMONPROGRAMFILES%``
      as ``Program Files (x86)\\Common Files``, the table's folder for 32-bit plug-ins, so each
      process gets the folder of the plug-ins it can load, and never the other's.
    - Linux (and any other Unix): ``~/.vst3``, ``/usr/lib/vst3``, ``/usr/local/lib/vst3``, plus
      the folders in ``$VST3_PATH`` (":"-separated), a Linux hosts' convention.
    """
    system = (system or platform.system()).lower()
    environ = os.environ if environ is None else environ
    home = Path.home() if home is None else home
    if system == "windows":
        # Built with ntpath so the folders come out right when unit tests fake Windows elsewhere.
        local = _getenv(environ, "LOCALAPPDATA") or ntpath.join(str(home), "AppData", "Local")
        common = _getenv(environ, "COMMONPROGRAMFILES") or r"C:\Program Files\Common Files"
        folders = [
            Path(ntpath.join(local, "Programs", "Common", "VST3")),
            Path(ntpath.join(common, "VST3")),
        ]
    elif system == "darwin":
        folders = _macos_library_folders(home, "VST3", network=True)
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
    """The standard plugin folders of ``format`` on ``system``.

    Audio Units: the two folders Apple names for ``.component`` bundles, the user's and the
    machine's (``/System/Library/Components`` holds Apple's own, which ``auval`` lists anyway).
    """
    if format == "vst3":
        return standard_vst3_folders(system, environ, home)
    if format == "au" and (system or platform.system()).lower() == "darwin":
        return _macos_library_folders(Path.home() if home is None else home, "Components")
    return []


def _macos_library_folders(home: Path, kind: str, network: bool = False) -> list[Path]:
    libraries = [home / "Library", Path("/Library")]
    if network:
        libraries.append(Path("/Network/Library"))
    return [library / "Audio" / "Plug-Ins" / kind for library in libraries]


@dataclass(frozen=True)
class Unreadable:
    """A folder the search could not list: what is under it is unknown, not gone."""

    path: str
    reason: str  # The OS's words, with the error's name, e.g. "Permission denied (EACCES)".


@dataclass(frozen=True)
class Discovery:
    """What a search found: the bundles, and the folders it could not look into."""

    bundles: list[Bundle]
    unreadable: list[Unreadable]


def discover_vst3(folders: Sequence[Path]) -> list[Bundle]:
    """Every VST3 bundle under ``folders`` (searched recursively), de-duplicated, by path."""
    return discover(folders, "vst3")


def discover(folders: Sequence[Path], format: str) -> list[Bundle]:
    """Every bundle of ``format`` under ``folders`` (searched recursively), de-duplicated."""
    return search(folders, format).bundles


def search(folders: Sequence[Path | str], format: str, *, stat: Stat = os.stat) -> Discovery:
    """Every bundle of ``format`` under ``folders``, and every folder that could not be listed.

    A bundle that cannot be read is still a bundle (its probe says why it cannot load); one that
    vanished between being listed and being fingerprinted is not.
    """
    suffix = SUFFIXES[format]
    found: dict[str, Bundle] = {}
    unreadable: list[Unreadable] = []
    visited: set[Hashable] = set()
    for folder in folders:
        walk = _walk(os.path.abspath(folder), visited, suffix, unreadable, stat)
        for path, real_path in walk:
            if real_path in found:
                continue
            try:
                digest = _fingerprint(path)
            except (FileNotFoundError, NotADirectoryError):
                continue  # Uninstalled since the walk saw it: gone, like any bundle not found.
            found[real_path] = Bundle(path, real_path, format, digest)
    return Discovery(sorted(found.values(), key=lambda bundle: bundle.path), unreadable)


def is_bundle(path: str) -> bool:
    """Whether ``path`` (named like a bundle) has a bundle's layout, rather than being a folder.

    The VST3 specification's bundle is a folder holding ``Contents/`` (``Contents/<arch>-linux/
    <name>.so`` on Linux, ``Contents/MacOS/`` on macOS, ``Contents/<arch>-win/`` on Windows);
    its older Windows form is a single ``.vst3`` file, which JUCE (and so pedalboard) still takes.
    A folder named ``*.vst3`` without ``Contents`` is a folder to search (``~/.vst3`` itself, or
    a vendor's ``Foo.vst3/`` of bundles). One that cannot be looked into (unreadable, a symlink
    loop) counts as a bundle: its probe then names the error, where searching it would lose it
    without a word. A dangling symlink is nothing.
    """
    try:
        info = os.stat(path)
    except (FileNotFoundError, NotADirectoryError):
        return False
    except OSError:
        return True
    return _has_layout(path, info.st_mode)


def _has_layout(path: str, mode: int) -> bool:
    if not stat.S_ISDIR(mode):
        return stat.S_ISREG(mode)
    try:
        return stat.S_ISDIR(os.stat(os.path.join(path, "Contents")).st_mode)
    except (FileNotFoundError, NotADirectoryError):
        return False
    except OSError:
        return True


def gone(path: str) -> bool:
    """Whether ``path`` is certainly not there (not merely unreadable, which is not gone)."""
    try:
        os.lstat(path)
    except (FileNotFoundError, NotADirectoryError):
        return True
    except OSError:
        return False
    return False


def os_error(error: OSError) -> str:
    """An OSError in the OS's words plus its name: "Permission denied (EACCES)"."""
    name = errno.errorcode.get(error.errno or 0)
    words = error.strerror or str(error)
    return f"{words} ({name})" if name else words


def fingerprint(bundle: Path) -> str:
    """A digest of the size and mtime of the files that decide what a bundle loads.

    Those are the binaries (``Contents/*-linux/``, ``Contents/MacOS/``, ``Contents/*-win/``)
    ``Contents/Resources/moduleinfo.json`` and ``Contents/Info.plist`` (which names macOS's
    executable), or the file itself for a single-file bundle.
    Only ``stat`` is used: nothing is opened, so a FIFO or a device in a bundle cannot block it.
    A part that cannot be read counts by its error, so fixing it changes the fingerprint.
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
    root: str,
    visited: set[Hashable],
    suffix: str = VST3_SUFFIX,
    unreadable: list[Unreadable] | None = None,
    stat_folder: Stat = os.stat,
) -> Iterator[tuple[str, str]]:
    """Yield (path, real path) of each bundle under ``root``, depth first, by name.

    Folders that cannot be listed (other than gone) are added to ``unreadable``. Each folder is
    entered once, however many links lead to it (see :func:`_folder_key`).
    """
    unreadable = [] if unreadable is None else unreadable
    try:
        info = stat_folder(root)
    except (FileNotFoundError, NotADirectoryError):
        return  # A standard folder that does not exist here.
    except OSError as error:
        unreadable.append(Unreadable(root, os_error(error)))
        return
    if root.lower().endswith(suffix) and _has_layout(root, info.st_mode):
        yield root, os.path.realpath(root)  # A bundle named directly, e.g. in VST3_PATH.
        return
    key = _folder_key(root, info)
    if not stat.S_ISDIR(info.st_mode) or key in visited:
        return
    visited.add(key)
    # A directory's real path is computed once and extended by name for its plain entries,
    # which saves os.path.realpath's lstat of every path component for every bundle.
    stack = [(root, os.path.realpath(root))]
    while stack:
        directory, real_directory = stack.pop()
        try:
            with os.scandir(directory) as scan:
                entries = sorted(scan, key=lambda entry: entry.name)
        except (FileNotFoundError, NotADirectoryError):
            continue  # Removed since its parent was listed: nothing there any more.
        except OSError as error:
            unreadable.append(Unreadable(directory, os_error(error)))
            continue
        subfolders = []
        for entry in entries:
            try:
                if entry.name.lower().endswith(suffix) and _entry_is_bundle(entry):
                    # A bundle is a unit, never entered (its Resources may hold anything).
                    yield entry.path, _real_path(entry, real_directory)
                elif entry.is_dir():
                    # Not entry.stat(): on Windows its st_ino and st_dev are always 0.
                    key = _folder_key(entry.path, stat_folder(entry.path))
                    if key not in visited:
                        visited.add(key)
                        subfolders.append((entry.path, _real_path(entry, real_directory)))
            except (FileNotFoundError, NotADirectoryError):
                continue  # A dangling symlink, or gone since listed.
            except OSError as error:
                if _is_link(entry) and error.errno == errno.ELOOP:
                    continue  # A symlink loop among folders: it leads nowhere new.
                unreadable.append(Unreadable(entry.path, os_error(error)))
        stack.extend(reversed(subfolders))


def _folder_key(path: str, info: os.stat_result) -> Hashable:
    """What names a folder for the walk's loop guard: its device and inode when it has them.

    FAT, exFAT and some network shares report st_ino 0 for every folder; keyed by (0, 0), every
    folder after the first would look visited. There the folder's resolved path names it:
    symlinks and junctions followed, case folded where the OS folds it.
    """
    if info.st_ino:
        return (info.st_dev, info.st_ino)
    return os.path.normcase(os.path.realpath(path))


def _entry_is_bundle(entry: os.DirEntry[str]) -> bool:
    # is_dir() and is_file() cost no system call for a plain entry (the listing tells).
    try:
        if entry.is_dir():
            return _has_layout(entry.path, stat.S_IFDIR)
        return entry.is_file()  # The single-file form; not a dangling symlink or a FIFO.
    except OSError:
        return True  # A symlink loop, say: named like a bundle, so one its probe explains.


def _real_path(entry: os.DirEntry[str], real_directory: str) -> str:
    if _is_link(entry):
        return os.path.realpath(entry.path)
    return os.path.join(real_directory, entry.name)


def _is_link(entry: os.DirEntry[str]) -> bool:
    # A Windows junction redirects like a symlink, but is_symlink() says no; is_junction()
    # (Python 3.12+) tells, at no cost elsewhere.
    is_junction = getattr(entry, "is_junction", None)
    return entry.is_symlink() or (is_junction is not None and bool(is_junction()))


def _fingerprint_facts(bundle: str) -> list[tuple[str, int, int]]:
    contents = os.path.join(bundle, "Contents")
    try:
        scan = os.scandir(contents)
    except (FileNotFoundError, NotADirectoryError):
        info = os.stat(bundle)  # Raises FileNotFoundError when the bundle itself is gone.
        if stat.S_ISREG(info.st_mode):
            return [(".", info.st_size, info.st_mtime_ns)]
        return []  # A directory without Contents: nothing that could load.
    except OSError as error:
        os.lstat(bundle)  # Raises FileNotFoundError when the bundle itself is gone.
        return [_unreadable_fact("Contents", error)]
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
        relative = f"Contents/{folder.name}"
        try:
            with os.scandir(folder.path) as scan:
                files = list(scan)
        except FileNotFoundError:
            continue
        except OSError as error:
            facts.append(_unreadable_fact(relative, error))
            continue
        for entry in files:
            try:
                info = entry.stat()
            except FileNotFoundError:
                if entry.is_symlink():  # Dangling: the binary it should be is missing.
                    facts.append((f"{relative}/{entry.name}", -1, errno.ENOENT))
                continue
            except OSError as error:  # A symlink loop, say: a binary that cannot load.
                facts.append(_unreadable_fact(f"{relative}/{entry.name}", error))
                continue
            if not stat.S_ISDIR(info.st_mode):
                facts.append((f"{relative}/{entry.name}", info.st_size, info.st_mtime_ns))
    # What the binaries are named and say about themselves: Info.plist names macOS's executable.
    for relative in ("Contents/Resources/moduleinfo.json", "Contents/Info.plist"):
        try:
            info = os.stat(os.path.join(bundle, relative))
        except (FileNotFoundError, NotADirectoryError):
            continue
        except OSError as error:
            facts.append(_unreadable_fact(relative, error))
        else:
            facts.append((relative, info.st_size, info.st_mtime_ns))
    return facts


def _unreadable_fact(relative: str, error: OSError) -> tuple[str, int, int]:
    # Sizes are never negative: -1 and the error number cannot collide with a real file's facts.
    return (relative, -1, error.errno or 0)


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
