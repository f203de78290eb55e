"""Child side: a path pedalboard can load for any bundle, or the OS's reason why there is none.

Runs in the probe process (imports nothing of pluginary but ``bundles``). Two things stand
between a bundle and ``pedalboard.load_plugin``:

- **Names that are not UTF-8.** pybind11 takes only a ``str`` it can encode as UTF-8, and JUCE
  keeps paths as Unicode text, so a path holding PEP 383's lone surrogates cannot be handed over
  at all. The probe then loads a *shadow*: a bundle with a UTF-8 name in the scratch folder, made
  of symlinks into the real one. JUCE finds a Linux bundle's binary at
  ``Contents/<machine>-linux/<bundle stem>.so``, so when the bundle's own name is the awkward
  part the shadow is a folder whose binaries carry the shadow's stem; when only a parent folder
  is awkward, the shadow is one symlink to the bundle. Either way the plugin's code and resources
  are the real ones (it finds them through its own binary's path, which leads into the shadow).
- **Bundles that cannot be read.** An unreadable bundle, one that vanished since it was planned,
  or one whose binary is a symlink loop would only make pedalboard say "unsupported plugin
  format"; :class:`Unloadable` names the OS error instead.

Shadows live in ``<scratch>/shadows/<digest of the real path>/`` and are rebuilt at each probe of
their bundle, so they stay as few as the bundles that need one.
"""

from __future__ import annotations

import errno
import hashlib
import os
import platform
import shutil
import stat
import tempfile
from collections.abc import Callable

from pluginary.scanner.bundles import binary_path

SHADOWS = "shadows"


class Unloadable(Exception):
    """A bundle that cannot be loaded for an OS-level reason; the message names it."""


def loadable_path(bundle: str, result_fd: int) -> str:
    """A path to ``bundle`` that pedalboard accepts; Unloadable if the bundle cannot be read.

    ``result_fd`` is the probe's result file, whose folder is the scan's scratch folder.
    """
    _check_readable(bundle)
    if _is_text(bundle):
        return bundle
    try:
        return _shadow(bundle, _scratch_folder(result_fd))
    except OSError as error:
        raise Unloadable(f"cannot make a UTF-8 path to load it from: {_os_error(error)}") from None


def _check_readable(bundle: str) -> None:
    """Raise Unloadable for a bundle gone, unreadable, or whose binary cannot be reached."""
    try:
        info = os.stat(bundle)
    except OSError as error:
        raise Unloadable(f"cannot read the bundle: {_os_error(error)}") from None
    if not stat.S_ISDIR(info.st_mode):
        return  # A single-file bundle: stat was all it takes.
    _check_part(bundle, os.path.join(bundle, "Contents"))
    # Only once Contents is known readable: finding the binary looks inside it.
    binary = binary_path(bundle)
    if binary is not None:
        _check_part(bundle, binary)


def _check_part(bundle: str, path: str) -> None:
    try:
        os.stat(path)
    except (FileNotFoundError, NotADirectoryError):
        return  # Absent: pedalboard and the probe's diagnosis tell that story best.
    except OSError as error:  # Unreadable, or a symlink loop.
        relative = os.path.relpath(path, bundle).replace(os.sep, "/")
        raise Unloadable(f"cannot read {relative}: {_os_error(error)}") from None


def _shadow(bundle: str, scratch: str) -> str:
    name = os.path.basename(bundle.rstrip(os.sep))
    stem, suffix = os.path.splitext(name)
    safe = _text_name(stem)
    home = os.path.join(
        scratch, SHADOWS, hashlib.blake2b(os.fsencode(bundle), digest_size=8).hexdigest()
    )
    shutil.rmtree(home, ignore_errors=True)  # Links only: rmtree never follows them.
    os.makedirs(home)
    shadow = os.path.join(home, safe + suffix)
    if safe == stem:
        os.symlink(bundle, shadow)  # Only a parent folder is awkward: the bundle's name is fine.
        return shadow
    os.mkdir(shadow)
    for entry in _entries(bundle):
        source = os.path.join(bundle, entry)
        if entry == "Contents" and os.path.isdir(source):
            _mirror_contents(source, os.path.join(shadow, entry), stem, safe)
        else:
            os.symlink(source, os.path.join(shadow, _text_name(entry)))
    return shadow


def _mirror_contents(contents: str, target: str, stem: str, safe: str) -> None:
    """``Contents`` with each binary folder's ``<stem>`` and ``<stem>.*`` named after ``safe``."""
    os.mkdir(target)
    for entry in _entries(contents):
        source = os.path.join(contents, entry)
        if os.path.isdir(source) and any(_renamed(name, stem, safe) for name in _entries(source)):
            os.mkdir(os.path.join(target, entry))
            for name in _entries(source):
                link = _renamed(name, stem, safe) or name
                os.symlink(os.path.join(source, name), os.path.join(target, entry, link))
        else:
            os.symlink(source, os.path.join(target, entry))


def _renamed(name: str, stem: str, safe: str) -> str | None:
    """``name`` with the bundle's stem replaced by ``safe``, if it is the stem's binary."""
    if name == stem:
        return safe  # macOS: Contents/MacOS/<stem>.
    if name.startswith(stem + "."):
        return safe + name[len(stem) :]  # Linux <stem>.so, Windows <stem>.vst3.
    return None


def _entries(folder: str) -> list[str]:
    return sorted(os.listdir(folder))


def _scratch_folder(result_fd: int) -> str:
    """The folder of the result file (the scan's scratch folder), if its path is UTF-8."""
    folder = _folder_of_fd(result_fd)
    if folder is not None and _is_text(folder) and os.path.isdir(folder):
        return folder
    # No way to name it, or it is awkward itself: a private folder of our own instead.
    return tempfile.mkdtemp(prefix="pluginary-probe-")


def _folder_of_fd_linux(fd: int) -> str | None:
    try:
        return os.path.dirname(os.readlink(f"/proc/self/fd/{fd}"))
    except OSError:
        return None


def _folder_of_fd_elsewhere(fd: int) -> str | None:
    return None  # macOS and Windows keep file names as Unicode: no shadow is ever needed there.


# How a probe names its own files: chosen once.
_folder_of_fd: Callable[[int], str | None] = (
    _folder_of_fd_linux if platform.system() == "Linux" else _folder_of_fd_elsewhere
)


def _is_text(name: str) -> bool:
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _text_name(name: str) -> str:
    """A UTF-8 file name for ``name``: each undecodable byte (PEP 383) as ``%XX``."""
    if _is_text(name):
        return name
    return "".join(_text_char(char) for char in name)


def _text_char(char: str) -> str:
    code = ord(char)
    if 0xDC80 <= code <= 0xDCFF:
        return f"%{code - 0xDC00:02X}"
    return "_" if 0xD800 <= code <= 0xDFFF else char


def _os_error(error: OSError) -> str:
    name = errno.errorcode.get(error.errno or 0)
    words = error.strerror or str(error)
    return f"{words} ({name})" if name else words
