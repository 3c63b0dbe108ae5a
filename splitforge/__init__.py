"""splitforge: leakage-free train/val/test splits and versioned challenge sets for LLM data."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:
    from splitforge.audit.run import AuditRunResult
    from splitforge.dedup.run import DedupRunResult
    from splitforge.pipeline import BuildResult
    from splitforge.recipe import Recipe

__all__ = ["__version__", "audit", "build", "dedup", "load_recipe"]


def build(recipe: Any, **kwargs: Any) -> BuildResult:
    """``splitforge build``: a recipe file, mapping or ``Recipe`` into a versioned folder.

    Keyword arguments as ``splitforge.pipeline.build`` (``out``, ``force``, ``dry_run``,
    ``overrides``). A mapping's sources may be DataFrames, ``datasets`` Datasets or Arrow tables.
    """
    from splitforge.pipeline import build as _build

    return _build(recipe, **kwargs)


def audit(train: Any, eval: Any = None, *, build: Any = None, **kwargs: Any) -> AuditRunResult:
    """``splitforge audit`` from Python; see ``splitforge.api.audit``."""
    from splitforge.api import audit as _audit

    return _audit(train, eval, build=build, **kwargs)


def dedup(source: Any, *, text: str, out: Any, **kwargs: Any) -> DedupRunResult:
    """``splitforge dedup`` from Python; see ``splitforge.api.dedup``."""
    from splitforge.api import dedup as _dedup

    return _dedup(source, text=text, out=out, **kwargs)


def load_recipe(path: Any, overrides: dict[str, Any] | None = None) -> Recipe:
    """Read and validate a recipe file."""
    from splitforge.recipe import load_recipe as _load

    return _load(path, overrides)
