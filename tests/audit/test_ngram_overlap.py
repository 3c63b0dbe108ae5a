import unicodedata

import numpy as np
import pytest

from splitforge.audit import NgramOverlapCheck
from tests.audit.conftest import norm_all, run

ITEM = " ".join(f"w{i}" for i in range(1, 21))  # 20 words: 16 five-grams


def test_coverage_longest_span_and_evidence_on_a_crafted_example():
    doc_a = "intro " + " ".join(f"w{i}" for i in range(1, 9)) + " outro"  # 5-grams 1..4
    doc_b = "x " + " ".join(f"w{i}" for i in range(10, 21))  # 5-grams 10..16
    result = run(NgramOverlapCheck([ITEM], n=5), [(["a", "b"], [doc_a, doc_b])])
    assert result.coverage[0] == pytest.approx(11 / 16)
    assert result.longest_span[0] == 7 + 5 - 1
    assert result.matched_text[0] == " ".join(f"w{i}" for i in range(10, 21))
    assert result.evidence_id == ["b"]
    assert result.evidence_share[0] == pytest.approx(7 / 16)
    assert result.flagged[0]  # 11/16 >= 0.5
    assert result.n_used.tolist() == [5] and result.unit == ["word"]


def test_run_of_found_ngrams_ending_and_starting_at_item_edges():
    doc = " ".join(f"w{i}" for i in range(1, 7)) + " gap " + " ".join(f"w{i}" for i in range(12, 21))
    result = run(NgramOverlapCheck([ITEM, "w1 w2 w3 w4 w5 w6"], n=5), [(["d"], [doc])])
    # item 0: 5-grams 1-2 and 12-16 found; the second run is the longest
    assert result.coverage[0] == pytest.approx(7 / 16)
    assert result.longest_span[0] == 9
    assert result.matched_text[0] == " ".join(f"w{i}" for i in range(12, 21))
    assert result.coverage[1] == 1.0 and result.longest_span[1] == 6


def test_short_items_are_checked_not_skipped():
    evals = norm_all(["Solve for x.", "two words", "solve x for", "a much longer item with "
                      "more than thirteen words so it is not short at all really"])
    check = NgramOverlapCheck(evals, n=13)
    result = run(check, [(["t1", "t2"], ["please solve for x. then stop", "two other words"])])
    assert result.coverage.tolist() == [1.0, 0.0, 0.0, 0.0]
    assert result.longest_span.tolist() == [3, 0, 0, 0]
    assert result.n_used.tolist() == [3, 2, 3, 13]
    assert result.evidence_id == ["t1", None, None, None]
    assert result.summary["short_items"] == 3


@pytest.mark.parametrize("n", [8, 13])
def test_presets(n):
    words = [f"v{i}" for i in range(40)]
    item = " ".join(words)
    copy_with_edit = " ".join(words[:20] + ["EDIT"] + words[21:])
    result = run(NgramOverlapCheck([item], n=n), [(["t"], ["pre " + copy_with_edit])])
    total = 40 - n + 1
    found = total - n  # the n windows covering word 20 are lost
    assert result.coverage[0] == pytest.approx(found / total)
    assert result.longest_span[0] == 20
    assert result.summary["n"] == n


def test_cjk_items_use_character_ngrams(belle_questions):
    question = next(q for q in belle_questions if len(q) > 40)
    other = next(q for q in belle_questions if len(q) > 40 and q != question)
    evals = norm_all([question, other])
    training = ["以下是训练数据：" + question + "。谢谢。", "无关的中文文本，讲的是天气和旅行计划。"]
    result = run(NgramOverlapCheck(evals, n=13), [(["t1", "t2"], training)])
    assert result.unit == ["char", "char"]
    assert result.coverage[0] == 1.0 and result.evidence_id[0] == "t1"
    chars = "".join(c for c in evals[0] if not c.isspace() and unicodedata.category(c)[0] != "P")
    assert result.longest_span[0] == len(chars)  # characters, punctuation not counted
    assert result.matched_text[0] == chars[:300]
    assert result.coverage[1] < 0.2


def test_ties_pick_the_smallest_id_within_and_across_batches():
    doc = "x " + ITEM + " y"
    forward = run(NgramOverlapCheck([ITEM], n=5), [(["b"], [doc]), (["a10", "a9"], [doc, doc])])
    backward = run(NgramOverlapCheck([ITEM], n=5), [(["a9", "a10"], [doc, doc]), (["b"], [doc])])
    assert forward.evidence_id == backward.evidence_id == ["a10"]


def test_evidence_is_the_text_with_most_ngrams_not_the_smallest_id():
    partial = " ".join(f"w{i}" for i in range(1, 12))  # 7 of the 16 five-grams
    result = run(NgramOverlapCheck([ITEM], n=5), [(["a", "z"], [partial, ITEM + " tail"])])
    assert result.evidence_id == ["z"] and result.evidence_share[0] == 1.0


def test_invalid_parameters_raise():
    with pytest.raises(ValueError, match="min_coverage"):
        NgramOverlapCheck(["a"], min_coverage=0)
    with pytest.raises(ValueError, match="n-grams need"):
        NgramOverlapCheck(["a"], n=0)


def test_no_training_data_gives_zero_coverage():
    result = NgramOverlapCheck([ITEM, ""]).result()
    assert np.array_equal(result.coverage, [0.0, 0.0])
    assert result.summary["empty_items"] == 1 and result.summary["train_rows"] == 0


def test_char_unit_reads_latin_training_rows():
    check = NgramOverlapCheck(["hello world foo"], n=5, unit="char")
    result = run(check, [(["a"], ["say hello world foo now"])])
    assert result.score.tolist() == [1.0] and result.evidence_id == ["a"]


def test_token_coverage_counts_the_words_inside_found_ngrams():
    doc_a = "intro " + " ".join(f"w{i}" for i in range(1, 9)) + " outro"  # 5-grams 1..4: w1-w8
    doc_b = "x " + " ".join(f"w{i}" for i in range(10, 21))  # 5-grams 10..16: w10-w20
    result = run(NgramOverlapCheck([ITEM, "w1 w2 w3", "z1 z2 z3 z4 z5 z6"], n=5),
                 [(["a", "b"], [doc_a, doc_b])])
    assert result.token_coverage[0] == pytest.approx(19 / 20)  # all but w9
    assert result.token_coverage[1] == 1.0  # a short item found whole
    assert result.token_coverage[2] == 0.0


def test_an_edited_question_inside_a_long_document_is_suspect_by_its_words():
    import gzip
    import json

    from splitforge.audit.verdict import verdict_table
    from splitforge.recipe import AuditThresholdsConfig
    from tests.conftest import real_data

    with open(real_data("eval/gsm8k_test.jsonl"), encoding="utf-8") as f:
        question = json.loads(next(f))["question"]  # Janet's ducks: 52 words, 40 13-grams
    with gzip.open(real_data("instruct/alpaca_en_zh_52k.jsonl.gz"), "rt", encoding="utf-8") as f:
        answers = [json.loads(next(f))["en_output"] for _ in range(40)]
    words = question.split()
    edited = " ".join(w for i, w in enumerate(words) if i not in (13, 27, 41))  # 6% dropped
    document = "\n\n".join(answers[:20] + [edited] + answers[20:])
    stock = " ".join(words[:14]) + " " + answers[0]  # one stretch of 14 words, then other text
    evals = norm_all([question])
    result = run(NgramOverlapCheck(evals), [(["doc"], [document])])
    # the 13-grams that span a dropped word are lost, the words around them are not
    assert result.coverage[0] < 0.2 <= 0.4 <= result.token_coverage[0]
    table = verdict_table(["q"], evals, [result], AuditThresholdsConfig())
    assert table.column("verdict").to_pylist() == ["suspect"]
    assert table.column("evidence_id").to_pylist() == ["doc"]
    assert table.column("ngram_overlap_token_coverage").to_pylist() == [
        pytest.approx(result.token_coverage[0])]  # audit.parquet's column
    strict = AuditThresholdsConfig.model_validate({"ngram_token_suspect": 0.9})  # the recipe key
    assert verdict_table(["q"], evals, [result], strict).column("verdict").to_pylist() == [
        "clean"]
    lone = run(NgramOverlapCheck(evals), [(["stock"], [stock])])
    assert 0 < lone.token_coverage[0] < 0.4  # one shared stretch of an item is not enough
    table = verdict_table(["q"], evals, [lone], AuditThresholdsConfig())
    assert table.column("verdict").to_pylist() == ["clean"]
