"""The bare lower bound of a scan: the least work that learns every plugin's parameters.

One process imports pedalboard, then forks one child per bundle, ``--workers`` at a time; each
child loads the bundle's plugin(s) and reads every parameter, then exits. No journal, no
catalogue, no result files, no JSON, no timeouts, no containment: nothing but the loading.

    python bench/bare_bound.py [--workers N] [--no-describe] FOLDER

With ``--no-describe`` each child only loads: pedalboard's parameter sweep inside the plugin's
constructor is switched off and no parameter is read. That is the floor of a scan that must
describe parameters (issue 15): what loading alone costs.

Prints one JSON line: {"bundles", "loaded", "failed", "seconds"} where ``seconds`` is measured
from the start of this process's Python code (before the pedalboard import) to the last exit;
whoever runs it times the whole process as well.

A standalone script (run by path, with the project's interpreter): it imports nothing of
pluginary or of the bench package.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

STARTED = time.perf_counter()


def read_parameters(plugin: object) -> int:
    """Read each parameter's facts: the same attributes a probe records, nothing kept."""
    count = 0
    for parameter in plugin.parameters.values():  # type: ignore[attr-defined]
        facts = (
            parameter.index,
            parameter.name,
            parameter.label,
            parameter.type,
            parameter.min_value,
            parameter.max_value,
            parameter.step_size,
            parameter.approximate_step_size,
            parameter.raw_value,
            parameter.string_value,
            parameter.default_raw_value,
            parameter.is_boolean,
            parameter.is_discrete,
            parameter.num_steps,
            parameter.is_automatable,
            list(parameter.valid_values) if parameter.type is not float else None,
        )
        count += len(facts) > 0
    return count


def without_describing(pedalboard: object) -> None:
    """Switch off the sweep pedalboard runs over every parameter inside a plugin's constructor."""
    mixin = pedalboard._pedalboard._PythonExternalPluginMixin  # type: ignore[attr-defined]
    original = mixin.__set_initial_parameter_values__

    def initial_values(self: object, parameter_values: object = None) -> object:
        if parameter_values:
            return original(self, parameter_values)
        return None

    mixin.__set_initial_parameter_values__ = initial_values


def child(pedalboard: object, bundle: str, describe: bool = True) -> int:
    """Load every plugin of ``bundle`` and read its parameters; the exit status (0: loaded)."""
    try:
        try:
            plugins = [pedalboard.load_plugin(bundle)]  # type: ignore[attr-defined]
        except ValueError:
            # A bundle of several plugins must be loaded one named plugin at a time.
            names = pedalboard.VST3Plugin.get_plugin_names_for_file(bundle)  # type: ignore[attr-defined]
            plugins = [pedalboard.load_plugin(bundle, plugin_name=name) for name in names]  # type: ignore[attr-defined]
        for plugin in plugins:
            if describe:
                read_parameters(plugin)
        return 0
    except Exception:
        return 1


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--no-describe", action="store_true")
    parser.add_argument("folder")
    args = parser.parse_args()
    bundles = sorted(
        os.path.join(args.folder, name)
        for name in os.listdir(args.folder)
        if name.lower().endswith(".vst3")
    )
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # Fork a single-threaded process.
    import pedalboard

    if args.no_describe:
        without_describing(pedalboard)

    # What plugins print goes nowhere; the report line keeps a private copy of stdout.
    report = os.fdopen(os.dup(1), "w")
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    os.dup2(devnull, 2)
    running: set[int] = set()
    loaded = failed = 0

    def reap_one() -> None:
        nonlocal loaded, failed
        pid, status = os.wait()
        running.discard(pid)
        if os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0:
            loaded += 1
        else:
            failed += 1

    for bundle in bundles:
        while len(running) >= args.workers:
            reap_one()
        pid = os.fork()
        if pid == 0:
            os._exit(child(pedalboard, bundle, describe=not args.no_describe))
        running.add(pid)
    while running:
        reap_one()
    seconds = time.perf_counter() - STARTED
    report.write(
        json.dumps(
            {"bundles": len(bundles), "loaded": loaded, "failed": failed, "seconds": seconds}
        )
        + "\n"
    )
    report.flush()
    sys.exit(0)


if __name__ == "__main__":
    main()
