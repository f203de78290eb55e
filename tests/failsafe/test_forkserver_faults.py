"""The fork server when its scanner dies first: the report pipe breaks under it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from processes import alive, processes_with_env, wait_until

pytestmark = [
    pytest.mark.failsafe,
    pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc"),
]


def test_a_broken_report_pipe_ends_the_fork_server_quietly(
    misbehaving_plugins: dict[str, Path], tmp_path: Path
) -> None:
    marker = f"PLUGINARY_FAILSAFE_FORKSERVER={uuid.uuid4().hex}"
    server = subprocess.Popen(
        [sys.executable, "-m", "pluginary.scanner.forkserver"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, marker.split("=")[0]: marker.split("=")[1]},
    )
    assert server.stdin is not None and server.stdout is not None
    try:
        assert "ready" in json.loads(server.stdout.readline())
        probes: dict[int, int] = {}
        for task, bundle in ((1, "hang"), (2, "hang")):
            request = {
                "op": "probe",
                "task": task,
                "bundle": str(misbehaving_plugins[bundle]),
                "format": "vst3",
                "classes": None,
                "skip": [],
                "result": str(tmp_path / f"{task}.result"),
                "output": str(tmp_path / f"{task}.output"),
            }
            server.stdin.write((json.dumps(request) + "\n").encode())
            server.stdin.flush()
            report = {"alive": True}
            while report == {"alive": True}:  # The server's heartbeat while probes run.
                report = json.loads(server.stdout.readline())
            assert report["started"] == task
            probes[task] = report["pid"]
        server.stdout.close()  # The scanner is gone: nobody reads the reports any more.
        server.stdin.write(b'{"op": "kill", "task": 1}\n')  # Probe 1 ends: its report breaks.
        server.stdin.flush()
        wait_until(lambda: not alive(probes[1]), "probe 1 to end")
        server.stdin.close()  # And now the scanner's requests end too.
        server.wait(timeout=30)
        assert server.stderr is not None
        stderr = server.stderr.read()
        assert b"Traceback" not in stderr, stderr.decode()
        assert server.returncode == 0
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()
    wait_until(lambda: not any(alive(pid) for pid in processes_with_env(marker)), "all gone")
