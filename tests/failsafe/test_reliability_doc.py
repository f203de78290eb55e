"""``docs/reliability.md`` is the suite's own report: it must list, as tried, every fault."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from ledger import FAULTS, REPORT_ENV

pytestmark = pytest.mark.failsafe

REPORT = Path(__file__).resolve().parents[2] / "docs" / "reliability.md"


def test_the_report_tabulates_every_fault_as_tried() -> None:
    if os.environ.get(REPORT_ENV):
        pytest.skip("the report is being written by this very run")
    text = REPORT.read_text()
    assert REPORT_ENV in text  # It says how it was made.
    for label in FAULTS.values():
        row = re.search(rf"^\| {re.escape(label)} \| (\d+) \|", text, re.MULTILINE)
        assert row is not None, f"{label!r} is not in {REPORT.name}: regenerate it"
        assert int(row.group(1)) > 0, f"{label!r} was not tried when {REPORT.name} was made"
