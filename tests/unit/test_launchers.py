"""Which probe launcher a scan uses (issue 14): the fork server on Linux, the pool elsewhere."""

from __future__ import annotations

import pytest

from pluginary.scanner.launchers import LAUNCHER_ENV, launcher_kind


@pytest.mark.parametrize(
    ("system", "environ", "kind"),
    [
        ("linux", {}, "forkserver"),
        ("darwin", {}, "pool"),
        ("win32", {}, "pool"),
        ("linux", {LAUNCHER_ENV: "pool"}, "pool"),
        ("darwin", {LAUNCHER_ENV: "forkserver"}, "forkserver"),
        ("linux", {LAUNCHER_ENV: ""}, "forkserver"),  # Empty: not set.
    ],
)
def test_the_launcher_by_os_and_choice(system: str, environ: dict[str, str], kind: str) -> None:
    assert launcher_kind(environ, system) == kind


def test_a_wrong_choice_names_the_variable_and_the_choices() -> None:
    with pytest.raises(ValueError, match=f"{LAUNCHER_ENV} must be one of forkserver, pool"):
        launcher_kind({LAUNCHER_ENV: "threads"}, "linux")
