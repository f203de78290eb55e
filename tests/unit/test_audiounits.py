from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest

from pluginary.scanner.audiounits import (
    AudioUnit,
    AudioUnitListError,
    list_audio_units,
    parse_auval_listing,
)

LISTING = (Path(__file__).resolve().parent.parent / "data" / "auval-a.txt").read_text()


def _by_name(units: list[AudioUnit]) -> dict[str, AudioUnit]:
    return {unit.name: unit for unit in units}


def test_recorded_listing() -> None:
    units = parse_auval_listing(LISTING)
    assert len(units) == 37
    assert units[0] == AudioUnit("aufx", "bpas", "appl", "Apple", "AUBandpass", "effect")
    assert _by_name(units)["Pro-R"] == AudioUnit(
        "aufx", "Rvb1", "FabF", "FabFilter", "Pro-R", "effect"
    )


def test_codes_keep_their_spaces() -> None:
    units = _by_name(parse_auval_listing(LISTING))
    assert units["DLSMusicDevice"] == AudioUnit(
        "aumu", "dls ", "appl", "Apple", "DLSMusicDevice", "instrument"
    )
    assert units["Pianoteq 8"].subtype == "Pt8 "
    assert units["AUDefaultOutput"].subtype == "def "
    assert units["Kontakt 8"].manufacturer == "-NI-"


def test_names_with_dashes_and_colons() -> None:
    units = _by_name(parse_auval_listing(LISTING))
    assert units["bx_console SSL 4000 E - Channel Strip"].vendor == "Plugin Alliance"
    assert units["TDR Nova: GE"].vendor == "Tokyo Dawn Labs"
    assert units["Name with a  -  dash in it"].vendor == "Odd Vendor"
    assert units["ValhallaVintageVerb"].vendor == "Valhalla DSP, LLC"
    assert units["NoVendorName"].vendor == ""
    # A plugin's own chatter glued onto its line cannot be told apart; the unit still counts.
    assert units["OpusLOGGER NOT INITIALIZED:"].vendor == "East West"


def test_kinds() -> None:
    units = _by_name(parse_auval_listing(LISTING))
    assert units["Surge XT"].kind == "instrument"
    assert units["Surge XT Effects"].kind == "effect"
    assert units["ReaDelay (MIDI FX)"].kind == "effect"  # aumf: a music effect.
    for name in ("Arpeggiator", "AUAudioFilePlayer", "AUMixer3D", "AUConverter", "AUHAL"):
        assert units[name].kind is None


def test_other_lines_are_ignored() -> None:
    noise = "\n".join(
        [
            "    AU Validation Tool",
            "    Version: 1.10.0 ",
            "Copyright 2003-2019, Apple Inc. All Rights Reserved.",
            "--------------------------------------------------",
            "Specify -h (-help) for command options",
            "Log file at: [/Library/Application Support/East West/Opus/log/Opus.log]",
            "- - - - - - - - - - - - - - - - - - - -",
            "aufx short appl -  Apple: codes too wide",
            "aufx bpa appl  -  Apple: codes too narrow",
            "aufx bpas appl  -  ",
            "aufx bpas appl  -  Apple: ",
            "",
        ]
    )
    assert parse_auval_listing(noise) == []
    assert len(parse_auval_listing(noise + "\r\naufx bpas appl  -  Apple: AUBandpass\r\n")) == 1


class _Run:
    def __init__(self, result: subprocess.CompletedProcess[str] | BaseException) -> None:
        self.result = result
        self.calls: list[tuple[Any, dict[str, Any]]] = []

    def __call__(self, args: Any, **kwargs: Any) -> subprocess.CompletedProcess[str]:
        self.calls.append((args, kwargs))
        if isinstance(self.result, BaseException):
            raise self.result
        return self.result


def test_list_runs_auval_on_macos() -> None:
    run = _Run(subprocess.CompletedProcess(["auval", "-a"], 0, LISTING, ""))
    units = list_audio_units(run, system="Darwin")
    assert units == parse_auval_listing(LISTING)
    [(args, kwargs)] = run.calls
    assert args == ["auval", "-a"]
    assert kwargs["timeout"] > 0 and kwargs["capture_output"] is True


def test_list_is_empty_elsewhere() -> None:
    run = _Run(AssertionError("auval must not run"))
    assert list_audio_units(run, system="Linux") == []
    assert list_audio_units(run, system="Windows") == []
    assert run.calls == []


@pytest.mark.parametrize(
    ("outcome", "message"),
    [
        (subprocess.TimeoutExpired(["auval", "-a"], 5), "timed out"),
        (FileNotFoundError(2, "No such file or directory", "auval"), "cannot run auval"),
        (subprocess.CompletedProcess(["auval", "-a"], 1, "", "boom\n"), "exited with 1: boom"),
    ],
)
def test_failures_raise_rather_than_look_empty(
    outcome: subprocess.CompletedProcess[str] | BaseException, message: str
) -> None:
    with pytest.raises(AudioUnitListError, match=message):
        list_audio_units(_Run(outcome), system="Darwin", timeout=5)
