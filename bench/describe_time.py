"""Row 11's contender: one bundle's first class loaded and described by one describer, timed.

``python bench/describe_time.py BUNDLE fast|pedalboard`` prints one JSON line: the describer that
ran, the probe's ``probe_ms.parameters`` (pedalboard's sweeps in the constructor and after) and
the parameter count.
"""

from __future__ import annotations

import json
import os
import sys
import time


def main() -> None:
    import pedalboard

    from pluginary.scanner.describer import choose, describer_for
    from pluginary.scanner.probe import load_described

    bundle, kind = sys.argv[1:3]
    describer = describer_for(pedalboard, choose(pedalboard, kind))
    name = pedalboard.VST3Plugin.get_plugin_names_for_file(bundle)[0]
    _, record, probe_ms = load_described(describer, bundle, name, time.perf_counter())
    facts = {
        "describer": describer.kind,
        "parameters_ms": probe_ms["parameters"],
        "parameters": len(record["parameters"]),
    }
    print(json.dumps(facts), flush=True)
    os._exit(0)  # Past the plugin's teardown, whose noise is none of this row's business.


if __name__ == "__main__":
    main()
