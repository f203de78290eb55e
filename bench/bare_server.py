"""The start-up baseline: a pygls 2 language server that registers nothing, on stdio.

    python bench/bare_server.py

It answers ``initialize`` (pygls's built-in handler), ``shutdown`` and ``exit``, and nothing else:
the least a pygls server costs to start. A standalone script; it imports nothing of pluginary.
"""

from __future__ import annotations

from pygls.lsp.server import LanguageServer


def main() -> None:
    LanguageServer("bare", "0").start_io()


if __name__ == "__main__":
    main()
