"""Leaked variants and same-domain look-alikes (issues #19, #14), on real GSM8K questions.

``tests/data/gsm8k_variants.jsonl`` holds hand-written variants of 48 GSM8K test questions:
paraphrases (the numbers kept), numbers changed, a fact removed, a sentence added. Thresholds
were chosen looking at half A (variant questions at even positions, test items of even idx;
``scripts/calibrate_same_domain.py``); these tests check half B, the half not tuned on.
"""

import gzip
import json
import math
from pathlib import Path

import pytest

from splitforge.audit.embedding import looks_like_code, number_agreement, numbers
from splitforge.audit.run import audit_files
from tests.conftest import real_data, write_jsonl

VARIANTS = Path(__file__).parents[1] / "data" / "gsm8k_variants.jsonl"
METHODS = ("exact", "ngram", "minhash", "embedding")


@pytest.fixture(scope="module")
def gsm8k():
    test = {r["idx"]: r for r in map(json.loads, open(real_data("eval/gsm8k_test.jsonl")))}
    with gzip.open(real_data("eval/gsm8k_train.jsonl.gz"), "rt", encoding="utf-8") as f:
        train = [json.loads(line) for line in f]
    variants = [json.loads(line) for line in open(VARIANTS, encoding="utf-8")]
    order = sorted({v["idx"] for v in variants})
    half_b = {idx for k, idx in enumerate(order) if k % 2}
    return test, train, [v for v in variants if v["idx"] in half_b]


def _audit(tmp_path, train_rows, eval_rows):
    train = write_jsonl(tmp_path / "train.jsonl", train_rows)
    evals = write_jsonl(tmp_path / "eval.jsonl", eval_rows)
    result = audit_files([train], [evals], train_text="text", eval_text="text", id_field="id",
                         methods=METHODS, fail_on="never")
    return {r["eval_id"]: r for r in result.table.to_pylist()}


def test_every_variant_of_a_leaked_question_is_judged_on_its_own(tmp_path, gsm8k):
    test, train, variants = gsm8k
    originals = sorted({v["idx"] for v in variants})
    rows = _audit(tmp_path,
                  [{"id": f"train-{r['idx']}", "text": r["question"]} for r in train[:1500]]
                  + [{"id": f"original-{i}", "text": test[i]["question"]} for i in originals],
                  [{"id": f"{v['kind']}-{v['idx']}", "text": v["text"]} for v in variants])
    by_kind: dict[str, list[dict]] = {}
    for v in variants:
        by_kind.setdefault(v["kind"], []).append(rows[f"{v['kind']}-{v['idx']}"])

    def share(kind, verdicts):
        hits = [r for r in by_kind[kind] if r["verdict"] in verdicts
                and r["evidence_id"] == f"original-{r['eval_id'].split('-')[1]}"]
        return len(hits) / len(by_kind[kind])

    # siblings (a near-verbatim copy of the same question) no longer hide a paraphrase
    assert share("paraphrase", ("suspect", "contaminated")) >= 0.9
    assert share("unanswerable", ("contaminated",)) == 1.0
    assert share("distractor", ("contaminated",)) == 1.0
    aside = [r["embedding_set_aside"] for r in by_kind["paraphrase"]]
    assert max(aside) >= 1  # siblings did claim the original: the rule was exercised


def test_same_domain_look_alikes_are_not_called_paraphrases(tmp_path, gsm8k):
    test, train, variants = gsm8k
    planted = {v["idx"]: v["text"] for v in variants if v["kind"] == "paraphrase"}
    held_out = [r for i, r in sorted(test.items()) if i % 2 and i not in planted][:150]
    items = held_out + [test[i] for i in sorted(planted)]
    rows = _audit(tmp_path,
                  [{"id": f"train-{r['idx']}", "text": r["question"]} for r in train[:2500]]
                  + [{"id": f"paraphrase-{i}", "text": t} for i, t in sorted(planted.items())],
                  [{"id": f"test-{r['idx']}", "text": r["question"]} for r in items])
    found = [rows[f"test-{i}"] for i in planted]
    assert sum(r["verdict"] != "clean" and r["evidence_id"] == f"paraphrase-"
               f"{r['eval_id'].split('-')[1]}" for r in found) / len(found) >= 0.9
    clean = [rows[f"test-{r['idx']}"] for r in held_out]
    flagged = [r for r in clean if r["verdict"] != "clean"]
    assert len(flagged) / len(clean) <= 0.02, [(r["eval_id"], r["evidence_id"]) for r in flagged]


def test_numbers_read_digits_and_number_words_alike():
    assert numbers("in two years, the sum of their ages will be twenty-eight") == {"2", "28"}
    assert numbers("ten thousand steps, 1,000 more and 2,000.00 left") == {"10000", "1000", "2000"}
    assert numbers("three hundred and twenty five") == {"325"}
    assert numbers("half a dozen") == set()  # "half" may become "twice": not a number here
    assert math.isnan(number_agreement("only 3 eggs", "3 eggs"))  # under two numbers: no rule
    assert number_agreement("claire makes a 3 egg omelet; how many dozens in 4 weeks?",
                            "jason eats an omelet of three eggs. how many in two weeks?") == 0.5
    assert looks_like_code("def f(x):\n    return x") and not looks_like_code("Return the pen.")
