"""``python -m pluginary``: the same as the ``pluginary`` command."""

from __future__ import annotations

from pluginary.entry import main

if __name__ == "__main__":
    main()
