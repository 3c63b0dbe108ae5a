"""Canonical JSON, content hashes and the build id.

The build id is a fingerprint chain: the sha256 of every input file's bytes, the resolved
recipe as canonical JSON, and the splitforge version; never a time, a disk path or a random value.
"""

from __future__ import annotations

import hashlib
import json
from datetime import date, datetime
from pathlib import Path
from typing import Any

BUILD_ID_LENGTH = 12
_CHUNK = 1 << 20


def _default(obj: Any) -> Any:
    if isinstance(obj, datetime | date):
        return obj.isoformat()
    if isinstance(obj, Path):
        return obj.as_posix()
    if isinstance(obj, set | frozenset):
        raise TypeError("sets have no canonical order; pass a sorted list")
    if hasattr(obj, "item"):  # NumPy scalars
        return obj.item()
    raise TypeError(f"cannot put a {type(obj).__name__} into canonical JSON")


def canonical_json(obj: Any) -> str:
    """JSON with sorted keys and no whitespace, the same bytes for the same value on any machine."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      default=_default, allow_nan=False)


def sha256_bytes(data: bytes) -> str:
    """Hex sha256 of bytes."""
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: str | Path) -> str:
    """Hex sha256 of a file's bytes (never its mtime)."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def sha256_path(path: str | Path) -> str:
    """Hex sha256 of a file, or of a folder: each file's relative path and bytes, sorted."""
    path = Path(path)
    if path.is_file():
        return sha256_file(path)
    digest = hashlib.sha256()
    for file in sorted(p for p in path.rglob("*") if p.is_file()):
        digest.update(file.relative_to(path).as_posix().encode("utf-8") + b"\0")
        digest.update(sha256_file(file).encode("ascii"))
    return digest.hexdigest()


def fingerprint(*parts: Any) -> str:
    """Hex sha256 over the canonical JSON of each part, in order."""
    digest = hashlib.sha256()
    for part in parts:
        digest.update(canonical_json(part).encode("utf-8"))
        digest.update(b"\x1e")
    return digest.hexdigest()
