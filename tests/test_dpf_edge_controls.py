"""Controls for the EdgeCases DPF plugin: pedalboard sees each parameter edge case as intended.

EdgeCases (``tests/dpf/plugin.cpp``, behaviour 5) exists so a parameter describer can be compared
with pedalboard on the awkward cases. These controls ask pedalboard itself, through the oracle's
fresh process (``oracle.py``), and pin what it makes of each case, so a describer test that
agrees with pedalboard is known to have met the edge, not an accidentally plain plugin.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest

from oracle import run_oracle

pytestmark = pytest.mark.worker

# The host's list, in order: DPF's hidden Latency and Current Program, then EdgeIndex.
NAMES = [
    "Latency",
    "Current Program",
    "Enabled",
    "Switch",
    "Toggle",
    "Mode",
    "Slot",
    "Semitones",
    "Pre-Delay",
    "Crossover",
    "Frequency",
    "Level",
    "Level",
    "Mix %",
    "Mix",
    "Q-Factor",
    "Q Factor",
    "Floor",
    "Locked",
    "Meter",
]
KEYS = [
    "latency_frames",
    "current_program",
    "enabled",
    "switch",
    "toggle",
    "mode",
    "slot",
    "semitones",
    "pre_delay",
    "crossover",
    "frequency_hz",
    "level_db",  # Both "Level"s: one key.
    "mix",  # "Mix %" and "Mix" (unit %): one key.
    "q_factor",  # "Q-Factor" and "Q Factor": one key.
    "floor_db",
    "locked",
    "meter_db",
]


@pytest.fixture(scope="module")
def edge(dpf_plugins: dict[str, Path]) -> dict[str, Any]:
    bundle = dpf_plugins["EdgeCases"]
    return run_oracle([bundle])[str(bundle)]


@pytest.fixture(scope="module")
def edge_without_slow_pass(dpf_plugins: dict[str, Path]) -> dict[str, Any]:
    bundle = dpf_plugins["EdgeCases"]
    return run_oracle([bundle], slow_pass=False)[str(bundle)]


def by_key(described: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {p["key"]: p for p in described["parameters"]}


def hosted(described: dict[str, Any], name: str) -> list[dict[str, Any]]:
    return [p for p in described["hosted"] if p["name"] == name]


def test_it_is_a_plain_stereo_pass_through(edge: dict[str, Any]) -> None:
    assert (edge["name"], edge["vendor"]) == ("EdgeCases", "Pluginary Tests")
    assert edge["is_effect"] is True
    assert edge["channels"] == [2] and edge["finite"] is True and edge["latency"] == 0


def test_the_host_lists_every_parameter_duplicate_names_included(edge: dict[str, Any]) -> None:
    assert [p["name"] for p in edge["hosted"]] == NAMES
    first, second = hosted(edge, "Level")
    assert (first["label"], second["label"]) == ("dB", "")


def test_python_keys_merge_duplicates_and_collisions(edge: dict[str, Any]) -> None:
    assert [p["key"] for p in edge["parameters"]] == KEYS
    described = by_key(edge)
    # pedalboard caches its wrappers by name, so the second "Level" is the first one again.
    level = described["level_db"]
    assert (level["name"], level["min"], level["max"], level["units"]) == ("Level", -60, 0, "dB")
    # Name and unit make the key; on a clash the later parameter wins, at the earlier's place.
    mix = described["mix"]
    assert (mix["name"], mix["max"], mix["units"]) == ("Mix", 50, "%")
    q = described["q_factor"]
    assert (q["name"], q["min"], q["max"], q["step"]) == ("Q Factor", 1, 4, 1)


def test_enumerations_long_and_short(edge: dict[str, Any]) -> None:
    described = by_key(edge)
    slot = described["slot"]["values"]
    # DPF caps labels at 255: the rest of the 600 print as numbers, which still makes a str.
    assert described["slot"]["type"] == "str" and len(slot) == 600 and len(set(slot)) == 600
    assert (slot[0], slot[254], slot[255], slot[-1]) == ("Slot 000", "Slot 254", "255", "599")
    assert described["mode"]["type"] == "str"
    assert described["mode"]["values"] == ["Low", "Mid", "High"]
    assert described["current_program"]["values"] == ["Factory"]


def test_booleans_by_label_only(edge: dict[str, Any]) -> None:
    described = by_key(edge)
    enabled = described["enabled"]
    assert (enabled["type"], enabled["min"], enabled["max"], enabled["step"]) == (
        "bool",
        False,
        True,
        1,
    )
    # Without words, a kParameterIsBoolean and a 0..1 integer are 0/1 floats to pedalboard.
    for key in ("switch", "toggle"):
        assert (described[key]["type"], described[key]["min"], described[key]["max"]) == (
            "float",
            0,
            1,
        )
        assert described[key]["step"] == 1
    # DPF sends all three as 1-step parameters, but JUCE's VST3 host never says boolean.
    for name in ("Enabled", "Switch", "Toggle"):
        (parameter,) = hosted(edge, name)
        assert (parameter["boolean"], parameter["steps"]) == (False, 2)


def test_integer_steps(edge: dict[str, Any]) -> None:
    semitones = by_key(edge)["semitones"]
    assert (semitones["type"], semitones["min"], semitones["max"], semitones["step"]) == (
        "float",
        -12,
        12,
        1,
    )
    (parameter,) = hosted(edge, "Semitones")
    assert parameter["steps"] == 25


def test_units_only_in_the_text(edge: dict[str, Any]) -> None:
    described = by_key(edge)
    # DPF's unit is empty: pedalboard infers "ms" from the labels, too late for the key.
    (parameter,) = hosted(edge, "Pre-Delay")
    assert parameter["label"] == ""
    delay = described["pre_delay"]
    assert (delay["type"], delay["min"], delay["max"], delay["units"]) == ("float", 1, 20, "ms")
    assert delay["step"] is None  # Uneven steps (1, 2, 5, 10, 20 ms).
    # "1 kHz" is read as 1000, and the unit left over is "Hz".
    crossover = described["crossover"]
    assert (crossover["min"], crossover["max"], crossover["units"]) == (250, 2000, "Hz")
    assert edge["samples"]["crossover"] == ["250 Hz", "500 Hz", "1 kHz", "1 kHz", "2 kHz"]
    # A unit in DPF's units field instead: plain "%f" texts, and the key carries it.
    frequency = described["frequency_hz"]
    assert (frequency["units"], frequency["text"]) == ("Hz", "440.000000")


def test_a_minimum_that_reads_minus_inf(edge: dict[str, Any]) -> None:
    floor = by_key(edge)["floor_db"]
    assert floor["min"] == -math.inf and floor["max"] == 0 and floor["units"] == "dB"
    assert edge["samples"]["floor_db"][:2] == ["-inf", "-45.000000"]


def test_the_slow_pass_loads_the_program(
    edge: dict[str, Any], edge_without_slow_pass: dict[str, Any]
) -> None:
    changed = {"enabled": "Off", "mode": "High", "semitones": "7"}
    defaults = {"enabled": "On", "mode": "Mid", "semitones": "0"}
    # pedalboard sets "Current Program" (its texts are all "Factory", so it looks broken and
    # gets the slow pass), DPF loads the program: load_plugin returns the program's values.
    assert {key: by_key(edge)[key]["text"] for key in changed} == changed
    assert float(by_key(edge)["level_db"]["text"]) == pytest.approx(-6, abs=1e-4)
    (semitones,) = hosted(edge, "Semitones")
    assert semitones["raw"] != semitones["default_raw"] == 0.5
    # Without the slow pass nothing loads it, and the values are DPF's defaults.
    quiet = by_key(edge_without_slow_pass)
    assert {key: quiet[key]["text"] for key in defaults} == defaults
    assert float(quiet["level_db"]["text"]) == 0
    # Only current values move: the descriptions themselves are the same.
    strip = [{**p, "text": None} for p in edge["parameters"]]
    assert strip == [{**p, "text": None} for p in edge_without_slow_pass["parameters"]]


def test_non_automatable_and_output_parameters_are_listed(edge: dict[str, Any]) -> None:
    automatable = {p["name"]: p["automatable"] for p in edge["hosted"][2:]}
    assert {name for name, flag in automatable.items() if not flag} == {"Locked", "Meter"}
    # DPF sends the output as read-only; JUCE lists it like any other parameter.
    meter = by_key(edge)["meter_db"]
    assert (meter["min"], meter["max"], meter["text"]) == (-60, 0, "-60.000000")
    assert by_key(edge)["locked"]["text"] == "0.250000"
