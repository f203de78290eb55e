"""Which file of a plugin bundle an OS loads, and what to hand pedalboard, on each OS.

A VST3 plugin is a bundle folder holding one binary per OS and architecture (Steinberg's "Plug-in
Format Structure", VST 3 Developer Portal, Technical Documentation, VST 3 Locations / Format):

- **Linux**: ``NAME.vst3/Contents/<uname -m>-linux/NAME.so`` (``x86_64-linux``, ``i386-linux``,
  ``aarch64-linux``, ``armv7l-linux``...). JUCE finds it from the bundle, so pedalboard takes the
  bundle folder.
- **macOS**: ``NAME.vst3/Contents/MacOS/<CFBundleExecutable>``, the name ``Contents/Info.plist``
  gives (the bundle's name when it gives none, as CoreFoundation does); universal binaries, so no
  architecture folder. pedalboard takes the bundle folder (Audio Units' ``.component`` too).
- **Windows**: ``NAME.vst3/Contents/<arch>-win/NAME.vst3``, a DLL named like the bundle, with
  ``x86-win``, ``x86_64-win``, ``arm-win``, ``arm64-win``, ``arm64ec-win`` and ``arm64x-win``. JUCE
  hands a path straight to ``LoadLibrary`` there, so pedalboard must be given the DLL itself. A
  process tries the folders the SDK's own host code tries for it, in its order (an Arm64EC one
  also loads Arm64X and x64 code). The older form, a single DLL named ``NAME.vst3``, is loaded as
  it is.

On any OS a single file named like a bundle is its own binary.

Every function takes ``system`` (as ``platform.system()`` names it) and ``machine``, so each OS's
rules run, and are tested, anywhere. Imports nothing of pluginary: the probe's child side uses it.
"""

from __future__ import annotations

import os
import platform
import plistlib
import stat
import sysconfig

_READ_NONBLOCKING = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)
# An Info.plist is a few KiB; a bigger one is not read, so a hostile bundle costs no memory.
MAX_INFO_PLIST = 1 << 20

# The folders a Windows process can load a bundle's binary from, in the order the VST3 SDK's
# hosting code (module_win32.cpp) tries them, by the process's architecture.
WINDOWS_FOLDERS = {
    "x86_64": ("x86_64-win",),
    "x86": ("x86-win",),
    "arm64": ("arm64-win", "arm64x-win"),
    "arm64ec": ("arm64ec-win", "arm64x-win", "x86_64-win"),
    "arm": ("arm-win",),
}
# What Windows, Python and compilers call those architectures.
_WINDOWS_ALIASES = {
    "amd64": "x86_64",
    "x64": "x86_64",
    "win32": "x86",
    "i386": "x86",
    "i686": "x86",
    "aarch64": "arm64",
    "arm32": "arm",
}


def load_path(bundle: str, system: str | None = None, machine: str | None = None) -> str:
    """What to pass pedalboard to load ``bundle`` on ``system`` (default: this one).

    The bundle itself, except a Windows bundle folder: the DLL for this process's architecture
    inside it, or the bundle when it has none (pedalboard then fails, and the probe's diagnosis
    says what is missing).
    """
    if _system(system) != "windows" or not _is_folder(bundle):
        return bundle
    return binary_path(bundle, system, machine) or bundle


def binary_path(bundle: str, system: str | None = None, machine: str | None = None) -> str | None:
    """The file the OS loads for ``bundle`` on ``system`` and ``machine``; None if it has none.

    ``machine`` defaults to this process's architecture (``uname -m`` on Linux, the interpreter's
    build on Windows). A binary that is there but cannot be read (or a symlink loop) is returned:
    whoever uses it learns why. A bundle that cannot be looked into at all gives None.
    """
    try:
        info = os.stat(bundle)
    except OSError:
        return None
    if not stat.S_ISDIR(info.st_mode):
        return bundle  # The single-file form: the file is the binary.
    for candidate in binary_candidates(bundle, system, machine):
        if _present(candidate):
            return candidate
    return None


def binary_candidates(
    bundle: str, system: str | None = None, machine: str | None = None
) -> list[str]:
    """Where a bundle folder's binary for ``system`` and ``machine`` may be, in the order tried."""
    system = _system(system)
    contents = os.path.join(bundle, "Contents")
    name = _name(bundle)
    stem = os.path.splitext(name)[0]
    if system == "windows":
        return [
            os.path.join(contents, folder, name)
            for folder in WINDOWS_FOLDERS.get(windows_architecture(machine), ())
        ]
    if system == "darwin":
        return [os.path.join(contents, "MacOS", macos_executable(bundle))]
    machine = platform.machine() if machine is None else machine
    return [os.path.join(contents, f"{machine}-linux", f"{stem}.so")]


def missing_binary(
    bundle: str, system: str | None = None, machine: str | None = None
) -> str | None:
    """Why a bundle folder has nothing this process can load: what it lacks and what it holds.

    None when it has a binary for it, or is not a bundle folder one can look into.
    """
    if binary_path(bundle, system, machine) is not None:
        return None
    try:
        with os.scandir(os.path.join(bundle, "Contents")) as scan:
            held = sorted(
                f"Contents/{entry.name}"
                for entry in scan
                if _is_binary_folder(entry.name) and entry.is_dir()
            )
    except OSError:
        return None
    wanted = " or ".join(
        os.path.relpath(path, bundle).replace(os.sep, "/")
        for path in binary_candidates(bundle, system, machine)
    )
    if not wanted:  # A Windows architecture the SDK names no folder for.
        wanted = f"binary for this process's architecture ({windows_architecture(machine)})"
    return f"the bundle has no {wanted}; it holds {', '.join(held) or 'no binaries'}"


def windows_architecture(machine: str | None = None) -> str:
    """``machine`` as a key of :data:`WINDOWS_FOLDERS` (default: this interpreter's build).

    The interpreter's build, not ``platform.machine()``: that names the processor, and an x64
    Python emulated on an Arm64 PC loads x64 code.
    """
    if machine is None:
        machine = sysconfig.get_platform()  # "win-amd64", "win32", "win-arm64", "win-arm32".
    machine = machine.lower().removeprefix("win-")
    return _WINDOWS_ALIASES.get(machine, machine)


def macos_executable(bundle: str) -> str:
    """The executable's name in ``Contents/MacOS``: ``CFBundleExecutable``, else the bundle's."""
    stem = os.path.splitext(_name(bundle))[0]
    try:
        # Non-blocking, and only a regular file is read: a FIFO here must not hang the probe.
        fd = os.open(os.path.join(bundle, "Contents", "Info.plist"), _READ_NONBLOCKING)
        with open(fd, "rb") as file:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                return stem
            data = file.read(MAX_INFO_PLIST + 1)
        if len(data) > MAX_INFO_PLIST:
            return stem
        info = plistlib.loads(data)
    except Exception:  # Untrusted bytes: whatever breaks the parser just means no name given.
        return stem
    name = info.get("CFBundleExecutable") if isinstance(info, dict) else None
    if not isinstance(name, str) or name in ("", ".", "..") or "/" in name or "\0" in name:
        return stem  # Only a plain file name can name a file in Contents/MacOS.
    return name


def _system(system: str | None) -> str:
    return (system or platform.system()).lower()


def _name(bundle: str) -> str:
    return os.path.basename(os.path.normpath(bundle))


def _is_folder(path: str) -> bool:
    try:
        return stat.S_ISDIR(os.stat(path).st_mode)
    except OSError:
        return False


def _present(path: str) -> bool:
    """Whether something is at ``path``, even something that cannot be read."""
    try:
        os.stat(path)
    except (FileNotFoundError, NotADirectoryError):
        return False
    except OSError:
        return True  # Unreadable, or a symlink loop: there, and its user names the error.
    return True


def _is_binary_folder(name: str) -> bool:
    return name == "MacOS" or name.endswith(("-linux", "-win"))
