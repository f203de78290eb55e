"""The ``pluginary`` command: a client of the sidecar (``pluginary serve``), for people.

Every command but ``serve`` spawns the sidecar, asks it one thing through
:mod:`pluginary.client`, and prints the answer: tables for people, ``--json`` for programs.
Results go to stdout; progress and messages to stderr. Exit status: 0 on success, 1 when the
sidecar reports a failure (or a scan is interrupted), 2 on usage errors.
"""

from __future__ import annotations

import json
import os
import signal
import sys
from collections.abc import Awaitable, Callable
from typing import Any, NoReturn, TypeVar

import anyio
import click
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from pluginary.fsnames import from_exact_bytes, shell_quoted
from pluginary.models import CHANNEL_COUNTS
from pluginary.paths import CACHE_DIR_ENV, cache_paths

T = TypeVar("T")

stdout = Console(highlight=False)
stderr = Console(stderr=True, highlight=False)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--cache-dir",
    type=click.Path(file_okay=False),
    help=f"The cache folder (default: ${CACHE_DIR_ENV}, else the OS's cache folder).",
)
@click.version_option(package_name="pluginary")
def main(cache_dir: str | None) -> None:
    """Pluginary: scan audio plugins and query their catalogue."""
    if cache_dir is not None:
        # The sidecar and everything it starts read the cache folder from the environment.
        os.environ[CACHE_DIR_ENV] = os.path.abspath(cache_dir)


@main.command()
def serve() -> None:
    """Serve the Pluginary protocol over stdin/stdout (LSP base protocol) for a host program."""
    # Imported here: the server's dependencies (pygls, lsprotocol) cost time other commands skip.
    from pluginary.server.main import serve as run

    sys.exit(run())


def _run(work: Callable[[Any], Awaitable[T]]) -> T:
    """Run ``work(client)`` against a fresh sidecar; turn its errors into exit status 1."""
    from pluginary.client import AsyncClient, ScanCancelled, ServerError

    outcome: list[T] = []

    async def session() -> None:
        async with (
            AsyncClient(on_log=lambda line: stderr.print(f"[dim]{escape(line)}[/dim]")) as client,
            anyio.create_task_group() as tasks,
        ):
            work_scope = anyio.CancelScope()

            # Ctrl-C cancels the work the anyio way, so the client can tell the sidecar to stop
            # the scan (leaving it resumable) and wait for its answer before leaving.
            async def on_interrupt() -> None:
                with anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
                    async for _ in signals:
                        work_scope.cancel()
                        return

            tasks.start_soon(on_interrupt)
            try:
                with work_scope:
                    outcome.append(await work(client))
            except ServerError as error:
                failures.append(error)  # Raised here, it would reach us in an exception group.
            tasks.cancel_scope.cancel()

    failures: list[ServerError] = []
    try:
        anyio.run(session)
    except KeyboardInterrupt:
        _interrupted()
    for failure in failures:
        if isinstance(failure, ScanCancelled):
            _interrupted()
        stderr.print(f"[red]error:[/red] {escape(str(failure))}")
        sys.exit(1)
    if not outcome:
        _interrupted()
    return outcome[0]


def _interrupted() -> NoReturn:
    stderr.print(
        "Scan interrupted; nothing is lost. Run [bold]pluginary resume[/bold] to finish it."
    )
    sys.exit(1)


def _progress_bar() -> tuple[Progress, Callable[[dict[str, Any]], None]]:
    bar = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TaskProgressColumn(),
        TimeElapsedColumn(),
        TextColumn("{task.fields[message]}", style="dim"),
        console=stderr,
        transient=True,
    )
    task = bar.add_task("Scanning", total=100, message="")

    def update(value: dict[str, Any]) -> None:
        if value.get("percentage") is not None:
            bar.update(task, completed=value["percentage"])
        if value.get("message"):
            bar.update(task, message=value["message"])

    return bar, update


def _print_summary(summary: dict[str, Any], as_json: bool) -> None:
    """One summary of a scan: what it found, what it did, what failed and what to do next."""
    if as_json:
        stdout.print_json(json.dumps(summary))
        return
    if summary["discovered"] == 0 and not summary["removed"]:
        _print_nothing_found(summary["folders"])
        return
    kept = f", {summary['kept']} kept from the interrupted scan" if summary["kept"] else ""
    stdout.print(
        f"{summary['discovered']} bundles found: {summary['probed']} probed,"
        f" {summary['unchanged']} unchanged, {summary['ignored']} ignored{kept};"
        f" {summary['removed']} removed ({summary['durationMs'] / 1000:.1f} s)."
    )
    stdout.print(
        f"Plugins probed: [green]{summary['ok']} ok[/green], {summary['failed']} failed,"
        f" {summary['timedOut']} timed out, {summary['crashed']} crashed."
    )
    totals = summary["catalogByStatus"]
    in_catalog = sum(totals.values())
    by_status = ", ".join(f"{n} {s}" for s, n in totals.items() if n)
    stdout.print(f"Catalogue: {in_catalog} plugins ({by_status or 'empty'}).")
    problems = summary["problems"]
    unnamed = summary["failed"] + summary["timedOut"] + summary["crashed"] - len(problems)
    if problems:
        stdout.print("[bold]Did not load:[/bold]")
    for problem in problems:
        error = f": {problem['error']}" if problem["error"] else ""
        stdout.print(
            f"  {problem['status']:<8} {problem['name']}  ({problem['id']}){error}",
            markup=False,
        )
    if unnamed > 0:
        stdout.print(
            f"  … and {unnamed} more: pluginary list --status failed (or timeout, crashed)"
        )
    if summary["timedOut"]:
        stdout.print(
            "Timed out plugins are probed once more at the next scan with twice the time;"
            " to give them longer now: pluginary scan --retry-failed --timeout SECONDS"
        )
    if summary["failed"] or summary["crashed"]:
        stdout.print(
            "Details: pluginary show ID. After fixing a cause (a missing library, say):"
            " pluginary scan --retry-failed"
        )


def _print_nothing_found(folders: list[str]) -> None:
    stdout.print("No plugin bundles found. Folders searched:")
    for folder in folders:
        stdout.print(f"  {folder}", markup=False)
    stdout.print(
        "Add one with: pluginary scan --folder PATH (repeatable); on Linux, VST3_PATH may also"
        " list folders to search (separated by ':').",
        markup=False,
    )


@main.command()
@click.option(
    "--folder",
    "folders",
    multiple=True,
    type=click.Path(exists=True, file_okay=False),
    help="Also search this folder (repeatable).",
)
@click.option("--only", is_flag=True, help="Search only the --folder folders.")
@click.option("--rescan", is_flag=True, help="Probe every plugin again, changed or not.")
@click.option("--retry-failed", is_flag=True, help="Probe plugins that failed before again.")
@click.option("--workers", type=click.IntRange(min=1), help="Probes at a time (default: cores).")
@click.option(
    "--timeout", type=click.FloatRange(min=0, min_open=True), help="Seconds per probe (30)."
)
@click.option(
    "--audio-check/--no-audio-check",
    default=None,
    help="Make each plugin process a little audio to learn its channels, latency and state"
    " (default: on).",
)
@click.option(
    "--memory-limit",
    type=click.FloatRange(min=0, min_open=True),
    metavar="MIB",
    help="Private memory one probe may take, in MiB (4096); over it, the plugin is recorded"
    " crashed.",
)
@click.option(
    "--output-limit",
    type=click.FloatRange(min=0, min_open=True),
    metavar="MIB",
    help="Bytes one probe may write to any file, its output included, in MiB (64).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
def scan(
    folders: tuple[str, ...],
    only: bool,
    rescan: bool,
    retry_failed: bool,
    workers: int | None,
    timeout: float | None,
    audio_check: bool | None,
    memory_limit: float | None,
    output_limit: float | None,
    as_json: bool,
) -> None:
    """Scan for plugins: probe what is new or changed, then update the catalogue."""
    if only and not folders:
        raise click.UsageError("--only needs at least one --folder")
    bar, update = _progress_bar()

    async def work(client: Any) -> dict[str, Any]:
        with bar:
            summary: dict[str, Any] = await client.scan(
                [os.path.abspath(f) for f in folders],
                only_folders=only,
                rescan=rescan,
                retry_failed=retry_failed,
                workers=workers,
                timeout_seconds=timeout,
                audio_check=audio_check,
                memory_limit_mib=memory_limit,
                output_limit_mib=output_limit,
                progress=update,
            )
            return summary

    _print_summary(_run(work), as_json)


@main.command()
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
def resume(as_json: bool) -> None:
    """Finish a scan that was interrupted (cancelled, killed, or its host closed)."""
    bar, update = _progress_bar()

    async def work(client: Any) -> dict[str, Any]:
        with bar:
            summary: dict[str, Any] = await client.resume(progress=update)
            return summary

    _print_summary(_run(work), as_json)


@main.command(name="list")
@click.option("--text", help="Words in the name, vendor, category or parameter names.")
@click.option("--vendor", help="Part of the vendor's name.")
@click.option("--kind", type=click.Choice(["effect", "instrument"]), help="Effects or instruments.")
@click.option("--category", help="A category element, e.g. Reverb.")
@click.option("--parameter", help="Only plugins with this parameter (name or key).")
@click.option(
    "--status", type=click.Choice(["ok", "failed", "timeout", "crashed"]), help="Probe outcome."
)
@click.option(
    "--channels",
    type=click.Choice([str(n) for n in CHANNEL_COUNTS]),
    help="Only plugins that process this many channels.",
)
@click.option(
    "--max-latency", type=click.IntRange(min=0), help="Only plugins with at most this latency."
)
@click.option(
    "--audio-ok/--audio-failed",
    default=None,
    help="Only plugins whose audio check passed (or failed).",
)
@click.option("--json", "as_json", is_flag=True, help="Print an object keyed by plugin id.")
def list_plugins(
    text: str | None,
    vendor: str | None,
    kind: str | None,
    category: str | None,
    parameter: str | None,
    status: str | None,
    channels: str | None,
    max_latency: int | None,
    audio_ok: bool | None,
    as_json: bool,
) -> None:
    """List the plugins in the catalogue (all of them, or those matching every filter)."""
    filters = {
        "text": text,
        "vendor": vendor,
        "kind": kind,
        "category": category,
        "parameter": parameter,
        "status": status,
        "channels": None if channels is None else int(channels),
        "max_latency": max_latency,
        "audio_ok": audio_ok,
    }
    plugins: list[dict[str, Any]] = _run(lambda client: client.query_all(**filters))
    if as_json:
        stdout.print_json(json.dumps({plugin["id"]: plugin for plugin in plugins}))
        return
    if not plugins:
        given = any(value is not None for value in filters.values())
        stderr.print("No plugins match." if given else "The catalogue is empty.")
        return
    table = Table(box=None, header_style="bold")
    columns = ("Id", "Name", "Vendor", "Kind", "Category", "Status", "Params", "Ch", "Latency")
    for column in columns:
        table.add_column(column, justify="right" if column in ("Params", "Latency") else "left")
    for p in plugins:
        style = "" if p["status"] == "ok" else "red"
        table.add_row(
            p["id"],
            p["name"],
            p["vendor"] or "",
            p["kind"] or "",
            p["category"] or "",
            p["status"] if p["audioOk"] is not False else f"{p['status']}, audio failed",
            str(p["parameterCount"]),
            _channels(p["channels"]),
            "" if p["latencySamples"] is None else str(p["latencySamples"]),
            style=style if p["audioOk"] is not False else "yellow",
        )
    stdout.print(table)
    stderr.print(f"{len(plugins)} plugin(s)")


@main.command()
@click.argument("plugin_id")
@click.option("--json", "as_json", is_flag=True, help="Print the full record as JSON.")
def show(plugin_id: str, as_json: bool) -> None:
    """Show one plugin: metadata, probe outcome and its parameters."""
    record: dict[str, Any] = _run(lambda client: client.plugin(plugin_id))
    if as_json:
        stdout.print_json(json.dumps(record))
        return
    stdout.print(f"[bold]{escape(record['name'])}[/bold]  ({record['id']})")
    for label, key in (
        ("Vendor", "vendor"),
        ("Version", "version"),
        ("Category", "category"),
        ("Kind", "kind"),
        ("Format", "format"),
        ("Path", "path"),
        ("Class", "className"),
        ("Status", "status"),
        ("Error", "error"),
        ("Diagnosis", "diagnosis"),
        ("Signal", "signal"),
    ):
        if record.get(key) not in (None, ""):
            # Escaped: a path or a plugin's text may hold "[...]", which rich reads as markup.
            stdout.print(f"  {label + ':':<11}{escape(str(record[key]))}")
        if key == "path" and record.get("pathBytes"):
            exact = shell_quoted(from_exact_bytes(record["pathBytes"]))
            stdout.print(f"  {'':<11}(not UTF-8; exactly {escape(exact)})")
    for label, text in _insert_facts(record):
        stdout.print(f"  {label + ':':<11}{text}")
    if record["parameters"]:
        table = Table(box=None, header_style="bold", title="Parameters", title_justify="left")
        for column in ("Key", "Name", "Units", "Range", "Default", "Values", "Texts (0 .. 1)"):
            table.add_column(column)
        for p in record["parameters"]:
            table.add_row(
                p["key"],
                p["name"],
                p["units"] or "",
                _range(p),
                p["defaultText"] or "",
                _values(p),
                _samples(p),
                style="yellow" if p["rangeProblem"] else "",
            )
        stdout.print(table)
    if record["status"] != "ok" and record["outputTail"]:
        stdout.print("[bold]What it printed (tail):[/bold]")
        stdout.print(record["outputTail"].rstrip(), markup=False)


def _channels(channels: list[int] | None) -> str:
    return "" if channels is None else ",".join(map(str, channels)) or "none"


def _insert_facts(record: dict[str, Any]) -> list[tuple[str, str]]:
    """What a host must know before inserting the plugin, as (label, text) lines."""
    facts: list[tuple[str, str]] = []
    if record["channels"] is not None:
        facts.append(("Channels", _channels(record["channels"])))
    if record["latencySamples"] is not None:
        facts.append(("Latency", f"{record['latencySamples']} samples"))
    check = record["audioCheck"]
    if check is not None:
        if check["ok"]:
            verdict = "silent" if check["silent"] else f"ok, peak {check['peak']:.3g}"
        elif check["nonFinite"]:
            verdict = "FAILED: the output holds NaN or infinity"
        else:
            verdict = f"FAILED: {check['error']}"
        facts.append(("Audio", verdict))
    state = record["state"]
    if state is not None:
        if state["writable"]:
            facts.append(("State", f"round-trips ({state['size']} bytes)"))
        else:
            facts.append(("State", f"does not round-trip: {state['error']}"))
    times = record["probeMs"]
    if times is not None:
        spent = [(name, times[name]) for name in ("load", "parameters", "audio")]
        facts.append(("Probe ms", ", ".join(f"{n} {ms:.1f}" for n, ms in spent if ms is not None)))
    return facts


def _range(parameter: dict[str, Any]) -> str:
    problem = parameter["rangeProblem"]
    if parameter["type"] == "bool":
        return "on/off"
    if parameter["min"] is None:
        return problem or ""
    step = parameter["step"] or parameter["approximateStep"]
    by = f" step {step:g}" if step else ""
    shown = f"{parameter['min']:g} .. {parameter['max']:g}{by}"
    return f"{shown} ({problem})" if problem else shown


def _samples(parameter: dict[str, Any]) -> str:
    samples = parameter["samples"] or []
    return " | ".join(sample["text"] or "?" for sample in samples)


def _values(parameter: dict[str, Any]) -> str:
    values = parameter["values"]
    if not values or parameter["type"] != "str":
        return ""
    shown = ", ".join(map(str, values[:6]))
    return shown + (f", … ({len(values)})" if len(values) > 6 else "")


@main.command()
@click.option("--json", "as_json", is_flag=True, help="Print the status as JSON.")
def status(as_json: bool) -> None:
    """Show the cache, catalogue counts, and the running, interrupted and last scans."""
    info: dict[str, Any] = _run(lambda client: client.status())
    if as_json:
        stdout.print_json(json.dumps(info))
        return
    counts = info["counts"]
    stdout.print(f"Pluginary {info['version']}, cache {info['cache']['root']}")
    by_status = ", ".join(f"{n} {s}" for s, n in counts["byStatus"].items() if n)
    stdout.print(
        f"  Catalogue: {counts['plugins']} plugins in {counts['bundles']} bundles"
        f" ({by_status or 'empty'})"
    )
    if info["running"]:
        run = info["running"]
        stdout.print(f"  Running:   scan {run['scanId']} (pid {run['pid']})")
    if info["interrupted"]:
        stopped = info["interrupted"]
        stdout.print(
            f"  Interrupted: scan {stopped['scanId']}, {stopped['done']}/{stopped['total']}"
            " probes done — run `pluginary resume`"
        )
    if info["lastScan"]:
        last = info["lastScan"]
        stdout.print(
            f"  Last scan: {last['scanId']}: {last['ok']} ok, {last['failed']} failed,"
            f" {last['timedOut']} timed out, {last['crashed']} crashed"
        )


@main.group()
def ignore() -> None:
    """The ignore list: bundles or plugins that must never be loaded."""


@ignore.command(name="add")
@click.argument("pattern")
@click.option("--class", "class_name", help="Ignore only this plugin class of the bundle.")
def ignore_add(pattern: str, class_name: str | None) -> None:
    """Add a bundle path or glob (e.g. '**/Crashy*.vst3') to the ignore list."""
    from pluginary.errors import StorageError
    from pluginary.scanner.ignorelist import IgnoreListError, add_ignore_entry

    path = cache_paths().ignore_list  # Created with its folder by add_ignore_entry.
    try:
        add_ignore_entry(path, pattern, class_name)
    except IgnoreListError as error:
        raise click.BadParameter(str(error), param_hint="PATTERN") from error
    except StorageError as error:
        stderr.print(f"[red]error:[/red] {error}")
        sys.exit(1)
    stderr.print(f"Added to {path}")


@ignore.command(name="list")
def ignore_list() -> None:
    """Print the ignore list's file name and its entries."""
    from pluginary.errors import StorageError
    from pluginary.scanner.ignorelist import IgnoreListError, load_ignore_list

    path = cache_paths().ignore_list
    stderr.print(f"{path}")
    try:
        entries = load_ignore_list(path).entries
    except (IgnoreListError, StorageError) as error:
        stderr.print(f"[red]error:[/red] {error}")
        sys.exit(1)
    for entry in entries:
        suffix = f" :: {entry.class_name}" if entry.class_name else ""
        stdout.print(f"{entry.pattern}{suffix}", markup=False)
