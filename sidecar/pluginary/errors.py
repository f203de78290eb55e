"""The domain's named failures. The sidecar maps each to one JSON-RPC error code, in one table."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
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


def domain_error(error: BaseException) -> PluginaryError | None:
    """The domain error ``error`` is or, for an exception group (anyio's task groups wrap what
    their tasks raise), the first of its leaves when every leaf is one; else None."""
    if isinstance(error, PluginaryError):
        return error
    if not isinstance(error, BaseExceptionGroup):
        return None
    leaves = list(leaf_errors(error))
    if leaves and all(isinstance(leaf, PluginaryError) for leaf in leaves):
        return domain_error(leaves[0])
    return None


def leaf_errors(error: BaseException) -> Iterator[BaseException]:
    """The exceptions an exception group holds, however deeply nested; ``error`` if no group."""
    if isinstance(error, BaseExceptionGroup):
        for inner in error.exceptions:
            yield from leaf_errors(inner)
    else:
        yield error


@contextlib.contextmanager
def plain_errors() -> Iterator[None]:
    """Let a task group's domain error out as itself, not inside an ExceptionGroup.

    A group holding anything else (a bug, a cancellation) passes unchanged.
    """
    try:
        yield
    except BaseExceptionGroup as group:
        found = domain_error(group)
        if found is None:
            raise
        raise found  # noqa: B904  The group stays its __context__, for the traceback.
