"""Faults 8 and 9: the host dies (closes stdin, or is SIGKILLed), or the sidecar gets SIGTERM,
SIGINT or SIGHUP, mid-scan. The sidecar and every process of its scan (fork server, the probe of a
hanging plugin, and that plugin's child and escaped grandchild) are gone within 2 s, and the scan
is resumable by the next sidecar."""

from __future__ import annotations

import shutil
import signal
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from faultkit import Launch, in_child_pid_namespace, named, scan_params
from ledger import Ledger
from rawclient import Sidecar, wait_gone

pytestmark = [
    pytest.mark.failsafe,
    pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc"),
]

HOST = Path(__file__).resolve().parent / "host.py"
HOW = {
    "host closes stdin": "host-closes-stdin",
    "host is SIGKILLed": "host-killed",
    "SIGTERM": "sidecar-sigterm",
    "SIGINT": "sidecar-sigint",
    "SIGHUP": "sidecar-sighup",
}


def serving(sidecar: Sidecar) -> int:
    """The pid of the ``pluginary serve`` process among the sidecar's processes."""
    for pid in sidecar.processes():
        try:
            if b"serve" in Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0"):
                return pid
        except OSError:
            continue
    raise AssertionError("no pluginary serve process")


@pytest.mark.parametrize("launcher", ["forkserver", "pool"])
@pytest.mark.parametrize("how", HOW)
def test_everything_is_gone_within_2_s_and_the_scan_is_resumable(
    how: str,
    launcher: str,
    launch: Launch,
    folder: Callable[..., Path],
    hang_tree: Path,
    ledger: Ledger,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PLUGINARY_LAUNCHER", launcher)  # The sidecars inherit it.
    plugins = folder("ZamComp.vst3", extra=(hang_tree,))
    relayed = how == "host is SIGKILLed"
    host = launch(command=[sys.executable, str(HOST)]) if relayed else launch()
    host.initialize()
    host.request("pluginary/scan", scan_params(plugins, workers=1, timeoutSeconds=600))
    helpers = host.wait_for(
        lambda: len(found := named("pluginary-ht", host.processes())) == 2 and found,
        "the hanging plugin's child and escaped grandchild to run",
    )
    everyone = host.processes()
    # Host (if relayed), sidecar, fork server (two processes when it has a PID namespace: the
    # outer one waiting and the namespace's init), the hanging probe, its child and grandchild.
    # The pool has a guard, and a nanny and its worker (the probe), in the fork server's place.
    namespaced = any(in_child_pid_namespace(pid) for pid in helpers)
    own = {"forkserver": 5 + namespaced, "pool": 6}[launcher]
    assert len(everyone) == own + relayed and helpers <= everyone
    sidecar = serving(host)

    if how == "host closes stdin":
        host.close_stdin()
    elif relayed:
        host.signal(signal.SIGKILL)
    else:
        host.signal(getattr(signal, how))
    gone = wait_gone(everyone, f"after the {how}", timeout=2.0)
    assert host.processes() == set()
    if not relayed:
        assert host.wait_exit() == 1  # LSP: exit without shutdown.

    # The journal kept the scan: the next sidecar resumes it (the hanging plugin uninstalled).
    again = launch(host.cache)
    again.initialize()
    interrupted = again.result("pluginary/status")["interrupted"]
    assert (interrupted["state"], interrupted["done"], interrupted["total"]) == ("probing", 1, 2)
    shutil.rmtree(plugins / "zz")
    summary = again.result("pluginary/resume")
    assert (summary["ok"], summary["failed"]) == (1, 1)
    assert again.shutdown() == 0
    ledger.record(
        HOW[how],
        f"sidecar (pid {sidecar}) and all {len(everyone) - relayed - 1} processes of its scan"
        " gone; the next sidecar resumed the scan",
        all_processes_gone=gone,
    )
