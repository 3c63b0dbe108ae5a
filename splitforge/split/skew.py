"""Skew the user did not ask for: a held-out split dominated by one value that train is not.

A temporal split of five repositories can put mostly the newest repository into test (334 of 376
quickstart test rows were faiss commits); a group split can hold out mostly one-time posters.
Neither breaks a guarantee, and both change what an eval number means, so the build warns.
Columns looked at: the mapped group and label, and every text column of the data with 2 to 50
distinct values (a repository, a language, a source), so a skew is found without being named.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa

from splitforge import columns as C
from splitforge.split.base import SPLIT_NAMES, TRAIN

MIN_ROWS = 20  # a held-out split smaller than this is too small to call skewed
MAX_VALUES = 50  # a column with more distinct values is no category
DOMINANT = 0.5  # a value holding this share of a held-out split ...
ABOVE_TRAIN = 0.25  # ... and this much more than its share of train is a skew


def skew_warnings(table: pa.Table, rows: np.ndarray, codes: np.ndarray) -> list[str]:
    """Warnings for held-out splits that one value of a category column dominates.

    ``rows`` are the table rows the split assigned and ``codes`` their split codes (-1 dropped).
    """
    assigned = codes >= 0
    rows, codes = rows[assigned], codes[assigned]
    if not len(rows):
        return []
    warnings = []
    for name in _category_columns(table):
        values = pd.Series(table.column(name).take(pa.array(rows)).to_pandas(), dtype=object)
        warnings += _dominated(name, values.astype(str).where(values.notna(), None), codes)
    if C.GROUP in table.column_names:
        groups = pd.Series(table.column(C.GROUP).take(pa.array(rows)).to_pylist(), dtype=object)
        warnings += _one_time(groups, codes)
    return warnings


def _category_columns(table: pa.Table) -> list[str]:
    names = [n for n in table.column_names if not n.startswith(C.PREFIX)]
    out = []
    for name in names:
        kind = table.schema.field(name).type
        if pa.types.is_dictionary(kind):
            kind = kind.value_type
        if not (pa.types.is_string(kind) or pa.types.is_large_string(kind)
                or pa.types.is_boolean(kind)):
            continue
        distinct = pa.compute.count_distinct(table.column(name)).as_py()
        if 2 <= distinct <= MAX_VALUES:
            out.append(name)
    return out + [c for c in (C.LABEL,) if c in table.column_names]


def _dominated(name: str, values: pd.Series, codes: np.ndarray) -> list[str]:
    train = values[codes == TRAIN].value_counts(normalize=True)
    out = []
    for code, split in enumerate(SPLIT_NAMES):
        if code == TRAIN:
            continue
        held = values[codes == code]
        if len(held) < MIN_ROWS:
            continue
        counts = held.value_counts()
        if counts.empty:
            continue
        top, n = str(counts.index[0]), int(counts.iloc[0])
        share, in_train = n / len(held), float(train.get(top, 0.0))
        if share >= DOMINANT and share - in_train >= ABOVE_TRAIN:
            field = "the label" if name == C.LABEL else f"field {name!r}"
            out.append(f"{split} is {share:.0%} one value of {field} ({top!r}: {n} of "
                       f"{len(held)} rows; {in_train:.0%} of train): a metric on {split} mostly "
                       f"measures {top!r}; if that is not meant, report metrics per value or split "
                       f"within each value")
    return out


def _one_time(groups: pd.Series, codes: np.ndarray) -> list[str]:
    sizes = groups.map(groups.value_counts())
    single = (sizes == 1).to_numpy()
    train_share = float(single[codes == TRAIN].mean()) if (codes == TRAIN).any() else 0.0
    out = []
    for code, split in enumerate(SPLIT_NAMES):
        held = codes == code
        if code == TRAIN or held.sum() < MIN_ROWS:
            continue
        share = float(single[held].mean())
        if share >= DOMINANT and share - train_share >= ABOVE_TRAIN:
            out.append(f"{split} is {share:.0%} groups of one row ({train_share:.0%} of train): "
                       f"held-out groups are mostly one-time (posters, users), unlike train")
    return out
