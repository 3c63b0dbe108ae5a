"""Removal is per row, by direct pairs; clusters decide placement only (chains keep their rows)."""

import gzip
import json

import datasketch
import numpy as np
import pyarrow.compute as pc

from splitforge import columns as C
from splitforge.dedup import deduplicate
from splitforge.dedup.clusters import direct_pair_removal
from splitforge.normalize.affixes import affix_copies
from splitforge.normalize.shingles import reading_lengths, shingle_hashes
from splitforge.recipe import DedupConfig, MinHashConfig
from tests.conftest import real_data
from tests.dedup.conftest import table_of

SENTENCE = ("the quick brown fox jumps over the lazy dog while the farmer watches from the porch "
            "and drinks his morning coffee before the long day of work in the fields begins")


def _ids(array):
    return array.to_pylist()


def test_a_chain_keeps_every_other_row():
    # 0~1, 1~2, 2~3 in keep order: 1 copies 0 and 3 copies 2; 2 only resembles a removed row.
    left, right = np.array([0, 1, 2]), np.array([1, 2, 3])
    removal = direct_pair_removal(np.arange(4), np.arange(4), left, right,
                                  np.array([0.9, 0.8, 0.7]), np.zeros(3, np.int64))
    assert removal.keep.tolist() == [True, False, True, False]
    assert removal.kept_for.tolist() == [-1, 0, -1, 2]
    assert removal.score[[1, 3]].tolist() == [0.9, 0.7]


def test_a_row_linked_to_two_kept_rows_names_the_closer_one():
    # 0 and 1 are not linked; 2 resembles both, 1 more.
    removal = direct_pair_removal(np.arange(3), np.arange(3), np.array([0, 1]), np.array([2, 2]),
                                  np.array([0.6, 0.9]), np.zeros(2, np.int64))
    assert removal.keep.tolist() == [True, True, False]
    assert removal.kept_for[2] == 1


def test_exact_copies_follow_their_text():
    # 1 and 2 hold one text (same_text root 1); that text is a near copy of row 0.
    same_text = np.array([0, 1, 1, 3])
    removal = direct_pair_removal(np.arange(4), same_text, np.array([2]), np.array([0]),
                                  np.array([0.8]), np.array([1]), exact_via=0)
    assert removal.keep.tolist() == [True, False, False, True]
    assert removal.kept_for.tolist() == [-1, 0, 0, -1]
    assert removal.via.tolist() == [-1, 1, 1, -1]  # removed for the near copy, not as exact


def test_exact_copies_of_a_kept_text_are_exact_removals():
    removal = direct_pair_removal(np.arange(3), np.array([0, 0, 0]), np.zeros(0, np.int64),
                                  np.zeros(0, np.int64), np.zeros(0), np.zeros(0, np.int64),
                                  exact_via=0)
    assert removal.keep.tolist() == [True, False, False]
    assert removal.kept_for.tolist() == [-1, 0, 0]
    assert removal.via.tolist() == [-1, 0, 0]
    assert removal.score.tolist()[1:] == [1.0, 1.0]


def _edited(words, at):
    out = list(words)
    for i in at:
        out[i] = f"x{i}"
    return " ".join(out)


def test_minhash_chain_end_to_end():
    words = SENTENCE.split()
    a = SENTENCE
    b = _edited(words, [3, 11, 19])                 # three words changed
    c = _edited(words, [3, 11, 19, 7, 15, 23, 27])  # four more: like b, far from a
    config = DedupConfig(exact=True, minhash=MinHashConfig(threshold=0.5))
    result = deduplicate(table_of([a, b, c]), config)
    stats = result.stats
    if result.removed.num_rows == 2:  # guard the fixture: the texts must form a chain
        raise AssertionError(f"c was linked to a directly: {result.clusters.to_pylist()}")
    assert _ids(result.removed.column(C.ID)) == ["r001"]
    assert _ids(result.removed.column("sf_kept_id")) == ["r000"]
    assert _ids(result.kept.column(C.ID)) == ["r000", "r002"]
    # One cluster (placement together), two kept rows: reported as a chain with its weakest link.
    assert set(_ids(result.table.column(C.CLUSTER))) == {"r000"}
    chain = stats["chained_clusters"]
    assert chain["count"] == 1 and chain["largest"][0]["kept"] == 2
    assert chain["largest"][0]["rows"] == 3
    assert 0.5 <= chain["largest"][0]["weakest_link"] < 1
    members = {m[C.ID]: m for m in result.clusters.to_pylist()}
    assert members["r001"]["sf_kept_id"] == "r000" and members["r002"]["sf_kept_id"] is None


def test_every_removed_commit_subject_is_a_verified_copy_of_a_kept_row():
    rows = [json.loads(line) for line in gzip.open(real_data("temporal/oss_commit_messages"
                                                             ".jsonl.gz"), "rt")]
    subjects = [r["subject"] for r in rows]
    config = MinHashConfig()
    result = deduplicate(table_of(subjects), DedupConfig(exact=True, minhash=config))
    kept = set(_ids(result.kept.column(C.ID)))
    removed = result.removed.to_pylist()
    assert removed, "the real commit subjects hold duplicates"
    norm = dict(zip(_ids(result.table.column(C.ID)), _ids(result.table.column(C.NORM)),
                    strict=True))
    for row in removed:
        partner = row["sf_kept_id"]
        assert partner in kept
        if row["sf_reason"] == "exact_duplicate":
            assert norm[row[C.ID]] == norm[partner]
        else:
            assert _linked(norm[row[C.ID]], norm[partner], config)
    # Chains exist in real subjects ("[pre-commit.ci] pre-commit autoupdate (#...)"), and the
    # rows they keep are not copies of each other by the same test.
    chains = result.stats["chained_clusters"]
    assert chains["count"] > 0
    members = result.clusters.filter(result.clusters.column("sf_kept"))
    by_cluster: dict[str, list[str]] = {}
    for m in members.to_pylist():
        by_cluster.setdefault(m[C.CLUSTER], []).append(m[C.ID])
    pairs = [(x, y) for ids in by_cluster.values() for i, x in enumerate(ids) for y in ids[i + 1:]]
    assert pairs
    close = [p for p in pairs if _linked(norm[p[0]], norm[p[1]], config)]
    # LSH candidates pair each bucket member with its head and predecessor only, so a few kept
    # rows can still resemble each other; they stay in one split and are never removed wrongly.
    assert len(close) <= 0.2 * len(pairs), close[:5]


def _linked(a: str, b: str, config: MinHashConfig) -> bool:
    """The dedup rule, written out: Jaccard over the threshold, and a short pair an affix copy."""
    if _jaccard(a, b, config) < config.threshold:
        return False
    if min(reading_lengths([a, b])) >= config.min_tokens:
        return True
    return bool(affix_copies([a], [b])[0])


def _jaccard(a: str, b: str, config: MinHashConfig) -> float:
    """datasketch's estimate for two texts, from the shingle hashes dedup uses."""
    estimates = []
    for text in (a, b):
        shingles = shingle_hashes([text], config.ngram, config.char_ngram, config.unit)
        sketch = datasketch.MinHash(num_perm=config.num_perm, seed=config.seed, hashfunc=int)
        sketch.update_batch(shingles.of(0).tolist())
        estimates.append(sketch)
    return float(estimates[0].jaccard(estimates[1]))


def test_giant_cluster_is_placed_row_by_row():
    words = SENTENCE.split()
    # A long chain: row i changes word i % len(words) of row i-1 (each like the previous).
    texts, current = [], list(words)
    for i in range(60):
        current = list(current)
        current[(i * 7) % len(words)] = f"w{i}"
        texts.append(" ".join(current))
    config = DedupConfig(exact=True, minhash=MinHashConfig(threshold=0.5),
                         max_cluster_share=0.05)
    result = deduplicate(table_of(texts), config)
    giant = result.stats["giant_clusters"]
    kept = result.kept
    assert giant["clusters"] == 1 and giant["rows_placed_one_by_one"] == kept.num_rows
    # Each kept row is its own placement unit; clusters.parquet still names the component.
    assert kept.column(C.CLUSTER).to_pylist() == kept.column(C.ID).to_pylist()
    assert pc.count_distinct(result.clusters.column(C.CLUSTER)).as_py() == 1
    whole = deduplicate(table_of(texts), config.model_copy(update={"max_cluster_share": 1.0}))
    assert whole.stats["giant_clusters"]["clusters"] == 0
    assert len(set(whole.kept.column(C.CLUSTER).to_pylist())) == 1
    assert whole.kept.num_rows == kept.num_rows  # placement changes, removal does not


def test_a_row_is_not_removed_for_a_row_the_control_set_takes():
    # ctl ~ a ~ b, but b is no copy of ctl: a goes with the control item, b stays.
    words = SENTENCE.split()
    a = _edited(words, [3, 11, 19])
    b = _edited(words, [3, 11, 19, 7, 15, 23, 27])
    table = table_of([a, b, SENTENCE])  # r002 is the control item
    control = np.array([False, False, True])
    config = DedupConfig(exact=True, minhash=MinHashConfig(threshold=0.5))
    result = deduplicate(table, config, control=control)
    assert result.keep.tolist() == [False, True, False]
    assert result.removed.num_rows == 0  # the control step records r000, dedup removed nothing
    without = deduplicate(table, config)  # not told: b would go for a, which the control takes
    removed = dict(zip(_ids(without.removed.column(C.ID)),
                       _ids(without.removed.column("sf_kept_id")), strict=True))
    assert removed["r001"] == "r000"
