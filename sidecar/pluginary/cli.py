"""The ``pluginary`` command, for people.

Reading commands (``list``, ``show``, ``status``, ``ignore``) read the cache in this process
through the same domain calls as the sidecar (:mod:`pluginary.local`): no server starts, and
``--json`` prints what the sidecar would answer. ``scan`` and ``resume`` spawn the sidecar
(``pluginary serve``) and drive it through :mod:`pluginary.client`. Results go to stdout;
progress and messages to stderr. Exit status: 0 on success, 1 on a failure (or an interrupted
scan), 2 on usage errors.
"""

from __future__ import annotations

import json
import os
import signal
import sys
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

import click

from pluginary import __version__
from pluginary.fsnames import from_exact_bytes, shell_quoted
from pluginary.models import CHANNEL_COUNTS, PluginQuery
from pluginary.paths import CACHE_DIR_ENV, CachePaths, cache_paths
from pluginary.printable import one_line, printable

if TYPE_CHECKING:
    from click.shell_completion import CompletionItem
    from rich.console import Console
    from rich.progress import Progress

T = TypeVar("T")


class _Console:
    """A rich Console made at its first use: ``--json`` and piped output never import rich.

    Reading commands must start fast (see bench/README.md); rich is a fifth of their start-up.
    """

    def __init__(self, **options: Any) -> None:
        self.options = options
        self.made: Console | None = None

    def get(self) -> Console:
        if self.made is None:
            from rich.console import Console

            self.made = Console(**self.options)
        return self.made

    def __getattr__(self, name: str) -> Any:
        return getattr(self.get(), name)


# No emoji codes (":x:" in a plugin's name stays as it is) and no highlighting of data. Messages
# on stderr are never hard-wrapped: piped into a log, a long path stays on one line.
stdout = _Console(highlight=False, emoji=False)
stderr = _Console(stderr=True, highlight=False, emoji=False, soft_wrap=True)


def _print_json(value: Any) -> None:
    # Not rich's print_json: it highlights as it goes (18 s for 20,000 plugins). Indented for a
    # person only: into a pipe, one line, which the json module's C encoder makes 8x faster.
    indent = 2 if sys.stdout.isatty() else None
    sys.stdout.write(json.dumps(value, indent=indent, ensure_ascii=False) + "\n")


class _Commands(click.Group):
    """The command group; output into a closed pipe (``pluginary list | head``) ends quietly."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            result = super().invoke(ctx)
            sys.stdout.flush()  # Here, where a closed pipe can still be told apart.
        except BrokenPipeError:
            # The reader has all it wanted. Python would complain again flushing stdout at
            # exit, so stdout is pointed at /dev/null first (as the Python docs advise).
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            sys.exit(0)
        return result


def _cache_dir(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    if value == "":
        raise click.BadParameter("must not be empty (leave it out for the default folder)")
    return value


@click.group(cls=_Commands, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--cache-dir",
    type=click.Path(file_okay=False),
    callback=_cache_dir,
    help=f"The cache folder (default: ${CACHE_DIR_ENV}, else the OS's cache folder).",
)
@click.version_option(__version__, "-V", "--version", prog_name="pluginary")
def main(cache_dir: str | None) -> None:
    """Pluginary: scan audio plugins and query their catalogue."""
    if cache_dir is not None:
        # The sidecar and everything it starts read the cache folder from the environment.
        os.environ[CACHE_DIR_ENV] = os.path.abspath(cache_dir)


def _fail(message: str, details: Sequence[str] = ()) -> NoReturn:
    """One line on stderr (then ``details``, one a line), exit status 1."""
    click.echo(f"{click.style('error:', fg='red')} {one_line(message.strip())}", err=True)
    for line in details:
        click.echo(f"  {one_line(line)}", err=True)
    sys.exit(1)


def _read(question: Callable[[CachePaths], T]) -> T:
    """``question(paths)`` on this cache, in this process; a failure is one line and status 1."""
    from pluginary.catalog.lookup import MAX_CANDIDATES, AmbiguousPlugin
    from pluginary.errors import PluginaryError

    try:
        return question(cache_paths())
    except AmbiguousPlugin as error:
        shown = [f"{ident}  {name}" for ident, name in error.candidates[:MAX_CANDIDATES]]
        more = len(error.candidates) - len(shown)
        _fail(str(error), [*shown, f"... and {more} more"] if more else shown)
    except (PluginaryError, OSError) as error:
        _fail(str(error))


@main.command()
def serve() -> None:
    """Serve the Pluginary protocol over stdin/stdout (LSP base protocol) for a host program."""
    # Imported here: the server's dependencies (pygls, lsprotocol) cost time other commands skip.
    from pluginary.server.main import serve as run

    sys.exit(run())


def _run(work: Callable[[Any], Awaitable[T]]) -> T:
    """Run ``work(client)`` against a fresh sidecar; turn its errors into exit status 1."""
    import anyio
    from rich.markup import escape

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
        _fail(str(failure))
    if not outcome:
        _interrupted()
    return outcome[0]


def _interrupted() -> NoReturn:
    stderr.print(
        "Scan interrupted; nothing is lost. Run [bold]pluginary resume[/bold] to finish it."
    )
    sys.exit(1)


def _progress_bar() -> tuple[Progress, Callable[[dict[str, Any]], None]]:
    from rich.progress import (
        BarColumn,
        Progress,
        TaskProgressColumn,
        TextColumn,
        TimeElapsedColumn,
    )

    bar = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TaskProgressColumn(),
        TimeElapsedColumn(),
        TextColumn("{task.fields[message]}", style="dim"),
        console=stderr.get(),
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
@click.option(
    "--text",
    help="Words in the name, vendor, category or parameter names: 3+ letters anywhere inside"
    " them, 1-2 at the start of a word.",
)
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
    "--max-latency",
    type=click.IntRange(min=0),
    metavar="SAMPLES",
    help="Only plugins with at most this latency, in samples.",
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
    """List the plugins in the catalogue (all of them, or those matching every filter).

    On a terminal, a table; into a pipe or a file, one plugin a line, its fields separated by
    tabs and never cut: id, name, vendor, kind, category, status, parameters, channels, latency.
    """
    from pluginary.local import list_plugins as read

    query = PluginQuery(
        text=text,
        vendor=vendor,
        kind=kind,
        category=category,
        parameter=parameter,
        status=status,
        channels=None if channels is None else int(channels),
        max_latency=max_latency,
        audio_ok=audio_ok,
    )
    plugins = _read(lambda paths: read(paths, query))
    if as_json:
        _print_json({plugin["id"]: plugin for plugin in plugins})
        return
    if not plugins:
        empty = "No plugins match." if query != PluginQuery() else "The catalogue is empty."
        click.echo(empty, err=True)
        return
    rows = [_list_row(p) for p in plugins]
    if sys.stdout.isatty():
        _print_table(plugins, rows)
    else:
        sys.stdout.write("".join("\t".join(row) + "\n" for row in rows))
    click.echo(f"{len(plugins)} plugin(s)", err=True)


def _list_row(p: dict[str, Any]) -> list[str]:
    audio_failed = p["audioOk"] is False
    return [
        one_line(str(value))
        for value in (
            p["id"],
            p["name"],
            p["vendor"] or "",
            p["kind"] or "",
            p["category"] or "",
            f"{p['status']}, audio failed" if audio_failed else p["status"],
            p["parameterCount"],
            _channels(p["channels"]),
            "" if p["latencySamples"] is None else p["latencySamples"],
        )
    ]


LIST_COLUMNS = ("Id", "Name", "Vendor", "Kind", "Category", "Status", "Params", "Ch", "Latency")
# On a narrow terminal, columns go in this order until the table fits (Id, Name, Status stay).
LIST_DROPPED_FIRST = ("Category", "Vendor", "Latency", "Ch", "Params", "Kind")


def _print_table(plugins: list[dict[str, Any]], rows: list[list[str]]) -> None:
    from rich.table import Table
    from rich.text import Text

    widths = {
        column: max(len(column), *(len(row[i]) for row in rows)) + 2  # Padding: 1 each side.
        for i, column in enumerate(LIST_COLUMNS)
    }
    shown = list(LIST_COLUMNS)
    for column in LIST_DROPPED_FIRST:
        if sum(widths[c] for c in shown) <= stdout.width:
            break
        shown.remove(column)
    table = Table(box=None, header_style="bold")
    for column in shown:
        table.add_column(
            column,
            justify="right" if column in ("Params", "Latency") else "left",
            # An id is for copying: it is never wrapped or cut; other columns fold instead.
            no_wrap=column == "Id",
            min_width=widths["Id"] - 2 if column == "Id" else None,
            overflow="fold",
        )
    keep = [LIST_COLUMNS.index(column) for column in shown]
    for p, row in zip(plugins, rows, strict=True):
        style = "" if p["status"] == "ok" else "red"
        # Text cells: a name like "Gain [dB]" is data, never rich markup.
        table.add_row(
            *(Text(row[i]) for i in keep),
            style=style if p["audioOk"] is not False else "yellow",
        )
    stdout.print(table)


def _complete_plugin(
    ctx: click.Context, param: click.Parameter, incomplete: str
) -> list[CompletionItem]:
    """Ids and names of the catalogue's plugins that start with ``incomplete``."""
    from click.shell_completion import CompletionItem

    from pluginary.errors import PluginaryError
    from pluginary.local import names

    # The group's callback does not run while completing: the cache folder comes from its params.
    cache_dir = ctx.find_root().params.get("cache_dir")
    try:
        pairs = names(cache_paths(os.path.abspath(cache_dir) if cache_dir else None))
    except (PluginaryError, OSError):
        return []  # A shell's completion has nowhere to show an error.
    folded = incomplete.casefold()
    found = [CompletionItem(i, help=n) for i, n in pairs if i.casefold().startswith(folded)]
    found += [CompletionItem(n, help=i) for i, n in pairs if n.casefold().startswith(folded)]
    return found


@main.command()
@click.argument("plugin", metavar="ID|NAME", shell_complete=_complete_plugin)
@click.option("--json", "as_json", is_flag=True, help="Print the full record as JSON.")
def show(plugin: str, as_json: bool) -> None:
    """Show one plugin's metadata, probe outcome and parameters.

    The plugin is given by its id, the start of its id, or its name (any case).
    """
    from rich.table import Table
    from rich.text import Text

    from pluginary.local import show_plugin

    record = _read(lambda paths: show_plugin(paths, plugin))
    if as_json:
        _print_json(record)
        return
    stdout.print(Text.assemble((one_line(record["name"]), "bold"), f"  ({record['id']})"))
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
            _fact(label, str(record[key]))
        if key == "path" and record.get("pathBytes"):
            exact = shell_quoted(from_exact_bytes(record["pathBytes"]))
            _fact("", f"(not UTF-8; exactly {exact})")
    for label, text in _insert_facts(record):
        _fact(label, text)
    if record["parameters"]:
        table = Table(box=None, header_style="bold", title="Parameters", title_justify="left")
        for column in ("Key", "Name", "Units", "Range", "Default", "Values", "Texts (0 .. 1)"):
            table.add_column(column, no_wrap=column == "Key")
        for p in record["parameters"]:
            cells = (
                p["key"],
                p["name"],
                p["units"] or "",
                _range(p),
                p["defaultText"] or "",
                _values(p),
                _samples(p),
            )
            # Text cells: "Gain [dB]" is a parameter's name, not rich markup.
            table.add_row(
                *(Text(one_line(str(cell))) for cell in cells),
                style="yellow" if p["rangeProblem"] else "",
            )
        stdout.print(table)
    if record["status"] != "ok" and record["outputTail"]:
        stdout.print(Text("What it printed (tail):", style="bold"))
        # A crashing plugin may print escape sequences; none reaches the terminal.
        stdout.print(Text(printable(record["outputTail"]).rstrip()))


def _fact(label: str, text: str) -> None:
    stdout.print(f"  {label + ':' if label else '':<11}{one_line(text)}", markup=False)


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
    from pluginary.local import status as read

    info = _read(read)
    if as_json:
        _print_json(info)
        return
    counts = info["counts"]
    _line(f"Pluginary {info['version']}, cache {info['cache']['root']}")
    by_status = ", ".join(f"{n} {s}" for s, n in counts["byStatus"].items() if n)
    _line(
        f"  Catalogue: {counts['plugins']} plugins in {counts['bundles']} bundles"
        f" ({by_status or 'empty'})"
    )
    if info["running"]:
        run = info["running"]
        _line(f"  Running:   scan {run['scanId']} (pid {run['pid']})")
    if info["interrupted"]:
        stopped = info["interrupted"]
        _line(
            f"  Interrupted: scan {stopped['scanId']}, {stopped['done']}/{stopped['total']}"
            " probes done — run `pluginary resume`"
        )
    if info["lastScan"]:
        # What the scan did (bundles), then what the catalogue holds since (plugins): a scan that
        # found nothing new probed nothing, but the catalogue still has every plugin.
        last = info["lastScan"]
        _line(
            f"  Last scan: {last['scanId']}: {last['discovered']} found, {last['probed']} probed,"
            f" {last['unchanged']} unchanged, {last.get('ignored', 0)} ignored,"
            f" {last.get('kept', 0)} kept, {last['removed']} removed"
        )


def _line(text: str) -> None:
    click.echo(one_line(text))


@main.group()
def ignore() -> None:
    """The ignore list: bundles or plugins that must never be loaded."""


@ignore.command(name="add")
@click.argument("pattern")
@click.option("--class", "class_name", help="Ignore only this plugin class of the bundle.")
def ignore_add(pattern: str, class_name: str | None) -> None:
    """Add a bundle path or glob (e.g. '**/Crashy*.vst3') to the ignore list."""
    from pluginary.scanner.ignorelist import IgnoreListError, add_ignore_entry

    def add(paths: CachePaths) -> str:
        path = paths.ignore_list  # Created with its folder by add_ignore_entry.
        try:
            add_ignore_entry(path, pattern, class_name)
        except IgnoreListError as error:
            raise click.BadParameter(str(error), param_hint="PATTERN") from error
        return str(path)

    click.echo(f"Added to {one_line(_read(add))}", err=True)


@ignore.command(name="list")
def ignore_list() -> None:
    """Print the ignore list's file name (on stderr) and its entries."""
    from pluginary.scanner.ignorelist import IgnoreEntry, IgnoreListError, load_ignore_list

    def entries(paths: CachePaths) -> list[IgnoreEntry]:
        try:
            return list(load_ignore_list(paths.ignore_list).entries)
        except IgnoreListError as error:
            _fail(f"{paths.ignore_list}: {error}")

    click.echo(one_line(str(cache_paths().ignore_list)), err=True)
    for entry in _read(entries):
        suffix = f" :: {entry.class_name}" if entry.class_name else ""
        click.echo(one_line(f"{entry.pattern}{suffix}"))
