"""Controls for the hostile plugin zoo: each bundle misbehaves as named, at the stage named.

Every bundle is loaded by pedalboard in a plain sacrificial process, never through Pluginary
(``tests/zoo/sacrifice.py``): a wrapper in a session of its own, standing in for the fork server,
starts a loader that does what the probe does. Whatever the plugin signals, its parent or its
parent's group, is the wrapper or inside that session, never pytest. With ZOO_TRACE set the zoo
logs "misbehave at <stage>" just before it misbehaves, in order with the loader's progress marks,
so each test shows where the behaviour fired as well as what it did.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import pytest

from processes import alive, proc_stat, processes_with_env, wait_until
from zoo_bundles import OK, STAGES, UNLOAD_BEHAVIOURS, zoo_name

pytestmark = pytest.mark.worker

SACRIFICE = Path(__file__).resolve().parent / "zoo" / "sacrifice.py"
SAFETY = 60.0  # generous: only a broken control ever waits this long
MB = 1 << 20
TOKEN_VARIABLE = "PLUGINARY_ZOO_CONTROL"


@dataclass
class Run:
    """One sacrificial wrapper (a session leader) and the loader it started."""

    wrapper: subprocess.Popen[bytes]
    workdir: Path
    name: str
    token: str

    def stderr(self) -> bytes:
        try:
            return (self.workdir / "stderr").read_bytes()
        except FileNotFoundError:  # the wrapper has yet to create it
            return b""

    def events(self) -> list[str]:
        """The loader's marks and the zoo's "misbehave at" line, in order, without details."""
        found = []
        for line in self.stderr().decode(errors="replace").splitlines():
            words = line.split(" ")
            if words[0] == "zoo-mark":
                kind = words[1]
                if kind in ("classes", "begin", "loaded", "failed", "canary"):
                    found.append(" ".join(words[1:3]))
                else:  # start and done carry a pid or timings
                    found.append(kind)
            elif words[0] == "zoo-trace" and words[2] == "misbehave":
                found.append(" ".join(words[2:5]))
        return found

    def mark(self, kind: str) -> list[str]:
        """The words after ``zoo-mark KIND`` of the first such mark."""
        prefix = f"zoo-mark {kind} "
        for line in self.stderr().decode(errors="replace").splitlines():
            if line.startswith(prefix):
                return line[len(prefix) :].split(" ")
        raise AssertionError(f"no {kind} mark in the loader's stderr")

    def has_mark(self, kind: str) -> bool:
        return f"zoo-mark {kind}".encode() in self.stderr()

    def loader(self) -> int:
        wait_until(lambda: self.has_mark("start"), "the loader starts", timeout=SAFETY)
        return int(self.mark("start")[0])

    def fate(self) -> dict[str, Any]:
        """What the wrapper saw of its loader; {"wrapper": code} if the wrapper itself died."""
        out, _ = self.wrapper.communicate(timeout=SAFETY)
        if not out:
            return {"wrapper": self.wrapper.returncode}
        fate: dict[str, Any] = json.loads(out.splitlines()[-1])
        return fate

    def leftovers(self) -> list[int]:
        """The pids the zoo printed as "pluginary-zoo PID" (daemons, forked children)."""
        return [
            int(line.split()[1])
            for line in self.stderr().decode(errors="replace").splitlines()
            if line.startswith("pluginary-zoo ") and line.split()[1].isdigit()
        ]

    def sweep(self) -> None:
        """Kill every process of this run, wherever it went: each carries the run's token."""
        entry = f"{TOKEN_VARIABLE}={self.token}"
        # Until a scan finds none: one found dead can fork no more, so the last scan is final.
        deadline = time.monotonic() + SAFETY
        while (found := processes_with_env(entry)) and time.monotonic() < deadline:
            for pid in found:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
        if self.wrapper.poll() is None:
            self.wrapper.kill()
        self.wrapper.wait(timeout=SAFETY)
        assert not found, f"processes {found} survived SIGKILL"


def _is_zoo_leftover(pid: int) -> bool:
    try:
        return alive(pid) and Path(f"/proc/{pid}/comm").read_text() == "pluginary-zoo\n"
    except OSError:
        return False


def _ignored_signals(pid: int) -> set[signal.Signals]:
    lines = Path(f"/proc/{pid}/status").read_text().splitlines()
    mask = int(next(line.split()[1] for line in lines if line.startswith("SigIgn:")), 16)
    return {sig for sig in signal.Signals if mask & (1 << (sig - 1))}


class Sacrifice(Protocol):
    def __call__(
        self,
        name: str,
        env: dict[str, str] | None = None,
        fsize_mb: int | None = None,
        as_headroom_mb: int | None = None,
    ) -> Run: ...


@pytest.fixture
def sacrifice(zoo: dict[str, Path], tmp_path: Path) -> Iterator[Sacrifice]:
    """Start sacrificial loads of zoo bundles; everything they started is killed afterwards."""
    runs: list[Run] = []

    def start(
        name: str,
        env: dict[str, str] | None = None,
        fsize_mb: int | None = None,
        as_headroom_mb: int | None = None,
    ) -> Run:
        token = uuid.uuid4().hex  # inherited by all the run starts, however they escape
        workdir = tmp_path / f"run{len(runs)}"
        workdir.mkdir()
        options = [
            *("--stdout", str(workdir / "stdout")),
            *("--stderr", str(workdir / "stderr")),
            *("--canary", str(workdir / "canary")),
        ]
        if fsize_mb is not None:
            options += ["--fsize-mb", str(fsize_mb)]
        if as_headroom_mb is not None:
            options += ["--as-headroom-mb", str(as_headroom_mb)]
        wrapper = subprocess.Popen(
            [sys.executable, str(SACRIFICE), "wrapper", str(zoo[name]), *options],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            # A new session: the plugin's parent, and the group it signals, are the wrapper's.
            start_new_session=True,
            env={**os.environ, "ZOO_TRACE": "1", TOKEN_VARIABLE: token, **(env or {})},
        )
        run = Run(wrapper, workdir, name, token)
        runs.append(run)
        return run

    try:
        yield start
    finally:
        for run in runs:
            run.sweep()


def _until_fired(name: str, stage: str) -> list[str]:
    """The events of a loader that the behaviour ended (or stopped) as it fired."""
    if stage == "enumerate":
        return ["start", f"misbehave at {stage}"]
    return ["start", f'classes ["{name}"]', f"begin {name}", f"misbehave at {stage}"]


def _survived(name: str, stage: str, canary: str = "open") -> list[str]:
    """The events of a loader that carried on after the behaviour fired, loading the class."""
    events = ["start", f'classes ["{name}"]', f"begin {name}", f"loaded {name}"]
    events.insert(1 if stage == "enumerate" else 3, f"misbehave at {stage}")
    return [*events, f"canary {canary}", "done"]


def test_the_well_behaved_zoo_plugin_loads(sacrifice: Sacrifice) -> None:
    """The control of the controls: the minimal C plugin is one pedalboard loads."""
    run = sacrifice(OK)
    assert run.fate() == {"exited": 0}
    classes, begin, loaded = 'classes ["zoo-ok"]', "begin zoo-ok", "loaded zoo-ok"
    assert run.events() == ["start", classes, begin, loaded, "canary open", "done"]


@pytest.mark.parametrize("stage", STAGES)
@pytest.mark.parametrize(
    ("behaviour", "fate"),
    [
        ("exit0", {"exited": 0}),
        ("exit3", {"exited": 3}),
        ("exec_true", {"exited": 0}),
        ("background_exit", {"exited": 0}),
        ("abort", {"signal": "SIGABRT"}),
        ("self_sigkill", {"signal": "SIGKILL"}),
        ("segfault", {"signal": "SIGSEGV"}),
        ("self_sigstop", {"stopped": "SIGSTOP"}),
    ],
)
def test_behaviours_that_end_the_loader(
    sacrifice: Sacrifice, behaviour: str, fate: dict[str, Any], stage: str
) -> None:
    name = zoo_name(behaviour, stage)
    run = sacrifice(name)
    assert run.fate() == fate
    assert run.events() == _until_fired(name, stage)
    assert b"exec failed" not in run.stderr()


@pytest.mark.parametrize(
    ("behaviour", "fate"),
    [
        ("segfault", {"signal": "SIGSEGV"}),
        ("abort", {"signal": "SIGABRT"}),
        ("exit3", {"exited": 3}),
    ],
)
def test_unload_stage_fires_in_module_exit_once_the_plugin_is_freed(
    sacrifice: Sacrifice, behaviour: str, fate: dict[str, Any]
) -> None:
    assert behaviour in UNLOAD_BEHAVIOURS
    name = zoo_name(behaviour, "unload")
    run = sacrifice(name)
    assert run.fate() == fate
    # The loader drops the plugin as load_plugin returns, so it dies before marking it loaded.
    assert run.events() == _until_fired(name, "unload")
    trace = run.stderr().decode(errors="replace").splitlines()
    calls = [line.split()[2] for line in trace if line.startswith(f"zoo-trace {name} ")]
    # Fired only after the whole load, inside the module's exit, which comes last.
    assert calls[-2:] == ["ModuleExit", "misbehave"]
    assert "IComponent::getControllerClassId" in calls


@pytest.mark.parametrize("stage", STAGES)
def test_memory_hog_allocates_until_malloc_fails_then_aborts(
    sacrifice: Sacrifice, stage: str
) -> None:
    name = zoo_name("memory_hog", stage)
    # The loader's address space is limited to 256 MB more than it holds; ZOO_HOG_MB is only a
    # second net, should that limit ever fail to apply.
    run = sacrifice(name, env={"ZOO_HOG_MB": "2048"}, as_headroom_mb=256)
    assert run.fate() == {"signal": "SIGABRT"}
    assert run.events() == _until_fired(name, stage)
    [line] = [line for line in run.stderr().splitlines() if line.startswith(b"pluginary-zoo:")]
    assert line.startswith(b"pluginary-zoo: malloc failed after ")
    assert 0 < int(line.split()[-2]) <= 256


@pytest.mark.parametrize("stage", STAGES)
def test_kill_parent_kills_the_parent_and_the_loader_carries_on(
    sacrifice: Sacrifice, stage: str
) -> None:
    name = zoo_name("kill_parent", stage)
    run = sacrifice(name)
    assert run.fate() == {"wrapper": -signal.SIGKILL}
    # Orphaned, the loader finishes its work: only its parent was hit.
    wait_until(lambda: run.has_mark("done"), "the orphaned loader finishes", timeout=SAFETY)
    assert run.events() == _survived(name, stage)


@pytest.mark.parametrize("stage", STAGES)
def test_term_parent_group_terminates_the_parents_group(sacrifice: Sacrifice, stage: str) -> None:
    name = zoo_name("term_parent_group", stage)
    run = sacrifice(name)
    assert run.fate() == {"wrapper": -signal.SIGTERM}
    # The loader leads a group of its own (as a probe does), so SIGTERM missed it.
    wait_until(lambda: run.has_mark("done"), "the loader finishes", timeout=SAFETY)
    assert run.events() == _survived(name, stage)


@pytest.mark.parametrize("stage", STAGES)
def test_stop_parent_stops_the_parent(sacrifice: Sacrifice, stage: str) -> None:
    name = zoo_name("stop_parent", stage)
    run = sacrifice(name)
    wait_until(lambda: run.has_mark("done"), "the loader finishes", timeout=SAFETY)
    assert run.events() == _survived(name, stage)
    wait_until(
        lambda: (stat := proc_stat(run.wrapper.pid)) is not None and stat[0] == "T",
        "the wrapper is stopped",
        timeout=SAFETY,
    )
    assert run.wrapper.poll() is None  # stopped, so it never reports its loader's exit


@pytest.mark.parametrize("stage", STAGES)
def test_join_parent_group_escapes_its_own_group_and_hangs(
    sacrifice: Sacrifice, stage: str
) -> None:
    name = zoo_name("join_parent_group", stage)
    run = sacrifice(name)
    loader = run.loader()
    wait_until(
        lambda: b"pluginary-zoo: joined the parent's group, hanging" in run.stderr(),
        "the loader joins its parent's group",
        timeout=SAFETY,
    )
    stat = proc_stat(loader)
    assert stat is not None
    assert stat[2] == run.wrapper.pid  # now in the wrapper's group
    # A kill of the group the loader was started in finds nobody: that group is empty.
    with pytest.raises(ProcessLookupError):
        os.killpg(loader, signal.SIGKILL)
    assert alive(loader)
    os.kill(loader, signal.SIGKILL)
    assert run.fate() == {"signal": "SIGKILL"}
    assert run.events() == _until_fired(name, stage)


@pytest.mark.parametrize(
    ("behaviour", "note", "stage"),
    [
        *((b, n, s) for b, n in (("hang", b"hanging"), ("spin", b"spinning")) for s in STAGES),
        ("hang", b"hanging", "unload"),
    ],
)
def test_hang_and_spin_ignore_polite_signals_until_killed(
    sacrifice: Sacrifice, behaviour: str, note: bytes, stage: str
) -> None:
    name = zoo_name(behaviour, stage)
    run = sacrifice(name)
    loader = run.loader()
    wait_until(
        lambda: b"pluginary-zoo: " + note in run.stderr(), f"the loader is {behaviour}ing", SAFETY
    )
    polite = {signal.SIGTERM, signal.SIGINT, signal.SIGHUP}
    assert polite <= _ignored_signals(loader)
    assert alive(loader)
    os.kill(loader, signal.SIGKILL)
    assert run.fate() == {"signal": "SIGKILL"}
    assert run.events() == _until_fired(name, stage)


@pytest.mark.parametrize("stage", STAGES)
def test_slow_sleeps_then_loads(sacrifice: Sacrifice, stage: str) -> None:
    name = zoo_name("slow", stage)
    run = sacrifice(name, env={"ZOO_SLEEP_MS": "300"})
    assert run.fate() == {"exited": 0}
    assert run.events() == _survived(name, stage)
    listing, loading = (float(seconds) for seconds in run.mark("done"))
    # A lower bound only (a sleep never ends early): this cannot fail on a slow machine.
    assert (listing if stage == "enumerate" else loading) >= 0.3


@pytest.mark.parametrize("stage", STAGES)
def test_output_flood_writes_until_a_write_fails_then_hangs(
    sacrifice: Sacrifice, stage: str
) -> None:
    name = zoo_name("output_flood", stage)
    # With a 1 MB file size limit (and SIGXFSZ ignored) writes past 1 MB fail; ZOO_FLOOD_MB is
    # only a second net against filling the disk should the limit ever fail to apply.
    run = sacrifice(name, env={"ZOO_FLOOD_MB": "64"}, fsize_mb=1)
    loader = run.loader()
    streams = (run.workdir / "stdout", run.workdir / "stderr")

    def flooded_and_hanging() -> bool:
        stat = proc_stat(loader)
        full = all(stream.stat().st_size == MB for stream in streams)
        return full and stat is not None and stat[0] == "S"

    wait_until(flooded_and_hanging, "both streams are full and the loader sleeps", SAFETY)
    os.kill(loader, signal.SIGKILL)
    assert run.fate() == {"signal": "SIGKILL"}
    assert run.events() == _until_fired(name, stage)
    assert b"z" * 63 + b"\n" in streams[0].read_bytes()


@pytest.mark.parametrize("stage", STAGES)
def test_garbage_reports_fill_open_descriptors_then_the_plugin_loads(
    sacrifice: Sacrifice, stage: str
) -> None:
    name = zoo_name("garbage_reports", stage)
    run = sacrifice(name)
    assert run.fate() == {"exited": 0}
    assert run.events() == _survived(name, stage)
    garbage = (run.workdir / "canary").read_bytes()
    for line in (
        b"42\n",
        b'{"event":"result"}\n',
        b'{"event":"classes","names":5}\n',
        b'{"event":"result","class":"zoo-forged","status":"ok"}\n',
        b"\xff\xfe invalid UTF-8 \xc3\x28\n",
        b"[" * 100000 + b"]" * 100000 + b"\n",
    ):
        assert line in garbage
    assert garbage.endswith(b"{" + b"x" * (MB - 1))  # the last line never ends


@pytest.mark.parametrize("stage", STAGES)
def test_close_fds_closes_the_loaders_descriptors_then_the_plugin_loads(
    sacrifice: Sacrifice, stage: str
) -> None:
    name = zoo_name("close_fds", stage)
    run = sacrifice(name)
    assert run.fate() == {"exited": 0}
    assert run.events() == _survived(name, stage, canary="closed")


@pytest.mark.parametrize("stage", STAGES)
def test_daemon_leaves_a_detached_process_behind(sacrifice: Sacrifice, stage: str) -> None:
    name = zoo_name("daemon", stage)
    run = sacrifice(name)
    loader = run.loader()
    assert run.fate() == {"exited": 0}
    assert run.events() == _survived(name, stage)
    [daemon] = run.leftovers()
    assert _is_zoo_leftover(daemon)  # outlives the loader
    stat = proc_stat(daemon)
    assert stat is not None
    # In a session of its own: neither the loader's group nor the wrapper's session holds it.
    assert stat[3] not in (run.wrapper.pid, loader)
    assert stat[2] != loader


@pytest.mark.parametrize("stage", STAGES)
def test_fork_many_leaves_fifty_children_in_the_loaders_group(
    sacrifice: Sacrifice, stage: str
) -> None:
    name = zoo_name("fork_many", stage)
    run = sacrifice(name)
    loader = run.loader()
    assert run.fate() == {"exited": 0}
    assert run.events() == _survived(name, stage)
    children = run.leftovers()
    assert len(set(children)) == 50
    assert all(_is_zoo_leftover(child) for child in children)
    assert {(stat or ("", 0, 0, 0))[2] for stat in map(proc_stat, children)} == {loader}
