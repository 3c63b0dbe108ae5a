"""One registry per stage: implementations register under the snake_case name used in the recipe."""

from __future__ import annotations

from collections.abc import Callable
from typing import Generic, TypeVar

from splitforge.errors import RecipeError

T = TypeVar("T")


class Registry(Generic[T]):
    """Maps recipe names (``temporal``) to implementations (``TemporalSplitter``)."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._items: dict[str, T] = {}

    def register(self, name: str) -> Callable[[T], T]:
        """Class decorator: ``@SPLITTERS.register("temporal")``."""

        def decorate(item: T) -> T:
            if name in self._items:
                raise RuntimeError(f"{self.kind} '{name}' is registered twice")
            self._items[name] = item
            return item

        return decorate

    def get(self, name: str) -> T:
        """The implementation registered as ``name``; unknown names list the valid choices."""
        try:
            return self._items[name]
        except KeyError:
            valid = ", ".join(sorted(self._items))
            raise RecipeError([f"unknown {self.kind} '{name}'; available: {valid}"]) from None

    def names(self) -> list[str]:
        """Registered names, sorted."""
        return sorted(self._items)

    def __contains__(self, name: object) -> bool:
        return name in self._items
