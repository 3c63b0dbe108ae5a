"""splitforge: leakage-free train/val/test splits and versioned challenge sets for LLM data."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:
    from splitforge.pipeline import BuildResult
    from splitforge.recipe import Recipe

__all__ = ["__version__", "build", "load_recipe"]


def build(recipe_path: Any, **kwargs: Any) -> BuildResult:
    """Build a recipe; see ``splitforge.pipeline.build`` for the arguments."""
    from splitforge.pipeline import build as _build

    return _build(recipe_path, **kwargs)


def load_recipe(path: Any, overrides: dict[str, Any] | None = None) -> Recipe:
    """Read and validate a recipe file."""
    from splitforge.recipe import load_recipe as _load

    return _load(path, overrides)
