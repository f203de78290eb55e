"""A catalogue record set against the oracle's answer for the same plugin (``oracle.py``).

Every difference is listed, not just the first, so that a test over a whole set of plugins says
at once everything that disagrees.
"""

from __future__ import annotations

import math
import re
from typing import Any

from pluginary.models import PluginRecord
from pluginary.scanner.checks import layout_error, unhostable_layout
from pluginary.scanner.probe import MAX_ENUM_VALUES
from pluginary.scanner.versions import readable_version

SAMPLE_POINTS = [0.0, 0.25, 0.5, 0.75, 1.0]


def _json(bound: Any) -> Any:
    return None if isinstance(bound, float) and not math.isfinite(bound) else bound


# What the probe says it was doing when a class ended its probe (protocol/README.md, "Limits
# and blame"), by the oracle's step (``oracle.py``'s ``doing``).
PHASES = {
    "listing": " while listing the bundle's classes",
    "audio": " while processing audio",
    "state": " while saving and restoring its state",
    "unloading": " while unloading",
}
# A class that hangs while loading: the probe says how far describing got, when it knows.
LOADING = r"( while loading| while describing its parameters \([\d,]+ of [\d,]+\))"


def differences(record: PluginRecord, expected: dict[str, Any]) -> list[str]:
    """What ``record`` says that pedalboard, in a process of its own, does not."""
    where = f"{record.path} ({record.class_name})"
    if "crashed" in expected or "timeout" in expected:
        return _unfinished(record, expected, where)
    if "error" in expected:
        if record.status != "failed":
            return [f"{where}: {record.status}, pedalboard failed: {expected['error']}"]
        layout = unhostable_layout(expected["error"])
        if layout is not None:
            # Documented (protocol/README.md): a bus layout pedalboard refuses is said as such,
            # with the plugin's real layout; pedalboard's own words are the diagnosis.
            theirs = (layout_error(layout), f"pedalboard: {expected['error']}", layout)
            bus = record.bus_layout
            ours = (
                record.error,
                record.diagnosis,
                bus and {"inputs": bus.inputs, "outputs": bus.outputs},
            )
            return [] if ours == theirs else [f"{where}: {ours!r}, expected {theirs!r}"]
        # The probe names a bundle's classes first, so its error is that call's error.
        if record.error != expected["error"]:
            return [f"{where}: error {record.error!r}, pedalboard's {expected['error']!r}"]
        return []
    if record.status != "ok":
        return [f"{where}: {record.status} ({record.error}), pedalboard loaded it"]
    found = _described(record, expected, where)
    # Ready to insert: what a host must know before putting it in a chain.
    found += _facts(record, expected, where, expected["channels"])
    return found


def _unfinished(record: PluginRecord, expected: dict[str, Any], where: str) -> list[str]:
    """A class that ended pedalboard's process (a signal) or hung it: the record must say so,
    on the same step, and agree on everything pedalboard told before."""
    step, count = expected.get("doing"), expected.get("trying")
    if step == "channels":
        phase = re.escape(
            f" while finding the channel counts it accepts (trying {count} channel"
            f"{'' if count == 1 else 's'})"
        )
    elif step == "loading":
        phase = "" if "crashed" in expected else LOADING
    else:
        phase = re.escape(PHASES[str(step)])
    if "crashed" in expected:
        status, error = "crashed", re.escape(f"the probe died with {expected['crashed']}") + phase
    else:
        status = "timeout"
        error = r"did not finish within [\d.]+ s; its process group was killed" + phase
    theirs = f"{status}: {error} (pedalboard's process: {expected.get('crashed') or 'hung'})"
    if record.status != status or re.fullmatch(error, record.error or "") is None:
        return [f"{where}: {record.status}: {record.error!r}, expected {theirs}"]
    if "name" not in expected:  # It never loaded: nothing else to compare.
        return []
    found = _described(record, expected, where)
    if "channels" in expected:  # Every check done: it broke unloading.
        found += _facts(record, expected, where, expected["channels"])
    elif "state_size" in expected:  # Past the checks at its lowest count: they stand.
        found += _facts(record, expected, where, expected["accepted"])
    else:  # It broke the checks at its lowest count: no channels, a failed audio check.
        check = record.audio_check
        if record.channels is not None or check is None or check.ok:
            found.append(f"{where}: channels {record.channels!r}, audio check {check!r}")
    return found


def _described(record: PluginRecord, expected: dict[str, Any], where: str) -> list[str]:
    """The plugin and its parameters, as loading it described them."""
    found: list[str] = []

    def same(what: str, ours: Any, theirs: Any) -> None:
        if ours != theirs:
            found.append(f"{where}: {what} {ours!r}, pedalboard's {theirs!r}")

    same("class", record.class_name, expected.get("class") or expected["names"][0])
    same("name", record.name, expected["name"])
    same("vendor", record.vendor, expected["vendor"] or None)
    # pedalboard passes a byte-swapped version (LSP's) on as CJK signs; the catalogue records
    # it as the vendor wrote it (scanner/versions.py, protocol/README.md).
    same("version", record.version, readable_version(expected["version"]) or None)
    same("category", record.category, expected["category"] or None)
    same("identifier", record.identifier, expected["identifier"])
    same("kind", record.kind, "instrument" if expected["is_instrument"] else "effect")
    same("keys", [p.key for p in record.parameters], [p["key"] for p in expected["parameters"]])
    for parameter, wanted in zip(record.parameters, expected["parameters"], strict=False):
        key = parameter.key
        same(f"{key}.name", parameter.name, wanted["name"])
        # JSON has no infinity: a float parameter's infinite bound is null (protocol/README.md).
        bounds = (_json(wanted["min"]), _json(wanted["max"]))
        same(f"{key}.range", (parameter.min, parameter.max), bounds)
        same(f"{key}.step", parameter.step, wanted["step"])
        same(f"{key}.default_text", parameter.default_text, wanted["text"])
        same(f"{key}.units", parameter.units, wanted["units"])
        same(f"{key}.type", parameter.type, wanted["type"])
        if wanted["values"] is not None:
            # The catalogue keeps the first MAX_ENUM_VALUES of a longer enumeration, and says so.
            cut = wanted["values"][:MAX_ENUM_VALUES]
            same(f"{key}.values", parameter.values, cut)
            same(
                f"{key}.values_truncated",
                parameter.values_truncated,
                len(cut) < len(wanted["values"]),
            )
        samples = parameter.samples or []
        same(f"{key}.sample points", [s.raw for s in samples], SAMPLE_POINTS)
        same(f"{key}.samples", [s.text for s in samples], expected["samples"][key])
    return found


def _facts(
    record: PluginRecord, expected: dict[str, Any], where: str, channels: list[int]
) -> list[str]:
    """Ready to insert: what a host must know before putting it in a chain."""
    found: list[str] = []

    def same(what: str, ours: Any, theirs: Any) -> None:
        if ours != theirs:
            found.append(f"{where}: {what} {ours!r}, pedalboard's {theirs!r}")

    same("channels", record.channels, channels)
    same("latency", record.latency_samples, expected["latency"])
    same("state size", record.state and record.state.size, expected["state_size"])
    if expected["finite"] is not None:  # An instrument's check is a note, not noise.
        same("audio non-finite", record.audio_check and record.audio_check.non_finite,
             not expected["finite"])  # fmt: skip
    return found
