"""Each editor host's own test suite, run against the real sidecar and the real plugins.

The suites live beside their hosts (``editors/*/``) and read their setup from the environment:
``PLUGINARY_TEST_COMMAND`` (the sidecar's command, a JSON array), ``PLUGINARY_TEST_PLUGINS``
(the real plugin folder) and ``PLUGINARY_TEST_HANG`` (a folder whose one bundle hangs forever,
to keep a scan running while it is cancelled). Each suite uses its own temporary cache folder.
A suite is skipped only when its editor is not installed (``scripts/test`` installs them).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from native_bundles import build_bundle

EDITORS = Path(__file__).resolve().parent.parent / "editors"

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def host_env(real_plugins: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    env = {
        **os.environ,
        "PLUGINARY_TEST_COMMAND": json.dumps([sys.executable, "-m", "pluginary", "serve"]),
        "PLUGINARY_TEST_PLUGINS": str(real_plugins),
        "PLUGINARY_TEST_PYTHON": sys.executable,
        # The suites pass their own cache folders; this one catches anything that would not.
        "PLUGINARY_CACHE_DIR": str(tmp_path_factory.mktemp("host-cache")),
    }
    if sys.platform.startswith("linux"):
        env["PLUGINARY_TEST_HANG"] = str(build_bundle("hang").parent)
    return env


def run_suite(command: list[str], cwd: Path, env: dict[str, str]) -> str:
    """Run one suite; its output, or a failure showing it."""
    done = subprocess.run(
        command, cwd=cwd, env=env, capture_output=True, text=True, timeout=150, check=False
    )
    output = done.stdout + done.stderr
    if done.returncode != 0:
        pytest.fail(f"{' '.join(command)} exited with {done.returncode}:\n{output[-8000:]}")
    return output


def require(tool: str) -> str:
    path = shutil.which(tool)
    if path is None:
        pytest.skip(f"{tool} is not installed (scripts/test installs it)")
    return path


def test_vscode(host_env: dict[str, str]) -> None:
    npm = require("npm")
    vscode = EDITORS / "vscode"
    if not (vscode / "node_modules").is_dir():
        pytest.fail(
            "editors/vscode/node_modules is missing: run `npm ci` there (scripts/test does)"
        )
    output = run_suite([npm, "test", "--silent"], vscode, host_env)
    assert re.search(r"^\S+ fail 0$", output, re.M), output
    assert re.search(r"^\S+ skipped 0$", output, re.M), output


def test_vscode_lockfile_names_no_registry() -> None:
    lock = json.loads((EDITORS / "vscode" / "package-lock.json").read_text())
    resolved = [name for name, entry in lock["packages"].items() if "resolved" in entry]
    assert resolved == [], "package-lock.json names registry URLs (see editors/vscode/.npmrc)"
    assert "://" not in (EDITORS / "vscode" / "package-lock.json").read_text()


def test_neovim(host_env: dict[str, str]) -> None:
    nvim = require("nvim")
    version = subprocess.run([nvim, "--version"], capture_output=True, text=True, check=True)
    assert re.match(r"NVIM v0\.([7-9]|\d\d)\.", version.stdout), version.stdout
    suite = EDITORS / "neovim" / "tests" / "run.lua"
    command = [nvim, "--headless", "-u", "NONE", "-i", "NONE", "-n", "-c", f"luafile {suite}"]
    output = run_suite(command, EDITORS / "neovim", host_env)
    assert re.search(r"^\d+ tests, 0 failed$", output, re.M), output
    assert "# skip" not in output, output


def test_emacs(host_env: dict[str, str]) -> None:
    emacs = require("emacs")
    package = EDITORS / "emacs"
    # Byte-compiling with warnings as errors keeps the package clean.
    compile_command = [
        emacs,
        "--batch",
        "-Q",
        "-L",
        str(package),
        "--eval",
        "(setq byte-compile-error-on-warn t)",
        "--eval",
        '(unless (byte-compile-file "pluginary.el") (kill-emacs 1))',
    ]
    try:
        run_suite(compile_command, package, host_env)
    finally:
        (package / "pluginary.elc").unlink(missing_ok=True)
    tests = package / "test" / "pluginary-tests.el"
    command = [emacs, "--batch", "-Q", "-L", str(package), "-l", str(tests)]
    output = run_suite([*command, "-f", "ert-run-tests-batch-and-exit"], package, host_env)
    assert re.search(r"^Ran (\d+) tests, \1 results as expected, 0 unexpected", output, re.M), (
        output
    )
    assert "skipped" not in output, output
