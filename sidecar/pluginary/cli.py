"""The ``pluginary`` command, for people.

Reading commands (``list``, ``show``, ``status``, ``ignore``) read the cache in this process
through the same domain calls as the sidecar (:mod:`pluginary.local`): no server starts, and
``--json`` prints what the sidecar would answer. ``scan`` and ``resume`` run the sidecar's scan
engine in this process too (:mod:`pluginary.local_scan`), under the same lock. Results go to stdout;
progress and messages to stderr. Exit status: 0 on success, 1 on a failure (or an interrupted
scan), 2 on usage errors.
"""

from __future__ import annotations

import json
import os
import re
import sys
import threading
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

    from pluginary.scan_models import ScanProgress

T = TypeVar("T")
ScanProgressCallback = Callable[["ScanProgress"], None]
LogCallback = Callable[[str], None]


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


# No emoji codes (":x:" in a plugin's name stays as it is) and no highlighting of data. Lines are
# never hard-wrapped: piped into a file or a log, a long path stays on one line.
stdout = _Console(highlight=False, emoji=False, soft_wrap=True)
stderr = _Console(stderr=True, highlight=False, emoji=False, soft_wrap=True)


def _print_json(value: Any) -> None:
    # Not rich's print_json: it highlights as it goes (18 s for 20,000 plugins). Indented for a
    # person only: into a pipe, one line, which the json module's C encoder makes 8x faster.
    indent = 2 if sys.stdout.isatty() else None
    sys.stdout.write(json.dumps(value, indent=indent, ensure_ascii=False) + "\n")


def _first_sentence(text: str) -> str:
    """The first sentence of ``text``'s first paragraph, whole.

    A sentence ends at ".", "!" or "?" before a capital letter or at the paragraph's end, so
    "(e.g. '*.vst3')" does not end one (click's own rule would stop there).
    """
    paragraph = " ".join(text.split("\n\n", 1)[0].replace("\b", "").split())
    found = re.search(r"[.!?](?=\s+[A-Z]|$)", paragraph)
    return paragraph[: found.end()] if found else paragraph


class _Command(click.Command):
    """A command listed in its group's help by its help's whole first sentence.

    Made from the help, click's short help is cut to the terminal's width ("..."); given, it is
    shown whole, wrapped if need be. So it is given: the first sentence.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.help and not self.short_help:
            self.short_help = _first_sentence(self.help)


class _Group(_Command, click.Group):
    """A group of commands, listed like any command; its commands are _Command."""

    command_class = _Command
    group_class: type[click.Group | type] | None = type  # Its subgroups are _Groups too.


class _Commands(_Group):
    """The command group; output into a closed pipe (``pluginary list | head``) ends quietly."""

    group_class = _Group

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
    """Serve the Pluginary protocol over stdin/stdout, for a host program.

    Messages are framed as in LSP's base protocol; see protocol/README.md.
    """
    # Imported here: the server's dependencies (pygls, lsprotocol) cost time other commands skip.
    from pluginary.server.main import serve as run

    sys.exit(run())


def _run_scan(work: Callable[[CachePaths, ScanProgressCallback, LogCallback], Awaitable[T]]) -> T:
    """Run a scan's ``work`` in this process (see :mod:`pluginary.local_scan`), with a progress
    bar; Ctrl-C stops it the engine's way (resumable); its errors are one line, status 1."""
    import anyio

    from pluginary.errors import PluginaryError
    from pluginary.interrupts import wait_for_interrupt

    bar = _ScanBar()
    outcome: list[T] = []

    def log(line: str) -> None:
        stderr.print(one_line(line), style="dim", markup=False)

    async def session() -> None:
        async with anyio.create_task_group() as tasks:
            work_scope = anyio.CancelScope()

            # Ctrl-C (or SIGTERM) cancels the work the anyio way: the engine then stops its
            # probes and leaves the journal resumable before the scope ends.
            async def on_interrupt() -> None:
                await wait_for_interrupt()
                work_scope.cancel()

            tasks.start_soon(on_interrupt)
            try:
                with work_scope:
                    outcome.append(await work(cache_paths(), bar.update, log))
            except (PluginaryError, OSError) as error:
                failures.append(error)  # Raised here, it would reach us in an exception group.
            finally:
                bar.close()
            tasks.cancel_scope.cancel()

    failures: list[PluginaryError | OSError] = []
    try:
        anyio.run(session)
    except KeyboardInterrupt:
        _interrupted()
    for failure in failures:
        _fail(str(failure))
    if not outcome:
        _interrupted()
    return outcome[0]


def _interrupted() -> NoReturn:
    stderr.print(
        "Scan interrupted; nothing is lost. Run [bold]pluginary resume[/bold] to finish it."
    )
    sys.exit(1)


class _ScanBar:
    """The scan's progress bar on a terminal's stderr, shown from the first probe on.

    A no-change scan probes nothing, so it never imports rich's progress machinery (a sixth of
    its time); into a pipe or a log there is no bar at all. Cleared when the scan ends, however
    it ends (Ctrl-C too), so no stale line is left behind.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()  # Updates come from the engine's threads.
        self._bar: Progress | None = None
        self._task: Any = None
        self._wanted = sys.stderr.isatty()

    def update(self, state: ScanProgress) -> None:
        with self._lock:
            if self._bar is None:
                if not self._wanted or state.done >= state.total:
                    return
                self._start()
            assert self._bar is not None
            self._bar.update(
                self._task, completed=state.percentage, message=one_line(state.message)
            )

    def _start(self) -> None:
        from rich.progress import (
            BarColumn,
            Progress,
            TaskProgressColumn,
            TextColumn,
            TimeElapsedColumn,
        )

        self._bar = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            TaskProgressColumn(),
            TimeElapsedColumn(),
            TextColumn("{task.fields[message]}", style="dim"),
            console=stderr.get(),
            transient=True,
        )
        self._task = self._bar.add_task("Scanning", total=100, message="")
        self._bar.start()

    def close(self) -> None:
        with self._lock:
            if self._bar is not None:
                self._bar.stop()
            self._wanted = False  # A late update from a stopping engine shows nothing.


def _print_summary(summary: dict[str, Any], as_json: bool) -> None:
    """One summary of a scan: what it found, what it did, what failed and what to do next."""
    if as_json:
        _print_json(summary)
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
        line = f"  {problem['status']:<8} {problem['name']}  ({problem['id']}){error}"
        stdout.print(one_line(line), markup=False)
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
    """Find plugins, probe the new or changed ones, update the catalogue."""
    if only and not folders:
        raise click.UsageError("--only needs at least one --folder")
    from pluginary import local_scan
    from pluginary.scan_models import ScanOptions

    default = ScanOptions()
    options = ScanOptions(
        folders=tuple(os.path.abspath(folder) for folder in folders),
        only_folders=only,
        rescan=rescan,
        retry_failed=retry_failed,
        workers=workers,  # None: one a core.
        timeout_seconds=default.timeout_seconds if timeout is None else timeout,
        audio_check=default.audio_check if audio_check is None else audio_check,
        memory_limit_mib=default.memory_limit_mib if memory_limit is None else memory_limit,
        output_limit_mib=default.output_limit_mib if output_limit is None else output_limit,
    )
    summary = _run_scan(lambda paths, update, log: local_scan.scan(paths, options, update, log))
    _print_summary(summary, as_json)


@main.command()
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
def resume(as_json: bool) -> None:
    """Finish an interrupted scan (cancelled, killed, or its host closed)."""
    from pluginary import local_scan

    _print_summary(_run_scan(local_scan.resume), as_json)


@main.command(name="list")
@click.option(
    "--text",
    help="Words in the name, vendor, category or parameter names: 3+ letters anywhere inside"
    " a word there, 1-2 at its start.",
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
    """List the plugins in the catalogue, or those matching every filter.

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
    from pluginary.local import show_plugin

    record = _read(lambda paths: show_plugin(paths, plugin))
    if as_json:
        _print_json(record)
    elif sys.stdout.isatty():
        _show_on_terminal(record)
    else:
        _show_plain(record)


def _show_facts(record: dict[str, Any]) -> list[tuple[str, str]]:
    """The record's facts as (label, text) lines, the insert facts last."""
    facts: list[tuple[str, str]] = []
    for label, key in SHOWN_FACTS:
        if record.get(key) not in (None, ""):
            facts.append((label, str(record[key])))
        if key == "path" and record.get("pathBytes"):
            exact = shell_quoted(from_exact_bytes(record["pathBytes"]))
            facts.append(("", f"(not UTF-8; exactly {exact})"))
    return facts + _insert_facts(record)


SHOWN_FACTS = (
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
)
PARAMETER_COLUMNS = ("Key", "Name", "Units", "Range", "Default", "Values", "Texts (0 .. 1)")


def _parameter_row(p: dict[str, Any]) -> list[str]:
    cells = (p["key"], p["name"], p["units"] or "", _range(p), p["defaultText"] or "")
    return [one_line(str(cell)) for cell in (*cells, _values(p), _samples(p))]


def _fact_line(label: str, text: str) -> str:
    return f"  {label + ':' if label else '':<11}{one_line(text)}"


def _show_plain(record: dict[str, Any]) -> None:
    """``show`` into a pipe or a file: plain lines, parameters as tab-separated rows, nothing
    wrapped or cut (and no rich to import: a script waits for this)."""
    lines = [f"{one_line(record['name'])}  ({record['id']})"]
    lines += [_fact_line(label, text) for label, text in _show_facts(record)]
    if record["parameters"]:
        lines += ["Parameters", "\t".join(PARAMETER_COLUMNS)]
        lines += ["\t".join(_parameter_row(p)) for p in record["parameters"]]
    if record["status"] != "ok" and record["outputTail"]:
        lines += ["What it printed (tail):", printable(record["outputTail"]).rstrip()]
    sys.stdout.write("".join(line + "\n" for line in lines))


def _show_on_terminal(record: dict[str, Any]) -> None:
    from rich.table import Table
    from rich.text import Text

    stdout.print(Text.assemble((one_line(record["name"]), "bold"), f"  ({record['id']})"))
    for label, text in _show_facts(record):
        stdout.print(_fact_line(label, text), markup=False)
    if record["parameters"]:
        table = Table(box=None, header_style="bold", title="Parameters", title_justify="left")
        for column in PARAMETER_COLUMNS:
            table.add_column(column, no_wrap=column == "Key")
        for p in record["parameters"]:
            # Text cells: "Gain [dB]" is a parameter's name, not rich markup.
            table.add_row(
                *(Text(cell) for cell in _parameter_row(p)),
                style="yellow" if p["rangeProblem"] else "",
            )
        stdout.print(table)
    if record["status"] != "ok" and record["outputTail"]:
        stdout.print(Text("What it printed (tail):", style="bold"))
        # A crashing plugin may print escape sequences; none reaches the terminal.
        stdout.print(Text(printable(record["outputTail"]).rstrip()))


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
    """Show the cache, the catalogue's counts and the state of scans.

    The scans: the one running now, the one interrupted (if any) and the last one.
    """
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
    """Add a bundle's path, or a glob of paths, to the ignore list.

    For example '**/Crashy*.vst3'; with --class, only that plugin class of the bundle.
    """
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
            _fail(str(error))  # It names the file (and the line).

    click.echo(one_line(str(cache_paths().ignore_list)), err=True)
    for entry in _read(entries):
        suffix = f" :: {entry.class_name}" if entry.class_name else ""
        click.echo(one_line(f"{entry.pattern}{suffix}"))


@ignore.command(name="remove")
@click.argument("pattern")
@click.option("--class", "class_name", help="Remove the entry of this plugin class of the bundle.")
def ignore_remove(pattern: str, class_name: str | None) -> None:
    """Remove one entry from the ignore list, keeping every other line.

    Name the entry as 'ignore list' prints it: PATTERN, or 'PATTERN :: NAME' (or PATTERN with
    --class NAME) for one plugin class. Only that entry goes: the same pattern for other
    classes, or for the whole bundle, stays.
    """
    from pluginary.scanner.ignorelist import (
        IgnoreListError,
        entry_line,
        entry_named,
        remove_ignore_entry,
    )

    try:
        entry = entry_named(pattern, class_name)
    except IgnoreListError as error:
        raise click.BadParameter(str(error), param_hint="PATTERN") from error

    def remove(paths: CachePaths) -> int:
        try:
            return remove_ignore_entry(paths.ignore_list, *entry)
        except IgnoreListError as error:  # Not there, or the list itself cannot be read.
            _fail(str(error))

    removed = _read(remove)
    lines = f" ({removed} lines)" if removed > 1 else ""
    shown = one_line(f"{entry_line(*entry)!r}{lines} from {cache_paths().ignore_list}")
    click.echo(f"Removed {shown}", err=True)
