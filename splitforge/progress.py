"""Progress of long stages: the library reports rows done, a front end decides how to show them.

A stage asks its ``Progress`` for a task (``progress.task("minhash signatures", total=rows)``)
and calls the returned function with the rows it just finished. The CLI draws a rich progress bar
per task; the library default ``NO_PROGRESS`` ignores everything, so library calls stay silent.

A command reports each of its stages to a ``Reporter`` (``reporter.stage("dedup")`` yields that
stage's ``Progress``); ``Timed`` wraps one and records how long each stage took.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Protocol

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


class Reporter(Protocol):
    """Receives stage progress; the CLI shows it with rich, the library stays silent."""

    def stage(self, name: str) -> Any:
        """A context manager around one stage; it yields the stage's ``Progress``."""


class SilentReporter:
    """A reporter that shows nothing."""

    @contextmanager
    def stage(self, name: str) -> Iterator[Progress]:
        """Run the stage without output."""
        yield NO_PROGRESS


@dataclass
class Timed:
    """A reporter's stages, timed: ``timings`` holds each stage's wall time in seconds."""

    reporter: Reporter
    timings: dict[str, float] = field(default_factory=dict)

    @contextmanager
    def stage(self, name: str) -> Iterator[Progress]:
        """Run the stage through the reporter and record how long it took."""
        start = time.perf_counter()
        with self.reporter.stage(name) as progress:
            yield progress or NO_PROGRESS
        self.timings[name] = round(time.perf_counter() - start, 3)
