"""``python -m pluginary``: the same as the ``pluginary`` command."""

from __future__ import annotations

from pluginary.cli import main

if __name__ == "__main__":
    main()
