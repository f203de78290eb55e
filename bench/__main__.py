"""``python -m bench``: run the benchmarks and print the markdown table (bench/run is the door).

    bench/run [--smoke] [--only SECTION ...] [--json FILE] [--keep]

Exit status 0 when every measurement was made (met or not: targets are reported, not enforced),
1 when one could not be made (its row says why).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

from bench.report import machine, render
from bench.suite import FULL, SECTIONS, SMOKE, Bench, run


def main() -> int:
    parser = argparse.ArgumentParser(prog="bench/run", description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="seconds-sized run, for CI")
    parser.add_argument("--only", nargs="+", choices=SECTIONS, default=SECTIONS)
    parser.add_argument("--json", type=Path, help="also write every raw figure to this file")
    parser.add_argument("--keep", action="store_true", help="keep the scratch folder")
    args = parser.parse_args()
    original = os.environ.get("PLUGINARY_BENCH_ORIGINAL_PYTHON")
    if not original:
        parser.error("PLUGINARY_BENCH_ORIGINAL_PYTHON is not set: run bench/run, not python -m")
    work = Path(tempfile.mkdtemp(prefix="pluginary-bench-"))
    bench = Bench(SMOKE if args.smoke else FULL, work, original)
    started = time.perf_counter()
    try:
        rows = asyncio.run(run(bench, tuple(args.only)))
    finally:
        if args.keep:
            print(f"bench: scratch kept in {work}", file=sys.stderr)
        else:
            shutil.rmtree(work, ignore_errors=True)
    took = time.perf_counter() - started
    size = "smoke-sized run (not a measurement)" if args.smoke else "full run"
    print(f"Machine: {machine()}.\n")
    print(render(rows))
    print(f"\n{size}; bench/run took {took:.0f} s.")
    if args.json:
        args.json.write_text(json.dumps({"machine": machine(), "raw": bench.raw}, indent=1))
    return 1 if any(row.error for row in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
