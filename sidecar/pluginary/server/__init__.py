"""The stdio sidecar: a pygls language server speaking the ``pluginary/*`` protocol.

``main`` runs it, ``app`` holds its handlers, ``wire`` is the only module that knows the JSON
shapes, ``errors`` maps domain exceptions to JSON-RPC codes, ``scans`` runs scans as cancellable
jobs with ``progress``, and ``reads`` / ``status`` read the catalogue off the event loop.
"""

from __future__ import annotations
