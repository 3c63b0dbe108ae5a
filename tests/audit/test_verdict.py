import numpy as np

from splitforge.audit.base import CheckResult
from splitforge.audit.exact import ExactResult
from splitforge.audit.minhash import MinHashResult
from splitforge.audit.ngram_overlap import NgramOverlapResult
from splitforge.audit.verdict import Thresholds, verdict_table

SUMMARY = {"n": 13, "char_n": 13}


def _rows(results, texts=("item zero", "item one", "item two")):
    table = verdict_table(["a", "b", "c"], list(texts), results, Thresholds())
    return table.to_pylist()


def test_each_check_applies_its_own_thresholds_and_the_worst_verdict_wins():
    ids = [None, "t1", "t2"]
    minhash = MinHashResult("minhash", np.array([False, True, True]), np.array([0.1, 0.45, 0.65]),
                            ids, {}, np.array([0, 1, 1]), np.array([0, 0, 0]),
                            np.array([9, 9, 9]), np.zeros(3, dtype=bool))
    assert [r["verdict"] for r in _rows([minhash])] == ["clean", "suspect", "contaminated"]
    short = MinHashResult("minhash", np.array([False, True, True]), np.array([0.1, 0.45, 0.65]),
                          ids, {}, np.array([0, 1, 1]), np.array([0, 0, 0]), np.array([9, 9, 7]),
                          np.zeros(3, dtype=bool))
    assert [r["verdict"] for r in _rows([short])] == ["clean", "suspect", "suspect"]
    # a short item whose training text is the same words but for an affix is a copy
    affix = MinHashResult("minhash", np.array([False, True, True]), np.array([0.1, 0.45, 0.65]),
                          ids, {}, np.array([0, 1, 1]), np.array([0, 0, 0]), np.array([9, 5, 7]),
                          np.array([False, True, False]))
    assert [r["verdict"] for r in _rows([affix])] == ["clean", "contaminated", "suspect"]
    # contained in training: 8 tokens or more is contaminated, fewer is suspect
    exact = ExactResult("exact", np.array([True, True, False]), np.array([1.0, 1.0, 0.0]),
                        ["e0", "e1", None], {}, np.array([False, False, False]),
                        [None, None, None], np.array([True, True, False]), ["e0", "e1", None],
                        np.array([8, 7, 3]))
    rows = _rows([exact, minhash])
    assert [r["verdict"] for r in rows] == ["contaminated", "suspect", "contaminated"]
    # a tie goes to the check tried first; the evidence is the deciding check's
    assert [(r["evidence_method"], r["evidence_id"]) for r in rows] == [
        ("exact", "e0"), ("exact", "e1"), ("minhash", "t2")]
    assert rows[2]["matched_text"] == "item two"  # minhash shows the item itself


def test_a_short_ngram_item_is_at_most_suspect_and_shows_its_matched_span():
    ngram = NgramOverlapResult("ngram_overlap", np.array([True, True, False]),
                               np.array([1.0, 1.0, 0.3]), ["n0", "n1", "n2"], SUMMARY,
                               np.array([20, 5, 13]), ["span zero", "span one", "span two"],
                               np.array([1.0, 1.0, 0.3]), np.array([13, 5, 13]),
                               ["word", "word", "word"], np.array([20, 5, 13]))
    rows = _rows([ngram])
    assert [r["verdict"] for r in rows] == ["contaminated", "suspect", "suspect"]
    # five space-separated "words", but one is a Chinese sentence: not short
    chinese = NgramOverlapResult("ngram_overlap", np.array([True]), np.array([1.0]), ["n0"],
                                 SUMMARY, np.array([5]), ["span"], np.array([1.0]),
                                 np.array([5]), ["word"], np.array([24]))
    table = verdict_table(["a"], ["item"], [chinese], Thresholds())
    assert table.column("verdict").to_pylist() == ["contaminated"]
    assert [r["matched_text"] for r in rows] == ["span zero", "span one", "span two"]


def test_a_check_without_thresholds_counts_its_flag_as_contamination():
    mine = CheckResult("mine", np.array([True, False, False]), np.array([0.9, 0.95, 0.0]),
                       ["m0", "m1", None], {})
    rows = _rows([mine])
    assert [r["verdict"] for r in rows] == ["contaminated", "clean", "clean"]
    assert rows[0]["evidence_id"] == "m0" and rows[0]["matched_text"] == "item zero"
    assert "is_mine_issue" in rows[0] and rows[1]["mine_score"] == 0.95
