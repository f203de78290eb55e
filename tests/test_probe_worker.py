from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from oracle import run_oracle
from pluginary.scanner.describer import choose

pytestmark = pytest.mark.worker


def _probe_through_forkserver(
    bundle: Path, tmp_path: Path
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    server = subprocess.Popen(
        [sys.executable, "-m", "pluginary.scanner.forkserver"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert server.stdin and server.stdout
    try:
        assert json.loads(server.stdout.readline())["ready"] is True
        request = {
            "op": "probe",
            "task": 1,
            "bundle": str(bundle),
            "classes": None,
            "result": str(tmp_path / "result.jsonl"),
            "output": str(tmp_path / "output.log"),
        }
        server.stdin.write(json.dumps(request) + "\n")
        server.stdin.flush()
        started = json.loads(server.stdout.readline())
        exited = {"alive": True}
        while exited == {"alive": True}:  # The server's heartbeat while the probe runs.
            exited = json.loads(server.stdout.readline())
    finally:
        server.stdin.close()
        server.wait(timeout=10)
    assert started["started"] == 1
    events = [json.loads(line) for line in (tmp_path / "result.jsonl").read_text().splitlines()]
    return exited, events


def test_forkserver_probe_matches_pedalboard_in_process(real_plugins: Path, tmp_path: Path) -> None:
    bundle = real_plugins / "ZamComp.vst3"
    exited, events = _probe_through_forkserver(bundle, tmp_path)
    assert exited == {"exited": 1, "code": 0, "signal": None, "limit": None}
    assert events[0] == {"event": "classes", "names": ["ZamComp"]}
    assert events[-1] == {"event": "done"}
    (result,) = [event for event in events if event["event"] == "result"]
    assert result["status"] == "ok"
    import pedalboard

    assert result["describer"] == choose(pedalboard)  # "fast" on a proven pedalboard.
    # Progress while describing: each pass starts at 0 of every native parameter.
    progress = [event for event in events if event["event"] == "describing"]
    assert progress and events.index(progress[0]) < events.index(result)
    assert {(e["class"], e["total"]) for e in progress} == {("ZamComp", 13)}
    assert all(0 <= e["done"] <= e["total"] for e in progress)
    # Checked at its lowest count first, then again once every higher count was tried.
    first, checked = [event for event in events if event["event"] == "checked"]
    assert first["facts"]["channels"] == checked["facts"]["channels"] == [1]  # Mono only.

    expected = run_oracle([bundle])[str(bundle)]
    record = result["plugin"]
    assert record["name"] == expected["name"]
    assert record["vendor"] == expected["vendor"]
    assert record["identifier"] == expected["identifier"]
    assert [p["key"] for p in record["parameters"]] == [p["key"] for p in expected["parameters"]]
    for parameter, wanted in zip(record["parameters"], expected["parameters"], strict=True):
        assert (parameter["min"], parameter["max"]) == (wanted["min"], wanted["max"])
        assert parameter["step"] == wanted["step"]
        assert parameter["default_text"] == wanted["text"]
