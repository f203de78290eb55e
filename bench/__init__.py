"""Pluginary's benchmarks: ``bench/run`` prints their table (see bench/README.md)."""

from __future__ import annotations
