from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest

from pluginary.errors import StorageError
from pluginary.scanner.ignorelist import (
    TEMPLATE,
    IgnoreEntry,
    IgnoreEntryNotFound,
    IgnoreList,
    IgnoreListError,
    add_ignore_entry,
    ensure_ignore_list,
    entry_named,
    load_ignore_list,
    parse_ignore_list,
    remove_ignore_entry,
)


def _ignores(pattern: str, path: str) -> bool:
    return parse_ignore_list(pattern).ignores_bundle(path)


def test_parse_entries_comments_and_blanks() -> None:
    text = "\n".join(
        [
            "# a whole-line comment",
            "   # an indented one",
            "",
            "/usr/lib/vst3/Crashy.vst3",
            "  ~/.vst3/Spaced Out.vst3   # why: hangs on load",
            "/opt/odd#name.vst3",
            "/usr/lib/vst3/lsp-plugins.vst3 :: A/B Tester x2 Mono",
            "/opt/a::b.vst3",
            "/opt/multi.vst3   ::   Synth: Deluxe   # trailing comment",
            "\t",
        ]
    )
    assert parse_ignore_list(text).entries == (
        IgnoreEntry("/usr/lib/vst3/Crashy.vst3", None, 4),
        IgnoreEntry("~/.vst3/Spaced Out.vst3", None, 5),
        IgnoreEntry("/opt/odd#name.vst3", None, 6),
        IgnoreEntry("/usr/lib/vst3/lsp-plugins.vst3", "A/B Tester x2 Mono", 7),
        IgnoreEntry("/opt/a::b.vst3", None, 8),
        IgnoreEntry("/opt/multi.vst3", "Synth: Deluxe", 9),
    )


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        (":: Synth", "no bundle pattern before '::'"),
        ("   ::   Synth", "no bundle pattern before '::'"),
        ("/opt/x.vst3 ::", "no plugin class name after '::'"),
        ("/opt/x.vst3 ::    # only a comment", "no plugin class name after '::'"),
    ],
)
def test_bad_lines_name_source_and_line(line: str, problem: str) -> None:
    with pytest.raises(IgnoreListError) as caught:
        parse_ignore_list(f"# header\n\n{line}\n", source="ignore.txt")
    assert str(caught.value) == f"ignore.txt:3: {problem}"
    assert isinstance(caught.value, ValueError)


def test_empty_list_ignores_nothing() -> None:
    empty = parse_ignore_list("")
    assert empty == IgnoreList(())
    assert not empty.ignores_bundle("/usr/lib/vst3/x.vst3")
    assert empty.ignored_classes("/usr/lib/vst3/x.vst3") == frozenset()


@pytest.mark.parametrize(
    ("pattern", "path", "expected"),
    [
        ("/usr/lib/vst3/Crashy.vst3", "/usr/lib/vst3/Crashy.vst3", True),
        ("/usr/lib/vst3/Crashy.vst3/", "/usr/lib/vst3/Crashy.vst3", True),
        ("/usr/lib/vst3/Crashy.vst3", "/usr/lib/vst3/Crashy2.vst3", False),
        ("/usr/lib/vst3/*.vst3", "/usr/lib/vst3/Crashy.vst3", True),
        ("/usr/lib/vst3/*.vst3", "/usr/lib/vst3/Vendor/Crashy.vst3", False),  # * stays in a folder.
        ("/usr/lib/vst3/**/*.vst3", "/usr/lib/vst3/Vendor/Deep/Crashy.vst3", True),
        ("/usr/lib/vst3/**/*.vst3", "/usr/lib/vst3/Crashy.vst3", True),  # ** may be no folder.
        ("/usr/**", "/usr/lib/vst3/Crashy.vst3", True),
        ("/usr/lib/vst3/Zam?omp.vst3", "/usr/lib/vst3/ZamComp.vst3", True),
        ("/usr/lib/vst3/Zam?omp.vst3", "/usr/lib/vst3/Zam/omp.vst3", False),
        ("/usr/lib/vst3/Zam[CG]*.vst3", "/usr/lib/vst3/ZamGate.vst3", True),
        ("/usr/lib/vst3/Zam[CG]*.vst3", "/usr/lib/vst3/ZamTube.vst3", False),
        ("/usr/lib/vst3/Zam[!CG]*.vst3", "/usr/lib/vst3/ZamTube.vst3", True),
        ("/usr/lib/vst3/Zam[!CG]*.vst3", "/usr/lib/vst3/ZamComp.vst3", False),
        ("/usr/lib/vst3/[]x].vst3", "/usr/lib/vst3/].vst3", True),
        ("/usr/lib/vst3/a[b.vst3", "/usr/lib/vst3/a[b.vst3", True),  # An unclosed [ is plain.
        ("/usr/lib/vst3/(x)+.vst3", "/usr/lib/vst3/(x)+.vst3", True),
        ("/usr/lib/vst3/(x)+.vst3", "/usr/lib/vst3/(x)x.vst3", False),
        ("/opt/Vendor", "/opt/Vendor/Sub/Synth.vst3", True),  # A folder ignores all beneath.
        ("/opt/Vend", "/opt/Vendor/Synth.vst3", False),
        ("Crashy.vst3", "/usr/lib/vst3/Vendor/Crashy.vst3", True),  # Relative: any depth.
        ("Vendor/*.vst3", "/usr/lib/vst3/Vendor/Crashy.vst3", True),
        ("Vendor/*.vst3", "/usr/lib/vst3/MyVendor/Crashy.vst3", False),
        ("/", "/usr/lib/vst3/Crashy.vst3", False),  # The root is not a folder to ignore.
    ],
)
def test_bundle_patterns(pattern: str, path: str, expected: bool) -> None:
    assert _ignores(pattern, path) is expected


def test_home_is_expanded(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    assert _ignores("~/.vst3/Crashy.vst3", str(tmp_path / ".vst3" / "Crashy.vst3"))
    assert _ignores("~", str(tmp_path / ".vst3" / "Crashy.vst3"))
    assert not _ignores("~/.vst3/Crashy.vst3", "/usr/lib/vst3/Crashy.vst3")


def test_matches_the_real_path_too(tmp_path: Path) -> None:
    real = tmp_path / "real" / "Synth.vst3"
    real.mkdir(parents=True)
    link = tmp_path / "links" / "Alias.vst3"
    link.parent.mkdir()
    link.symlink_to(real)
    assert _ignores(str(real), str(link))
    assert _ignores(str(tmp_path / "real"), str(link))
    assert _ignores(str(link), str(link))
    assert not _ignores(str(tmp_path / "other"), str(link))


def test_classes_are_ignored_one_by_one() -> None:
    ignore = parse_ignore_list(
        "\n".join(
            [
                "/usr/lib/vst3/lsp-plugins.vst3 :: A/B Tester x2 Mono",
                "/usr/lib/vst3/lsp-*.vst3 :: Artistic Delay Mono",
                "/usr/lib/vst3/other.vst3 :: Not This",
            ]
        )
    )
    bundle = "/usr/lib/vst3/lsp-plugins.vst3"
    assert not ignore.ignores_bundle(bundle)
    assert ignore.ignored_classes(bundle) == frozenset(
        {"A/B Tester x2 Mono", "Artistic Delay Mono"}
    )
    assert ignore.ignored_classes("/usr/lib/vst3/ZamComp.vst3") == frozenset()


def test_load_missing_file_is_empty(tmp_path: Path) -> None:
    assert load_ignore_list(tmp_path / "ignore.txt") == IgnoreList(())


def test_load_reports_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "ignore.txt"
    path.write_text("/ok.vst3\n:: Synth\n", encoding="utf-8")
    with pytest.raises(IgnoreListError, match=f"^{path}:2: "):
        load_ignore_list(path)
    path.write_bytes(b"/caf\xe9.vst3\n")
    with pytest.raises(IgnoreListError, match="not UTF-8"):
        load_ignore_list(path)


def test_ensure_writes_the_documented_header_once(tmp_path: Path) -> None:
    path = tmp_path / "cache" / "ignore.txt"
    assert ensure_ignore_list(path) == path
    assert path.read_text(encoding="utf-8") == TEMPLATE
    assert load_ignore_list(path) == IgnoreList(())  # The header is all comments.
    assert all(line.startswith("#") for line in TEMPLATE.splitlines())
    path.write_text("/mine.vst3\n", encoding="utf-8")
    ensure_ignore_list(path)
    assert path.read_text(encoding="utf-8") == "/mine.vst3\n"


def test_template_examples_parse() -> None:
    examples = [
        line.removeprefix("#").strip()
        for line in TEMPLATE.split("# Examples:\n", 1)[1].splitlines()
    ]
    parsed = parse_ignore_list("\n".join(examples))
    assert len(parsed.entries) == len(examples) == 4
    assert parsed.ignored_classes("/usr/lib/vst3/lsp-plugins.vst3") == {"A/B Tester x2 Mono"}


def test_add_entries(tmp_path: Path) -> None:
    path = tmp_path / "ignore.txt"
    add_ignore_entry(path, "/usr/lib/vst3/Crashy.vst3")
    add_ignore_entry(path, "  /usr/lib/vst3/lsp-plugins.vst3 ", " A/B Tester x2 Mono ")
    text = path.read_text(encoding="utf-8")
    assert text.startswith(TEMPLATE)
    assert text.endswith(
        "/usr/lib/vst3/Crashy.vst3\n/usr/lib/vst3/lsp-plugins.vst3 :: A/B Tester x2 Mono\n"
    )
    entries = load_ignore_list(path).entries
    assert [(e.pattern, e.class_name) for e in entries] == [
        ("/usr/lib/vst3/Crashy.vst3", None),
        ("/usr/lib/vst3/lsp-plugins.vst3", "A/B Tester x2 Mono"),
    ]
    assert entries[0].line == len(TEMPLATE.splitlines()) + 1


def test_add_to_file_without_final_newline(tmp_path: Path) -> None:
    path = tmp_path / "ignore.txt"
    path.write_text("/first.vst3", encoding="utf-8")
    add_ignore_entry(path, "/second.vst3")
    assert path.read_text(encoding="utf-8") == "/first.vst3\n/second.vst3\n"


@pytest.mark.parametrize(
    ("pattern", "class_name"),
    [
        ("", None),
        ("   ", None),
        ("", "Synth"),
        ("/x.vst3", ""),
        ("/x.vst3", "  "),
        ("#x.vst3", None),
        ("/x.vst3 #1", None),
        ("/x.vst3", "Synth #2"),
        ("/x.vst3\n/y.vst3", None),
        ("/x.vst3", "Synth\nOther"),
        ("/a :: b.vst3", None),
    ],
)
def test_add_rejects_what_would_not_read_back(
    tmp_path: Path, pattern: str, class_name: str | None
) -> None:
    path = tmp_path / "ignore.txt"
    with pytest.raises(IgnoreListError, match="cannot add"):
        add_ignore_entry(path, pattern, class_name)
    assert not path.exists()


# -- removing an entry -------------------------------------------------------------------------

# Comments, blank lines, a trailing comment, CRLF and CR line ends, no final newline: all kept.
LIST = (
    b"# Pluginary ignore list\n"
    b"\n"
    b"# why: hangs on load\n"
    b"/opt/Crashy.vst3   # since 1.2\r\n"
    b"Multi.vst3\n"
    b"Multi.vst3 :: Bad One\n"
    b"  Multi.vst3   ::   Other  \r"
    b"\t\n"
    b"/opt/caf\xc3\xa9.vst3\n"
    b"Multi.vst3 :: Bad One"
)


def _list(tmp_path: Path, data: bytes = LIST) -> Path:
    path = tmp_path / "ignore.txt"
    path.write_bytes(data)
    return path


@pytest.mark.parametrize(
    ("pattern", "class_name", "gone"),
    [
        # Both lines of a duplicated entry: one left behind would still ignore the plugin.
        ("Multi.vst3", "Bad One", [b"Multi.vst3 :: Bad One\n", b"\nMulti.vst3 :: Bad One"]),
        ("Multi.vst3 :: Bad One", None, [b"Multi.vst3 :: Bad One\n", b"\nMulti.vst3 :: Bad One"]),
        ("Multi.vst3", "Other", [b"  Multi.vst3   ::   Other  \r"]),
        (" Multi.vst3 ", None, [b"Multi.vst3\n"]),  # Only the bundle's entry, not its classes.
        ("/opt/Crashy.vst3", None, [b"/opt/Crashy.vst3   # since 1.2\r\n"]),
        ("/opt/caf\u00e9.vst3", None, [b"/opt/caf\xc3\xa9.vst3\n"]),
    ],
)
def test_remove_takes_only_that_entry_and_keeps_every_other_byte(
    tmp_path: Path, pattern: str, class_name: str | None, gone: list[bytes]
) -> None:
    path = _list(tmp_path)
    expected = LIST
    for line in gone:
        assert expected.count(line) == 1, line
        expected = expected.replace(line, b"\n" if line.startswith(b"\n") else b"")
    assert remove_ignore_entry(path, pattern, class_name) == len(gone)
    assert path.read_bytes() == expected


def test_remove_replaces_the_file_whole_and_keeps_its_mode(tmp_path: Path) -> None:
    path = _list(tmp_path)
    path.chmod(0o604)
    before = path.stat().st_ino
    remove_ignore_entry(path, "/opt/Crashy.vst3")
    # A new file renamed over the old (never rewritten in place), with the old one's mode.
    assert path.stat().st_ino != before
    assert path.stat().st_mode & 0o777 == 0o604
    assert os.listdir(tmp_path) == ["ignore.txt"]


def test_remove_through_a_symlink_rewrites_its_target(tmp_path: Path) -> None:
    (tmp_path / "dotfiles").mkdir()
    real = _list(tmp_path / "dotfiles")
    link = tmp_path / "ignore-link.txt"
    link.symlink_to(real)
    remove_ignore_entry(link, "/opt/Crashy.vst3")
    assert link.is_symlink()
    assert b"Crashy" not in real.read_bytes()


def test_a_failed_write_leaves_the_list_as_it_was(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = _list(tmp_path)

    def full(*args: object) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "fsync", full)
    with pytest.raises(StorageError, match=r"No space left on device"):
        remove_ignore_entry(path, "/opt/Crashy.vst3")
    assert path.read_bytes() == LIST
    assert os.listdir(tmp_path) == ["ignore.txt"]  # The temporary file is gone too.


def test_remove_a_missing_entry_suggests_the_close_ones(tmp_path: Path) -> None:
    path = _list(tmp_path)
    with pytest.raises(IgnoreEntryNotFound) as caught:
        remove_ignore_entry(path, "multi.vst3", "bad one")
    # One line naming the file; the closest first.
    assert str(caught.value).startswith(
        f"'multi.vst3 :: bad one' is not in the ignore list ({path});"
        " did you mean 'Multi.vst3 :: Bad One', "
    )
    # The same pattern's entries come first, whatever their spelling distance.
    with pytest.raises(IgnoreEntryNotFound, match=r"did you mean 'Multi.vst3', 'Multi.vst3 :: Bad"):
        remove_ignore_entry(path, "Multi.vst3", "Synth")
    with pytest.raises(IgnoreEntryNotFound, match=r"\(" + str(path) + r"\)$"):
        remove_ignore_entry(path, "/nothing/like/it")
    assert path.read_bytes() == LIST
    with pytest.raises(IgnoreEntryNotFound, match="is not in the ignore list"):
        remove_ignore_entry(tmp_path / "none.txt", "/opt/Crashy.vst3")
    assert not (tmp_path / "none.txt").exists()


def test_remove_refuses_a_list_it_cannot_read(tmp_path: Path) -> None:
    path = _list(tmp_path, b"/ok.vst3\n:: Synth\n")
    with pytest.raises(IgnoreListError, match=f"^{path}:2: "):
        remove_ignore_entry(path, "/ok.vst3")
    path.write_bytes(b"/caf\xe9.vst3\n/ok.vst3\n")
    with pytest.raises(IgnoreListError, match="not UTF-8"):
        remove_ignore_entry(path, "/ok.vst3")
    assert path.read_bytes() == b"/caf\xe9.vst3\n/ok.vst3\n"


@pytest.mark.parametrize(
    ("pattern", "class_name", "named"),
    [
        ("Foo.vst3", None, ("Foo.vst3", None)),
        ("  Foo.vst3 ", " Synth ", ("Foo.vst3", "Synth")),
        ("Foo.vst3 :: Synth", None, ("Foo.vst3", "Synth")),  # As `ignore list` prints it.
        ("/opt/a::b.vst3", None, ("/opt/a::b.vst3", None)),
    ],
)
def test_entry_named(pattern: str, class_name: str | None, named: tuple[str, str | None]) -> None:
    assert entry_named(pattern, class_name) == named


@pytest.mark.parametrize(
    ("pattern", "class_name", "problem"),
    [
        ("", None, "empty or a comment"),
        ("#x.vst3", None, "empty or a comment"),
        ("a.vst3\nb.vst3", None, "cannot be one entry"),
        ("Foo.vst3 :: Synth", "Other", "cannot be one entry"),
        ("Foo.vst3", "Synth # 2", "cannot be one entry"),
        ("Foo.vst3", "", "^'Foo.vst3 :: ' is not an entry: no plugin class name after '::'$"),
    ],
)
def test_entry_named_refuses_what_no_list_holds(
    pattern: str, class_name: str | None, problem: str
) -> None:
    with pytest.raises(IgnoreListError, match=problem):
        entry_named(pattern, class_name)
