"""Sources held in memory: a pandas DataFrame, a ``datasets`` Dataset(Dict), an Arrow table.

The Python API accepts them wherever a recipe takes a source path. Each is written once as a
Parquet file named by the sha256 of its rows (``<output root>/.cache/inputs/<sha256>.parquet``),
and the recipe then reads that file like any other: the build id follows the data, the same
frame gives the same bytes and version, and the file is one splitforge wrote itself.
"""

from __future__ import annotations

import hashlib
import io
import os
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from splitforge.errors import InputError

INPUTS = Path(".cache") / "inputs"


def as_arrow(value: Any, split: str | None = None) -> pa.Table | None:
    """The rows of an in-memory source as an Arrow table; None when ``value`` is no such thing."""
    if isinstance(value, pa.Table):
        return value
    if isinstance(value, pa.RecordBatch):
        return pa.Table.from_batches([value])
    kind = type(value)
    module = kind.__module__.split(".")[0]
    if module == "pandas" and kind.__name__ == "DataFrame":
        return pa.Table.from_pandas(value, preserve_index=False)
    if module == "datasets" and kind.__name__ in ("DatasetDict", "IterableDatasetDict"):
        if split is None:
            raise InputError(f"a DatasetDict holds splits {', '.join(value)}; say which one to "
                             f"read: {{'data': dataset_dict, 'split': 'train'}}")
        if split not in value:
            raise InputError(f"the DatasetDict has no split {split!r}; it has "
                             f"{', '.join(value)}")
        value = value[split]
        kind = type(value)
    if module == "datasets" and kind.__name__ == "Dataset":
        return value.with_format("arrow")[:]
    return None


def stage_sources(data: dict[str, Any], root: Path, base: Path) -> dict[str, Any]:
    """The recipe mapping with every in-memory source written to Parquet under ``root``.

    A source may be the object itself or ``{"data": obj, ...}`` with the other source keys; its
    ``path`` is then the staged file (relative to ``base``; its folder is no part of the build
    id) and its ``name`` (how ``sf_source`` calls its rows) defaults to ``<kind>-<index>``.
    """
    sources = data.get("sources")
    if not isinstance(sources, list):
        return data
    staged = []
    for i, source in enumerate(sources):
        entry = dict(source) if isinstance(source, dict) else {"data": source}
        if "data" not in entry and as_arrow(source) is None:
            staged.append(source)
            continue
        value = entry.pop("data")
        table = as_arrow(value, entry.pop("split", None))
        if table is None:
            raise InputError(f"sources[{i}].data: expected a pandas DataFrame, a datasets "
                             f"Dataset or DatasetDict, or an Arrow table, got "
                             f"{type(value).__name__}")
        path = write_input(table, root)
        entry["path"] = _relative(path, base)
        entry.setdefault("name", f"{_kind(value)}-{i}")
        staged.append(entry)
    return {**data, "sources": staged}


def write_input(table: pa.Table, root: Path) -> Path:
    """Write ``table`` to ``root/.cache/inputs/<sha256>.parquet`` unless that file exists."""
    buffer = io.BytesIO()
    pq.write_table(table.replace_schema_metadata(None), buffer, compression="zstd")
    data = buffer.getvalue()
    digest = hashlib.sha256(data).hexdigest()
    folder = root / INPUTS
    path = folder / f"{digest}.parquet"
    if path.is_file() and hashlib.sha256(path.read_bytes()).hexdigest() == digest:
        return path
    folder.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        tmp.write_bytes(data)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def _relative(path: Path, base: Path) -> str:
    """The staged file as the recipe names it: relative to ``base`` where it can be."""
    return Path(os.path.relpath(path.resolve(), base.resolve())).as_posix()


def _kind(value: Any) -> str:
    name = type(value).__name__
    return {"DataFrame": "dataframe", "Dataset": "dataset", "DatasetDict": "dataset",
            "Table": "arrow", "RecordBatch": "arrow"}.get(name, "data")
