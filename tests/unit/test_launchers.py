"""Which probe launcher a scan uses (issue 14): the fork server on Linux, the pool elsewhere."""

from __future__ import annotations

from pathlib import Path

import pytest

from pluginary.scanner.launchers import (
    LAUNCHER_ENV,
    RECYCLE_ENV,
    default_launcher,
    launcher_kind,
    launcher_works,
    recycle_after,
)
from pluginary.scanner.pool import RECYCLE_AFTER, WorkerPoolLauncher


@pytest.mark.parametrize(
    ("system", "environ", "kind"),
    [
        ("linux", {}, "forkserver"),
        ("darwin", {}, "pool"),
        ("win32", {}, "pool"),
        ("linux", {LAUNCHER_ENV: "pool"}, "pool"),
        ("linux", {LAUNCHER_ENV: ""}, "forkserver"),  # Empty: not set.
    ],
)
def test_the_launcher_by_os_and_choice(system: str, environ: dict[str, str], kind: str) -> None:
    assert launcher_kind(environ, system) == kind


def test_a_wrong_choice_names_the_variable_and_the_choices() -> None:
    with pytest.raises(ValueError, match=f"{LAUNCHER_ENV} must be one of forkserver, pool"):
        launcher_kind({LAUNCHER_ENV: "threads"}, "linux")


@pytest.mark.parametrize("system", ["darwin", "win32"])
def test_the_fork_server_is_refused_off_linux(system: str) -> None:
    with pytest.raises(ValueError, match=f"{LAUNCHER_ENV}=forkserver works only on Linux"):
        launcher_kind({LAUNCHER_ENV: "forkserver"}, system)


@pytest.mark.parametrize(("raw", "value"), [("", RECYCLE_AFTER), ("1", 1), ("500", 500)])
def test_recycling_is_set_in_probes(raw: str, value: int) -> None:
    assert recycle_after({RECYCLE_ENV: raw}) == value


@pytest.mark.parametrize("raw", ["0", "-3", "2.5", "many", " "])
def test_a_wrong_recycling_names_the_variable(raw: str) -> None:
    with pytest.raises(ValueError, match=f"{RECYCLE_ENV} must be a whole number") as caught:
        recycle_after({RECYCLE_ENV: raw})
    assert repr(raw) in str(caught.value)


def test_wrong_settings_are_said_and_the_defaults_used(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(LAUNCHER_ENV, "pool")
    monkeypatch.setenv(RECYCLE_ENV, "never")
    said: list[str] = []
    launcher = default_launcher(said.append)(tmp_path)
    assert isinstance(launcher, WorkerPoolLauncher)
    assert launcher.recycle_after == RECYCLE_AFTER
    wrong = f"{RECYCLE_ENV} must be a whole number of probes, 1 or more, not 'never'"
    assert said == [f"{wrong}; using {RECYCLE_AFTER}"]


@pytest.mark.parametrize(
    ("kind", "system", "works"),
    [("pool", "win32", True), ("forkserver", "linux", True), ("forkserver", "darwin", False)],
)
def test_a_hosts_launcher_setting_is_checked_by_the_launchers_rule(
    kind: str, system: str, works: bool
) -> None:
    assert launcher_works(kind, system) is works
    assert launcher_works("threads", system) is False
