"""Paths that are not UTF-8 on the wire: text plus exact bytes out, PEP 383 escapes in."""

from __future__ import annotations

import base64
import json
import os

import pytest

from pluginary.models import PluginSummary, QueryPage
from pluginary.server import wire
from pluginary.server.settings import Settings
from pluginary.server.wire import InvalidParams

ODD = os.fsdecode(b"/opt/caf\xe9/Zam\xffComp.vst3")


def _summary(path: str) -> PluginSummary:
    return PluginSummary(
        id="vst3.zamcomp.00000000",
        name=os.path.basename(path),
        vendor=None,
        version=None,
        category=None,
        kind=None,
        format="vst3",
        status="ok",
        path=path,
        class_name="ZamComp",
        parameter_count=0,
        channels=None,
        latency_samples=None,
        audio_ok=None,
    )


def test_a_path_that_is_not_utf8_goes_out_as_text_plus_its_exact_bytes() -> None:
    page = wire.to_wire(QueryPage([_summary(ODD), _summary("/opt/café/Zam.vst3")], 2, None))
    # What the server writes must be UTF-8 (pygls encodes it so); and no parser may choke on it.
    body = json.dumps(page, ensure_ascii=False).encode("utf-8")
    odd, plain = json.loads(body)["plugins"]
    assert odd["path"] == "/opt/caf\ufffd/Zam\ufffdComp.vst3"
    assert odd["name"] == "Zam\ufffdComp.vst3"
    assert base64.b64decode(odd["pathBytes"]) == b"/opt/caf\xe9/Zam\xffComp.vst3"
    assert (plain["path"], plain["pathBytes"]) == ("/opt/café/Zam.vst3", None)
    assert "\\ud" not in json.dumps(page)  # Not even as an escape.


def test_folders_take_pep_383_escapes_and_nothing_else_does() -> None:
    params = json.loads('{"folders": ["/opt/caf\\udce9", "/plain"]}')
    options, _ = wire.scan_params(params, Settings())
    assert [os.fsencode(folder) for folder in options.folders] == [b"/opt/caf\xe9", b"/plain"]
    settings, problems = wire.read_settings({"folders": ["/opt/\udcff"]})
    assert (settings.folders, problems) == (("/opt/\udcff",), [])
    with pytest.raises(InvalidParams) as caught:
        wire.scan_params({"folders": ["/opt/\ud800"]}, Settings())  # Not a byte: refused.
    assert caught.value.field == "folders[0]"
    with pytest.raises(InvalidParams) as caught:
        wire.query_params({"text": "caf\udce9"})  # Not a path: refused, as before.
    assert caught.value.field == "text"
