"""The scanning unit: discovery, isolated probes, the journal that owns them, and the commit."""

from __future__ import annotations
