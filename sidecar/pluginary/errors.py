"""The domain's named failures. The sidecar maps each to one JSON-RPC error code, in one table."""

from __future__ import annotations

from typing import Any


class PluginaryError(Exception):
    """Base of every expected failure; ``data`` travels to the client with the message."""

    def __init__(self, message: str, **data: Any) -> None:
        super().__init__(message)
        self.data = data


class ScanInProgress(PluginaryError):
    """Another scan holds the cache's scan lock."""


class NothingToResume(PluginaryError):
    """Resume was asked but the journal holds no interrupted scan."""


class PluginNotFound(PluginaryError):
    """No plugin in the catalogue has that id."""


class InvalidQuery(PluginaryError):
    """A query's parameters cannot be satisfied (bad cursor, bad filter value)."""


class StorageError(PluginaryError):
    """The cache folder, catalogue or journal cannot be used (read-only, corrupt beyond repair)."""
