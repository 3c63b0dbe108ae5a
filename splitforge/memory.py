"""Giving freed memory back to the system between the stages of a large build.

Freed memory often stays with the process: glibc's heap keeps freed chunks for reuse, and
Arrow's allocator keeps freed pages. Before a stage that needs much (an audit's indexes, worker
processes beside this one), handing them back lets that stage use them.
"""

from __future__ import annotations

import ctypes
import sys
from functools import cache
from typing import Any

import pyarrow as pa


def release_memory() -> None:
    """Return freed heap and Arrow pool pages to the system (glibc's heap on Linux only)."""
    pa.default_memory_pool().release_unused()
    trim = _malloc_trim()
    if trim is not None:
        trim(0)


@cache
def _malloc_trim() -> Any:
    """Glibc's ``malloc_trim``, or None where there is none (macOS, musl, Windows)."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        return ctypes.CDLL("libc.so.6").malloc_trim
    except (OSError, AttributeError):
        return None
