"""The user's ignore list: bundles, or single plugins of a bundle, that must never be loaded.

A plain UTF-8 text file, meant to be edited by hand:

- one entry per line; blank lines are ignored;
- ``#`` starts a comment when it begins a line or follows whitespace (so ``a#b`` is a name);
- an entry is a bundle path or a glob over paths: ``*`` (any characters within one folder
  name), ``?`` (one character), ``[...]`` (one character of a set, ``[!...]`` for not),
  ``**`` (any number of folders), and ``~`` at the start for the home folder;
- a pattern naming a folder ignores every bundle beneath it;
- a pattern that is not absolute matches at any depth (``Foo.vst3`` is ``**/Foo.vst3``);
- ``pattern :: Class Name`` ignores only that plugin class of a multi-plugin bundle.

Patterns are matched against a bundle's path as found and against its real path, so either
spelling of a symlinked bundle works. Matching is case-insensitive only where the OS is
(Windows).
"""

from __future__ import annotations

import contextlib
import difflib
import errno
import functools
import os
import re
import stat
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from pluginary.storage import storage_errors

TEMPLATE = """\
# Pluginary ignore list: plugins that must never be loaded.
#
# One entry per line. Blank lines are ignored; "#" starts a comment at the start of a line
# or after a space. An entry is a bundle's path, or a glob matching bundle paths:
#   *      any characters within one folder name     ?       one character
#   [...]  one character of a set ([!...] for not)   **      any number of folders
#   ~      your home folder (at the start)
# A pattern naming a folder ignores every bundle beneath it. A pattern that is not absolute
# matches at any depth: "Foo.vst3" ignores every Foo.vst3 wherever it is.
# To ignore one plugin of a bundle that holds several, write " :: " and the plugin's name.
#
# Examples:
#   ~/.vst3/Crashy.vst3
#   /usr/lib/vst3/lsp-plugins.vst3 :: A/B Tester x2 Mono
#   **/*Demo*.vst3
#   /opt/SomeVendor
"""

# "#" opens a comment at the start of a line or after whitespace; elsewhere it is a name's.
_COMMENT = re.compile(r"(?:^|\s)#.*$")
# "::" separates pattern and class only as a word of its own, so "a::b" stays one name.
_SEPARATOR = re.compile(r"(?:^|\s)::(?:\s|$)")
_DRIVE = re.compile(r"[A-Za-z]:/")
# How many entries that look like a missing one its error suggests.
MAX_SUGGESTIONS = 5


class IgnoreListError(ValueError):
    """An ignore-list line that cannot be understood."""


class IgnoreEntryNotFound(IgnoreListError):
    """An entry to remove that the list does not hold."""


@dataclass(frozen=True)
class IgnoreEntry:
    """One line of the list: a path pattern and, optionally, one class of that bundle."""

    pattern: str
    class_name: str | None
    line: int


@dataclass(frozen=True)
class IgnoreList:
    """The parsed list; answers whether a bundle, or which of its classes, is ignored."""

    entries: tuple[IgnoreEntry, ...]

    def ignores_bundle(self, path: str) -> bool:
        """Whether the whole bundle at ``path`` is ignored."""
        patterns = [entry.pattern for entry in self.entries if entry.class_name is None]
        if not patterns:
            return False
        return any(
            _matches(pattern, candidate) for candidate in _candidates(path) for pattern in patterns
        )

    def ignored_classes(self, path: str) -> frozenset[str]:
        """The names of the classes of the bundle at ``path`` that are ignored one by one."""
        entries = [entry for entry in self.entries if entry.class_name is not None]
        if not entries:
            return frozenset()
        candidates = list(_candidates(path))
        return frozenset(
            entry.class_name
            for entry in entries
            if entry.class_name is not None
            and any(_matches(entry.pattern, candidate) for candidate in candidates)
        )


def parse_ignore_list(text: str, source: str = "<ignore list>") -> IgnoreList:
    """Parse ignore-list text; IgnoreListError names ``source`` and the line of a bad entry."""
    entries = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = _COMMENT.sub("", raw).strip()
        if not line:
            continue
        split = _SEPARATOR.search(line)
        if split is None:
            entries.append(IgnoreEntry(line, None, number))
            continue
        pattern, class_name = line[: split.start()].strip(), line[split.end() :].strip()
        if not pattern:
            raise IgnoreListError(f"{source}:{number}: no bundle pattern before '::'")
        if not class_name:
            raise IgnoreListError(f"{source}:{number}: no plugin class name after '::'")
        entries.append(IgnoreEntry(pattern, class_name, number))
    return IgnoreList(tuple(entries))


def load_ignore_list(path: Path) -> IgnoreList:
    """The ignore list in ``path``; an empty list when the file does not exist.

    A list that cannot be read (a folder in its place, an I/O error) is StorageError.
    """
    try:
        with storage_errors("ignore list", path):
            text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return IgnoreList(())
    except UnicodeDecodeError as error:
        raise IgnoreListError(f"{path}: not UTF-8 text: {error}") from error
    return parse_ignore_list(text, str(path))


def ensure_ignore_list(path: Path) -> Path:
    """Create ``path`` with the explanatory header if it does not exist yet; return it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        # Exclusive creation: never overwrite a list the user wrote meanwhile.
        with path.open("x", encoding="utf-8") as file:
            file.write(TEMPLATE)
    except FileExistsError:
        pass
    return path


def add_ignore_entry(path: Path, pattern: str, class_name: str | None = None) -> None:
    """Append an entry to the list at ``path`` (created if needed), rejecting unwritable ones."""
    pattern = pattern.strip()
    class_name = class_name.strip() if class_name is not None else None
    line = entry_line(pattern, class_name)
    # Whatever would not read back as exactly this entry (a newline, a leading "#", " #" or
    # " :: " inside a name, an empty part) cannot be written faithfully, so it is refused.
    try:
        parsed = parse_ignore_list(line, "<new entry>").entries
    except IgnoreListError as error:
        raise IgnoreListError(f"cannot add {line!r}: {error}") from error
    if [(entry.pattern, entry.class_name) for entry in parsed] != [(pattern, class_name)]:
        raise IgnoreListError(f"cannot add {line!r}: it would not read back as one entry")
    # A full disk, a read-only folder: StorageError naming the list, in the OS's words.
    with storage_errors("ignore list", path):
        ensure_ignore_list(path)
        _append_line(path, line)


def entry_line(pattern: str, class_name: str | None) -> str:
    """An entry as the list writes it (and ``pluginary ignore list`` prints it)."""
    return pattern if class_name is None else f"{pattern} :: {class_name}"


def entry_named(pattern: str, class_name: str | None = None) -> tuple[str, str | None]:
    """The (pattern, class) of the entry that ``pattern`` and ``class_name`` name.

    Without ``class_name``, ``pattern`` may be a whole line as ``pluginary ignore list`` prints
    it (``Foo.vst3 :: Synth``): no pattern holds " :: ", so that is never ambiguous.
    IgnoreListError when they name no single entry.
    """
    line = entry_line(pattern.strip(), class_name.strip() if class_name is not None else None)
    try:
        parsed = parse_ignore_list(line, "<entry>").entries
    except IgnoreListError as error:
        problem = str(error).removeprefix("<entry>:1: ")  # One line, given: no place to name.
        raise IgnoreListError(f"{line!r} is not an entry: {problem}") from error
    named = [(entry.pattern, entry.class_name) for entry in parsed]
    if not named:
        raise IgnoreListError(f"{line!r} is empty or a comment, not an entry")
    if len(named) > 1 or (class_name is not None and named[0][1] != class_name.strip()):
        raise IgnoreListError(
            f"{line!r} cannot be one entry (no name holds a line break, ' #' or ' :: ')"
        )
    return named[0]


def remove_ignore_entry(path: Path, pattern: str, class_name: str | None = None) -> int:
    """Remove the entry named as :func:`entry_named` takes it; the number of lines removed
    (more than one when the list holds it more than once: any left would still ignore).

    Only that exact entry goes: the same pattern for other classes, or for the whole bundle,
    stays, and every other line (comments, blank lines, line ends) is kept byte for byte. The
    new list replaces the old at once, so a crash leaves one or the other, never half of one.
    IgnoreEntryNotFound, suggesting entries that look like it, when the list does not hold it.
    """
    wanted = entry_named(pattern, class_name)
    with storage_errors("ignore list", path):
        # Through a symlink: the file it names is rewritten, and the link stays.
        target = path.resolve()
        text = _read_text(target)
    entries = parse_ignore_list(text, str(path)).entries
    gone = {entry.line for entry in entries if (entry.pattern, entry.class_name) == wanted}
    if not gone:
        raise IgnoreEntryNotFound(_not_found(wanted, entries, path))
    # Numbered as parse_ignore_list numbers them: both split with str.splitlines.
    lines = text.splitlines(keepends=True)
    kept = "".join(line for number, line in enumerate(lines, start=1) if number not in gone)
    with storage_errors("ignore list", path):
        # A list made read-only is refused, as `ignore add` refuses it, though a rename could.
        if not os.access(target, os.W_OK):
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(target))
    # The new list is made beside it: that folder is what must be writable and have room.
    with storage_errors("ignore list's folder", target.parent):
        _replace(target, kept.encode("utf-8"))
    return len(gone)


def _read_text(path: Path) -> str:
    """The list's text exactly as stored (no newline translation); "" when there is no file."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return ""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise IgnoreListError(f"{path}: not UTF-8 text: {error}") from error


def _not_found(wanted: tuple[str, str | None], entries: tuple[IgnoreEntry, ...], path: Path) -> str:
    """The error for an entry the list does not hold, with the entries that look like it: the
    same pattern with another class (or none), then the closest by spelling."""
    line = entry_line(*wanted)
    lines = {entry_line(entry.pattern, entry.class_name): entry.pattern for entry in entries}
    same = [other for other, pattern in lines.items() if pattern == wanted[0]]
    folded = {other.casefold(): other for other in lines}
    close = difflib.get_close_matches(line.casefold(), folded, n=MAX_SUGGESTIONS, cutoff=0.6)
    suggested = list(dict.fromkeys([*same, *(folded[other] for other in close)]))
    message = f"{line!r} is not in the ignore list ({path})"
    if suggested:
        shown = ", ".join(repr(other) for other in suggested[:MAX_SUGGESTIONS])
        message += f"; did you mean {shown}?"
    return message


def _replace(path: Path, data: bytes) -> None:
    """Make ``data`` the content of ``path`` at once: written to a temporary file beside it,
    synced, then renamed over it, with the file's permissions. A crash or a full disk leaves
    the old list or the new one, never half of one (half a pattern could ignore other bundles)."""
    mode = stat.S_IMODE(path.stat().st_mode)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        os.chmod(temporary, mode)
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise
    _sync_folder(path.parent)


def _sync_folder(folder: Path) -> None:
    """Make a rename in ``folder`` durable; best effort (the list is whole either way)."""
    if not hasattr(os, "O_DIRECTORY"):
        return  # Windows cannot open a folder: NTFS journals the rename itself.
    with contextlib.suppress(OSError):
        handle = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(handle)
        finally:
            os.close(handle)


def _append_line(path: Path, line: str) -> None:
    """Append ``line`` to the file; if the disk fills half-way, the file is put back as it was
    (half a pattern could ignore the wrong bundles)."""
    with path.open("rb+", buffering=0) as file:
        end = file.seek(0, os.SEEK_END)
        prefix = b""
        if end > 0:
            file.seek(-1, os.SEEK_END)
            if file.read(1) != b"\n":
                prefix = b"\n"
        data = prefix + line.encode("utf-8") + b"\n"
        written = 0
        try:
            while written < len(data):
                written += file.write(data[written:]) or 0
        except OSError:
            with contextlib.suppress(OSError):
                file.truncate(end)
            raise


def _matches(pattern: str, candidate: str) -> bool:
    return _regex(_normalize(os.path.expanduser(pattern))).fullmatch(candidate) is not None


def _candidates(path: str) -> Iterator[str]:
    """The bundle's path and each folder above it, as found and then symlink-resolved."""
    seen = set()
    for spelling in (path, os.path.realpath(path)):
        current = _normalize(os.path.abspath(spelling))
        while current and current not in seen:
            seen.add(current)
            yield current
            cut = current.rfind("/")
            if cut <= 0 or _DRIVE.fullmatch(current[: cut + 1]):
                break  # The root itself is never a candidate: "/" would ignore everything.
            current = current[:cut]


def _normalize(path: str) -> str:
    path = os.path.normcase(path).replace(os.sep, "/")
    return path.rstrip("/") or path


@functools.lru_cache(maxsize=1024)
def _regex(pattern: str) -> re.Pattern[str]:
    if not (pattern.startswith("/") or _DRIVE.match(pattern)):
        pattern = "**/" + pattern
    parts = []
    i = 0
    while i < len(pattern):
        char = pattern[i]
        if pattern.startswith("**/", i):
            parts.append("(?:.*/)?")  # Zero or more whole folders.
            i += 3
            continue
        if pattern.startswith("**", i):
            parts.append(".*")
            i += 2
            continue
        if char == "*":
            parts.append("[^/]*")
        elif char == "?":
            parts.append("[^/]")
        elif char == "[" and (end := _class_end(pattern, i)) > 0:
            parts.append(_class(pattern[i + 1 : end]))
            i = end + 1
            continue
        else:
            parts.append(re.escape(char))
        i += 1
    return re.compile("".join(parts), re.DOTALL)


def _class_end(pattern: str, start: int) -> int:
    """Index of the "]" closing the set opened at ``start``, or -1 when it is a plain "["."""
    i = start + 1
    if i < len(pattern) and pattern[i] == "!":
        i += 1
    if i < len(pattern) and pattern[i] == "]":
        i += 1  # A "]" first in the set is a member, as in fnmatch.
    return pattern.find("]", i)


def _class(members: str) -> str:
    negated = members.startswith("!")
    if negated:
        members = members[1:]
    body = "".join(char if char == "-" else re.escape(char) for char in members)
    # A negated set must not match "/" either, or "[!x]" would cross folders.
    return f"[^/{body}]" if negated else f"[{body}]"
