"""The hostile plugin zoo: VST3 bundles that each misbehave in one way, at one stage.

Every bundle is ``tests/zoo/zoo.c`` (a minimal but working VST3 module in C) compiled with gcc at
test time with its behaviour and stage chosen by ``-D`` defines, and cached like the bundles of
``native_bundles.py``: under ``<fixtures>/zoo/<hash of source and flags>/``. See
``tests/zoo/README.md`` for what each behaviour does and what Pluginary should record for it.

A bundle is ``zoo-<behaviour>-<stage>.vst3`` holding one class of the same name, so its class
names never collide with another bundle's. Stages:

- ``enumerate``: the behaviour fires inside ``GetPluginFactory``, before any class is known;
- ``load``: it fires only when pedalboard instantiates the (already listed) class for
  ``load_plugin``, never while ``get_plugin_names_for_file`` lists the classes.

``zoo-ok.vst3`` is a plain working stereo pass-through effect.

Multi-class bundles (issue 16) come from :func:`build_classes_bundle`: ``NAME.vst3`` holding the
classes ``NAME 1`` .. ``NAME N``, of which one (or every one) misbehaves when loaded and one may
print to stdout and stderr.
"""

from __future__ import annotations

import os
import shutil
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from native_bundles import cached_bundle

SOURCE = Path(__file__).resolve().parent / "zoo" / "zoo.c"
CACHE = (
    Path(os.environ.get("PLUGINARY_FIXTURES", Path.home() / ".cache" / "pluginary-fixtures"))
    / "zoo"
)
FLAGS = ("-shared", "-fPIC", "-O1", "-pthread", "-Wall", "-Wextra")
STAGES = ("enumerate", "load")
# Each names a behave_<behaviour> function in zoo.c.
BEHAVIOURS = (
    "kill_parent",
    "term_parent_group",
    "stop_parent",
    "join_parent_group",
    "daemon",
    "exit0",
    "exit3",
    "exec_true",
    "abort",
    "self_sigkill",
    "self_sigstop",
    "segfault",
    "hang",
    "spin",
    "slow",
    "memory_hog",
    "output_flood",
    "garbage_reports",
    "close_fds",
    "background_exit",
    "fork_many",
)
OK = "zoo-ok"
# Behaviours only multi-class bundles have (see zoo.c).
CLASS_BEHAVIOURS = ("rendezvous",)
# Misbehaving in ModuleExit, after the class loaded and reported: a few behaviours are enough to
# show that a plugin failing to unload is told apart from one failing to load.
UNLOAD_BEHAVIOURS = ("segfault", "abort", "exit3", "hang")


def zoo_name(behaviour: str, stage: str) -> str:
    """The bundle stem and class name of a behaviour at a stage."""
    return f"zoo-{behaviour}-{stage}"


def zoo_names() -> list[str]:
    """Every zoo bundle's name: ``zoo-ok``, ``zoo-<behaviour>-<stage>`` for each pair of
    :data:`BEHAVIOURS` and :data:`STAGES`, and the :data:`UNLOAD_BEHAVIOURS` at ``unload``."""
    unload = [zoo_name(behaviour, "unload") for behaviour in UNLOAD_BEHAVIOURS]
    return [OK, *(zoo_name(b, stage) for b in BEHAVIOURS for stage in STAGES), *unload]


def build_zoo_bundle(name: str, dest: Path | None = None) -> Path:
    """Compile (or find cached) the zoo bundle ``NAME.vst3``; copied to ``dest`` if given."""
    if name == OK:
        behaviour, stage = "ok", "never"
    else:
        _, behaviour, stage = name.split("-")
        known = stage in STAGES or (stage == "unload" and behaviour in UNLOAD_BEHAVIOURS)
        if behaviour not in BEHAVIOURS or not known:
            raise ValueError(f"no zoo bundle is named {name!r}")
    defines = (
        f'-DZOO_NAME="{name}"',
        f"-DZOO_BEHAVIOUR=behave_{behaviour}",
        f"-DZOO_STAGE=ZOO_{stage.upper()}",
    )
    return _compile(name, defines, dest)


def _compile(name: str, defines: tuple[str, ...], dest: Path | None) -> Path:
    """zoo.c built with ``defines`` as ``NAME.vst3`` (cached by source and flags)."""
    key = SOURCE.read_bytes() + " ".join(FLAGS + defines).encode()
    return cached_bundle(
        CACHE,
        name,
        key,
        lambda output: ["gcc", *FLAGS, *defines, "-o", str(output), str(SOURCE)],
        dest,
    )


def build_classes_bundle(
    name: str,
    behaviour: str,
    classes: int,
    *,
    culprit: int = 1,
    chatty: int = 0,
    input_channels: int = 2,
    dest: Path | None = None,
) -> Path:
    """``NAME.vst3`` holding ``classes`` classes named ``NAME 1`` .. ``NAME N``, where loading
    class ``culprit`` (1-based; 0: every class, each once) runs ``behave_<behaviour>`` and class
    ``chatty`` (0: none) prints ``zoo-chatty <class> on stdout`` and ``... on stderr``. With
    ``input_channels`` 1 the classes are mono-in, stereo-out effects. One class is named ``NAME``.
    """
    if behaviour not in ("ok", *CLASS_BEHAVIOURS) and behaviour not in BEHAVIOURS:
        raise ValueError(f"no zoo behaviour is named {behaviour!r}")
    defines = (
        f'-DZOO_NAME="{name}"',
        f"-DZOO_BEHAVIOUR=behave_{behaviour}",
        "-DZOO_STAGE=ZOO_LOAD",
        f"-DZOO_CLASSES={classes}",
        f"-DZOO_CULPRIT={culprit}",
        f"-DZOO_CHATTY={chatty}",
        f"-DZOO_INPUT_CHANNELS={input_channels}",
    )
    return _compile(name, defines, dest)


def build_channels_bundle(behaviour: str, dest: Path | None = None) -> Path:
    """``zoo-<behaviour>-channels.vst3``: a class that takes any layout with as many outputs as
    inputs and runs ``behave_<behaviour>`` when asked for more than two channels."""
    if behaviour != "ok" and behaviour not in BEHAVIOURS:
        raise ValueError(f"no zoo behaviour is named {behaviour!r}")
    name = zoo_name(behaviour, "channels")
    defines = (
        f'-DZOO_NAME="{name}"',
        f"-DZOO_BEHAVIOUR=behave_{behaviour}",
        "-DZOO_STAGE=ZOO_CHANNELS",
    )
    return _compile(name, defines, dest)


@pytest.fixture(scope="session")
def zoo() -> dict[str, Path]:
    """Every zoo bundle by name: ``zoo-<behaviour>-<stage>`` for each pair, and ``zoo-ok``."""
    if not sys.platform.startswith("linux"):
        pytest.skip("the zoo bundles are Linux shared objects")
    if shutil.which("gcc") is None:
        pytest.fail("gcc is needed to build the zoo bundles")
    # Some forty gcc runs on a cold cache: one per core at a time.
    names = zoo_names()
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        return dict(zip(names, pool.map(build_zoo_bundle, names), strict=True))
