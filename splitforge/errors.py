"""Typed errors: the library raises them; only ``cli.py`` turns them into messages and codes."""

from __future__ import annotations

from pathlib import Path


class SplitforgeError(Exception):
    """Base class of every error splitforge raises on purpose.

    ``exit_code`` is what the CLI exits with: 2 for bad usage or bad input, 1 for a failed gate.
    """

    exit_code = 2


class RecipeError(SplitforgeError):
    """A recipe that does not validate; ``problems`` holds every problem, each with its key path."""

    def __init__(self, problems: list[str], source: str | Path | None = None) -> None:
        self.problems = list(problems)
        self.source = str(source) if source is not None else None
        where = f"{self.source}: " if self.source else ""
        count = len(self.problems)
        noun = "problem" if count == 1 else "problems"
        super().__init__(f"{where}{count} {noun} in the recipe:\n" + "\n".join(
            f"  {p}" for p in self.problems
        ))


class InputError(SplitforgeError):
    """Bad input data: names the file, and where known the line (or row) and the field."""

    def __init__(
        self,
        message: str,
        *,
        path: str | Path | None = None,
        line: int | None = None,
        field: str | None = None,
    ) -> None:
        self.path = str(path) if path is not None else None
        self.line = line
        self.field = field
        self.detail = message
        where = ""
        if self.path is not None:
            where = self.path
            if line is not None:
                where += f":{line}"
            where += ": "
        if field is not None:
            message = f"field '{field}': {message}"
        super().__init__(where + message)


class LeakageError(SplitforgeError):
    """A split broke a leakage guarantee: a group or cluster across splits, or the time order."""

    exit_code = 1


class MissingDependencyError(SplitforgeError):
    """An optional dependency is not installed; the message says which extra installs it."""

    def __init__(self, package: str, extra: str, feature: str, install: str | None = None
                 ) -> None:
        install = install or f"pip install 'splitforge[{extra}]'"
        super().__init__(
            f"{feature} needs the package `{package}`, which is not installed. "
            f"Install it with: {install}"
        )


class OutputError(SplitforgeError):
    """The output folder cannot be written as asked (for example it exists and --force is unset)."""
