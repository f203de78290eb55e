"""The fast describer against pedalboard's own path: every real and DPF test plugin, each field.

Each bundle is described twice, each time in a fresh process (``describe_one.py``): with the fast
describer and with pedalboard's own path forced. Everything the probe records must be JSON-equal
(floats exact, NaN-safe: the JSON texts are compared), and so must pedalboard's wrapper view and
every native parameter's raw value and text afterwards. Bundles that fail to load must fail with
the same error. ``discrete`` is the one field that differs on purpose (pedalboard's is wrong,
issue 15): it is compared with the native step count instead.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from describe_one import run
from dpf_bundles import PLUGINS
from pluginary.scanner.checks import CONTINUOUS_STEPS
from pluginary.scanner.describer import PROVEN_VERSIONS

pytestmark = pytest.mark.worker


def _differences(fast: dict[str, Any], slow: dict[str, Any]) -> list[str]:
    """Where the two describers disagree, as readable lines (empty when they agree)."""
    fast_classes, slow_classes = fast.get("classes"), slow.get("classes")
    if fast_classes is None or slow_classes is None:
        return [] if _json(fast) == _json(slow) else [f"{_json(fast)[:300]} != {_json(slow)[:300]}"]
    if [c["class"] for c in fast_classes] != [c["class"] for c in slow_classes]:
        return ["different classes"]
    found = []
    for ours, theirs in zip(fast_classes, slow_classes, strict=True):
        for key in ("error", "type", "wrappers", "natives"):
            if _json(ours.get(key)) != _json(theirs.get(key)):
                found.append(f"{ours['class']}: {key} differs")
        if "record" in ours or "record" in theirs:
            found += _record_differences(ours["class"], ours.get("record"), theirs.get("record"))
    return found


def _record_differences(name: str, ours: Any, theirs: Any) -> list[str]:
    if ours is None or theirs is None:
        return [f"{name}: only one describer has a record"]
    ours, theirs = dict(ours), dict(theirs)
    ours_parameters, theirs_parameters = ours.pop("parameters"), theirs.pop("parameters")
    found = [] if _json(ours) == _json(theirs) else [f"{name}: plugin fields differ"]
    if len(ours_parameters) != len(theirs_parameters):
        return [*found, f"{name}: {len(ours_parameters)} != {len(theirs_parameters)} parameters"]
    for mine, pedalboards in zip(ours_parameters, theirs_parameters, strict=True):
        for parameter in (mine, pedalboards):
            # JUCE's definition, from the native step count (pedalboard's is_discrete is not).
            assert parameter["discrete"] == (parameter["num_steps"] != CONTINUOUS_STEPS)
        rest = {k: v for k, v in mine.items() if k != "discrete"}
        pedalboard_rest = {k: v for k, v in pedalboards.items() if k != "discrete"}
        if _json(rest) != _json(pedalboard_rest):
            keys = [k for k in rest if _json(rest[k]) != _json(pedalboard_rest.get(k))]
            found.append(f"{name}: parameter {mine['index']} {mine['name']!r} differs in {keys}")
    return found


def _json(value: Any) -> str:
    return json.dumps(value, sort_keys=True)


def _compare(bundle: Path) -> tuple[int, list[str]]:
    """The parameters compared on ``bundle`` and the differences found."""
    fast, slow = run(bundle, "fast"), run(bundle, "pedalboard")
    assert "exit" not in fast and "exit" not in slow, (fast, slow)
    import pedalboard.version

    for ran, kind in ((fast, "fast"), (slow, "pedalboard")):
        for described in ran.get("classes", []):
            if "describer" in described:
                proven = pedalboard.version.__version__ in PROVEN_VERSIONS
                assert described["describer"] == (kind if proven else "pedalboard")
                # The rewritten hot spots ran (else this proves nothing about them).
                rewritten = [
                    "first pass",
                    "kept tails",
                    "compiled sweep",
                    "compiled slow reads",
                    "parameter finder",
                ]
                assert described["hotspots"] == (rewritten if kind == "fast" and proven else [])
    count = sum(len((c.get("record") or {}).get("parameters", [])) for c in fast.get("classes", []))
    return count, [f"{bundle.name}: {line}" for line in _differences(fast, slow)]


def test_fast_describer_agrees_with_pedalboard_on_every_real_plugin(real_plugins: Path) -> None:
    bundles = sorted(real_plugins.glob("*.vst3"))
    assert bundles
    compared, differences = 0, []
    for bundle in bundles:
        count, found = _compare(bundle)
        compared += count
        differences += found
    assert compared > 0
    assert differences == []


@pytest.mark.parametrize("name", sorted(PLUGINS))
def test_fast_describer_agrees_with_pedalboard_on_each_dpf_plugin(
    name: str, dpf_plugins: dict[str, Path]
) -> None:
    count, differences = _compare(dpf_plugins[name])
    assert count > 0
    assert differences == []
