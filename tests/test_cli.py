"""The installed ``pluginary`` command, run as a user would, against real plugins."""

from __future__ import annotations

import contextlib
import json
import os
import pty
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import click
import pytest

from pluginary.cli import main
from processes import processes_with_env, wait_until
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
    run(scanned, "list", "--channels", "10", check=2)  # Not a count the probe tries.


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


def test_ctrl_c_on_a_terminal_leaves_no_progress_line(
    misbehaving_plugins: dict[str, Path], tmp_path: Path
) -> None:
    folder = tmp_path / "plugins"
    shutil.copytree(misbehaving_plugins["hang"], folder / "hang.vst3", symlinks=True)
    cache = tmp_path / "cache"
    screen, terminal = pty.openpty()  # stderr on a terminal: the live progress bar is drawn.
    scan = subprocess.Popen(
        [PLUGINARY, "--cache-dir", str(cache), "scan", "--folder", str(folder), "--only"],
        stdout=subprocess.PIPE,
        stderr=terminal,
        env={**os.environ, "COLUMNS": "100", "TERM": "xterm"},
    )
    os.close(terminal)
    shown = bytearray()

    def read_screen() -> None:  # Drained as it comes, or the scan would block writing.
        with contextlib.suppress(OSError):  # EIO: the terminal's last writer has gone.
            while chunk := os.read(screen, 65536):
                shown.extend(chunk)

    reader = threading.Thread(target=read_screen, daemon=True)
    reader.start()
    wait_until(
        lambda: (
            any(b.endswith("hang.vst3") for b in running_bundles(cache)) and b"Scanning" in shown
        ),
        "the hanging plugin is being probed, with the bar drawn",
        timeout=60,
    )
    scan.send_signal(signal.SIGINT)
    assert scan.wait(timeout=60) == 1
    reader.join(timeout=30)
    os.close(screen)
    text = bytes(shown).decode(errors="replace")
    after_bar = text[text.rindex("Scanning") :]
    # The bar's line is erased before the message, and the cursor shown again.
    erased = after_bar.index("\x1b[2K")
    assert "\x1b[?25h" in after_bar and erased < after_bar.index("Scan interrupted")
    assert after_bar.rstrip().endswith("to finish it.")


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


# -- reads in the CLI's own process (issue 13) ------------------------------------------------


def test_reads_in_process_answer_as_the_sidecar_does(scanned: Path) -> None:
    from pluginary.client import Client

    listed = json.loads(run(scanned, "list", "--json").stdout)
    some = next(i for i in listed if "zamcomp." in i)
    shown = json.loads(run(scanned, "show", some, "--json").stdout)
    status = json.loads(run(scanned, "status", "--json").stdout)
    stereo = run(scanned, "list", "--kind", "effect", "--channels", "2", "--json")
    effects = json.loads(stereo.stdout)
    with Client(cache_dir=scanned) as sidecar:
        assert listed == {p["id"]: p for p in sidecar.query_all()}
        assert effects == {p["id"]: p for p in sidecar.query_all(kind="effect", channels=2)}
        assert shown == sidecar.plugin(some)
        assert status == sidecar.status()
        # The client's lookup takes what `show` takes, and finds the same plugin.
        assert sidecar.find("ZAMCOMP") == shown
        assert sidecar.find(some[: len("vst3.zamcomp.d")]) == shown
    assert 0 < len(effects) < len(listed)


def test_reads_start_no_server() -> None:
    # Proved by what the command imports: no client, no protocol stack, no scan engine.
    python = [sys.executable, "-X", "importtime", "-m", "pluginary", "--cache-dir", "/no/cache"]
    for command in (["list", "--json"], ["show", "nothing"], ["status"], ["ignore", "list"]):
        done = subprocess.run(
            [*python, *command],
            capture_output=True,
            text=True,
            timeout=60,
        )
        imported = {line.split("|")[-1].strip() for line in done.stderr.splitlines()}
        assert "pluginary.local" in imported or command[0] == "ignore"
        for heavy in ("pluginary.client", "pygls", "lsprotocol", "pluginary.scanner.engine"):
            assert heavy not in imported, (command, heavy)


def test_piped_list_is_tab_separated_and_never_cuts_an_id(scanned: Path) -> None:
    ids = list(json.loads(run(scanned, "list", "--json").stdout))
    done = subprocess.run(
        [PLUGINARY, "--cache-dir", str(scanned), "list"],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "COLUMNS": "30"},  # Narrow: a table would have to cut.
    )
    rows = [line.split("\t") for line in done.stdout.splitlines()]
    assert [row[0] for row in rows] == ids  # No header line: every line is a plugin.
    assert all(len(row) == 9 for row in rows)
    assert next(r for r in rows if r[1] == "ZamComp")[1:4] == ["ZamComp", "Damien Zammit", "effect"]


def _on_a_terminal(cache: Path, columns: int, *command: str) -> bytes:
    """What a read command shows on a terminal ``columns`` wide (it must succeed)."""
    screen, terminal = pty.openpty()
    reader = subprocess.Popen(
        [PLUGINARY, "--cache-dir", str(cache), *command],
        stdout=terminal,
        stderr=subprocess.PIPE,
        env={**os.environ, "COLUMNS": str(columns), "TERM": "xterm", "NO_COLOR": "1"},
    )
    os.close(terminal)
    shown = bytearray()
    with contextlib.suppress(OSError):  # EIO: the terminal's last writer has gone.
        while chunk := os.read(screen, 65536):
            shown.extend(chunk)
    os.close(screen)
    assert reader.wait(timeout=60) == 0
    return bytes(shown)


def test_table_on_a_narrow_terminal_keeps_ids_whole(scanned: Path) -> None:
    ids = list(json.loads(run(scanned, "list", "--json").stdout))
    shown = _on_a_terminal(scanned, 60, "list")
    lines = re.sub(r"\x1b\[[0-9;]*m", "", shown.decode()).splitlines()
    assert lines[0].split() == ["Id", "Name", "Status"]  # What does not fit is left out.
    assert all(len(line) <= 60 for line in lines)
    assert all(any(line.split()[:1] == [ident] for line in lines) for ident in ids)


def test_show_takes_an_id_prefix_or_a_name(scanned: Path) -> None:
    ident = next(i for i in json.loads(run(scanned, "list", "--json").stdout) if "zamcomp." in i)
    by_id = json.loads(run(scanned, "show", ident, "--json").stdout)
    assert json.loads(run(scanned, "show", "zamcomp", "--json").stdout) == by_id
    assert json.loads(run(scanned, "show", ident[:-3], "--json").stdout) == by_id
    ambiguous = run(scanned, "show", "vst3.zamcomp", check=1).stderr.splitlines()
    assert ambiguous[0].startswith("error: 'vst3.zamcomp' fits 2 plugins")
    assert any(line.strip().endswith("ZamCompX2") for line in ambiguous[1:])
    missing = run(scanned, "show", "zamcmop", check=1).stderr
    assert "did you mean 'ZamComp'" in missing and "Traceback" not in missing


def test_shell_completion_offers_ids_and_names(scanned: Path) -> None:
    done = subprocess.run(
        [PLUGINARY],
        capture_output=True,
        text=True,
        timeout=60,
        env={
            **os.environ,
            "_PLUGINARY_COMPLETE": "bash_complete",
            "COMP_WORDS": f"pluginary --cache-dir {scanned} show zamcomp",
            "COMP_CWORD": "4",
        },
    )
    offered = {line.split(",", 1)[1] for line in done.stdout.splitlines()}
    assert {"ZamComp", "ZamCompX2"} <= offered
    assert not any(item.startswith("Dragonfly") for item in offered)


# -- output hygiene ----------------------------------------------------------------------------


def test_data_is_printed_as_it_is(scanned: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    shutil.copytree(scanned, cache)
    ident = next(i for i in json.loads(run(cache, "list", "--json").stdout) if "zamcomp." in i)
    db = sqlite3.connect(cache / "catalog.sqlite")
    with db:
        db.execute(
            "UPDATE plugins SET vendor = ?, path = ?, status = 'failed', output_tail = ?"
            " WHERE id = ?",
            (
                "Evil [bold]Co[/bold] :smile:",
                "/plugins/[/x]/ZamComp.vst3",
                "before\x1b[31mred\x1b[0m\x1b]0;new title\x07 \x1b]8;;http://x\x1b\\link\x00\r\nend",
                ident,
            ),
        )
        db.execute(
            "UPDATE parameters SET name = 'Gain [dB]' WHERE idx = 0 AND plugin_rowid ="
            " (SELECT rowid FROM plugins WHERE id = ?)",
            (ident,),
        )
    db.close()
    shown = run(cache, "show", ident).stdout
    assert "Evil [bold]Co[/bold] :smile:" in shown and "/plugins/[/x]/ZamComp.vst3" in shown
    assert "Gain [dB]" in shown
    assert "beforered link\nend" in shown and "\x1b" not in shown and "\x00" not in shown
    assert "Evil [bold]Co[/bold] :smile:" in run(cache, "list").stdout


def test_closed_pipe_ends_quietly(scanned: Path) -> None:
    reader = subprocess.Popen(
        [PLUGINARY, "--cache-dir", str(scanned), "list"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert reader.stdout is not None
    reader.stdout.close()  # Before it writes: every write meets a pipe with no reader.
    _, err = reader.communicate(timeout=120)
    assert reader.returncode == 0, err
    assert b"Traceback" not in err and b"BrokenPipe" not in err


def test_version_help_and_usage_errors(tmp_path: Path) -> None:
    for command in ([PLUGINARY, "-V"], [sys.executable, "-m", "pluginary", "--version"]):
        done = subprocess.run(command, capture_output=True, text=True, timeout=60)
        assert done.returncode == 0 and done.stdout.startswith("pluginary, version ")
    assert "samples" in run(tmp_path, "list", "--help").stdout.split("--max-latency", 1)[1]
    empty = subprocess.run(
        [PLUGINARY, "--cache-dir", "", "status"], capture_output=True, text=True, timeout=60
    )
    assert empty.returncode == 2 and "--cache-dir" in empty.stderr


def test_storage_errors_are_one_line(tmp_path: Path) -> None:
    blocker = tmp_path / "a file"
    blocker.write_text("not a folder")
    cache = blocker / ("a-long-folder-name-" * 6)  # Longer than 80 columns: no hard wrap.
    for command in (
        ["status"],
        ["list"],
        ["show", "x"],
        ["ignore", "list"],
        ["ignore", "add", "**/x.vst3"],
    ):
        done = run(cache, *command, check=1)
        lines = [line for line in done.stderr.splitlines() if line != str(cache / "ignore.txt")]
        assert len(lines) == 1 and lines[0].startswith("error: "), (command, done.stderr)
        assert "Not a directory" in lines[0] or "not a directory" in lines[0].lower(), lines


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

    # The timed-out bundle is retried once, then remembered. The retry probes nothing but the
    # bundle built to hang: its timeout only sets how long we wait for it to hang again.
    again = run(cache, *args[:-2], "--timeout", "1").stdout
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


def test_status_after_a_no_change_scan_shows_the_catalogue_not_zero(
    real_plugins: Path, tmp_path: Path
) -> None:
    folder = tmp_path / "plugins"
    folder.mkdir()
    (folder / "ZamComp.vst3").symlink_to(real_plugins / "ZamComp.vst3")
    for _ in range(2):  # The second scan finds nothing new.
        run(tmp_path / "cache", "scan", "--folder", str(folder), "--only", "--json")
    shown = run(tmp_path / "cache", "status").stdout
    assert "Catalogue: 1 plugins in 1 bundles (1 ok)" in shown
    assert ": 1 found, 0 probed, 1 unchanged, 0 ignored, 0 kept, 0 removed" in shown


# -- scans in the CLI's own process (issue 13) ------------------------------------------------

# Fields that differ between any two scans of the same plugins: when, and how long.
PER_SCAN = {"scanId", "durationMs", "scannedAt", "probeMs"}


def _without_timing(record: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in record.items() if key not in PER_SCAN}


def test_scan_in_process_answers_as_the_sidecar_does(real_plugins: Path, tmp_path: Path) -> None:
    from pluginary.client import Client

    folder = tmp_path / "plugins"
    folder.mkdir()
    for name in ("ZamComp", "ZamVerb", "DragonflyHallReverb"):  # ok, failed, ok
        (folder / f"{name}.vst3").symlink_to(real_plugins / f"{name}.vst3")
    ours, theirs = tmp_path / "cli-cache", tmp_path / "sidecar-cache"
    args = ("scan", "--folder", str(folder), "--only", "--workers", "2", "--json")
    by_cli = json.loads(run(ours, *args).stdout)
    with Client(cache_dir=theirs) as sidecar:
        by_sidecar = sidecar.scan([folder], only_folders=True, workers=2)
        listed = sidecar.query_all()
        records = {p["id"]: sidecar.plugin(p["id"]) for p in listed}
    assert _without_timing(by_cli) == _without_timing(by_sidecar)
    assert (by_cli["discovered"], by_cli["ok"], by_cli["failed"]) == (3, 2, 1)
    assert json.loads(run(ours, "list", "--json").stdout) == {p["id"]: p for p in listed}
    for ident, record in records.items():
        shown = json.loads(run(ours, "show", ident, "--json").stdout)
        assert _without_timing(shown) == _without_timing(record)


def test_a_no_change_scan_starts_no_server_and_no_bar(real_plugins: Path, tmp_path: Path) -> None:
    folder = tmp_path / "plugins"
    folder.mkdir()
    (folder / "ZamComp.vst3").symlink_to(real_plugins / "ZamComp.vst3")
    cache = tmp_path / "cache"
    args = ["--cache-dir", str(cache), "scan", "--folder", str(folder), "--only", "--json"]
    subprocess.run([PLUGINARY, *args], check=True, capture_output=True, timeout=300)
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "pluginary", *args],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert (summary["probed"], summary["unchanged"]) == (0, 1)
    imported = {line.split("|")[-1].strip() for line in done.stderr.splitlines()}
    assert "pluginary.scanner.engine" in imported  # The engine ran here...
    for heavy in ("pluginary.client", "pygls", "lsprotocol", "rich.progress"):
        assert heavy not in imported, heavy  # ...with no server, and nothing to show a bar for.


def test_piped_show_is_plain_and_never_wrapped(scanned: Path) -> None:
    ident = next(i for i in json.loads(run(scanned, "list", "--json").stdout) if "zamcomp." in i)
    record = json.loads(run(scanned, "show", ident, "--json").stdout)
    done = subprocess.run(
        [PLUGINARY, "--cache-dir", str(scanned), "show", ident],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "COLUMNS": "30"},  # Narrow: a table would have to wrap.
    )
    lines = done.stdout.splitlines()
    assert lines[0] == f"ZamComp  ({ident})" and "  Vendor:    Damien Zammit" in lines
    header = lines.index("Parameters") + 1
    columns = ["Key", "Name", "Units", "Range", "Default", "Values", "Texts (0 .. 1)"]
    assert lines[header].split("\t") == columns
    rows = [line.split("\t") for line in lines[header + 1 :]]
    assert [row[0] for row in rows] == [p["key"] for p in record["parameters"]]
    assert all(len(row) == 7 for row in rows)


def test_show_on_a_terminal_is_a_table(scanned: Path) -> None:
    ident = next(i for i in json.loads(run(scanned, "list", "--json").stdout) if "zamcomp." in i)
    shown = _on_a_terminal(scanned, 150, "show", ident)
    text = re.sub(r"\x1b\[[0-9;?]*[a-zA-Z]", "", shown.decode())
    assert "\t" not in text and "Parameters" in text and "Threshold" in text
    assert "  Channels:  1" in text.replace("\r\n", "\n")


def test_a_piped_summary_keeps_long_lines_whole(real_plugins: Path, tmp_path: Path) -> None:
    folder = tmp_path / ("a-long-folder-name-" * 6)
    folder.mkdir()
    (folder / "ZamVerb.vst3").symlink_to(real_plugins / "ZamVerb.vst3")  # Fails to load.
    out = run(tmp_path / "cache", "scan", "--folder", str(folder), "--only").stdout
    failed = [line for line in out.splitlines() if line.startswith("  failed ")]
    assert len(failed) == 1 and str(folder / "ZamVerb.vst3") in failed[0]


def test_killing_a_scanning_cli_leaves_no_process_and_a_resumable_scan(
    misbehaving_plugins: dict[str, Path], tmp_path: Path
) -> None:
    # The command runs the engine itself: its death must take the fork server and every probe
    # with it, as a sidecar's does.
    folder = tmp_path / "plugins"
    shutil.copytree(misbehaving_plugins["hang"], folder / "hang.vst3", symlinks=True)
    cache = tmp_path / "cache"
    mark = f"PLUGINARY_TEST_CLI={os.getpid()}-{id(folder)}"
    key, value = mark.split("=")
    # A timeout longer than it takes to see the probe and kill the command.
    args = ["scan", "--folder", str(folder), "--only", "--timeout", "10"]
    scan = subprocess.Popen(
        [PLUGINARY, "--cache-dir", str(cache), *args],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, key: value},
    )
    wait_until(
        lambda: any(b.endswith("hang.vst3") for b in running_bundles(cache)),
        "the hanging plugin is being probed",
        timeout=60,
    )
    # The command, its fork server and the probe (which the journal may name a moment early).
    wait_until(lambda: len(processes_with_env(mark)) >= 3, "the probe started", timeout=60)
    scan.kill()
    scan.wait(timeout=60)
    wait_until(lambda: not processes_with_env(mark), "every process of the scan gone", 60)
    interrupted = json.loads(run(cache, "status", "--json").stdout)["interrupted"]
    assert interrupted is not None and interrupted["total"] == 1
    finished = json.loads(run(cache, "resume", "--json").stdout)
    assert finished["timedOut"] == 1


def test_search_finds_words_inside_words_and_nothing_for_no_words(scanned: Path) -> None:
    def names(text: str) -> set[str]:
        listed = json.loads(run(scanned, "list", "--text", text, "--json").stdout)
        return {p["name"] for p in listed.values()}

    assert {"ZamComp", "ZamCompX2", "ZaMultiComp", "ZaMultiCompX2"} <= names("comp")
    assert "ZamEQ2" in names("eq") and "ZamEQ2" in names("EQ2")
    for nothing in ("*", "(", '"', "\U0001f39b", " "):  # Nothing to search for: no match.
        assert names(nothing) == set(), nothing
    assert run(scanned, "list", "--text", "*").stderr.startswith("No plugins match.")
