"""Plugin ids: readable, stable across rescans, unique across folders, safe in a shell or URL.

``<format>.<slug>.<hash>``, e.g. ``vst3.dragonfly-hall-reverb.3f9a1c2e``: the slug is the class
name (or the bundle's stem when no class could be named) reduced to ``[a-z0-9-]``; the hash is
taken over the format, the bundle's real path and the class name, so two bundles that share a file
name in different folders get different ids, and the same plugin keeps its id from scan to scan.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from pathlib import PurePath

MAX_SLUG = 40


def slugify(text: str) -> str:
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")
    return slug[:MAX_SLUG].rstrip("-") or "plugin"


def plugin_id(format: str, real_path: str, class_name: str | None) -> str:
    """The id of the plugin ``class_name`` (None: the bundle as a whole) at ``real_path``."""
    digest = hashlib.blake2b(
        f"{format}\0{real_path}\0{class_name or ''}".encode(), digest_size=4
    ).hexdigest()
    stem = class_name or PurePath(real_path).stem
    return f"{format}.{slugify(stem)}.{digest}"
