"""Dedup around the control set: no copy of a control item stays among the data rows."""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from splitforge import columns as C
from splitforge.dedup.base import DedupResult
from splitforge.tables import concat_tables, take_table


def remove_control_duplicates(deduped: DedupResult, is_control: np.ndarray
                              ) -> tuple[DedupResult, dict[str, Any]]:
    """Remove every data row that is a direct copy of a control item.

    Control items never enter the split; the data rows with a control item's normalized text, or
    linked to it directly by a near-duplicate method, are removed too (``dedup:control_duplicate``,
    ``sf_kept_id`` the control item's id), so no copy of a control item can train.
    ``deduplicate`` found them (``DedupResult.control_of``) and removed no row for one of them.
    A row that only resembles such a copy stays (the audit of the control items against train
    still sees it). Control rows never appear in ``removed.parquet``.
    """
    table = deduped.table
    ids = table.column(C.ID).to_numpy(zero_copy_only=False)
    n = len(ids)
    root = deduped.same_text if deduped.same_text is not None else np.arange(n)
    control_of = deduped.control_of  # root -> control id, found by deduplicate
    hit = np.isin(root, np.array(sorted(control_of), dtype=np.int64)) & ~is_control
    keep = deduped.keep & ~hit
    rows = np.flatnonzero(hit)
    linked = take_table(table, rows)
    linked = linked.append_column("sf_stage", pa.array(["dedup"] * len(rows), pa.string()))
    linked = linked.append_column("sf_reason", pa.array(["control_duplicate"] * len(rows),
                                                        pa.string()))
    linked = linked.append_column("sf_kept_id", pa.array(
        [control_of[r] for r in root[rows].tolist()], pa.string()))
    removed = deduped.removed
    drop = pc.is_in(removed.column(C.ID), value_set=pa.array(ids[is_control | hit].tolist()))
    removed = concat_tables([removed.filter(pc.invert(drop)), linked])
    info = {"rows": int(is_control.sum()), "data_rows_removed": len(rows)}
    return DedupResult(table=table, keep=keep, removed=removed, clusters=deduped.clusters,
                       stats=deduped.stats, same_text=deduped.same_text,
                       near_pairs=deduped.near_pairs, control_of=control_of), info
