"""Row selection on Arrow tables that never copies a whole column, and table concatenation.

``ChunkedArray.take`` (and so ``Table.take``) concatenates every chunk before it takes, which
copies a whole text column (gigabytes for a million long documents) to pick a few rows. These
helpers take chunk by chunk and put the rows back in the order asked for.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa


def take_rows(values: pa.Array | pa.ChunkedArray, rows: np.ndarray | pa.Array) -> pa.Array:
    """``values[rows]`` as one array, taken chunk by chunk."""
    rows = np.asarray(rows.to_numpy() if isinstance(rows, pa.Array) else rows, dtype=np.int64)
    if isinstance(values, pa.Array):
        return values.take(pa.array(rows))
    if values.num_chunks == 1:
        return values.chunk(0).take(pa.array(rows))
    if not len(rows):
        return pa.array([], values.type)
    bounds = np.cumsum([0] + [len(chunk) for chunk in values.chunks])
    order = np.argsort(rows, kind="stable")
    sorted_rows = rows[order]
    chunk_of = np.searchsorted(bounds, sorted_rows, side="right") - 1
    starts = np.flatnonzero(np.diff(chunk_of, prepend=-1))
    ends = np.append(starts[1:], len(sorted_rows))
    parts = [values.chunk(int(chunk_of[s])).take(pa.array(sorted_rows[s:e] - bounds[chunk_of[s]]))
             for s, e in zip(starts, ends, strict=True)]
    taken = pa.concat_arrays(parts)
    if np.all(order[1:] > order[:-1]):
        return taken
    inverse = np.empty(len(order), dtype=np.int64)
    inverse[order] = np.arange(len(order))
    return taken.take(pa.array(inverse))


def take_table(table: pa.Table, rows: np.ndarray | pa.Array) -> pa.Table:
    """``table.take(rows)``, column by column with ``take_rows``."""
    return pa.Table.from_arrays([take_rows(column, rows) for column in table.columns],
                                schema=table.schema)


def concat_tables(tables: list[pa.Table]) -> pa.Table:
    """``pa.concat_tables`` with ``promote_options="permissive"`` (schemas are unified)."""
    return pa.concat_tables(tables, promote_options="permissive")
