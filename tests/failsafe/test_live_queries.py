"""Free text and random params against one live sidecar with the real catalogue.

Every string a user can type goes into FTS5 safely: results or InvalidParams, never an internal
error. Hypothesis then sends random params to every method; each answer must be a result or a
documented error that fits the schema, and the sidecar must stay up. One sidecar serves the
module; its every message is checked against the schema at the end.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ledger import Ledger
from rawclient import Sidecar, sidecars

from wirecheck import SCHEMA, check_message, params_schema, validator

pytestmark = pytest.mark.failsafe

INVALID_PARAMS, INTERNAL_ERROR = -32602, -32603
EXAMPLES = 200  # Per method: bounded, so the module stays a few seconds long.


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    made = tmp_path_factory.mktemp("live")
    (made / "empty").mkdir()
    return made


@pytest.fixture(scope="module")
def live(root: Path, real_plugins: Path) -> Iterator[Sidecar]:
    """One sidecar for the module, with the real catalogue; up and exiting cleanly at the end."""
    plugins = root / "plugins"
    plugins.mkdir()
    for bundle in sorted(real_plugins.glob("*.vst3")):
        (plugins / bundle.name).symlink_to(bundle)
    with sidecars(root / "cache", root / "logs") as start:
        sidecar = start()
        sidecar.initialize()
        sidecar.result("pluginary/scan", {"folders": [str(plugins)], "onlyFolders": True})
        yield sidecar
        assert sidecar.process.poll() is None, "the sidecar died"
        assert sidecar.shutdown() == 0


TYPED = [
    "reverb",
    "REVERB",
    "rev",
    "Zam",
    "zam comp",
    '"ZamComp"',
    '"unbalanced',
    "'single'",
    "*",
    "zam*",
    "*zam",
    "NEAR",
    "NEAR(zam comp)",
    "zam NEAR comp",
    "zam NOT comp",
    "zam AND comp",
    "zam OR comp",
    "-zam",
    "zam -comp",
    "(",
    ")",
    "((zam",
    "zam))",
    "{zam}",
    "name:zam",
    "vendor : zam",
    "^zam",
    "zam + comp",
    "'; DROP TABLE plugins; --",
    '" OR 1=1 --',
    "%",
    "_",
    "\\",
    "\0",
    "zam\0comp",
    "\x1b[31mzam",
    "\t\n ",
    "",
    "ünïcödé",
    "Réverb",
    "残響",
    "🎛️ reverb",
    "\u202ezam",
    "zam" * 3000,
    "a " * 5000,
]


FINDS_ZAM = {"Zam", "zam*", "-zam", "((zam", "zam))", "{zam}", "^zam", "'zam", '"zam"'}
TYPED += sorted(FINDS_ZAM - set(TYPED))


@pytest.mark.parametrize("text", TYPED, ids=range(len(TYPED)))
def test_anything_a_user_types_is_a_result_or_invalid_params(
    live: Sidecar, ledger: Ledger, text: str
) -> None:
    answer = live.call("pluginary/query", {"text": text, "limit": 1000})
    assert "result" in answer, answer  # Each of these is valid text: never an error.
    page = answer["result"]
    assert page["total"] == len(page["plugins"])
    if text in FINDS_ZAM:  # Syntax around a word is no syntax: the word is still searched.
        assert page == live.result("pluginary/query", {"text": "zam", "limit": 1000}), text
    ledger.record("fts-text", "a result for every string (quotes, *, NEAR, -, (, SQL, NUL, …)")


def test_free_text_finds_what_it_should(live: Sidecar) -> None:
    names = {p["name"] for p in live.result("pluginary/query", {"text": "zamcomp"})["plugins"]}
    assert {"ZamComp", "ZamCompX2"} <= names
    quoted = live.result("pluginary/query", {"text": '"zamcomp"'})["plugins"]
    assert {p["name"] for p in quoted} == names  # Quotes are not syntax.
    hall = live.result("pluginary/query", {"text": "dragonfly hall"})["plugins"]
    assert [p["name"] for p in hall] == ["Dragonfly Hall Reverb"]
    assert live.result("pluginary/query", {"text": "zam NOT comp"})["total"] == 0  # All words.


def json_values() -> st.SearchStrategy[Any]:
    scalars = st.one_of(
        st.none(),
        st.booleans(),
        st.integers(-(2**70), 2**70),
        st.floats(allow_nan=False, allow_infinity=False),
        st.text(max_size=30),
    )
    return st.recursive(
        scalars,
        lambda inner: (
            st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
        ),
        max_leaves=6,
    )


def field_value(spec: dict[str, Any]) -> st.SearchStrategy[Any]:
    """Values for one params field: mostly of its type, sometimes anything at all."""
    types = spec.get("type", ["integer", "string"])
    types = [types] if isinstance(types, str) else types
    typed: list[st.SearchStrategy[Any]] = []
    for kind in types:
        if kind == "string":
            typed.append(st.text(max_size=40))
        elif kind == "integer":
            typed.append(st.integers(-5, 2000))
        elif kind == "number":
            typed.append(st.floats(-5, 1e6, allow_nan=False))
        elif kind == "boolean":
            typed.append(st.booleans())
        elif kind == "null":
            typed.append(st.none())
        elif kind == "array":
            typed.append(st.lists(st.text(max_size=20), max_size=3))
    return st.one_of(*typed, json_values())


def params_for(method: str) -> st.SearchStrategy[Any]:
    schema = SCHEMA["$defs"][params_schema(method)]
    properties = schema.get("properties", {})
    known = st.fixed_dictionaries(
        {}, optional={name: field_value(spec) for name, spec in properties.items()}
    )
    return st.one_of(
        known,
        known,
        known,
        st.dictionaries(st.text(max_size=12), json_values(), max_size=3),
        json_values(),
    )


def by_name(params: Any) -> Any:
    """Params as the object they stand for (protocol/README.md, "Requests"): null, [] and
    [null] are no params, [x] is x."""
    if isinstance(params, list) and len(params) <= 1:
        params = params[0] if params else None
    return {} if params is None else params


def check_answer(live: Sidecar, method: str, params: Any, answer: dict[str, Any]) -> None:
    """A result that fits the schema, or an error the method documents; never an internal one."""
    check_message(answer, live.methods)
    assert answer.get("error", {}).get("code") != INTERNAL_ERROR, answer
    try:
        validator(params_schema(method)).validate(by_name(params))
        fits = True
    except jsonschema.ValidationError:
        fits = False
    if not fits:
        assert answer["error"]["code"] == INVALID_PARAMS, (params, answer)


def settings_for_live() -> Any:
    return settings(
        max_examples=EXAMPLES,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
        derandomize=True,
    )


@pytest.mark.parametrize(
    "method", ["pluginary/query", "pluginary/plugin", "pluginary/status", "pluginary/resume"]
)
def test_random_params_get_a_result_or_a_documented_error(
    live: Sidecar, ledger: Ledger, method: str
) -> None:
    ids = [p["id"] for p in live.result("pluginary/query", {"limit": 1000})["plugins"]]
    seen = 0

    @settings_for_live()
    @given(params=params_for(method), pick=st.integers(0, len(ids) - 1), known=st.booleans())
    def run(params: Any, pick: int, known: bool) -> None:
        nonlocal seen
        if method == "pluginary/plugin" and known and isinstance(params, dict):
            params = {**params, "id": ids[pick]}  # Sometimes a real id.
        check_answer(live, method, params, live.call(method, params))
        seen += 1

    run()
    assert live.process.poll() is None
    ledger.record("property-params", f"{method}: result or documented error", times=seen)


def test_random_scan_params_get_a_result_or_a_documented_error(
    live: Sidecar, root: Path, ledger: Ledger
) -> None:
    empty = str(root / "empty")
    seen = 0

    @settings_for_live()
    @given(params=params_for("pluginary/scan"))
    def run(params: Any) -> None:
        nonlocal seen
        params = by_name(params)
        if isinstance(params, dict):
            # A scan that gets through may search only an empty folder, never this machine's.
            params = {**params, "onlyFolders": True}
            if isinstance(params.get("folders"), list):
                params["folders"] = [empty]
        check_answer(live, "pluginary/scan", params, live.call("pluginary/scan", params))
        seen += 1

    run()
    status = live.result("pluginary/status")
    assert status["counts"]["plugins"] == 22  # The empty scans removed nothing.
    ledger.record("property-params", "pluginary/scan: result or documented error", times=seen)


def test_every_answer_so_far_fits_the_schema(live: Sidecar) -> None:
    for message in list(live.messages):
        check_message(message, live.methods)
    assert json.dumps(live.messages)  # All of it was JSON, too.
