"""The installed ``pluginary`` command, run as a user would, against real plugins."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import click
import pytest

from pluginary.cli import main
from processes import wait_until
from scan_helpers import copy_bundles, running_bundles

pytestmark = pytest.mark.e2e

PLUGINARY = str(Path(sys.executable).parent / "pluginary")


def run(cache: Path, *args: str, check: int | None = 0) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [PLUGINARY, "--cache-dir", str(cache), *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "COLUMNS": "200"},
    )
    if check is not None:
        assert done.returncode == check, done.stderr
    return done


@pytest.fixture(scope="module")
def scanned(real_plugins: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    cache = tmp_path_factory.mktemp("cli")
    done = run(cache, "scan", "--folder", str(real_plugins), "--only", "--workers", "2", "--json")
    summary = json.loads(done.stdout)
    assert (summary["discovered"], summary["ok"], summary["failed"]) == (22, 19, 3)
    return cache


def test_list_json_is_keyed_by_id(scanned: Path) -> None:
    plugins = json.loads(run(scanned, "list", "--json").stdout)
    assert len(plugins) == 22
    assert all(key == value["id"] for key, value in plugins.items())
    reverbs = json.loads(run(scanned, "list", "--text", "reverb", "--json").stdout)
    assert sorted(p["name"] for p in reverbs.values()) == [
        "Dragonfly Early Reflections",
        "Dragonfly Hall Reverb",
        "Dragonfly Plate Reverb",
        "Dragonfly Room Reverb",
    ]


def test_list_table_and_show(scanned: Path) -> None:
    table = run(scanned, "list", "--vendor", "zammit", "--kind", "effect").stdout
    assert "ZamComp" in table and "Dragonfly" not in table
    ident = next(i for i in json.loads(run(scanned, "list", "--json").stdout) if "zamcomp." in i)
    shown = run(scanned, "show", ident).stdout
    assert "Damien Zammit" in shown and "Threshold" in shown
    record = json.loads(run(scanned, "show", ident, "--json").stdout)
    assert record["id"] == ident and len(record["parameters"]) == 13
    # What a host must know before inserting it: ZamComp is mono-only.
    assert "Channels:  1\n" in shown and "Latency:   0 samples" in shown
    assert "Audio:     ok, peak" in shown and "State:     round-trips" in shown
    assert record["channels"] == [1] and record["audioCheck"]["ok"] is True


def test_list_filters_on_the_insert_facts(scanned: Path) -> None:
    def names(*args: str) -> set[str]:
        return {
            p["name"] for p in json.loads(run(scanned, "list", *args, "--json").stdout).values()
        }

    mono = names("--channels", "1")
    assert "ZamComp" in mono and not any(name.startswith("Dragonfly") for name in mono)
    assert "Dragonfly Hall Reverb" in names("--channels", "2", "--max-latency", "0", "--audio-ok")
    # ZamEQ2 loads, then turns every sample into NaN (pedalboard in-process agrees).
    assert names("--audio-failed") == {"ZamEQ2"}
    run(scanned, "list", "--channels", "3", check=2)  # Not a count the probe tries.


def test_status(scanned: Path) -> None:
    info: dict[str, Any] = json.loads(run(scanned, "status", "--json").stdout)
    assert info["counts"]["plugins"] == 22 and info["lastScan"]["ok"] == 19
    assert info["interrupted"] is None
    assert "22 plugins in 22 bundles" in run(scanned, "status").stdout


def test_failures_exit_1_and_usage_errors_exit_2(scanned: Path) -> None:
    missing = run(scanned, "show", "vst3.nope.00000000", check=1)
    assert "vst3.nope.00000000" in missing.stderr
    assert "no interrupted scan" in run(scanned, "resume", check=1).stderr
    assert "--only needs" in run(scanned, "scan", "--only", check=2).stderr
    run(scanned, "list", "--kind", "vst", check=2)
    run(scanned, "frobnicate", check=2)


def test_ctrl_c_cancels_cleanly_and_resume_finishes(
    real_plugins: Path, misbehaving_plugins: dict[str, Path], tmp_path: Path
) -> None:
    folder = copy_bundles(real_plugins, ["ZamComp.vst3"], tmp_path / "plugins")
    shutil.copytree(misbehaving_plugins["hang"], folder / "hang.vst3", symlinks=True)
    cache = tmp_path / "cache"
    scan = subprocess.Popen(
        [
            PLUGINARY,
            "--cache-dir",
            str(cache),
            "scan",
            "--folder",
            str(folder),
            "--only",
            "--timeout",
            "5",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )

    wait_until(
        lambda: any(b.endswith("hang.vst3") for b in running_bundles(cache)),
        "the hanging plugin is being probed",
        timeout=60,
    )
    scan.send_signal(signal.SIGINT)
    _, err = scan.communicate(timeout=30)
    assert scan.returncode == 1
    assert "pluginary resume" in err
    status = json.loads(run(cache, "status", "--json").stdout)
    interrupted = status["interrupted"]
    assert interrupted is not None and interrupted["total"] == 2 and interrupted["done"] <= 1
    finished = json.loads(run(cache, "resume", "--json").stdout)
    assert (finished["ok"], finished["timedOut"]) == (1, 1)


def test_ignore_list_commands(tmp_path: Path) -> None:
    run(tmp_path, "ignore", "add", "**/Crashy*.vst3")
    run(tmp_path, "ignore", "add", "Multi.vst3", "--class", "Bad One")
    listed = run(tmp_path, "ignore", "list").stdout.splitlines()
    assert listed == ["**/Crashy*.vst3", "Multi.vst3 :: Bad One"]
    run(tmp_path, "ignore", "add", "", check=2)


def test_every_command_and_option_has_help() -> None:
    def walk(command: click.Command, path: str) -> None:
        assert command.help, f"{path} has no help"
        for parameter in command.params:
            if isinstance(parameter, click.Option):
                assert parameter.help, f"{path} {parameter.opts} has no help"
        if isinstance(command, click.Group):
            for name, sub in command.commands.items():
                walk(sub, f"{path} {name}")

    walk(main, "pluginary")


def test_one_summary_that_names_failures_and_says_what_to_do(
    real_plugins: Path, misbehaving_plugins: dict[str, Path], tmp_path: Path
) -> None:
    folder = copy_bundles(real_plugins, ["ZamComp.vst3", "ZamVerb.vst3"], tmp_path / "plugins")
    shutil.copytree(misbehaving_plugins["hang"], folder / "hang.vst3", symlinks=True)
    cache = tmp_path / "cache"
    args = ("scan", "--folder", str(folder), "--only", "--workers", "2", "--timeout", "3")
    first = run(cache, *args)
    out = first.stdout
    assert "3 bundles found: 3 probed, 0 unchanged, 0 ignored; 0 removed" in out
    assert "1 ok, 1 failed, 1 timed out, 0 crashed" in out
    named = [line.split() for line in out.splitlines() if line.startswith("  ")]
    assert {(words[0], words[1]) for words in named} == {("failed", "ZamVerb"), ("timeout", "hang")}
    assert "--retry-failed --timeout" in out and "twice the time" in out
    # One summary: the sidecar's "scan ... committed" log line is not printed a second time.
    assert "committed" not in first.stderr

    again = run(cache, *args).stdout  # The timed-out bundle is retried once, then remembered.
    assert "3 bundles found: 1 probed, 2 unchanged" in again
    third = run(cache, *args).stdout
    assert "3 bundles found: 0 probed, 3 unchanged" in third
    assert "Catalogue: 3 plugins (1 ok, 1 failed, 1 timeout)" in third
    info = json.loads(run(cache, "status", "--json").stdout)
    assert info["lastScan"]["catalogByStatus"] == {"ok": 1, "failed": 1, "timeout": 1, "crashed": 0}


def test_a_scan_that_finds_nothing_says_where_it_looked(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    out = run(tmp_path / "cache", "scan", "--folder", str(empty), "--only").stdout
    assert "No plugin bundles found" in out and f"  {empty}\n" in out
    assert "--folder PATH" in out and "VST3_PATH" in out
