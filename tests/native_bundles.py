"""Misbehaving native VST3 bundles, compiled from ``tests/native/*.c`` with gcc at test time.

Each C file exports the VST3 module entry points (``ModuleEntry``, ``ModuleExit``,
``GetPluginFactory``) and misbehaves in one way: see the comment at the top of each file.
Builds are cached under ``<fixtures>/native/<hash of source and flags>/`` so a rerun costs nothing;
the hash in the path means an edited C file can never be served a stale binary.
"""

from __future__ import annotations

import hashlib
import os
import platform
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

NATIVE = Path(__file__).resolve().parent / "native"
CACHE = (
    Path(os.environ.get("PLUGINARY_FIXTURES", Path.home() / ".cache" / "pluginary-fixtures"))
    / "native"
)
FLAGS = ("-shared", "-fPIC", "-O1")
MISBEHAVING = ("segfault", "hang", "noise", "grandchild", "escape_tree")


def build_bundle(name: str, dest: Path | None = None) -> Path:
    """Compile ``tests/native/NAME.c`` into a ``NAME.vst3`` bundle and return the bundle's path.

    The bundle lives in the cache unless ``dest`` is given, in which case it is copied there.
    """
    source = NATIVE / f"{name}.c"
    key = source.read_bytes() + " ".join(FLAGS).encode()
    return cached_bundle(
        CACHE, name, key, lambda output: ["gcc", *FLAGS, "-o", str(output), str(source)], dest
    )


def cached_bundle(
    cache: Path,
    name: str,
    key: bytes,
    command: Callable[[Path], list[str]],
    dest: Path | None = None,
) -> Path:
    """``NAME.vst3`` under ``cache/<hash of key>/``, built by ``command(output)`` if missing.

    ``key`` holds everything the build depends on (sources, flags), so an edited source is never
    served a stale binary. Copied to ``dest`` when given.
    """
    digest = hashlib.sha256(key).hexdigest()[:16]
    bundle = cache / digest / f"{name}.vst3"
    binary = bundle / "Contents" / f"{platform.machine()}-linux" / f"{name}.so"
    if not binary.exists():
        binary.parent.mkdir(parents=True, exist_ok=True)
        # Built beside the target and renamed, so a concurrent session never sees half a file.
        partial = binary.with_name(f".{name}.{os.getpid()}.so")
        subprocess.run(command(partial), check=True)
        os.replace(partial, binary)
    if dest is None:
        return bundle
    copy = dest / bundle.name
    shutil.copytree(bundle, copy, dirs_exist_ok=True)
    return copy


@pytest.fixture(scope="session")
def misbehaving_plugins() -> dict[str, Path]:
    """Every misbehaving bundle by name: ``MISBEHAVING``, the stems of ``tests/native/*.c``."""
    if not sys.platform.startswith("linux"):
        pytest.skip("the misbehaving bundles are Linux shared objects")
    return {name: build_bundle(name) for name in MISBEHAVING}
