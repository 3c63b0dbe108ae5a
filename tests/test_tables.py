"""Chunk-by-chunk row selection equals Arrow's own take, in any order, with repeats."""

import numpy as np
import pyarrow as pa

from splitforge.tables import take_rows, take_table


def test_take_rows_equals_arrow_take_for_any_order_and_repeats():
    rng = np.random.default_rng(0)
    chunks = [pa.array([f"row {i}" for i in range(start, start + size)], pa.string())
              for start, size in ((0, 5), (5, 0), (5, 17), (22, 1), (23, 40))]
    chunked = pa.chunked_array(chunks)
    flat = pa.concat_arrays(chunks)
    for rows in (rng.integers(0, 63, 100), np.arange(63), np.arange(62, -1, -1), np.array([], int),
                 np.array([7, 7, 0, 62, 22])):
        assert take_rows(chunked, rows).to_pylist() == flat.take(pa.array(rows)).to_pylist()
    table = pa.table({"a": chunked, "b": pa.chunked_array([np.arange(30), np.arange(30, 63)])})
    rows = rng.integers(0, 63, 40)
    assert take_table(table, rows).to_pylist() == table.take(pa.array(rows)).to_pylist()
    assert take_table(table, rows).schema == table.schema
