"""choose(): the fast describer only on a pedalboard it was proven against, unless forced off."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from pluginary.scanner.describer import DESCRIBER_ENV, PROVEN_VERSIONS, choose

INTERNALS = SimpleNamespace(
    AudioProcessorParameter=object,
    get_text_for_raw_value=print,
    _PythonExternalPluginMixin=object,
    _AVAILABLE_PLUGIN_CLASSES=[],
)


def fake_pedalboard(version: str, internals: object = INTERNALS) -> SimpleNamespace:
    return SimpleNamespace(version=SimpleNamespace(__version__=version), _pedalboard=internals)


@pytest.fixture(autouse=True)
def _no_forcing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(DESCRIBER_ENV, raising=False)


def test_a_proven_pedalboard_gets_the_fast_describer() -> None:
    assert choose(fake_pedalboard(PROVEN_VERSIONS[0])) == "fast"


@pytest.mark.parametrize("version", ["0.9.25", "0.9.27", "1.0.0", ""])
def test_any_other_version_gets_pedalboards_own_path(version: str) -> None:
    assert choose(fake_pedalboard(version)) == "pedalboard"


def test_missing_internals_get_pedalboards_own_path() -> None:
    assert choose(fake_pedalboard(PROVEN_VERSIONS[0], SimpleNamespace())) == "pedalboard"


def test_pedalboards_path_can_be_forced(monkeypatch: pytest.MonkeyPatch) -> None:
    assert choose(fake_pedalboard(PROVEN_VERSIONS[0]), "pedalboard") == "pedalboard"
    monkeypatch.setenv(DESCRIBER_ENV, "pedalboard")
    assert choose(fake_pedalboard(PROVEN_VERSIONS[0])) == "pedalboard"
