"""Domain exceptions -> JSON-RPC errors, in one table (documented in ``protocol/README.md``).

Anything not in the table is a bug: it is logged with its traceback and answered as an
InternalError, and the server carries on.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Awaitable, Callable
from typing import ParamSpec, TypeVar

from pygls.exceptions import (
    JsonRpcException,
    JsonRpcInternalError,
    JsonRpcInvalidParams,
)

from pluginary.errors import (
    InvalidQuery,
    NothingToResume,
    PluginaryError,
    PluginNotFound,
    ScanInProgress,
    StorageError,
    domain_error,
    leaf_errors,
)
from pluginary.server.wire import InvalidParams

P = ParamSpec("P")
T = TypeVar("T")

logger = logging.getLogger(__name__)

INVALID_PARAMS = JsonRpcInvalidParams.CODE  # -32602

# The application's codes sit outside JSON-RPC's and LSP's reserved ranges.
ERROR_CODES: dict[type[PluginaryError], int] = {
    ScanInProgress: 1001,
    NothingToResume: 1002,
    PluginNotFound: 1003,
    StorageError: 1004,
    InvalidQuery: INVALID_PARAMS,
}


def to_rpc_error(error: Exception) -> JsonRpcException:
    """The JSON-RPC error a handler's exception is answered with.

    An exception group (anyio's task groups wrap what their tasks raise) is answered as the
    domain error it carries, or as its one leaf; any other group is a bug, named by its leaves.
    """
    if isinstance(error, BaseExceptionGroup):
        leaves = list(leaf_errors(error))
        single = leaves[0] if len(leaves) == 1 else None
        inner = domain_error(error) or single
        if isinstance(inner, Exception):
            return to_rpc_error(inner)
        logger.error("unexpected errors: %s", _names(leaves), exc_info=error)
        return JsonRpcInternalError(message=f"internal error: {_names(leaves)}")
    if isinstance(error, JsonRpcException):
        return error
    if isinstance(error, InvalidParams):
        data = None if error.field is None else {"field": error.field}
        return JsonRpcException(message=str(error), code=INVALID_PARAMS, data=data)
    for kind, code in ERROR_CODES.items():
        if isinstance(error, kind):
            return JsonRpcException(message=str(error), code=code, data=error.data or None)
    logger.error("unexpected error: %s", error, exc_info=error)
    return JsonRpcInternalError(message=f"internal error: {type(error).__name__}: {error}")


def _names(errors: list[BaseException]) -> str:
    return "; ".join(f"{type(error).__name__}: {error}" for error in errors)


def mapped(handler: Callable[P, Awaitable[T]]) -> Callable[P, Awaitable[T]]:
    """Make a handler's exceptions the errors of the table (cancellation passes through)."""

    @functools.wraps(handler)
    async def wrapper(*args: P.args, **kwargs: P.kwargs) -> T:
        try:
            return await handler(*args, **kwargs)
        except Exception as error:
            raise to_rpc_error(error) from error

    return wrapper


def error_table() -> dict[str, int]:
    """Every application error by name, with the code it is answered with."""
    return {kind.__name__: code for kind, code in ERROR_CODES.items()}


def describe(error: BaseException) -> str:
    """A one-line account of an error, for progress and log messages."""
    return str(error) or type(error).__name__
