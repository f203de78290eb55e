"""The measurements of issue 5, each side by side with its baseline in one run.

Every figure is a median (or a percentile) of runs made here and now, and every comparison is
made pair by pair, A then B then A..., with the start order alternating, so that a machine whose
speed drifts during the run moves both sides of a ratio alike.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import random
import shutil
import sqlite3
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench import fixtures
from bench.procmem import MIB, TreeSampler, descendants, rss
from bench.report import Row, median, percentile, spread
from bench.rpc import Client, RpcError

HERE = Path(__file__).resolve().parent
WORKERS = 2
SIDECAR = [sys.executable, "-m", "pluginary", "serve"]
BARE_BOUND = [sys.executable, str(HERE / "bare_bound.py")]
BARE_SERVER = [sys.executable, str(HERE / "bare_server.py")]
DESCRIBE_TIME = [sys.executable, str(HERE / "describe_time.py")]
REQUEST_CANCELLED = -32800
SAFETY = 900.0  # A bound on any one step, so a hung server fails the run instead of stalling it.


@dataclass(frozen=True)
class Sizes:
    real_bundles: int | None  # How many of the real bundles (None: all of them).
    scan_reps: int  # Counted full scans of the real set, per tool.
    warmup: int  # Uncounted rounds first (page cache, .pyc files).
    scale_bundles: int
    scale_reps: int
    rescans: int  # No-change rescans after each scale scan.
    catalog_plugins: int
    queries: int  # Per kind, per phase (alone / during a scan).
    query_rounds: int  # Alternations alone -> during a scan.
    startup_reps: int
    describe_plugin: str  # The DPF test bundle row 11 describes.
    describe_reps: int
    breadth_bundles: int | None  # How many of the breadth sets' bundles (None: all of them).
    breadth_reps: int


FULL = Sizes(
    real_bundles=None,
    scan_reps=9,
    warmup=1,
    scale_bundles=500,
    scale_reps=5,
    rescans=5,
    catalog_plugins=20_000,
    queries=400,
    query_rounds=4,
    startup_reps=15,
    describe_plugin="TestSynth",
    describe_reps=3,
    breadth_bundles=None,
    breadth_reps=3,
)
SMOKE = Sizes(
    real_bundles=4,
    scan_reps=1,
    warmup=0,
    scale_bundles=12,
    scale_reps=1,
    rescans=2,
    catalog_plugins=500,
    queries=20,
    query_rounds=1,
    startup_reps=2,
    describe_plugin="PassThrough",
    describe_reps=1,
    breadth_bundles=3,
    breadth_reps=1,
)


@dataclass
class Bench:
    sizes: Sizes
    work: Path  # Scratch folder for caches, copies and logs.
    original_python: str
    raw: dict[str, Any] = field(default_factory=dict)  # Every figure, for --json.
    _serial: int = 0

    def scratch(self, name: str) -> Path:
        self._serial += 1
        path = self.work / f"{self._serial:03d}-{name}"
        path.mkdir(parents=True)
        return path

    async def sidecar(self, cache: Path, env: dict[str, str] | None = None) -> Client:
        log = open(self.work / f"sidecar-{self._serial:03d}.log", "ab")  # noqa: SIM115
        try:
            client = await Client.spawn(
                SIDECAR, {"PLUGINARY_CACHE_DIR": str(cache), **(env or {})}, log
            )
        finally:
            log.close()  # The child has its own copy of the descriptor.
        await asyncio.wait_for(client.initialize({"workers": WORKERS}), SAFETY)
        return client


def scan_params(folder: Path, **extra: Any) -> dict[str, Any]:
    return {"folders": [str(folder)], "onlyFolders": True, "workers": WORKERS, **extra}


# The installed command, as a person runs it (the console script beside this Python), and the
# bare Python start its whole-process times are set against.
PLUGINARY = str(Path(sys.executable).parent / "pluginary")
BARE_PYTHON = [sys.executable, "-c", "pass"]


async def command_wall(command: list[str], env: dict[str, str] | None = None) -> tuple[float, str]:
    """Whole-process wall time of ``command`` (which must succeed), and what it printed."""
    started = time.perf_counter()
    process = await asyncio.create_subprocess_exec(
        *command, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL, env=env
    )
    out, _ = await asyncio.wait_for(process.communicate(), SAFETY)
    seconds = time.perf_counter() - started
    if process.returncode != 0:
        raise RuntimeError(f"{' '.join(command[1:])} exited with status {process.returncode}")
    return seconds, out.decode()


async def run_process(
    command: list[str], env: dict[str, str] | None = None, sample: bool = False
) -> tuple[float, dict[str, Any], TreeSampler | None]:
    """Run a command to its end: (wall seconds, its JSON report line, its memory if sampled)."""
    started = time.perf_counter()
    process = await asyncio.create_subprocess_exec(
        *command,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
        env={**os.environ, **(env or {})},
    )
    sampler = TreeSampler(process.pid) if sample else None
    if sampler is not None:
        sampler.__enter__()
    try:
        out, _ = await asyncio.wait_for(process.communicate(), SAFETY)
    finally:
        if sampler is not None:
            sampler.__exit__(None, None, None)
    wall = time.perf_counter() - started
    if process.returncode != 0:
        raise RuntimeError(f"{' '.join(command[:2])} exited with status {process.returncode}")
    lines = out.decode().strip().splitlines()
    return wall, json.loads(lines[-1]) if lines else {}, sampler


async def alternate(
    reps: int, warmup: int, runs: dict[str, Callable[[int], Awaitable[float]]]
) -> dict[str, list[float]]:
    """Run each contender once per round, rotating who goes first; the counted figures."""
    figures: dict[str, list[float]] = {name: [] for name in runs}
    names = list(runs)
    for round_ in range(warmup + reps):
        shift = round_ % len(names)
        for name in names[shift:] + names[:shift]:
            value = await runs[name](round_)
            if round_ >= warmup:
                figures[name].append(value)
    return figures


def ratios(a: list[float], b: list[float]) -> list[float]:
    return [x / y for x, y in zip(a, b, strict=True)]


# -- 1. full scan of the real set ------------------------------------------------------------


REAL_ROWS = ("1.a", "1.b", "1.c", "8", "10")
BREADTH_ROWS = ("12.a", "12.b", "12.c", "12.d", "12.e")


async def real_set(
    bench: Bench,
    folder: Path,
    count: int,
    set_name: str = "the real set",
    ids: tuple[str, ...] = REAL_ROWS,
    reps: int | None = None,
) -> list[Row]:
    """Full scans of ``folder`` by every contender, side by side (rows ``ids``)."""
    outcome: dict[str, Any] = {}

    async def scan(audio_check: bool, launcher: str = "forkserver") -> float:
        cache = bench.scratch("real-ours")
        client = await bench.sidecar(cache, {"PLUGINARY_LAUNCHER": launcher})
        try:
            params = scan_params(folder, audioCheck=audio_check)
            seconds, summary = await asyncio.wait_for(
                client.timed("pluginary/scan", params), SAFETY
            )
        finally:
            await client.close()
        shutil.rmtree(cache, ignore_errors=True)
        if summary["probed"] != count:
            raise RuntimeError(f"the sidecar probed {summary['probed']} of {count} bundles")
        outcome["ok"] = summary["ok"]
        return float(seconds)

    async def ours(round_: int) -> float:
        return await scan(audio_check=True)

    async def unchecked(round_: int) -> float:
        return await scan(audio_check=False)

    async def pool(round_: int) -> float:
        return await scan(audio_check=True, launcher="pool")

    async def original(round_: int) -> float:
        home = bench.scratch("original-home")
        data = home / "Library" / "Application Support" / "com.twardoch.pedalboard-pluginary"
        data.mkdir(parents=True)
        command = [
            bench.original_python,
            str(HERE / "original_scan.py"),
            "--workers",
            str(WORKERS),
            str(folder),
        ]
        _, report, _ = await run_process(command, {"HOME": str(home), "PYTHONSAFEPATH": "1"})
        shutil.rmtree(home, ignore_errors=True)
        outcome["original_plugins"] = report["plugins"]
        return float(report["seconds"])

    async def bare(round_: int) -> float:
        wall, report, _ = await run_process([*BARE_BOUND, "--workers", str(WORKERS), str(folder)])
        outcome["bare_loaded"] = report["loaded"]
        return wall

    async def floor(round_: int) -> float:
        command = [*BARE_BOUND, "--workers", str(WORKERS), "--no-describe", str(folder)]
        wall, report, _ = await run_process(command)
        outcome["floor_loaded"] = report["loaded"]
        return wall

    sizes = bench.sizes
    contenders = {
        "ours": ours,
        "unchecked": unchecked,
        "pool": pool,
        "original": original,
        "bare": bare,
        "floor": floor,
    }
    figures = await alternate(reps or sizes.scan_reps, sizes.warmup, contenders)
    bench.raw[ids[0]] = {**figures, **outcome, "bundles": count}
    what = f"{count} bundles, {outcome['ok']} load; {WORKERS} workers"
    original_id, bare_id, floor_id, checks_id, pool_id = ids
    vs_original = ratios(figures["ours"], figures["original"])
    # The bound only loads and reads parameters: it is compared with a scan that does the same.
    vs_bare = ratios(figures["unchecked"], figures["bare"])
    vs_floor = ratios(figures["unchecked"], figures["floor"])
    checks = ratios(figures["ours"], figures["unchecked"])
    portable = ratios(figures["pool"], figures["ours"])
    return [
        Row(
            original_id,
            f"Full scan of {set_name} ({what}) vs pedalboard-pluginary 1.1.6",
            ours=spread(figures["ours"], "s"),
            baseline=spread(figures["original"], "s"),
            result=f"{median(vs_original):.2f}x",
            target="≤ 0.30x",
            met=median(vs_original) <= 0.30,
        ),
        Row(
            bare_id,
            f"Full scan of {set_name} ({what}), audio checks off, vs the bare bound",
            ours=spread(figures["unchecked"], "s"),
            baseline=spread(figures["bare"], "s"),
            result=f"{median(vs_bare):.2f}x",
            target="≤ 1.15x",
            met=median(vs_bare) <= 1.15,
        ),
        Row(
            floor_id,
            f"Full scan of {set_name} ({what}), audio checks off, vs a bound that loads"
            " without describing parameters (the floor of issue 15)",
            ours=spread(figures["unchecked"], "s"),
            baseline=spread(figures["floor"], "s") + " loading only",
            result=f"{median(vs_floor):.2f}x",
        ),
        Row(
            checks_id,
            f"Issue 8's checks: full scan of {set_name} ({what}), audio checks on vs off",
            ours=spread(figures["ours"], "s"),
            baseline=spread(figures["unchecked"], "s") + " checks off",
            result=f"{median(checks):.2f}x",
            target="≤ 1.15x",
            met=median(checks) <= 1.15,
        ),
        Row(
            pool_id,
            "Issue 14's worker pool (macOS and Windows' launcher): full scan"
            f" of {set_name} ({what}), pool vs fork server",
            ours=spread(figures["pool"], "s"),
            baseline=spread(figures["ours"], "s") + " fork server",
            result=f"{median(portable):.2f}x",
        ),
    ]


async def breadth(bench: Bench) -> list[Row]:
    """Rows 1's scans on issue 16's breadth sets: IEM (JUCE), DPF's own and bookworm's Zam."""
    bundles = fixtures.breadth_bundles(bench.sizes.breadth_bundles)
    folder = fixtures.subset_folder(bundles, bench.scratch("breadth") / "vst3")
    name = f"the breadth sets ({', '.join(fixtures.BREADTH_SETS)}; ZamVerb left out)"
    return await real_set(
        bench, folder, len(bundles), name, BREADTH_ROWS, reps=bench.sizes.breadth_reps
    )


# -- 2, 3, 6b, 7. the scale run ---------------------------------------------------------------


@dataclass
class ProgressFacts:
    reports: int
    seconds: float  # From `begin` to `end`.
    peak_window: int  # The most reports in any one second (as they arrived).
    shortest_gap: float  # The least time between two reports' arrivals.
    final: int | None  # The percentage of the last report before `end`.


def progress_facts(client: Client, token: str) -> ProgressFacts:
    values = [
        (r.at, r.message["params"]["value"])
        for r in client.notifications("$/progress")
        if r.message["params"]["token"] == token
    ]
    begin = next(at for at, value in values if value["kind"] == "begin")
    end = next(at for at, value in values if value["kind"] == "end")
    reports = [(at, value) for at, value in values if value["kind"] == "report"]
    times = [at for at, _ in reports]
    peak = 0
    first = 0
    for last, at in enumerate(times):
        while times[first] <= at - 1.0:
            first += 1
        peak = max(peak, last - first + 1)
    gaps = [b - a for a, b in itertools.pairwise(times)]
    final = reports[-1][1].get("percentage") if reports else None
    return ProgressFacts(len(reports), end - begin, peak, min(gaps, default=0.0), final)


# The scale run compares with the bare bound, which only loads plugins and reads parameters; so
# it scans without issue 8's audio checks (row 8 prices those on the real set).
CHECKS_OFF = {"audioCheck": False}


async def scale(bench: Bench, folder: Path, count: int) -> list[Row]:
    memory: dict[str, list[float]] = {
        "ours_rss": [],
        "ours_pss": [],
        "bare_rss": [],
        "bare_pss": [],
    }
    rescans: list[float] = []
    cli_scans: list[float] = []
    cli_bare: list[float] = []
    idle_after: list[float] = []
    progress: list[ProgressFacts] = []
    probes: list[int] = []

    async def ours(round_: int) -> float:
        cache = bench.scratch("scale-ours")
        client = await bench.sidecar(cache)
        token = f"scale-{round_}"
        try:
            with TreeSampler(client.pid) as sampler:
                seconds, summary = await asyncio.wait_for(
                    client.timed(
                        "pluginary/scan", scan_params(folder, workDoneToken=token, **CHECKS_OFF)
                    ),
                    SAFETY,
                )
            memory["ours_rss"].append(sampler.peak.rss)
            memory["ours_pss"].append(sampler.peak.pss)
            probes.append(summary["probed"])
            for _ in range(bench.sizes.rescans):
                again, unchanged = await asyncio.wait_for(
                    client.timed("pluginary/scan", scan_params(folder, **CHECKS_OFF)), SAFETY
                )
                if unchanged["unchanged"] != count or unchanged["probed"] != 0:
                    raise RuntimeError(f"a no-change rescan probed {unchanged['probed']}")
                rescans.append(again)
            await cli_rescans(cache)
            await asyncio.sleep(0.5)
            idle_after.append(rss(client.pid))
            progress.append(progress_facts(client, token))
        finally:
            await client.close()
        shutil.rmtree(cache, ignore_errors=True)
        return float(seconds)

    async def cli_rescans(cache: Path) -> None:
        # The same no-change scan from the command line, which runs the engine in its own
        # process (issue 13), beside a bare Python start.
        command = [PLUGINARY, "--cache-dir", str(cache), "scan", "--folder", str(folder)]
        command += ["--only", "--workers", str(WORKERS), "--no-audio-check", "--json"]
        for _ in range(bench.sizes.rescans):
            seconds, out = await command_wall(command)
            if json.loads(out)["probed"] != 0:
                raise RuntimeError(f"a no-change `pluginary scan` probed: {out}")
            cli_scans.append(seconds)
            cli_bare.append((await command_wall(BARE_PYTHON))[0])

    async def bare(round_: int) -> float:
        command = [*BARE_BOUND, "--workers", str(WORKERS), str(folder)]
        wall, _, sampler = await run_process(command, sample=True)
        assert sampler is not None
        memory["bare_rss"].append(sampler.peak.rss)
        memory["bare_pss"].append(sampler.peak.pss)
        return wall

    figures = await alternate(bench.sizes.scale_reps, 0, {"ours": ours, "bare": bare})
    if any(n != count for n in probes):
        raise RuntimeError(f"the sidecar probed {probes} of {count} bundles")
    overhead = [(a - b) / count for a, b in zip(figures["ours"], figures["bare"], strict=True)]
    bench.raw["scale"] = {
        **figures,
        **memory,
        "bundles": count,
        "rescans": rescans,
        "cli_rescans": cli_scans,
        "cli_bare": cli_bare,
        "idle_after": idle_after,
        "progress": [vars(p) for p in progress],
    }
    rates = [p.reports / p.seconds for p in progress]
    peaks = [p.peak_window for p in progress]
    gap = min(p.shortest_gap for p in progress) * 1000
    finals = [p.final for p in progress]
    idle = median(idle_after) / MIB
    return [
        Row(
            "2.a",
            f"Scan of {count} bundles (renamed copies of the real set; audio checks off)",
            ours=spread(figures["ours"], "s"),
            baseline=spread(figures["bare"], "s") + " bare bound",
            result=f"{median(ratios(figures['ours'], figures['bare'])):.3f}x",
        ),
        Row(
            "2.b",
            f"Overhead per plugin over the bare bound ({count} bundles)",
            result=f"{median(overhead) * 1000:.2f} ms",
            target="≤ 10 ms",
            met=median(overhead) * 1000 <= 10,
        ),
        Row(
            "2.c",
            f"Peak memory during the {count}-bundle scan, sidecar + all its children",
            ours=f"{median(memory['ours_rss']) / MIB:.0f} MiB RSS,"
            f" {median(memory['ours_pss']) / MIB:.0f} MiB PSS",
            baseline=f"{median(memory['bare_rss']) / MIB:.0f} MiB RSS,"
            f" {median(memory['bare_pss']) / MIB:.0f} MiB PSS (bare bound)",
            result=f"{median(memory['ours_pss']) / MIB:.0f} MiB PSS,"
            f" {median(ratios(memory['ours_pss'], memory['bare_pss'])):.2f}x the bare bound's",
        ),
        Row(
            "3",
            f"No-change rescan of {count} bundles, request → response",
            ours=spread(rescans, "ms", 1000, 1),
            result=f"{median(rescans) * 1000:.1f} ms",
            target="≤ 100 ms",
            met=median(rescans) * 1000 <= 100,
        ),
        Row(
            "9.c",
            f"No-change `pluginary scan` of {count} bundles, whole process, vs a bare Python"
            " start (row 3: the same scan inside a running sidecar)",
            ours=spread(cli_scans, "ms", 1000, 0),
            baseline=spread(cli_bare, "ms", 1000, 0) + " `python -c pass`",
            result=f"{median(cli_scans) * 1000:.0f} ms, {median(ratios(cli_scans, cli_bare)):.1f}x",
            target="≤ 500 ms",
            met=median(cli_scans) <= 0.5,
        ),
        Row(
            "6.b",
            f"Idle memory of the sidecar after the {count}-bundle scan (RSS)",
            ours=f"{idle:.1f} MiB",
            result=f"{idle:.1f} MiB",
            target="≤ 60 MiB",
            met=idle <= 60,
        ),
        Row(
            "7.a",
            f"Progress reports per second during the {count}-bundle scan",
            ours=f"{median([float(p.reports) for p in progress]):.0f} reports in"
            f" {median([p.seconds for p in progress]):.1f} s; busiest second {max(peaks)},"
            f" shortest gap {gap:.0f} ms (arrival times)",
            result=f"{median(rates):.1f}/s",
            target="≤ 10/s",
            met=median(rates) <= 10,
        ),
        Row(
            "7.b",
            "Final progress percentage",
            ours=", ".join(str(f) for f in finals),
            result=f"{finals[-1]}%",
            target="= 100%",
            met=all(f == 100 for f in finals),
        ),
    ]


# -- 4. queries ------------------------------------------------------------------------------


def query_makers(catalog: Path, seed: int = 7) -> dict[str, Callable[[], tuple[str, Any]]]:
    """Each kind of query as a maker of (method, params), drawn from what the catalogue holds."""
    rng = random.Random(seed)
    db = sqlite3.connect(catalog)
    try:
        ids = [row[0] for row in db.execute("SELECT id FROM plugins")]
        vendors = sorted({row[0] for row in db.execute("SELECT vendor FROM plugins")})
        params = sorted({row[0] for row in db.execute("SELECT DISTINCT name FROM parameters")})
    finally:
        db.close()

    def text() -> tuple[str, Any]:
        words = rng.sample(fixtures.WORDS, 2)
        choice = rng.random()
        if choice < 0.4:
            query = words[0]  # One word.
        elif choice < 0.7:
            query = words[0][: rng.randint(2, 5)]  # Search as you type: a prefix.
        else:
            query = " ".join(words)  # Two words, both required.
        return "pluginary/query", {"text": query}

    def vendor() -> tuple[str, Any]:
        name = rng.choice(vendors)
        word = rng.choice(name.split())
        return "pluginary/query", {"vendor": word if rng.random() < 0.5 else name.lower()}

    def parameter() -> tuple[str, Any]:
        name = rng.choice(params)
        key = name.lower().replace(" ", "_")
        return "pluginary/query", {"parameter": name if rng.random() < 0.5 else key}

    def by_id() -> tuple[str, Any]:
        return "pluginary/plugin", {"id": rng.choice(ids)}

    return {"text": text, "vendor": vendor, "has-parameter": parameter, "plugin-by-id": by_id}


async def wait_until(condition: Callable[[], bool], what: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out waiting until {what}")
        await asyncio.sleep(0.01)


async def queries(bench: Bench) -> list[Row]:
    sizes = bench.sizes
    cache = bench.scratch("catalog")
    built = fixtures.synthetic_catalog(cache, sizes.catalog_plugins)
    hang_folder = fixtures.hang_bundle(bench.scratch("hang")).parent
    makers = query_makers(cache / "catalog.sqlite")
    latencies: dict[str, dict[str, list[float]]] = {
        phase: {kind: [] for kind in makers} for phase in ("alone", "scan")
    }
    client = await bench.sidecar(cache)
    try:
        for _ in range(10):  # Warm-up, not counted.
            for make in makers.values():
                await client.request(*make())
        per_round = max(1, sizes.queries // sizes.query_rounds)
        for round_ in range(sizes.query_rounds):
            await _query_block(client, makers, per_round, latencies["alone"])
            ident, scan = client.send(
                "pluginary/scan",
                scan_params(hang_folder, timeoutSeconds=3600, workDoneToken=f"hang-{round_}"),
            )
            # Running: the hanging probe exists (sidecar -> fork server -> probe).
            await wait_until(lambda: len(descendants(client.pid)) >= 3, "the hang probe runs")
            await _query_block(client, makers, per_round, latencies["scan"])
            if scan.done():
                raise RuntimeError("the hanging scan ended by itself")
            client.notify("$/cancelRequest", {"id": ident})
            try:
                await asyncio.wait_for(scan, SAFETY)
                raise RuntimeError("the cancelled scan answered a result")
            except RpcError as error:
                if error.code != REQUEST_CANCELLED:
                    raise
    finally:
        await client.close()
    bench.raw["queries"] = {"catalog_build_seconds": built, **latencies}
    rows = []
    for phase, target in (("alone", 5.0), ("scan", 20.0)):
        letters = "abcd" if phase == "alone" else "efgh"
        for letter, (kind, values) in zip(letters, latencies[phase].items(), strict=True):
            p99 = percentile(values, 0.99) * 1000
            during = "" if phase == "alone" else ", during a running scan"
            rows.append(
                Row(
                    f"4.{letter}",
                    f"Query p99 on {sizes.catalog_plugins:,} plugins: {kind}{during}",
                    ours=f"p50 {percentile(values, 0.5) * 1000:.2f} ms,"
                    f" max {max(values) * 1000:.2f} ms ({len(values)} requests)",
                    result=f"{p99:.2f} ms",
                    target=f"≤ {target:.0f} ms",
                    met=p99 <= target,
                )
            )
    return rows


async def _query_block(
    client: Client,
    makers: dict[str, Callable[[], tuple[str, Any]]],
    count: int,
    into: dict[str, list[float]],
) -> None:
    for _ in range(count):
        for kind, make in makers.items():  # Kinds interleaved: noise falls on all alike.
            seconds, _ = await asyncio.wait_for(client.timed(*make()), SAFETY)
            into[kind].append(seconds)


# -- 5, 6. start-up and idle memory -----------------------------------------------------------


async def startup(bench: Bench) -> list[Row]:
    idle: dict[str, list[float]] = {"ours": [], "bare": []}

    async def start(name: str, command: list[str], env: dict[str, str]) -> float:
        client = await Client.spawn(command, env)
        try:
            await asyncio.wait_for(client.initialize({"workers": WORKERS}), SAFETY)
            assert client.initialized_at is not None
            seconds = client.initialized_at - client.spawned_at
            if name == "ours":
                await client.request("pluginary/status")  # Start-up business finished.
            await asyncio.sleep(0.3)
            idle[name].append(rss(client.pid))
        finally:
            await client.close()
        return seconds

    async def ours(round_: int) -> float:
        cache = bench.scratch("startup")
        return await start("ours", SIDECAR, {"PLUGINARY_CACHE_DIR": str(cache)})

    async def bare(round_: int) -> float:
        return await start("bare", BARE_SERVER, {})

    figures = await alternate(bench.sizes.startup_reps, 1, {"ours": ours, "bare": bare})
    bench.raw["startup"] = {**figures, "idle": idle}
    ratio = median(ratios(figures["ours"], figures["bare"]))
    ours_idle = median(idle["ours"]) / MIB
    return [
        Row(
            "5",
            "Start-up: spawn → `initialize` result, vs a bare pygls server",
            ours=spread(figures["ours"], "ms", 1000, 0),
            baseline=spread(figures["bare"], "ms", 1000, 0),
            result=f"{ratio:.2f}x",
            target="≤ 1.10x",
            met=ratio <= 1.10,
        ),
        Row(
            "6.a",
            "Idle memory of the sidecar after start-up (RSS)",
            ours=f"{ours_idle:.1f} MiB",
            baseline=f"{median(idle['bare']) / MIB:.1f} MiB bare pygls server",
            result=f"{ours_idle:.1f} MiB",
            target="≤ 60 MiB",
            met=ours_idle <= 60,
        ),
    ]


# -- 9. the command line's reads -------------------------------------------------------------


async def cli_reads(bench: Bench) -> list[Row]:
    """Whole-process wall time of reading commands against a bare Python start, round by round."""
    cache = bench.scratch("cli-catalog")
    fixtures.synthetic_catalog(cache, bench.sizes.catalog_plugins)
    db = sqlite3.connect(cache / "catalog.sqlite")
    try:
        (ident,) = db.execute("SELECT id FROM plugins ORDER BY random() LIMIT 1").fetchone()
    finally:
        db.close()
    env = {**os.environ, "PLUGINARY_CACHE_DIR": str(cache)}

    async def listed(round_: int) -> float:
        return (await command_wall([PLUGINARY, "list", "--json"], env))[0]

    async def shown(round_: int) -> float:
        return (await command_wall([PLUGINARY, "show", ident], env))[0]

    async def bare(round_: int) -> float:
        return (await command_wall(BARE_PYTHON, env))[0]

    runs = {"list": listed, "show": shown, "bare": bare}
    figures = await alternate(bench.sizes.startup_reps, 1, runs)
    bench.raw["cli"] = figures
    rows = []
    for key, name, command in (
        ("9.a", "list", "`pluginary list --json`"),
        ("9.b", "show", "`pluginary show ID`"),
    ):
        seconds = median(figures[name])
        ratio = median(ratios(figures[name], figures["bare"]))
        rows.append(
            Row(
                key,
                f"{command} on {bench.sizes.catalog_plugins:,} plugins, whole process,"
                " vs a bare Python start",
                ours=spread(figures[name], "ms", 1000, 0),
                baseline=spread(figures["bare"], "ms", 1000, 0) + " `python -c pass`",
                result=f"{seconds * 1000:.0f} ms, {ratio:.1f}x",
                target="≤ 250 ms and ≤ 8x",
                met=seconds <= 0.25 and ratio <= 8,
            )
        )
    return rows


# -- 11. issue 15's fast describer -----------------------------------------------------------


async def describing(bench: Bench) -> list[Row]:
    """probe_ms.parameters of one plugin, the fast describer against pedalboard's own path."""
    name = bench.sizes.describe_plugin
    bundle = fixtures.dpf_bundle(name)
    counts: list[int] = []

    def contender(kind: str) -> Callable[[int], Awaitable[float]]:
        async def described(round_: int) -> float:
            _, facts, _ = await run_process([*DESCRIBE_TIME, str(bundle), kind])
            if facts.get("describer") != kind:
                raise RuntimeError(f"asked for the {kind} describer, got {facts.get('describer')}")
            counts.append(int(facts["parameters"]))
            return float(facts["parameters_ms"]) / 1000

        return described

    runs = {"fast": contender("fast"), "pedalboard": contender("pedalboard")}
    figures = await alternate(bench.sizes.describe_reps, 0, runs)
    bench.raw["describe"] = figures
    speedup = median(ratios(figures["pedalboard"], figures["fast"]))
    return [
        Row(
            "11",
            f"Describing the parameters of {name} ({max(counts):,}): probe_ms.parameters, the"
            " fast describer vs pedalboard's own path (each a fresh process)",
            ours=spread(figures["fast"], "ms", 1000, 0),
            baseline=spread(figures["pedalboard"], "ms", 1000, 0) + " pedalboard's path",
            result=f"{speedup:.1f}x faster",
            target="≥ 20x",
            met=speedup >= 20,
        )
    ]


# -- the whole run ---------------------------------------------------------------------------

SECTIONS = ("startup", "real", "scale", "queries", "cli", "describe", "breadth")


async def run(bench: Bench, only: tuple[str, ...] = SECTIONS) -> list[Row]:
    sizes = bench.sizes
    bundles = fixtures.real_bundles(sizes.real_bundles)
    real = fixtures.subset_folder(bundles, bench.scratch("real-set") / "vst3")
    rows: list[Row] = []
    steps: list[tuple[str, Callable[[], Awaitable[list[Row]]], list[Row]]] = [
        ("startup", lambda: startup(bench), _failed("5", "6.a")),
        ("real", lambda: real_set(bench, real, len(bundles)), _failed(*REAL_ROWS)),
        (
            "scale",
            lambda: scale(
                bench,
                fixtures.copies_folder(bundles, sizes.scale_bundles, bench.scratch("copies")),
                sizes.scale_bundles,
            ),
            _failed("2.a", "2.b", "2.c", "3", "6.b", "7.a", "7.b", "9.c"),
        ),
        ("queries", lambda: queries(bench), _failed(*(f"4.{c}" for c in "abcdefgh"))),
        ("cli", lambda: cli_reads(bench), _failed("9.a", "9.b")),
        ("describe", lambda: describing(bench), _failed("11")),
        ("breadth", lambda: breadth(bench), _failed(*BREADTH_ROWS)),
    ]
    for name, step, on_error in steps:
        if name not in only:
            continue
        started = time.perf_counter()
        print(f"bench: {name}...", file=sys.stderr, flush=True)
        try:
            rows += await step()
        except Exception as error:
            for row in on_error:
                row.error = f"{type(error).__name__}: {error}"
            rows += on_error
        bench.raw.setdefault("seconds", {})[name] = time.perf_counter() - started
    return sorted(rows, key=lambda row: _order(row.key))


def _failed(*keys: str) -> list[Row]:
    return [Row(key, key) for key in keys]


def _order(key: str) -> tuple[int, str]:
    number, _, letter = key.partition(".")
    return int(number), letter
