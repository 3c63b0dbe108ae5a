"""Hypothesis properties of clustering: symmetric, transitive, survivor inside, idempotent."""

from hypothesis import given, settings
from hypothesis import strategies as st

from splitforge import columns as C
from splitforge.dedup import deduplicate
from splitforge.normalize import normalize_text
from splitforge.recipe import DedupConfig
from tests.dedup.conftest import table_of

texts = st.lists(st.sampled_from(["a", "A", " a", "b", "B b", "b b", "c", "模型", "模型 "]),
                 min_size=1, max_size=40)


@settings(max_examples=60, deadline=None)
@given(texts)
def test_clusters_are_exactly_the_normalized_equivalence_classes(values):
    table = table_of(values)
    result = deduplicate(table, DedupConfig(exact=True))
    kept_norm = [normalize_text(v) for v in result.kept.column(C.TEXT).to_pylist()]
    assert sorted(kept_norm) == sorted(set(normalize_text(v) for v in values))
    kept = dict(zip(result.kept.column(C.ID).to_pylist(), kept_norm, strict=True))
    for rid, text, kept_id in zip(result.removed.column(C.ID).to_pylist(),
                                  result.removed.column(C.TEXT).to_pylist(),
                                  result.removed.column("sf_kept_id").to_pylist(), strict=True):
        assert kept[kept_id] == normalize_text(text)  # survivor is in the removed row's cluster
        assert kept_id < rid  # no times: the smallest id survives


@settings(max_examples=40, deadline=None)
@given(texts)
def test_dedup_is_idempotent(values):
    once = deduplicate(table_of(values), DedupConfig(exact=True)).kept
    again = deduplicate(once.drop_columns([C.CLUSTER]), DedupConfig(exact=True))
    assert again.removed.num_rows == 0
    assert again.kept.column(C.ID).to_pylist() == once.column(C.ID).to_pylist()
