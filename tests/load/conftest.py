"""Helpers shared by the load tests."""

from pathlib import Path

from splitforge.load import LoadResult, load_sources
from splitforge.recipe import FieldsConfig, SourceConfig

FIXTURES = Path(__file__).resolve().parents[1] / "data" / "load"


def load_one(path: Path | str, base: Path, fields: dict | None = None, **source) -> LoadResult:
    """Load one source with a fields mapping given as a dict (default: text field 'q')."""
    return load_sources([SourceConfig(path=str(path), **source)],
                        FieldsConfig(**(fields or {"text": "q"})), base)
