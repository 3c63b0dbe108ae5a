"""The audit's self-test: planted copies of the user's own eval items, recall measured per kind."""

import gzip
import json
import os
import re
import subprocess
import sys

import numpy as np
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from splitforge import build
from splitforge.api import self_test
from splitforge.audit.run import audit_files
from splitforge.audit.selftest import (
    SELF_TEST_FILE,
    TrainingSample,
    insert_at_sentence_boundary,
    rephrase,
)
from splitforge.cli import app
from splitforge.errors import RecipeError
from splitforge.normalize import normalize_text
from splitforge.write.verify import verify_build
from tests.conftest import FAST_METHODS, REPO, real_data, write_jsonl, write_recipe

runner = CliRunner()
GSM8K_TEST = real_data("eval/gsm8k_test.jsonl")


def gsm8k_questions():
    with gzip.open(real_data("eval/gsm8k_train.jsonl.gz"), "rt", encoding="utf-8") as f:
        train = [json.loads(line)["question"] for line in f]
    test = [json.loads(line)["question"] for line in GSM8K_TEST.open(encoding="utf-8")]
    return train, test


@pytest.fixture(scope="module")
def gsm8k():
    return gsm8k_questions()


@pytest.fixture(scope="module")
def gsm8k_train_file(tmp_path_factory):
    with gzip.open(real_data("eval/gsm8k_train.jsonl.gz"), "rt", encoding="utf-8") as f:
        rows = [json.loads(line) for line in f]
    return write_jsonl(tmp_path_factory.mktemp("train") / "train.jsonl", rows)


def test_exact_alone_finds_every_verbatim_copy_but_few_rephrases(gsm8k_train_file, tmp_path):
    args = dict(text="question", id_field="idx", methods=("exact",), fail_on="never")
    plain = audit_files([gsm8k_train_file], [GSM8K_TEST], **args)
    tested = audit_files([gsm8k_train_file], [GSM8K_TEST], self_test=True,
                         report=tmp_path / "report", **args)
    kinds = tested.self_test.summary["kinds"]
    assert kinds["verbatim"]["measured"] >= 60 and kinds["verbatim"]["recall"] == 1.0
    assert kinds["verbatim"]["found_by"] == {"exact": kinds["verbatim"]["found"]}
    inside = kinds["verbatim"]["placement"]["inside a row"]
    assert inside["measured"] >= 30 and inside["recall"] == 1.0  # containment, not equality
    assert kinds["edited"]["recall"] < 0.2 and kinds["rephrased"]["recall"] < 0.2
    warnings = tested.self_test.warnings
    assert any(w.startswith("self-test: rephrased (rule-based) recall") and "embedding" in w
               for w in warnings)
    assert any(w.startswith("self-test: edited recall") and "minhash" in w for w in warnings)
    assert not any("verbatim recall" in w for w in warnings)
    # the real audit is the same with or without its self-test
    assert tested.table.equals(plain.table) and tested.failed == plain.failed
    assert {k: v for k, v in tested.summary.items() if k != "self_test"} == plain.summary
    on_disk = json.loads((tmp_path / "report" / SELF_TEST_FILE).read_text(encoding="utf-8"))
    assert on_disk == tested.self_test.summary and on_disk["kinds"]["rephrased"]["rule_based"]
    audit_json = json.loads((tmp_path / "report" / "audit.json").read_text(encoding="utf-8"))
    assert audit_json["self_test"]["recall"]["verbatim"] == 1.0
    md = (tmp_path / "report" / "audit.md").read_text(encoding="utf-8")
    assert "## Self-test" in md and "rule-based rewrites" in md


def test_verbatim_copies_inside_rows_sit_at_a_sentence_boundary(gsm8k):
    train, test = gsm8k
    result = self_test(train, test, methods=("exact",), items=30, rows=300)
    inside = [r for r in result.table.to_pylist() if r["placement"] == "inside a row"]
    assert len(inside) == 5
    for row in inside:
        item = test[int(row["eval_id"])]
        host = row["planted_text"]
        assert item in host and len(host) > len(item) + 20
        start = host.index(item)
        assert start == 0 or host[start - 2] in ".!?\"'’”)"  # after a sentence's end


def test_ngram_and_minhash_find_edited_copies_english_and_chinese(gsm8k):
    train, test = gsm8k
    english = self_test(train, test, methods=("ngram", "minhash"), items=90, rows=1000)
    kinds = english.summary["kinds"]
    assert kinds["edited"]["measured"] >= 25 and kinds["edited"]["recall"] >= 0.9
    assert set(kinds["edited"]["edits"]) <= {"word_drop", "word_swap", "prefix"}
    assert kinds["verbatim"]["recall"] == 1.0 and "exact" not in kinds["verbatim"]["found_by"]
    # rule-based rephrases are further from the item than edits: fewer are found
    assert kinds["rephrased"]["recall"] < kinds["edited"]["recall"]
    zh_eval = [json.loads(line)["question"]
               for line in real_data("eval/belle_eval_set_zh.jsonl").open(encoding="utf-8")]
    with gzip.open(real_data("instruct/alpaca_en_zh_52k.jsonl.gz"), "rt", encoding="utf-8") as f:
        zh_train = [json.loads(line)["zh_instruction"] for line in f]
    chinese = self_test(zh_train, zh_eval, methods=("ngram", "minhash"), items=60)
    edits = chinese.summary["kinds"]["edited"]
    assert set(edits["edits"]) <= {"char_drop", "char_swap", "prefix"} and edits["edits"]
    assert edits["recall"] >= 0.9


def test_rephrases_are_rule_based_rewrites_that_differ_from_the_item(gsm8k):
    _, test = gsm8k
    rng = np.random.default_rng(0)
    rules = set()
    for text in test[:100]:
        out, applied = rephrase(text, rng)
        assert normalize_text(out) != normalize_text(text)
        rules.update(applied)
    assert {"synonyms", "numbers"} <= rules
    out, applied = rephrase("If Tom has 3 apples, how many does he have?", rng)
    assert out == "What number of does he have if Tom has three apples?"
    assert applied == ["clause_order", "numbers", "synonyms"]
    assert rephrase("Tom bought 3 pens.", rng)[0] == "Three pens were purchased by Tom."
    zh, applied = rephrase("请你写一篇关于春天的文章，可以吗？", rng)
    assert zh != "请你写一篇关于春天的文章，可以吗？" and "synonyms" in applied


def test_false_positives_are_unplanted_items_flagged_at_another_items_copy(gsm8k, tmp_path):
    train, test = gsm8k
    # each question twice: as it is and with its numbers changed, a templated sibling
    siblings = [re.sub(r"\d+", lambda m: str(int(m.group()) + 7), q) for q in test[:150]]
    items = [q for pair in zip(test[:150], siblings, strict=True) for q in pair]
    ids = [f"{k // 2}{'b' if k % 2 else 'a'}" for k in range(len(items))]
    result = self_test(train[:500], items, eval_ids=ids, methods=("exact", "ngram", "minhash"),
                       items=100, rows=500)
    rows = result.table.to_pylist()
    unplanted = [r for r in rows if r["planted"] == "unplanted"]
    flagged = [r for r in unplanted if r["outcome"] == "false_positive"]
    fp = result.summary["false_positives"]
    assert fp["unplanted"] == len(unplanted) == 100
    assert fp["flagged"] == len(flagged) > 0
    assert fp["rate"] == round(len(flagged) / fp["measured"], 4)
    planted = {r["eval_id"] for r in rows if r["planted"] != "unplanted"}
    for r in flagged:  # each at the copy of its own sibling
        sibling = r["eval_id"][:-1] + ("b" if r["eval_id"].endswith("a") else "a")
        assert r["evidence_planted_for"] == sibling and sibling in planted
    assert all(r["verdict"] == "clean" for r in unplanted if r["outcome"] == "clean")
    if fp["rate"] > 0.05:
        assert any("unplanted eval items" in w for w in result.warnings)


def test_items_already_near_a_training_row_are_excluded(gsm8k):
    train, test = gsm8k
    leaked = test[:40]
    result = self_test(train[:300] + leaked, test[:120], methods=("exact",), items=60,
                       rows=2000)
    rows = {r["eval_id"]: r for r in result.table.to_pylist()}
    unplanted_leaked = [rows[str(i)] for i in range(40) if rows[str(i)]["planted"] == "unplanted"]
    assert unplanted_leaked and all(r["outcome"] == "excluded" for r in unplanted_leaked)
    assert all(r["evidence_id"].startswith(("train:", "self-test:inside:"))
               for r in unplanted_leaked)
    copied = [rows[str(i)] for i in range(40) if rows[str(i)]["planted"] in ("edited",
                                                                           "rephrased")]
    # exact cannot find the edited or rephrased copy, but finds the real one: excluded
    assert copied and all(r["outcome"] == "excluded" for r in copied)
    kinds = result.summary["kinds"]
    assert kinds["edited"]["excluded"] + kinds["rephrased"]["excluded"] == len(copied)
    fp = result.summary["false_positives"]
    assert fp["excluded"] == len(unplanted_leaked)
    assert fp["measured"] == fp["unplanted"] - fp["excluded"]


def test_same_seed_same_json_other_seed_other_sample(gsm8k):
    train, test = gsm8k
    args = dict(methods=("exact", "ngram", "minhash"), items=60, rows=600)
    first = json.dumps(self_test(train, test, seed=3, **args).summary, sort_keys=True)
    again = json.dumps(self_test(train, test, seed=3, **args).summary, sort_keys=True)
    other = self_test(train, test, seed=4, **args)
    assert first == again
    assert json.loads(first)["seed"] == 3 and other.summary["seed"] == 4
    sampled = self_test(train, test, seed=3, **args).table.column("eval_id").to_pylist()
    assert sampled != other.table.column("eval_id").to_pylist()


def test_the_result_does_not_depend_on_pythonhashseed():
    script = ("import json, gzip; from splitforge.api import self_test; "
              f"t=[json.loads(l)['question'] for l in open({str(GSM8K_TEST)!r})]; "
              "print(json.dumps(self_test(t[600:], t[:300], items=40, rows=400).summary, "
              "sort_keys=True))")
    outputs = []
    for hash_seed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": hash_seed}
        done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                              env=env, cwd=REPO, check=True)
        outputs.append(done.stdout)
    assert outputs[0] == outputs[1] and json.loads(outputs[0])["sample"]["planted"] == 40


def test_training_sample_is_uniform_and_batching_free():
    ids = [f"r{i}" for i in range(10_000)]
    texts = [f"text {i}" for i in range(10_000)]
    whole = TrainingSample(500, seed=1)
    whole.add(ids, texts)
    batched = TrainingSample(500, seed=1)
    for start in range(0, 10_000, 777):
        batched.add(ids[start:start + 777], texts[start:start + 777])
    assert whole.ids == batched.ids and len(whole.ids) == 500 and whole.seen == 10_000
    positions = np.array([int(i[1:]) for i in whole.ids])
    assert 0.4 < np.mean(positions < 5_000) < 0.6  # not the first rows of the stream
    assert whole.texts == [f"text {p}" for p in positions]


def test_insertion_points_are_sentence_boundaries():
    host = "First one. Second one! Third one?"
    seen = {insert_at_sentence_boundary(host, "ITEM", np.random.default_rng(s))
            for s in range(40)}
    assert seen == {"ITEM First one. Second one! Third one?",
                    "First one. ITEM Second one! Third one?",
                    "First one. Second one! ITEM Third one?",
                    "First one. Second one! Third one? ITEM"}


def test_too_few_eval_items_skip_with_a_warning_not_a_traceback(tmp_path, gsm8k_train_file):
    small = write_jsonl(tmp_path / "eval.jsonl",
                        [{"question": q} for q in gsm8k_questions()[1][:7]])
    result = runner.invoke(app, ["audit", "--methods", "exact,ngram,minhash", "--train", str(gsm8k_train_file), "--eval", str(small),
                                 "--text", "question", "--self-test", "--report",
                                 str(tmp_path / "r")])
    assert result.exit_code == 0, result.output
    assert "warning: self-test skipped: 7 distinct eval item(s)" in " ".join(result.output.split())
    on_disk = json.loads((tmp_path / "r" / SELF_TEST_FILE).read_text(encoding="utf-8"))
    assert on_disk["skipped"].startswith("self-test skipped") and "kinds" not in on_disk


def test_cli_flag_prints_the_table_and_keeps_the_exit_code(tmp_path, gsm8k_train_file):
    base = ["audit", "--methods", "exact,ngram,minhash", "--train", str(gsm8k_train_file), "--eval", str(GSM8K_TEST),
            "--text", "question", "--id", "idx"]
    plain = runner.invoke(app, base)
    tested = runner.invoke(app, [*base, "--self-test", "--self-test-items", "60",
                                 "--self-test-rows", "500", "--seed", "5",
                                 "--report", str(tmp_path / "r")])
    assert plain.exit_code == tested.exit_code == 1  # test 602 is a real near copy: gate fails
    text = " ".join(tested.output.split())
    assert "self-test: copies of 60 eval items planted among 500 sampled training rows (seed 5)" \
        in text
    assert "rephrased (rule-based)" in text and "not planted (FP)" in text
    assert "rule-based rewrites" in text
    summary = json.loads((tmp_path / "r" / SELF_TEST_FILE).read_text(encoding="utf-8"))
    assert summary["seed"] == 5 and summary["sample"]["train_rows"] == 500
    assert summary["settings"]["methods"] == ["exact", "ngram", "minhash"]
    bad = runner.invoke(app, [*base, "--self-test", "--self-test-items", "1"])
    assert bad.exit_code == 2
    with pytest.raises(RecipeError, match="self-test-items"):
        audit_files([gsm8k_train_file], [GSM8K_TEST], text="question", self_test=True,
                    self_test_items=1, methods=FAST_METHODS)


def test_recipe_key_runs_it_in_the_build_beside_the_audit(tmp_path):
    rows = [json.loads(line) for line in GSM8K_TEST.open(encoding="utf-8")]
    data = write_jsonl(tmp_path / "data.jsonl", rows)

    def recipe(folder, audit):
        folder.mkdir()
        return write_recipe(folder, sources=[{"path": str(data)}],
                            fields={"id": "idx", "text": "question"},
                            split={"method": "random",
                                   "ratios": {"train": 0.7, "val": 0.1, "test": 0.2}},
                            audit=audit)

    plain = build(recipe(tmp_path / "a", {"fail_on": "never"}))
    tested = build(recipe(tmp_path / "b", {"fail_on": "never", "self_test": True}))
    info = tested.manifest["stages"]["audit"]["self_test"]
    assert info["recall"]["verbatim"] == 1.0 and info["file"] == SELF_TEST_FILE
    splits = tested.manifest["counts"]["splits"]
    assert info["planted"] == min(200, (splits["val"] + splits["test"]) // 2)
    assert info["train_rows"] == min(2000, splits["train"])
    assert "self_test" not in plain.manifest["stages"]["audit"]
    summary = json.loads((tested.path / "audit" / SELF_TEST_FILE).read_text(encoding="utf-8"))
    assert summary["kinds"]["verbatim"]["recall"] == info["recall"]["verbatim"]
    assert all(r["eval_id"].startswith(("val:", "test:"))
               for r in summary["missed"]["rephrased"])
    assert f"audit/{SELF_TEST_FILE}" in tested.manifest["outputs"]
    assert verify_build(tested.path).ok
    assert pq.read_table(tested.path / "audit" / "audit.parquet").equals(
        pq.read_table(plain.path / "audit" / "audit.parquet"))
    with pytest.raises(RecipeError, match="self_test: true needs audit methods"):
        build(recipe(tmp_path / "c", {"methods": [], "self_test": True}))
