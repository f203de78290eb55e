"""``pluginary ignore remove``, and the help every command and group prints, run as a user would.

The command runs as ``python -m pluginary`` (this interpreter, its environment): the sources
under test, whether or not they are the installed ones.
"""

from __future__ import annotations

import ctypes
import os
import re
import stat
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import click
import pytest

from pluginary.cli import main

pytestmark = pytest.mark.e2e

PLUGINARY = [sys.executable, "-m", "pluginary"]

LIST = (
    "# Pluginary ignore list\n"
    "\n"
    "# why: it hangs\n"
    "**/Crashy*.vst3   # since 1.2\n"
    "Multi.vst3\n"
    "Multi.vst3 :: Bad One\n"
    "Multi.vst3 :: Other\n"
)


def run(
    cache: Path,
    *args: str,
    check: int | None = 0,
    columns: int = 200,
    preexec_fn: Callable[[], None] | None = None,
) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [*PLUGINARY, "--cache-dir", str(cache), *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "COLUMNS": str(columns)},
        preexec_fn=preexec_fn,
    )
    if check is not None:
        assert done.returncode == check, done.stderr
    return done


def one_error_line(done: subprocess.CompletedProcess[str], but: str = "") -> str:
    """The one line a failure prints (status 1, no traceback), ``but`` (a line) aside."""
    assert done.returncode == 1, done.stderr
    lines = [line for line in done.stderr.splitlines() if line != but]
    assert len(lines) == 1 and lines[0].startswith("error: "), done.stderr
    return lines[0]


@pytest.fixture
def cache(tmp_path: Path) -> Path:
    folder = tmp_path / "cache"
    folder.mkdir()
    (folder / "ignore.txt").write_text(LIST, encoding="utf-8")
    return folder


def test_remove_takes_one_entry_and_keeps_the_rest(cache: Path) -> None:
    listed = cache / "ignore.txt"
    listed.chmod(0o640)
    done = run(cache, "ignore", "remove", "Multi.vst3", "--class", "Bad One")
    assert done.stderr == f"Removed 'Multi.vst3 :: Bad One' from {listed}\n"
    assert listed.read_text(encoding="utf-8") == LIST.replace("Multi.vst3 :: Bad One\n", "")
    # The line as `ignore list` prints it names the entry too; the bundle's own entry stays.
    run(cache, "ignore", "remove", "Multi.vst3 :: Other")
    assert run(cache, "ignore", "list").stdout.splitlines() == ["**/Crashy*.vst3", "Multi.vst3"]
    run(cache, "ignore", "remove", "**/Crashy*.vst3")
    assert listed.read_text(encoding="utf-8") == (
        "# Pluginary ignore list\n\n# why: it hangs\nMulti.vst3\n"
    )
    assert stat.S_IMODE(listed.stat().st_mode) == 0o640
    assert sorted(os.listdir(cache)) == ["ignore.txt"]  # No temporary file left behind.


def test_removing_what_is_not_there_names_the_file_and_suggests(cache: Path) -> None:
    listed = cache / "ignore.txt"
    line = one_error_line(run(cache, "ignore", "remove", "**/crashy*.vst3", check=None))
    assert line == (
        f"error: '**/crashy*.vst3' is not in the ignore list ({listed});"
        " did you mean '**/Crashy*.vst3'?"
    )
    # A class of a bundle whose other entries are there: those are offered.
    done = run(cache, "ignore", "remove", "Multi.vst3", "--class", "Bad", check=None)
    line = one_error_line(done)
    assert "did you mean 'Multi.vst3', 'Multi.vst3 :: Bad One', 'Multi.vst3 :: Other'" in line
    line = one_error_line(run(cache, "ignore", "remove", "/elsewhere/x.vst3", check=None))
    assert line.endswith(f"is not in the ignore list ({listed})")
    assert listed.read_text(encoding="utf-8") == LIST
    empty = cache.parent / "empty"
    line = one_error_line(run(empty, "ignore", "remove", "x.vst3", check=None))
    assert "is not in the ignore list" in line and not empty.exists()


def test_what_can_be_no_entry_is_a_usage_error(cache: Path) -> None:
    for args in (["#x.vst3"], [""], ["x.vst3", "--class", "A # b"], ["a :: b", "--class", "c"]):
        done = run(cache, "ignore", "remove", *args, check=2)
        assert "Invalid value for PATTERN" in done.stderr and "Traceback" not in done.stderr
    assert (cache / "ignore.txt").read_text(encoding="utf-8") == LIST


def test_a_list_that_cannot_be_read_is_one_line(cache: Path) -> None:
    listed = cache / "ignore.txt"
    listed.write_text("/ok.vst3\n:: Synth\n", encoding="utf-8")
    for command in (["list"], ["remove", "/ok.vst3"]):
        # `ignore list` names the file first, on a line of its own.
        line = one_error_line(run(cache, "ignore", *command, check=None), but=str(listed))
        # The file and line, once (`ignore list` used to print the file's name twice).
        assert line == f"error: {listed}:2: no bundle pattern before '::'", command
    listed.unlink()
    listed.mkdir()
    line = one_error_line(run(cache, "ignore", "remove", "/ok.vst3", check=None))
    assert line == f"error: the ignore list cannot be used: Is a directory ({listed})"


def test_a_cache_inside_a_file_is_one_line(tmp_path: Path) -> None:
    blocker = tmp_path / "a file"
    blocker.write_text("not a folder")
    cache = blocker / ("a-long-folder-name-" * 6)  # Longer than 80 columns: no hard wrap.
    line = one_error_line(run(cache, "ignore", "remove", "x.vst3", check=None, columns=80))
    assert "Not a directory" in line and str(cache / "ignore.txt") in line


def without_dac_override() -> None:
    """In the child about to exec: give up root's power to ignore file permissions (as
    tests/failsafe/faultkit.py does), so a read-only folder is read-only to it too."""
    libc = ctypes.CDLL(None, use_errno=True)
    for capability in (1, 2, 3):  # CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH, CAP_FOWNER
        if libc.prctl(24, capability, 0, 0, 0) != 0:  # PR_CAPBSET_DROP
            raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP)")


@pytest.fixture
def read_only(cache: Path) -> Iterator[Callable[[Path], None]]:
    """Take write permission from paths of the cache; given back at the end."""
    changed: list[Path] = []

    def make(path: Path) -> None:
        path.chmod(stat.S_IMODE(path.stat().st_mode) & ~0o222)
        changed.append(path)

    yield make
    for path in changed:
        path.chmod(stat.S_IMODE(path.stat().st_mode) | 0o200)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="drops Linux capabilities")
def test_a_read_only_cache_or_list_is_one_line(
    cache: Path, read_only: Callable[[Path], None]
) -> None:
    listed = cache / "ignore.txt"
    as_user = without_dac_override if os.geteuid() == 0 else None
    read_only(cache)
    done = run(cache, "ignore", "remove", "Multi.vst3", check=None, preexec_fn=as_user)
    line = one_error_line(done)
    # The folder is named: the new list is made there.
    assert line == f"error: the ignore list's folder cannot be used: Permission denied ({cache})"
    read_only(listed)
    done = run(cache, "ignore", "remove", "Multi.vst3", check=None, preexec_fn=as_user)
    assert one_error_line(done) == (
        f"error: the ignore list cannot be used: Permission denied ({listed})"
    )
    assert listed.read_text(encoding="utf-8") == LIST
    assert sorted(os.listdir(cache)) == ["ignore.txt"]


# -- help: every listing shows each command's whole first sentence (issue 13) ------------------


def first_sentence(help_text: str) -> str:
    """The first sentence of the first paragraph: up to a '.' before a capital, or all of it."""
    paragraph = " ".join(help_text.split("\n\n")[0].split())
    found = re.search(r"\.(?=\s+[A-Z])", paragraph)
    return paragraph[: found.end()] if found else paragraph


def listed_commands(help_output: str) -> dict[str, str]:
    """The 'Commands:' section of a group's help: name -> its text, wrapped lines joined."""
    section = help_output.split("\nCommands:\n", 1)[1]
    listed: dict[str, list[str]] = {}
    for line in section.splitlines():
        if not line.startswith("  "):
            break
        name, _, text = line.strip().partition("  ")
        if line.startswith("   "):  # A wrapped line of the command above.
            listed[list(listed)[-1]].append(line.strip())
        else:
            listed[name] = [text.strip()]
    return {name: " ".join(parts) for name, parts in listed.items()}


def every_command(
    command: click.Command, path: tuple[str, ...] = ()
) -> Iterator[tuple[tuple[str, ...], click.Command]]:
    yield path, command
    if isinstance(command, click.Group):
        for name, sub in command.commands.items():
            yield from every_command(sub, (*path, name))


@pytest.mark.parametrize("columns", [80, 200])
def test_no_help_cuts_its_text(tmp_path: Path, columns: int) -> None:
    groups = 0
    for path, command in every_command(main):
        shown = run(tmp_path, *path, "--help", columns=columns).stdout
        for line in shown.splitlines():
            # "[ARGS]..." in a usage line means "more of them"; anywhere else, cut text.
            if not line.startswith("Usage:"):
                assert not line.rstrip().endswith("..."), (path, line)
        if isinstance(command, click.Group):
            groups += 1
            expected = {
                name: first_sentence(sub.help or "") for name, sub in command.commands.items()
            }
            assert listed_commands(shown) == expected, path
    assert groups == 2  # pluginary and pluginary ignore: the walk did reach the subgroup.
