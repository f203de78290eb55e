"""The catalogue: what the last committed scans found, and the queries over it."""

from __future__ import annotations

# The catalogue's schema version (``schema.sql``; ``migrations/`` brings older ones here). It
# lives here so a reader checks it without importing the store and the scan's commit code.
SCHEMA_VERSION = 5
