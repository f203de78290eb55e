"""Pluginary: an audio-plugin scanner and catalogue served as a stdio JSON-RPC sidecar."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("pluginary")
except PackageNotFoundError:  # Running from a source tree that was never installed.
    __version__ = "0.0.0+unknown"
