"""Make loadable copies of VST3 bundles built for a newer Debian than this machine's.

Standalone (stdlib only): ``scripts/fetch-breadth`` runs it with the project's interpreter.

    relink_plugins.py check [--lib DIR] SO...     what stops the loader on each binary (JSON lines)
    relink_plugins.py relink ROOT --sets TSV --libs TSV --compat-source CPP
                                                  ROOT is DEST/breadth (layout: fetch-breadth)

A binary from Debian trixie or sid asks for symbol versions (``GLIBC_2.38``, ``GLIBCXX_3.4.32``,
``CXXABI_1.3.15``, ...) that glibc 2.36 and libstdc++ 12 do not define, so the dynamic loader
refuses it before any plugin code runs. A loadable copy is the same machine code, relinked:

1. every undefined symbol bound to a missing version has its version cleared
   (``patchelf --clear-symbol-version``): it then binds to whatever the host defines by that name;
2. the few symbols the host does not define at all (C23's ``__isoc23_strtol`` family, GCC 14's
   ``__cxa_call_terminate``, GCC 13's ``std::string::_M_replace_cold``, ...) come from a tiny
   compat library built here with g++ from ``relink_compat.cpp`` (``patchelf --add-needed``);
3. the missing versions' entries in ``.gnu.version_r`` are marked ``VER_FLG_WEAK`` in place, so
   the loader no longer insists on them (a weak version that is absent is not an error);
4. libraries the host lacks (libfftw3f, libsndfile, ...) are found in the private lib folder
   through an absolute rpath (``patchelf --set-rpath``).

:func:`unmet` is the check: which version requirements of a binary nothing the loader would find
here satisfies (the host's libraries, and what the binary's own rpath names). The manifest and
the tests use it on both copies.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import struct
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

SHT_DYNSYM = 11
SHT_DYNAMIC = 6
SHT_GNU_VERDEF = 0x6FFFFFFD
SHT_GNU_VERNEED = 0x6FFFFFFE
SHT_GNU_VERSYM = 0x6FFFFFFF
VER_FLG_WEAK = 0x2
DT_NEEDED, DT_RPATH, DT_RUNPATH = 1, 15, 29
HOST_DIRS = ("/lib/x86_64-linux-gnu", "/usr/lib/x86_64-linux-gnu", "/lib64", "/usr/lib")


@dataclass
class Need:
    """One ``Vernaux`` entry: ``library`` must define ``version``."""

    library: str
    version: str
    weak: bool
    flags_offset: int  # File offset of vna_flags, for the in-place weak edit.


@dataclass
class Elf:
    path: Path
    needed: list[str] = field(default_factory=list)
    rpath: list[str] = field(default_factory=list)
    needs: list[Need] = field(default_factory=list)
    defined_versions: set[str] = field(default_factory=set)
    # name -> version (None when unversioned) of each undefined, non-weak-binding symbol.
    undefined: dict[str, str | None] = field(default_factory=dict)
    weak_undefined: set[str] = field(default_factory=set)
    defined: set[str] = field(default_factory=set)


def read_elf(path: Path) -> Elf:
    """The dynamic-linking facts of a 64-bit little-endian ELF file (x86_64)."""
    data = path.read_bytes()
    if data[:4] != b"\x7fELF" or data[4] != 2 or data[5] != 1:
        raise ValueError(f"{path}: not a 64-bit little-endian ELF file")
    (shoff,) = struct.unpack_from("<Q", data, 0x28)
    shentsize, shnum = struct.unpack_from("<HH", data, 0x3A)
    sections = []
    for i in range(shnum):
        header = struct.unpack_from("<IIQQQQIIQQ", data, shoff + i * shentsize)
        _name, kind, _flags, _addr, offset, size, link, _info, _align, entsize = header
        sections.append((kind, offset, size, link, entsize))

    def text(table: int, at: int) -> str:
        start = sections[table][1] + at
        return data[start : data.index(b"\0", start)].decode()

    elf = Elf(path)
    by_kind = {section[0]: (i, section) for i, section in enumerate(sections)}
    version_names: dict[int, str] = {}
    if SHT_DYNAMIC in by_kind:
        _, (_, offset, size, link, _) = by_kind[SHT_DYNAMIC]
        for at in range(offset, offset + size, 16):
            tag, value = struct.unpack_from("<qQ", data, at)
            if tag == DT_NEEDED:
                elf.needed.append(text(link, value))
            elif tag in (DT_RPATH, DT_RUNPATH):
                elf.rpath += text(link, value).split(":")
    if SHT_GNU_VERNEED in by_kind:
        _, (_, offset, _size, link, _) = by_kind[SHT_GNU_VERNEED]
        at = offset
        while True:
            _ver, count, file, aux, nxt = struct.unpack_from("<HHIII", data, at)
            library = text(link, file)
            entry = at + aux
            for _ in range(count):
                _hash, flags, other, name, anext = struct.unpack_from("<IHHII", data, entry)
                version = text(link, name)
                version_names[other] = version
                elf.needs.append(Need(library, version, bool(flags & VER_FLG_WEAK), entry + 4))
                entry += anext
            if not nxt:
                break
            at += nxt
    if SHT_GNU_VERDEF in by_kind:
        _, (_, offset, _size, link, _) = by_kind[SHT_GNU_VERDEF]
        at = offset
        while True:
            _ver, flags, index, _count, _hash, aux, nxt = struct.unpack_from("<HHHHIII", data, at)
            name = text(link, struct.unpack_from("<I", data, at + aux)[0])
            version_names[index] = name
            if not flags & 1:  # VER_FLG_BASE names the file itself.
                elf.defined_versions.add(name)
            if not nxt:
                break
            at += nxt
    if SHT_DYNSYM in by_kind:
        _, (_, offset, size, link, _) = by_kind[SHT_DYNSYM]
        versym = by_kind.get(SHT_GNU_VERSYM, (0, (0, 0, 0, 0, 0)))[1][1]
        for i, at in enumerate(range(offset, offset + size, 24)):
            name_at, info, _other, shndx = struct.unpack_from("<IBBH", data, at)
            if i == 0 or not name_at:
                continue
            name = text(link, name_at)
            index = struct.unpack_from("<H", data, versym + 2 * i)[0] & 0x7FFF if versym else 1
            bind = info >> 4
            if shndx == 0:
                if bind == 2:  # STB_WEAK: absent is fine.
                    elf.weak_undefined.add(name)
                else:
                    elf.undefined[name] = version_names.get(index) if index > 1 else None
            elif bind in (1, 2):
                elf.defined.add(name)
    return elf


def find_library(name: str, search: list[str]) -> Path | None:
    for folder in [*search, *HOST_DIRS]:
        candidate = Path(folder) / name
        if candidate.exists():
            return candidate.resolve()
    return None


def expand(rpath: list[str], origin: Path) -> list[str]:
    return [
        entry.replace("$ORIGIN", str(origin)).replace("${ORIGIN}", str(origin)) for entry in rpath
    ]


class Host:
    """The libraries the loader would find here, read once each.

    ``private`` folders are searched as if every binary's rpath named them (used while planning
    a relink); the check of a finished copy passes none, so only its own rpath counts.
    """

    def __init__(self, private: list[str] | None = None) -> None:
        self.private = private or []
        self.cache: dict[tuple[str, tuple[str, ...]], Elf | None] = {}

    def library(self, name: str, rpath: list[str]) -> Elf | None:
        key = (name, tuple(rpath))
        if key not in self.cache:
            found = find_library(name, [*rpath, *self.private])
            self.cache[key] = read_elf(found) if found else None
        return self.cache[key]

    def closure(self, elf: Elf) -> tuple[dict[str, Elf], list[str]]:
        """Every library ``elf`` pulls in (by soname) and the names nothing here provides.

        Like the loader's DT_RUNPATH, each object's own rpath finds only its own dependencies.
        """
        seen: dict[str, Elf] = {}
        missing: list[str] = []
        queue = [(name, expand(elf.rpath, elf.path.parent)) for name in elf.needed]
        while queue:
            name, rpath = queue.pop(0)
            if name in seen or name in missing:
                continue
            lib = self.library(name, rpath)
            if lib is None:
                missing.append(name)
                continue
            seen[name] = lib
            queue += [(n, expand(lib.rpath, lib.path.parent)) for n in lib.needed]
        return seen, missing


def missing_versions(elf: Elf, host: Host, weak_too: bool = True) -> list[str]:
    """The version requirements (``lib:VERSION``) of ``elf`` that no library found here defines.

    A requirement marked weak is skipped unless ``weak_too``: the loader ignores weak ones.
    """
    libs, _ = host.closure(elf)
    problems = []
    for need in elf.needs:
        if need.weak and not weak_too:
            continue
        lib = libs.get(need.library)
        if lib is None or need.version not in lib.defined_versions:
            problems.append(f"{need.library}:{need.version}")
    return problems


def unmet(path: Path, host: Host | None = None) -> list[str]:
    """What stops the loader: non-weak version requirements, and unversioned symbols bound to a
    version the host lacks, of the binary at ``path``; empty when it would load."""
    elf = read_elf(path)
    host = host or Host()
    problems = missing_versions(elf, host, weak_too=False)
    absent = {entry.split(":", 1)[1] for entry in missing_versions(elf, host)}
    problems += [f"{name}@{v}" for name, v in sorted(elf.undefined.items()) if v in absent]
    return problems


def undefined_anywhere(elf: Elf, host: Host, extra: list[Elf]) -> list[str]:
    """Undefined non-weak symbols that neither the closure nor ``extra`` libraries define."""
    libs, _ = host.closure(elf)
    defined: set[str] = set()
    for lib in [*libs.values(), *extra]:
        defined |= lib.defined
    return sorted(name for name in elf.undefined if name not in defined)


def patchelf(tool: Path, *args: str) -> None:
    subprocess.run([str(tool), *args], check=True, capture_output=True, text=True)


def mark_weak(path: Path, versions: set[str]) -> list[str]:
    """Set VER_FLG_WEAK on each ``lib:VERSION`` Vernaux entry named in ``versions``, in place."""
    elf = read_elf(path)
    marked = []
    with path.open("r+b") as file:
        for need in elf.needs:
            if f"{need.library}:{need.version}" in versions and not need.weak:
                file.seek(need.flags_offset)
                (flags,) = struct.unpack("<H", file.read(2))
                file.seek(need.flags_offset)
                file.write(struct.pack("<H", flags | VER_FLG_WEAK))
                marked.append(f"{need.library}:{need.version}")
    return marked


def build_compat(source: Path, lib_dir: Path) -> Path:
    """Build ``libpluginary-compat.so`` from ``source`` into ``lib_dir`` (g++, host libstdc++)."""
    out = lib_dir / "libpluginary-compat.so"
    command = ["g++", "-shared", "-fPIC", "-O2", "-std=gnu++17", str(source), "-o", str(out)]
    subprocess.run(command, check=True)
    return out


def binaries(bundle: Path) -> list[Path]:
    """A bundle's Linux shared objects (the files the host dlopens)."""
    return sorted(p for p in (bundle / "Contents" / "x86_64-linux").glob("*.so") if p.is_file())


def relink_binary(
    so: Path, tool: Path, lib_dir: Path, compat: Elf, host: Host
) -> dict[str, list[str]]:
    """Relink one binary in place (see the module's doc); say what was done and what remains."""
    elf = read_elf(so)
    absent = set(missing_versions(elf, host))
    versions = {entry.split(":", 1)[1] for entry in absent}
    symbols = {name: v for name, v in elf.undefined.items() if v in versions}
    if symbols:
        flags = [arg for name in sorted(symbols) for arg in ("--clear-symbol-version", name)]
        patchelf(tool, *flags, str(so))
    from_compat = [s for s in undefined_anywhere(elf, host, []) if s in compat.defined]
    if from_compat:
        patchelf(tool, "--add-needed", compat.path.name, str(so))
    libs, _ = host.closure(elf)
    private = sorted(n for n, lib in libs.items() if lib.path.parent == lib_dir.resolve())
    if from_compat or private:
        patchelf(tool, "--set-rpath", str(lib_dir), str(so))
    weak = mark_weak(so, absent)
    after = read_elf(so)
    checker = Host()
    return {
        "symbols_cleared": sorted(f"{name}@{v}" for name, v in symbols.items()),
        "compat_symbols": sorted(from_compat),
        "versions_marked_weak": weak,
        "private_libraries": private,
        "libraries_missing": checker.closure(after)[1],
        "symbols_undefined": undefined_anywhere(after, checker, []),
        "unmet": unmet(so, checker),
    }


def relink_set(set_dir: Path, tool: Path, lib_dir: Path, compat: Path) -> dict[str, list[str]]:
    """Copy ``original/*.vst3`` to ``loadable/`` and relink each binary there; a summary."""
    original, loadable = set_dir / "original", set_dir / "loadable"
    if loadable.exists():
        shutil.rmtree(loadable)
    shutil.copytree(original, loadable, symlinks=True)
    host, compat_elf = Host([str(lib_dir)]), read_elf(compat)
    summary: dict[str, set[str]] = {}
    for bundle in sorted(loadable.glob("*.vst3")):
        for so in binaries(bundle):
            for key, values in relink_binary(so, tool, lib_dir, compat_elf, host).items():
                summary.setdefault(key, set()).update(values)
    return {key: sorted(values) for key, values in summary.items()}


def prepare_libs(lib_dir: Path, tool: Path) -> None:
    """Private libraries find each other: each gets the runpath ``$ORIGIN``."""
    for lib in sorted(lib_dir.glob("*.so*")):
        if lib.is_file() and not lib.is_symlink() and lib.name != "libpluginary-compat.so":
            patchelf(tool, "--set-rpath", "$ORIGIN", str(lib))


def read_tsv(path: Path) -> list[list[str]]:
    return [line.split("\t") for line in path.read_text().splitlines() if line.strip()]


def originals(set_dir: Path, bundles: list[str]) -> tuple[dict[str, list[str]], list[str]]:
    """What stops the loader on each shipped bundle, and the libraries nothing here provides."""
    host, unmet_by_bundle, lost = Host(), {}, set()
    for bundle in bundles:
        for so in binaries(set_dir / "original" / bundle):
            if problems := unmet(so, host):
                unmet_by_bundle[bundle] = problems
            lost |= set(host.closure(read_elf(so))[1])
    return unmet_by_bundle, sorted(lost)


def relink_all(root: Path, sets: Path, libs: Path, compat_source: Path) -> dict[str, Any]:
    """Relink every set under ``root`` (``DEST/breadth``) and write ``root/manifest.json``."""
    tool, lib_dir = root / "tools" / "patchelf", root / "lib"
    prepare_libs(lib_dir, tool)
    compat = build_compat(compat_source, lib_dir)
    version = subprocess.run([str(tool), "--version"], capture_output=True, text=True).stdout
    manifest: dict[str, Any] = {
        "layout": "SET/original/*.vst3 as shipped; SET/loadable/*.vst3 relinked copies; lib/",
        "host": {"glibc": os.confstr("CS_GNU_LIBC_VERSION")},
        "patchelf": version.strip(),
        "libraries": {package: version for package, version in read_tsv(libs)},
        "compat": {"library": compat.name, "symbols": sorted(read_elf(compat).defined)},
        "sets": {},
    }
    for name, package, version, suite in read_tsv(sets):
        set_dir = root / name
        bundles = sorted(p.name for p in (set_dir / "original").glob("*.vst3"))
        unmet_by_bundle, lost = originals(set_dir, bundles)
        manifest["sets"][name] = {
            "package": package,
            "version": version,
            "suite": suite,
            "bundles": bundles,
            "original_unmet": unmet_by_bundle,
            "original_libraries_missing": lost,
            **relink_set(set_dir, tool, lib_dir, compat),
        }
    (root / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    return manifest


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    check = sub.add_parser("check", help="print what stops the loader, per binary")
    check.add_argument("--lib", action="append", default=[], help="a folder to search too")
    check.add_argument("paths", nargs="+", type=Path)
    relink = sub.add_parser("relink", help="make every set's loadable copies; write the manifest")
    relink.add_argument("root", type=Path, help="DEST/breadth")
    relink.add_argument("--sets", type=Path, required=True, help="TSV: set package version suite")
    relink.add_argument("--libs", type=Path, required=True, help="TSV: package version")
    relink.add_argument("--compat-source", type=Path, required=True)
    args = parser.parse_args(argv)
    if args.command == "check":
        host = Host(args.lib)
        for path in args.paths:
            elf = read_elf(path)
            report = {
                "path": str(path),
                "unmet": unmet(path, host),
                "missing_libraries": host.closure(elf)[1],
                "undefined": undefined_anywhere(elf, host, []),
            }
            print(json.dumps(report))
        return 0
    manifest = relink_all(args.root, args.sets, args.libs, args.compat_source)
    for name, entry in manifest["sets"].items():
        print(
            f"relink: {name}: {len(entry['bundles'])} bundles, {len(entry['unmet'])} unmet",
            file=sys.stderr,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
