"""The benchmarks cannot rot: ``bench/run --smoke`` runs every measurement at a tiny size.

It asserts that the table comes out with every row and a figure in it, never a timing target:
the smoke sizes (4 real bundles, 12 copies, 500 catalogued plugins) measure nothing, and CI
machines are shared and noisy. ``bench/run`` (the full size) is what README.md quotes.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

pytestmark = [pytest.mark.worker, pytest.mark.e2e]

ROOT = Path(__file__).resolve().parent.parent
# Issue 5's measurements 1-7: one row each, some split by baseline, query kind or moment; and
# issue 8's price of the audio checks; issue 13's reads from the command line.
ROWS = ["1a", "1b", "1c", "2a", "2b", "2c", "3", "4a", "4b", "4c", "4d", "4e", "4f", "4g", "4h"]
ROWS += ["5", "6a", "6b", "7a", "7b", "8", "9a", "9b", "9c", "10", "11"]
ROWS += ["12a", "12b", "12c", "12d", "12e"]
FIGURE = re.compile(r"\d+(\.\d+)?")


def table(output: str) -> dict[str, list[str]]:
    """The markdown table's rows by their first cell, each row's cells after it."""
    rows = {}
    for line in output.splitlines():
        if line.startswith("| ") and not line.startswith(("| #", "| ---")):
            cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
            rows[cells[0]] = cells[1:]
    return rows


def test_bench_smoke_prints_every_row(real_plugins: Path, tmp_path: Path) -> None:
    raw = tmp_path / "raw.json"
    done = subprocess.run(
        [str(ROOT / "bench" / "run"), "--smoke", "--json", str(raw)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.startswith("Machine: "), done.stdout
    rows = table(done.stdout)
    assert list(rows) == ROWS, done.stdout
    for key, (label, _ours, _baseline, result, target, met) in rows.items():
        assert label and FIGURE.search(result), f"row {key} has no figure: {rows[key]}"
        assert met in ("yes", "**no**", "—"), f"row {key}: {met!r}"
        assert (met == "—") == (target == ""), f"row {key}: target {target!r}, met {met!r}"
    assert raw.exists()
