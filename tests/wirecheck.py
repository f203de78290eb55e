"""Every message a sidecar sent, checked against ``protocol/pluginary.schema.json``.

Shared by every tier that drives the real sidecar: the e2e harness (pytest-lsp's client) and the
failsafe tier's raw client.

Responses are checked by the method of the request they answer; an error response's code must be
one the method documents. A response to a request that was not a well-formed request (its id was
``null``, or the method is unknown) need only be a well-formed error.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

import jsonschema

SCHEMA = json.loads(
    (Path(__file__).resolve().parents[1] / "protocol" / "pluginary.schema.json").read_text()
)
NOTIFICATIONS = {
    "$/progress": "ProgressParams",
    "window/logMessage": "MessageParams",
    "window/showMessage": "MessageParams",
    **{
        method: entry["params"]["$ref"].rsplit("/", 1)[1]
        for method, entry in SCHEMA["x-notifications"].items()
    },
}
SERVER_REQUESTS = {
    method: entry["params"]["$ref"].rsplit("/", 1)[1]
    for method, entry in SCHEMA["x-serverRequests"].items()
}
# Errors any request may get, whatever its method: the lifecycle's and the envelope's.
LIFECYCLE_ERRORS = {-32700, -32600, -32601, -32602, -32603, -32002}


@functools.cache
def validator(name: str) -> jsonschema.Draft202012Validator:
    """A validator for one of the schema's ``$defs``."""
    return jsonschema.Draft202012Validator({"$defs": SCHEMA["$defs"], "$ref": f"#/$defs/{name}"})


def params_schema(method: str) -> str:
    """The ``$defs`` name of a method's params object (the first of the forms it may take)."""
    return str(SCHEMA["x-methods"][method]["params"]["anyOf"][0]["$ref"].rsplit("/", 1)[1])


def params_validator(method: str) -> jsonschema.Draft202012Validator:
    """A validator for a method's params in every form the contract allows (null, by position)."""
    shape = {"$defs": SCHEMA["$defs"], **SCHEMA["x-methods"][method]["params"]}
    return jsonschema.Draft202012Validator(shape)


def check_message(message: dict[str, Any], methods: dict[Any, str]) -> None:
    """One message the server sent must fit the schema (``methods``: request id -> method)."""
    assert message.get("jsonrpc") == "2.0", message
    method = message.get("method")
    if method is not None and "id" in message:
        assert method in SERVER_REQUESTS, f"unexpected request from the server: {message}"
        validator("ServerRequestId").validate(message["id"])  # An integer: any client reads it.
        validator(SERVER_REQUESTS[method]).validate(message["params"])
        return
    if method is not None:
        assert method in NOTIFICATIONS, f"unexpected notification: {message}"
        validator(NOTIFICATIONS[method]).validate(message["params"])
        return
    assert "id" in message, f"a response without an id: {message}"
    assert ("error" in message) != ("result" in message), message
    answered = methods.get(message["id"]) if _hashable(message["id"]) else None
    if "error" in message:
        validator("ResponseError").validate(message["error"])
        if answered in SCHEMA["x-methods"]:
            allowed = set(SCHEMA["x-methods"][answered]["errors"]) | LIFECYCLE_ERRORS
            assert message["error"]["code"] in allowed, message
        return
    assert answered is not None, f"a result for a request never sent: {message}"
    if answered == "initialize":
        validator("InitializeResult").validate(message["result"])
    elif answered == "shutdown":
        assert message["result"] is None
    else:
        result = SCHEMA["x-methods"][answered]["result"]["$ref"].rsplit("/", 1)[1]
        validator(result).validate(message["result"])


def check_messages(messages: list[dict[str, Any]], methods: dict[Any, str]) -> None:
    for message in messages:
        check_message(message, methods)


def _hashable(value: Any) -> bool:
    try:
        hash(value)
    except TypeError:
        return False
    return True
