"""Frames and helpers shared by the split tests (import them: ``from tests.split.conftest import``)."""

from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd

from splitforge.recipe import SplitConfig
from splitforge.split import DROPPED, SplitFrame, check_partition
from splitforge.split.temporal import to_us

DAY = 86_400 * 10**6
T0 = to_us(datetime(2024, 1, 1, tzinfo=UTC))
LABELS = ("a", "b", "c", "rare")


def objects(values) -> np.ndarray:
    return np.array(list(values), dtype=object)


def make_frame(n=2000, *, groups=None, seed=0, prefix="r", group_prefix="g") -> SplitFrame:
    """n rows with labels (skewed: one label has 2%) and times over three years.

    groups: None, or how many distinct groups the rows are drawn from (row clusters stay unique).
    """
    rng = np.random.default_rng(seed)
    ids = objects(f"{prefix}{i:06d}" for i in range(n))
    return SplitFrame(
        ids=ids,
        clusters=objects(f"c-{i}" for i in ids),
        groups=None if groups is None else objects(
            f"{group_prefix}{i}" for i in rng.integers(0, groups, n)),
        labels=objects(LABELS[i] for i in rng.choice(4, n, p=[.5, .3, .18, .02])),
        times=T0 + (rng.integers(0, 3 * 365, n) * DAY + rng.integers(0, DAY, n)).astype(np.int64),
    )


def frame_from_days(days, groups=None, clusters=None, labels=None) -> SplitFrame:
    """Rows r000, r001, ... at T0 + the given days (fractions allowed)."""
    ids = objects(f"r{i:03d}" for i in range(len(days)))
    return SplitFrame(
        ids,
        ids.copy() if clusters is None else objects(clusters),
        None if groups is None else objects(groups),
        None if labels is None else objects(labels),
        T0 + np.round(np.array(days, dtype=float) * DAY).astype(np.int64),
    )


def concat(a: SplitFrame, b: SplitFrame) -> SplitFrame:
    def join(x, y):
        return None if x is None else np.concatenate([x, y])

    return SplitFrame(join(a.ids, b.ids), join(a.clusters, b.clusters), join(a.groups, b.groups),
                      join(a.labels, b.labels), join(a.times, b.times))


def config_for(method, **kw) -> SplitConfig:
    """A config for any method; temporal gets a 2-day gap unless told otherwise."""
    if method == "temporal":
        kw.setdefault("gap", "2d")
    return SplitConfig(method=method, **kw)


def gap_for(config: SplitConfig):
    return config.gap_delta // timedelta(microseconds=1) if config.method == "temporal" else None


def by_id(frame: SplitFrame, codes) -> dict:
    return dict(zip(frame.ids.tolist(), np.asarray(codes).tolist(), strict=True))


def assert_valid(frame: SplitFrame, config: SplitConfig, assignment) -> None:
    """The shared invariants, plus checks written independently of check_partition."""
    check_partition(frame, assignment, gap_for(config))
    codes = assignment.split
    assert codes.dtype == np.int8 and len(codes) == len(frame)
    assert set(np.unique(codes).tolist()) <= {-1, 0, 1, 2}
    dropped = codes == DROPPED
    assert all(isinstance(r, str) and r for r in assignment.reasons[dropped])
    assert all(r is None for r in assignment.reasons[~dropped])
    kept = pd.DataFrame({"unit": frame.units[~dropped], "split": codes[~dropped],
                         "cluster": frame.clusters[~dropped]})
    assert (kept.groupby("unit")["split"].nunique() == 1).all()
    # Linked rows (a duplicate cluster, chained or not) never straddle splits.
    assert (kept.groupby("cluster")["split"].nunique() == 1).all()
    info = assignment.info
    assert sum(info["rows"].values()) + sum(info["dropped"].values()) == len(frame)
