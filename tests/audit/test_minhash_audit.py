import random

import numpy as np
import pytest

from splitforge.audit import MinHashCheck
from splitforge.audit.base import TrainingBatch, closest_group
from splitforge.audit.run import audit_checks
from splitforge.normalize.shingles import shingle_hashes
from splitforge.recipe import AuditThresholdsConfig
from tests.audit.conftest import mmlu_pairs, run


def words(seed: int, count: int) -> list[str]:
    rng = random.Random(seed)
    return [f"tok{rng.randrange(3000)}" for _ in range(count)]


def edit(tokens: list[str], rate: float, seed: int) -> list[str]:
    rng = random.Random(seed)
    tokens = tokens[:]
    for pos in rng.sample(range(len(tokens)), round(rate * len(tokens))):
        tokens[pos] = f"new{rng.randrange(10**6)}"
    return tokens


def test_finds_a_ten_percent_edited_copy_and_not_an_unrelated_text():
    item, unrelated = words(1, 120), words(2, 120)
    training = [" ".join(edit(item, 0.10, 3)), " ".join(words(4, 150)), " ".join(words(5, 90))]
    result = run(MinHashCheck([" ".join(item), " ".join(unrelated)]),
                 [(["copy", "other1", "other2"], training)])
    assert result.flagged.tolist() == [True, False]
    assert result.evidence_id[0] == "copy"
    # 10% of the words replaced: ~81% of bigrams kept, Jaccard ~0.68
    assert 0.55 <= result.jaccard[0] <= 0.8
    assert result.score[1] < 0.5


def test_ties_pick_the_smallest_id_whatever_the_batch_order():
    item = " ".join(words(7, 80))
    batches = [(["m"], [item]), (["k2", "k10"], [item, item])]
    forward = run(MinHashCheck([item]), batches)
    backward = run(MinHashCheck([item]), batches[::-1])
    assert forward.evidence_id == backward.evidence_id == ["k10"]
    assert forward.jaccard[0] == 1.0
    assert forward.candidates[0] == 3


def test_empty_texts_never_match():
    result = run(MinHashCheck(["", "a b c"]), [(["e"], [""])])
    assert result.flagged.tolist() == [False, False]
    assert result.evidence_id == [None, None]


def test_threshold_is_validated():
    with pytest.raises(ValueError, match="threshold"):
        MinHashCheck(["a"], threshold=1.5)


@pytest.mark.parametrize("unit", ["auto", "word", "char"])
def test_batch_shingles_equal_shingle_hashes(unit):
    texts = ["a b c d", "", "中华人民共和国成立", "hello “world” again", "日本語 text mixed in",
             "ｆｕｌｌ width", "한국어 문장 입니다", "a" * 30 + " b", "中 文"]
    batch = TrainingBatch([str(i) for i in range(len(texts))], texts)
    for n in (1, 2, 3):
        mine, reference = batch.shingles(n, n + 1, unit), shingle_hashes(texts, n, n + 1, unit)
        assert np.array_equal(mine.values, reference.values)
        assert np.array_equal(mine.offsets, reference.offsets)


def test_a_copy_of_one_template_item_is_evidence_for_that_item_only():
    # MMLU abstract algebra 47 and 51 differ in one polynomial; a lightly edited copy of 47 is
    # a near copy of 51 too (Jaccard ~0.58 >= 0.4), but 47 is the item it resembles most
    rows = {r["idx"]: r for r in mmlu_pairs() if r["subject"] == "abstract_algebra"}
    evals = [rows[47]["original_question"], rows[51]["original_question"]]
    batches = [(["copy-47"], ["Question: " + evals[0]])]
    both = run(MinHashCheck(evals, threshold=0.4), batches)
    assert both.flagged.tolist() == [True, False] and both.evidence_id == ["copy-47", None]
    assert both.set_aside.tolist() == [0, 1] and both.candidates.tolist() == [1, 1]
    assert both.summary["items_with_candidates_set_aside"] == 1
    assert both.to_table().column("minhash_set_aside").to_pylist() == [0, 1]  # audit.parquet
    alone = run(MinHashCheck(evals[1:], threshold=0.4), batches)  # no closer item: flagged
    assert alone.flagged[0] and 0.4 <= alone.score[0] < 0.8
    grouped = run(MinHashCheck(evals, threshold=0.4, groups=[0, 0]), batches)  # one item's texts
    assert grouped.flagged.tolist() == [True, True] and grouped.set_aside.tolist() == [0, 0]


def test_closest_group_keeps_the_pairs_no_other_group_beats():
    rng = np.random.default_rng(0)
    text, group = rng.integers(0, 30, 400), rng.integers(0, 12, 400)
    score = rng.integers(0, 6, 400).astype(float)

    def best(t, g):  # a group scores its best pair on a text
        return max(score[j] for j in range(400) if text[j] == t and group[j] == g)

    expected = [best(text[i], group[i]) >= max((score[j] for j in range(400)
                                                if text[j] == text[i] and group[j] != group[i]),
                                               default=-1)
                for i in range(400)]
    assert closest_group(text, group, score).tolist() == expected
    # an answer (group 0's weaker pair) stays where its input wins over another item
    assert closest_group(np.zeros(3, int), np.array([0, 0, 1]), np.array([9.0, 3, 5])
                         ).tolist() == [True, True, False]
    assert closest_group(np.zeros(0, int), np.zeros(0, int), np.zeros(0)).tolist() == []


def test_an_answer_keeps_the_text_its_input_wins_whatever_the_batches():
    base = words(11, 60)
    item, answer, sibling = (" ".join(edit(base, rate, seed)) for rate, seed in
                             ((0.0, 0), (0.12, 1), (0.07, 2)))
    copy = " ".join(edit(base, 0.02, 3))
    rows = [("copy", copy), ("copy", copy), ("copy-2", copy), ("other", " ".join(words(12, 60)))]
    results = []
    for size in (1, 2, 4):
        for rows_now in (rows, rows[::-1]):
            batches = [([i for i, _ in rows_now[k:k + size]], [t for _, t in rows_now[k:k + size]])
                       for k in range(0, len(rows_now), size)]
            results.append(run(MinHashCheck([item, answer, sibling], threshold=0.4,
                                            groups=[0, 0, 1]), batches))
    first = results[0]
    assert first.flagged.tolist() == [True, True, False]
    assert first.evidence_id == ["copy", "copy", None] and first.set_aside.tolist() == [0, 0, 3]
    # the sibling is closer to the copy than the answer is, yet the input's group keeps the copy
    apart = run(MinHashCheck([answer, sibling], threshold=0.4), [(["copy"], [copy])])
    assert apart.set_aside.tolist() == [1, 0] and apart.score[1] > first.score[1]
    for other in results[1:]:
        assert other.score.tolist() == first.score.tolist()
        assert other.evidence_id == first.evidence_id
        assert other.set_aside.tolist() == first.set_aside.tolist()


def test_audit_checks_give_minhash_its_suspect_threshold_and_the_groups():
    thresholds = AuditThresholdsConfig(minhash_suspect=0.3)
    check = audit_checks(["a b c", "d e f"], ["minhash"], 13, thresholds, groups=[0, 0])[0]
    assert check.threshold == 0.3 and check.groups.tolist() == [0, 0]
