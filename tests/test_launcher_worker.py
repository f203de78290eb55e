"""The launcher survives a fork server that dies, goes silent or breaks the protocol (issue 12).

The fork server here is a stand-in script that misbehaves on purpose on its first run and serves
properly on the next, so each test proves both halves: the probe in flight ends ``lost`` (for the
engine to resolve), and the next probe gets a new, working server.
"""

from __future__ import annotations

import sys
from pathlib import Path

import anyio
import pytest

from pluginary.scanner.launcher import ForkServerLauncher
from pluginary.scanner.runs import ProbeLimits, ProbeRequest, ProbeRun

pytestmark = pytest.mark.worker

# Reads requests line by line. The first run (no marker file yet) misbehaves as told by argv;
# later runs answer each probe with a finished report, as a real probe would leave it.
STAND_IN = r"""
import json, os, sys, time
marker, how = sys.argv[1], sys.argv[2]
first = not os.path.exists(marker)
open(marker, "a").close()
out = sys.stdout.buffer
def send(line):
    out.write(line); out.flush()
send(b'{"ready": true, "pid": %d, "isolation": "process-group"}\n' % os.getpid())
for line in sys.stdin.buffer:
    request = json.loads(line)
    if request["op"] != "probe":
        continue
    task = request["task"]
    if first and how == "early":
        sys.exit(3)  # Gone before it started the probe.
    send(b'{"started": %d, "pid": 1}\n' % task)
    if first and how == "garbage":
        send(b"{oops\n")
    elif first and how == "number":
        send(b"42\n")
    elif first and how == "overlong":
        send(b"x" * 200_000)
    elif first and how == "exit":
        sys.exit(3)
    elif first and how == "silent":
        time.sleep(600)
    elif first and how == "stranger":
        send(b'{"exited": 99, "code": "zero", "signal": null, "limit": null}\n')
    else:
        with open(request["result"], "w") as result:
            result.write('{"event": "classes", "names": []}\n{"event": "done"}\n')
        send(b'{"started": %d, "pid": 1}\n' % task)
        send(b'{"exited": %d, "code": 0, "signal": null, "limit": null}\n' % task)
"""


async def _two_probes(tmp_path: Path, how: str) -> tuple[ProbeRun, ProbeRun, list[str]]:
    script = tmp_path / "stand_in.py"
    script.write_text(STAND_IN)
    scratch = tmp_path / "probes"
    scratch.mkdir()
    logs: list[str] = []
    command = [sys.executable, str(script), str(tmp_path / "ran-once"), how]
    async with ForkServerLauncher(
        scratch, watchdog_seconds=2, log=logs.append, command=command
    ) as launcher:
        limits = ProbeLimits(timeout_seconds=30)
        with anyio.fail_after(60):  # A safety net: the watchdog acts after 2 s of silence.
            first = await launcher.probe(ProbeRequest(1, "/p/A.vst3"), limits)
            second = await launcher.probe(ProbeRequest(2, "/p/B.vst3"), limits)
    return first, second, logs


@pytest.mark.parametrize(
    ("how", "death"),
    [
        ("garbage", "it sent a line that is not JSON"),
        ("number", "it sent a report that is not an object"),
        ("overlong", "it sent a line over 65536 bytes"),
        ("exit", "it exited with status 3"),
        ("silent", "it stopped answering for 2 s"),
        ("stranger", "it sent a malformed report"),
    ],
)
def test_a_broken_fork_server_loses_its_probe_and_is_replaced(
    how: str, death: str, tmp_path: Path
) -> None:
    first, second, logs = anyio.run(_two_probes, tmp_path, how)
    assert first.lost is not None and first.lost.startswith(death), first.lost
    assert not first.finished
    assert second.lost is None and second.finished
    assert second.events == [{"event": "classes", "names": []}, {"event": "done"}]
    if how != "exit":
        assert any("restarting it" in line for line in logs), logs


def test_a_probe_whose_server_went_down_before_starting_it_is_sent_again(tmp_path: Path) -> None:
    # A server that never started the probe did nothing with the bundle: never its plugin's
    # fault (a plugin probed before may have told the server to stop), so it goes to a new one.
    first, second, logs = anyio.run(_two_probes, tmp_path, "early")
    assert first.lost is None and first.finished
    assert second.finished
    assert any("before starting /p/A.vst3; sending it again" in line for line in logs), logs
