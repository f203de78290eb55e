"""Soak: scan real and misbehaving plugins over and over, SIGKILLing the sidecar at random points.

Seeded (``PLUGINARY_SOAK_SEED``); ``PLUGINARY_SOAK_ROUNDS`` rounds (default sized for about a
minute in CI; raise it for a longer run). Each round changes which bundles are installed, starts
a scan and kills the sidecar at a random point (a seeded fault point inside it, or SIGKILL from
outside after a random number of its messages), then recovers with new sidecars, which may be
killed again, until a final scan completes. After every kill and every round the catalogue must
pass ``PRAGMA integrity_check`` and FTS5's own integrity check, no process of a dead sidecar may
be left, and after every round the catalogue must hold exactly the plugins of the installed
bundles, each with the outcome a clean scan gives it.
"""

from __future__ import annotations

import os
import random
import signal
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from faultkit import Launch, integrity, scan_params
from ledger import Ledger
from rawclient import wait_gone

from pluginary.paths import cache_paths
from scan_helpers import scan

pytestmark = pytest.mark.failsafe

ROUNDS = int(os.environ.get("PLUGINARY_SOAK_ROUNDS", "8"))
SEED = int(os.environ.get("PLUGINARY_SOAK_SEED", "4"))
REAL = (
    "ZamComp.vst3",
    "ZamGate.vst3",
    "ZamTube.vst3",
    "ZamDelay.vst3",
    "ZamEQ2.vst3",
    "DragonflyRoomReverb.vst3",
    "DragonflyPlateReverb.vst3",
    "lsp-plugins.vst3",  # Fails to load: a missing library.
)
MISBEHAVING = ("segfault", "noise", "grandchild", "escape_tree", "hang")
OPTIONS = {"workers": 2, "timeoutSeconds": 2}
Plugins = set[tuple[str, str, str]]  # (id, name, status)
FAULT_POINTS = (
    "probe:started@1",
    "probe:started@2",
    "probe:after-result",  # @N: a random count of results
    "commit:before",
    "commit:mid",
    "commit:after",
)
KINDS = (*FAULT_POINTS, "SIGKILL from outside")


def plugins_of(cache: Path) -> Plugins:
    db = sqlite3.connect(cache_paths(cache).catalog)
    try:
        return set(db.execute("SELECT id, name, status FROM plugins").fetchall())
    finally:
        db.close()


def by_bundle(cache: Path) -> dict[str, Plugins]:
    db = sqlite3.connect(cache_paths(cache).catalog)
    try:
        rows = db.execute("SELECT path, id, name, status FROM plugins").fetchall()
    finally:
        db.close()
    found: dict[str, Plugins] = {}
    for path, *plugin in rows:
        found.setdefault(Path(path).name, set()).add(tuple(plugin))  # type: ignore[arg-type]
    return found


def intact(cache: Path, when: str) -> None:
    if cache_paths(cache).catalog.exists():
        assert integrity(cache) == ("ok", "ok"), when


class Round:
    """One sidecar of a round, perhaps set to die: its kill plan and what became of it."""

    def __init__(
        self, rng: random.Random, launch: Launch, cache: Path, tasks: int, kind: str
    ) -> None:
        self.fault: str | None = None
        self.after_messages: int | None = None
        if kind == "probe:after-result":
            self.fault = f"{kind}@{rng.randint(1, max(1, tasks))}"
        elif kind in FAULT_POINTS:
            self.fault = kind
        else:
            self.after_messages = rng.randint(1, 12)
        self.sidecar = launch(cache, env={"PLUGINARY_FAULT": self.fault} if self.fault else None)
        self.sidecar.initialize()

    @property
    def how(self) -> str:
        return self.fault or f"SIGKILL from outside after {self.after_messages} messages"

    @property
    def kind(self) -> str:
        return self.fault.partition("@")[0] if self.fault else "SIGKILL from outside"

    def run(self, method: str, params: dict[str, Any]) -> bool:
        """Ask for a scan or resume and let the kill plan play out; whether it was killed."""
        sidecar = self.sidecar
        pids = {sidecar.pid}
        asked = sidecar.request(method, params)
        seen = len(sidecar.messages)

        def over() -> bool:
            if sidecar.eof or any(m.get("id") == asked for m in sidecar.responses()):
                return True
            return self.after_messages is not None and (
                len(sidecar.messages) - seen >= self.after_messages
            )

        sidecar.wait_for(over, f"the {method} to end or reach its kill point")
        pids |= sidecar.processes()
        answer = next((m for m in sidecar.responses() if m.get("id") == asked), None)
        if answer is not None and not sidecar.eof:
            assert "result" in answer or answer["error"]["code"] == 1002, answer
            assert sidecar.shutdown() == 0
            return False
        sidecar.signal(signal.SIGKILL)  # Already dead if a fault point fired.
        assert sidecar.wait_exit() == -signal.SIGKILL
        wait_gone(pids, f"the processes of a sidecar killed by {self.how}", timeout=2.0)
        assert not sidecar.processes()
        return True


def test_soak(
    launch: Launch,
    real_plugins: Path,
    misbehaving_plugins: dict[str, Path],
    tmp_path: Path,
    ledger: Ledger,
) -> None:
    rng = random.Random(SEED)
    pool = {name: real_plugins / name for name in REAL}
    pool |= {f"{name}.vst3": misbehaving_plugins[name] for name in MISBEHAVING}
    folder = tmp_path / "plugins"
    folder.mkdir()
    for name, bundle in pool.items():
        (folder / name).symlink_to(bundle)
    # What a clean scan says of each bundle, in this very folder (identifiers hash the path).
    scan(tmp_path / "reference", folder, workers=2, timeout_seconds=2)
    expected = by_bundle(tmp_path / "reference")
    assert set(expected) == set(pool)

    cache = tmp_path / "cache"
    ledger.notes["soak"] = f"seed {SEED}, {ROUNDS} rounds"
    for number in range(ROUNDS):
        where = f"round {number} of seed {SEED}"
        installed = sorted(name for name in pool if rng.random() < 0.75) or [rng.choice(list(pool))]
        for name in pool:
            link = folder / name
            if name in installed and not link.is_symlink():
                link.symlink_to(pool[name])
            elif name not in installed and link.is_symlink():
                link.unlink()
        method, params = "pluginary/scan", scan_params(folder, **OPTIONS, rescan=rng.random() < 0.3)
        # The first sidecar of a round dies in each way in turn; those after it, at random.
        kinds = [KINDS[number % len(KINDS)], rng.choice(KINDS), rng.choice(KINDS)]
        for kind in kinds:
            dying = Round(rng, launch, cache, len(installed), kind)
            killed = dying.run(method, params)
            intact(cache, f"{where}, after {dying.how}")
            if not killed:
                break
            ledger.record("soak-kill", f"{dying.kind}: catalogue intact, no process left")
            method, params = "pluginary/resume", {}

        final = launch(cache)
        final.initialize()
        if final.result("pluginary/status")["interrupted"] is not None:
            final.result("pluginary/resume")
        summary = final.result("pluginary/scan", scan_params(folder, **OPTIONS, retryFailed=True))
        assert summary["discovered"] == len(installed), where
        assert final.result("pluginary/status")["interrupted"] is None, where
        assert final.shutdown() == 0
        intact(cache, f"{where}, at its end")
        want: Plugins = set().union(*(expected[name] for name in installed))
        got = plugins_of(cache)
        assert got == want, f"{where}: missing {want - got}, unexpected {got - want}"
        ledger.record(
            "soak-round",
            "integrity_check ok, FTS integrity-check ok, exactly the installed bundles' plugins"
            " with a clean scan's outcomes",
        )
