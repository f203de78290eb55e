"""The catalogue: what the last committed scans found, and the queries over it."""

from __future__ import annotations
