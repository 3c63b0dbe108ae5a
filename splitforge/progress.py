"""Progress of long stages: the library reports rows done, a front end decides how to show them.

A stage asks its ``Progress`` for a task (``progress.task("minhash signatures", total=rows)``)
and calls the returned function with the rows it just finished. The CLI draws a rich progress bar
per task; the library default ``NO_PROGRESS`` ignores everything, so library calls stay silent.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

Advance = Callable[[int], None]


class Progress(Protocol):
    """Creates one counter per task of a stage."""

    def task(self, description: str, total: int) -> Advance:
        """Start a task of ``total`` units; returns the function that advances it."""


class _NoProgress:
    """A Progress that shows nothing."""

    def task(self, description: str, total: int) -> Advance:
        """Start a task that reports to nobody."""
        return _ignore


def _ignore(_: int) -> None:
    return None


NO_PROGRESS: Progress = _NoProgress()
