"""Pluginary: an audio-plugin scanner and catalogue served as a stdio JSON-RPC sidecar."""

from __future__ import annotations

# The one place the version is written (pyproject.toml reads it from here): a literal, because
# asking importlib.metadata costs every sidecar and every probe server 25-35 ms at start-up.
__version__ = "0.1.0"
