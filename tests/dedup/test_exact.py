from datetime import UTC, datetime

import numpy as np

from splitforge import columns as C
from splitforge.dedup import ExactDeduper, UnionFind, deduplicate, survivors
from splitforge.recipe import DedupConfig
from tests.dedup.conftest import table_of


def test_exact_links_normalized_copies_only():
    table = table_of(["Hello World", "hello   world", "HELLO\nWORLD", "hello worlds", "other"])
    links = ExactDeduper().find_links(table)
    pairs = {tuple(sorted(p)) for p in zip(links.left.tolist(), links.right.tolist(), strict=True)}
    linked = {i for p in pairs for i in p}
    assert linked == {0, 1, 2}
    assert len(links.left) == 2


def test_survivor_is_earliest_then_smallest_id():
    t = [datetime(2024, 1, d, tzinfo=UTC) for d in (5, 2, 2, 9)]
    table = table_of(["same", "same", "same", "same"], ids=["a", "z", "m", "b"], times=t)
    result = deduplicate(table, DedupConfig(exact=True))
    assert result.kept.column(C.ID).to_pylist() == ["m"]
    removed = dict(zip(result.removed.column(C.ID).to_pylist(),
                       result.removed.column("sf_kept_id").to_pylist(), strict=True))
    assert removed == {"a": "m", "z": "m", "b": "m"}
    assert set(result.removed.column("sf_reason").to_pylist()) == {"exact_duplicate"}
    assert result.stats["removed_by_reason"] == {"exact_duplicate": 3}


def test_rows_without_time_lose_to_rows_with_time():
    t = [None, datetime(2030, 1, 1, tzinfo=UTC)]
    table = table_of(["x", "X"], ids=["a", "b"], times=t)
    result = deduplicate(table, DedupConfig(exact=True))
    assert result.kept.column(C.ID).to_pylist() == ["b"]


def test_without_time_smallest_id_survives():
    table = table_of(["q", "q ", "r"], ids=["b", "a", "c"])
    result = deduplicate(table, DedupConfig(exact=True))
    assert sorted(result.kept.column(C.ID).to_pylist()) == ["a", "c"]
    assert result.kept.column(C.CLUSTER).to_pylist() == result.kept.column(C.ID).to_pylist()


def test_dedup_off_keeps_everything():
    table = table_of(["q", "q"])
    result = deduplicate(table, DedupConfig(exact=False))
    assert result.kept.num_rows == 2 and result.removed.num_rows == 0


def test_union_find_merges_chains():
    uf = UnionFind(6)
    uf.union(np.array([0, 2, 4, 1]), np.array([1, 3, 5, 2]))
    roots = uf.find_all()
    assert len({roots[0], roots[1], roots[2], roots[3]}) == 1
    assert roots[4] == roots[5] != roots[0]


def test_survivors_relabels_by_survivor_row():
    table = table_of(["a", "b", "c", "d"], ids=["d", "c", "b", "a"])
    clusters = survivors(table, np.array([7, 7, 3, 3]))
    assert clusters.is_survivor.tolist() == [False, True, False, True]
    assert clusters.label.tolist() == [1, 1, 3, 3]
    assert clusters.n_removed == 2


def test_keep_policies():
    t = [datetime(2024, 1, d, tzinfo=UTC) for d in (9, 2, 5)]
    table = table_of(["Same text", "same text", "SAME   TEXT"], ids=["b", "c", "a"], times=t)
    kept = {keep: deduplicate(table, DedupConfig(keep=keep)).kept.column(C.ID).to_pylist()
            for keep in ("earliest", "longest", "first-seen")}
    assert kept == {"earliest": ["c"], "longest": ["a"], "first-seen": ["b"]}


def test_cluster_members_table():
    table = table_of(["x y", "X  Y", "z", "x y "], ids=["r1", "r0", "r2", "r3"])
    members = deduplicate(table, DedupConfig()).clusters.to_pylist()
    assert [(m["sf_cluster"], m["sf_id"], m["sf_kept"], m["sf_method"], m["sf_cluster_size"])
            for m in members] == [("r0", "r0", True, None, 3), ("r0", "r1", False, "exact", 3),
                                  ("r0", "r3", False, "exact", 3)]
    assert members[1]["sf_score"] == 1.0 and members[1]["sf_text"] == "x y"
