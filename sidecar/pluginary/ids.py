"""Plugin ids: readable, stable across rescans, unique across folders, safe in a shell or URL.

``<format>.<slug>.<hash>``, e.g. ``vst3.dragonfly-hall-reverb.3f9a1c2e``: the slug is the class
name (or the bundle's stem when no class could be named) reduced to ``[a-z0-9-]``; the hash is
taken over the format, the bundle's real path and the class name, so two bundles that share a file
name in different folders get different ids, and the same plugin keeps its id from scan to scan.
The path is hashed as its exact bytes, so a path that is not valid UTF-8 (PEP 383's lone
surrogates in a ``str``) has an id too, the same in every scan; for any other path the bytes
are its UTF-8, as they always were.
"""

from __future__ import annotations

import hashlib
import os
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
    key = b"\0".join((format.encode(), os.fsencode(real_path), _utf8(class_name or "")))
    digest = hashlib.blake2b(key, digest_size=4).hexdigest()
    stem = class_name or PurePath(real_path).stem
    return f"{format}.{slugify(stem)}.{digest}"


def _utf8(text: str) -> bytes:
    # A lone surrogate cannot be UTF-8; passed through, it still hashes to the same id each time.
    return text.encode("utf-8", "surrogatepass")
