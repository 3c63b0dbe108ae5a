"""The embedding check: rephrased items found through retrieval + MiniLM, whatever the batching."""

import gzip
import json
import random

import numpy as np
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from splitforge.audit import EmbeddingCheck, scan_training
from splitforge.audit.embedding import alignment, flag, gram_counts, views
from splitforge.audit.run import audit_checks
from splitforge.cli import app
from splitforge.errors import InputError
from splitforge.normalize.shingles import text_buffers
from splitforge.normalize.text import normalize_text
from splitforge.recipe import AuditThresholdsConfig
from tests.audit.conftest import mmlu_pairs
from tests.conftest import real_data, write_jsonl

runner = CliRunner()
PLANTED = (1, 486)  # S_5 index question; a passage question whose rephrase drops the passage
UNPLANTED = (3, 120, 300, 400)


def _alpaca(n=300):
    with gzip.open(real_data("instruct/alpaca_en_zh_52k.jsonl.gz"), "rt", encoding="utf-8") as f:
        rows = [json.loads(next(f)) for _ in range(n)]
    return [(f"alpaca-{i}", f"{r['en_instruction']} {r['en_input']} {r['en_output']}")
            for i, r in enumerate(rows)]


@pytest.fixture(scope="module")
def corpus():
    pairs = mmlu_pairs()
    train = _alpaca() + [(f"rephrase-{i}", pairs[i]["rephrased_english"]) for i in PLANTED]
    random.Random(0).shuffle(train)
    evals = [pairs[i]["original_question"] for i in PLANTED + UNPLANTED]
    return train, evals


def _run_check(check, train):
    return scan_training([check], [([i for i, _ in train], [t for _, t in train])],
                         num_proc=1)[0]


def _run(evals, train, batch_rows, num_proc=1):
    check = EmbeddingCheck(evals)
    batches = [([i for i, _ in train[k:k + batch_rows]], [t for _, t in train[k:k + batch_rows]])
               for k in range(0, len(train), batch_rows)]
    return scan_training([check], batches, num_proc=num_proc)[0]


def test_rephrases_are_found_with_their_evidence_and_others_are_not(corpus):
    train, evals = corpus
    result = _run(evals, train, len(train))
    for k, i in enumerate(PLANTED):
        assert result.evidence_id[k] == f"rephrase-{i}"
        assert result.score[k] >= 0.8 and result.flagged[k]
    # the passage question is found by its last sentence, not by the whole passage
    assert result.view[1] != EmbeddingCheck([evals[1]]).views[0]
    assert "prescott" in result.view[1]
    assert not result.flagged[len(PLANTED):].any()
    assert result.summary["views"] > len(evals)
    assert result.matched_text[0].startswith("in s_5")


def test_batching_order_and_processes_do_not_change_the_result(corpus):
    train, evals = corpus
    one = _run(evals, train, len(train))
    shuffled = list(train)
    random.Random(1).shuffle(shuffled)
    for other in (_run(evals, train, 7), _run(evals, shuffled, 50, num_proc=2)):
        np.testing.assert_array_equal(one.score, other.score)
        assert one.evidence_id == other.evidence_id and one.view == other.view


def test_views_are_the_text_and_its_long_sentences():
    text = ("This question refers to the following information.\nA long passage sentence that "
            "has more than eight words in it for sure.\n>>> f([1, 2, 3], 0.5)\nWhich is it?")
    got = views(text, 8)
    assert got[0] == " ".join(text.lower().split())
    assert got[1:] == ["a long passage sentence that has more than eight words in it for sure."]
    assert views("", 8) == []
    zh = "这是一个足够长的中文句子，用来测试视图。短句。"
    assert views(zh, 8)[1:] == ["这是一个足够长的中文句子,用来测试视图。"]  # NFKC comma


def test_a_missing_model_is_input_error_before_the_scan(tmp_path):
    with pytest.raises(InputError, match="not a sentence-transformers model folder"):
        EmbeddingCheck(["some text"], model=str(tmp_path))


def test_cli_reports_the_rephrase_and_gates_on_suspect(tmp_path, corpus):
    train, evals = corpus
    train_file = write_jsonl(tmp_path / "train.jsonl", [{"id": i, "text": t} for i, t in train])
    eval_file = write_jsonl(tmp_path / "eval.jsonl", [{"id": f"q{k}", "question": t}
                                                      for k, t in enumerate(evals)])
    args = ["audit", "--train", str(train_file), "--eval", str(eval_file), "--train-text", "text",
            "--eval-text", "{question}", "--id", "id", "--methods", "exact,embedding",
            "--report", str(tmp_path / "report")]
    result = runner.invoke(app, args + ["--fail-on", "suspect"])
    assert result.exit_code == 1, result.output
    summary = json.loads((tmp_path / "report" / "audit.json").read_text(encoding="utf-8"))
    assert summary["per_check"]["embedding"]["model"] == "minilm"
    assert summary["verdicts"]["clean"] == len(UNPLANTED)
    md = (tmp_path / "report" / "audit.md").read_text(encoding="utf-8")
    assert "rephrase-1" in md
    columns = pq.read_table(tmp_path / "report" / "audit.parquet").column_names
    for name in ("score", "margin", "alignment", "set_aside", "view", "matched_text", "numbers",
                 "span", "rivals"):
        assert f"embedding_{name}" in columns  # the columns the README lists
    bad = runner.invoke(app, args[:-2] + ["--embedding-model", str(tmp_path / "nope")])
    assert bad.exit_code == 2 and "not a sentence-transformers model folder" in bad.output


def test_recipe_thresholds_reach_the_check():
    t = AuditThresholdsConfig(embedding_suspect=0.8, embedding_margin=0.2, embedding_floor=0.6,
                              embedding_alignment=0.75, embedding_standout=0.4,
                              embedding_window=40, embedding_window_from=300)
    check = audit_checks(["an eval item"], ["embedding"], 13, t)[0]
    assert (check.threshold, check.margin, check.floor, check.alignment, check.standout) == (
        0.8, 0.2, 0.6, 0.75, 0.4)
    assert (check.window, check.window_from) == (40, 300)
    default = audit_checks(["an eval item of six words"], ["embedding"], 13,
                           AuditThresholdsConfig())[0]
    assert (default.window, default.window_from) == (16, 256)  # sized to the (short) items
    with pytest.raises(ValueError, match="embedding_window"):
        AuditThresholdsConfig(embedding_window=0)


def test_margin_flags_a_standout_match_and_ignores_copies_of_the_evidence(corpus):
    train, evals = corpus
    pairs = mmlu_pairs()
    copy = [("rephrase-1-copy", pairs[1]["rephrased_english"])]  # "rephrase-1-copy" > "rephrase-1"
    one = _run(evals, train, len(train))
    two = _run(evals, train + copy, len(train) + 1)
    assert two.evidence_id[0] == "rephrase-1"
    # the copy is not "the next-best text": the margin does not shrink (it may grow, as the
    # copy takes one of the 5 retrieval slots of the next-best one)
    assert two.margin[0] >= one.margin[0] - 1e-6 and one.margin[0] > 0.3
    # cosine 0.9 / 0.75 with margin / no margin / below the floor / not aligned / standing out
    assert flag(np.array([0.9, 0.75, 0.75, 0.6, 0.9, 0.75]),
                np.array([0.0, 0.2, 0.05, 0.5, 0.3, 0.6]),
                np.array([0.7, 0.7, 0.7, 0.7, 0.6, 0.6]), 0.85, 0.1, 0.7, 0.68, 0.5
                ).tolist() == [True, True, False, False, False, True]


def test_a_match_with_no_rival_text_must_align():
    # the margin of a match with no other text left is its cosine: it stands out from nothing
    score, margin = np.array([0.75, 0.75, 0.75, 0.75]), np.array([0.75, 0.75, 0.6, 0.6])
    aligned = np.array([np.nan, 0.7, np.nan, 0.7])
    numbers = np.array([np.nan, np.nan, 0.0, 0.0])
    args = (0.85, 0.1, 0.7, 0.68, 0.5, numbers, 0.6)
    assert flag(score, margin, aligned, *args).tolist() == [True, True, True, True]
    assert flag(score, margin, aligned, *args, np.array([0, 0, 0, 0])).tolist() == [
        False, True, False, True]  # not aligned; aligned; not aligned; aligned (numbers: the
    # margin of 0.6 still decides them, as for rephrased MMLU algebra items that keep half)
    assert flag(score, margin, aligned, *args, np.array([2, 2, 1, 1])).tolist() == [
        True, True, True, True]


def test_a_training_text_counts_for_the_eval_item_it_resembles_most(corpus):
    train, _ = corpus
    pairs = mmlu_pairs()
    # abstract algebra templates: Q(sqrt(2) + sqrt(3)), Q(sqrt(2), sqrt(3)), Q(sqrt(2)*sqrt(3))
    planted, siblings = 8, (35, 71)
    train = train + [("rephrase-8", pairs[planted]["rephrased_english"])]
    evals = [pairs[i]["original_question"] for i in (planted, *siblings)]
    result = _run(evals, train, len(train))
    assert result.evidence_id[0] == "rephrase-8" and result.flagged[0]
    assert not result.flagged[1:].any() and (result.set_aside[1:] >= 1).all()
    assert result.summary["items_with_candidates_set_aside"] >= 2
    # without the planted item in the eval set, nothing claims the rephrase: the sibling is flagged
    alone = _run(evals[1:2], train, len(train))
    assert alone.evidence_id[0] == "rephrase-8" and alone.flagged[0]
    # texts of one group (an input and its answer) do not set each other's candidates aside
    check = EmbeddingCheck(evals, groups=[0, 0, 1])
    grouped = scan_training([check], [([i for i, _ in train], [t for _, t in train])])[0]
    assert grouped.evidence_id[1] == "rephrase-8" and grouped.flagged[1]
    assert not grouped.flagged[2]


def test_alignment_is_bertscore_f1():
    a = np.eye(3, dtype=np.float32)[:2]  # tokens e0, e1
    b = np.array([[1, 0, 0], [0, 0.6, 0.8]], dtype=np.float32)  # e0 and a token near e1
    # recall: e0 -> 1, e1 -> 0.6; precision: b0 -> 1, b1 -> 0.6; F1 = 0.8
    assert alignment(a, b) == pytest.approx(0.8)
    assert alignment(a, a) == pytest.approx(1.0) and alignment(a, b[:0]) == 0.0


def test_a_same_task_row_is_not_a_rephrase_but_the_rephrase_is():
    with gzip.open(real_data("contamination/humaneval_rephrased_pairs.jsonl.gz"), "rt",
                   encoding="utf-8") as f:
        rephrase = [json.loads(line) for line in f][47]["rephrased_text"]  # median(l)
    with open(real_data("eval/humaneval.jsonl"), encoding="utf-8") as f:
        items = [json.loads(line) for line in f]
    with gzip.open(real_data("instruct/alpaca_en_zh_52k.jsonl.gz"), "rt", encoding="utf-8") as f:
        row = next(r for r in map(json.loads, f)  # row 8054 of Alpaca
                   if r["en_instruction"] == "Write a function that adds two numbers")
    train = _alpaca() + [
        ("alpaca-8054", " ".join(row[k] for k in ("en_instruction", "en_input", "en_output"))),
        ("rephrase-47", rephrase)]
    evals = [items[i]["prompt"] + items[i]["canonical_solution"] for i in (53, 47)]  # add, median
    result = _run(evals, train, len(train))
    assert result.evidence_id[0] == "alpaca-8054"
    assert result.score[0] >= 0.7 and result.margin[0] >= 0.1  # a candidate by its cosine ...
    assert result.alignment[0] < 0.68 and not result.flagged[0]  # ... whose tokens do not align
    assert result.evidence_id[1] == "rephrase-47" and result.flagged[1]
    assert result.alignment[1] >= 0.68


def test_gram_counts_agree_with_sklearn_char_ngrams():
    import scipy.sparse as sp
    from sklearn.feature_extraction.text import CountVectorizer

    # normalized, as the check sees them (sklearn's char analyzer also collapses whitespace)
    texts = [normalize_text(t) for _, t in _alpaca(200)] + ["", "abc", "abcd", "abcde abcde"]
    texts = [t for t in texts if t.isascii()]  # sklearn counts characters, we count bytes
    row, gram, count = gram_counts(*text_buffers(texts))
    vocab = np.unique(gram)
    ours = sp.csr_matrix((count, (row, np.searchsorted(vocab, gram))),
                         shape=(len(texts), len(vocab)))
    assert np.asarray(ours.sum(axis=1)).ravel().tolist() == [max(0, len(t) - 3) for t in texts]
    reference = CountVectorizer(analyzer="char", ngram_range=(4, 4), lowercase=False
                                ).fit_transform(texts)
    assert len(vocab) == reference.shape[1]  # no two 4-grams share a hash

    def cosines(m):
        m = m.astype(np.float64).toarray()
        norms = np.linalg.norm(m, axis=1, keepdims=True)
        m = np.divide(m, norms, out=np.zeros_like(m), where=norms > 0)
        return m @ m.T

    np.testing.assert_allclose(cosines(ours), cosines(reference), atol=1e-12)


def test_verification_reports_its_progress(corpus):
    train, evals = corpus

    class Recorder:
        def __init__(self):
            self.tasks = {}

        def task(self, name, total):
            self.tasks[name] = [total, 0]
            return lambda rows: self.tasks[name].__setitem__(1, self.tasks[name][1] + rows)

    recorder = Recorder()
    check = EmbeddingCheck(evals, standout=1.01)  # no margin decides alone: every candidate aligns
    scan_training([check], [([i for i, _ in train], [t for _, t in train])], recorder,
                  num_proc=1, total_rows=len(train))
    total, done = recorder.tasks["audit: embedding texts"]
    assert total == done > len(check.views)
    result = check.result()
    candidates = int((~np.isnan(result.alignment)).sum())  # aligned: the cosine candidates only
    assert recorder.tasks["audit: aligning candidates"] == [candidates, candidates]
    assert 0 < candidates < len(evals)
    assert recorder.tasks["audit: training rows"] == [len(train), len(train)]


def test_alignment_is_computed_only_where_it_decides(corpus):
    train, evals = corpus
    everywhere = _run_check(EmbeddingCheck(evals, standout=1.01), train)
    result = _run_check(EmbeddingCheck(evals, standout=0.56), train)  # planted margins 0.54, 0.57
    skipped = np.isnan(result.alignment)
    cosine = (result.score >= 0.85) | ((result.score >= 0.7) & (result.margin >= 0.1))
    # standing out decides alone; a pair that is no cosine candidate needs no alignment either
    assert skipped.tolist() == ((result.margin >= 0.56) | ~cosine).tolist()
    assert not skipped[0] and skipped[1]
    assert (result.flagged == everywhere.flagged).all() and result.flagged[:2].all()
    kept = ~skipped & ~np.isnan(everywhere.alignment)
    assert kept.any()
    np.testing.assert_array_equal(result.alignment[kept], everywhere.alignment[kept])


def test_an_item_is_judged_on_its_own_rephrase_when_its_closest_text_is_a_siblings_copy():
    # HumanEval/40 (triples_sum_to_zero) and /43 (pairs_sum_to_zero) are one template: the
    # verbatim copy of 43 is 40's closest text (cosine 0.80), its own rephrase is next (0.78)
    with gzip.open(real_data("contamination/humaneval_rephrased_pairs.jsonl.gz"), "rt",
                   encoding="utf-8") as f:
        rephrase = [json.loads(line) for line in f][40]["rephrased_text"]
    with open(real_data("eval/humaneval.jsonl"), encoding="utf-8") as f:
        items = [json.loads(line) for line in f]
    full = [items[i]["prompt"] + items[i]["canonical_solution"] for i in (40, 43)]
    train = _alpaca() + [("copy-43", full[1]), ("rephrase-40", rephrase)]
    result = _run(full, train, len(train))
    assert result.evidence_id[1] == "copy-43" and result.flagged[1]
    assert result.evidence_id[0] == "rephrase-40" and result.flagged[0]
    assert result.margin[0] >= 0.1
    assert result.alignment[0] >= 0.68 or result.margin[0] >= 0.5  # aligned, or stands out
    # though the sibling's copy is closer: without the rephrase it is 40's evidence
    alone = _run(full, train[:-1], len(train) - 1)
    assert alone.evidence_id[0] == "copy-43" and alone.score[0] > result.score[0]
