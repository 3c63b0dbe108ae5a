"""`splitforge audit`: verdicts with evidence, report files, the CI gate and its exit codes."""

import gzip
import json
import random

import pyarrow.parquet as pq
from typer.testing import CliRunner

from splitforge.audit.run import audit_files
from splitforge.audit.verdict import VERDICTS
from splitforge.cli import app
from tests.conftest import FAST_METHODS, real_data, write_jsonl

runner = CliRunner()


def gsm8k_with_planted(tmp_path, count=20):
    with gzip.open(real_data("eval/gsm8k_train.jsonl.gz"), "rt", encoding="utf-8") as f:
        train = [json.loads(line) for line in f]
    test = [json.loads(line) for line in
            real_data("eval/gsm8k_test.jsonl").read_text(encoding="utf-8").splitlines()]
    rng = random.Random(0)
    planted = {}
    for k, i in enumerate(rng.sample(range(len(test)), count)):
        host = train[k * 7]
        host["question"] = host["question"] + " " + test[i]["question"]  # inside a longer row
        planted[str(test[i]["idx"])] = str(host["idx"])
    return write_jsonl(tmp_path / "train.jsonl", train), planted


def test_planted_copies_are_contaminated_with_the_right_evidence(tmp_path):
    train, planted = gsm8k_with_planted(tmp_path)
    result = audit_files([train], [real_data("eval/gsm8k_test.jsonl")], text="question",
                         id_field="idx", report=tmp_path / "report", methods=FAST_METHODS)
    rows = {r["eval_id"]: r for r in result.table.to_pylist()}
    for eval_id, train_id in planted.items():
        assert rows[eval_id]["verdict"] == "contaminated"
        assert rows[eval_id]["evidence_method"] == "exact"
        assert rows[eval_id]["evidence_id"] == train_id
    assert result.failed
    on_disk = pq.read_table(tmp_path / "report" / "audit.parquet")
    assert on_disk.num_rows == 1319 and set(on_disk.column("verdict").to_pylist()) <= set(VERDICTS)
    summary = json.loads((tmp_path / "report" / "audit.json").read_text(encoding="utf-8"))
    assert summary["verdicts"]["contaminated"] >= 20 and summary["failed"] is True
    assert len(summary["inputs"]["train"][0]["sha256"]) == 64
    md = (tmp_path / "report" / "audit.md").read_text(encoding="utf-8")
    assert "## Contaminated items" in md and f"| {next(iter(planted))} | exact |" in md


def test_gsm8k_test_against_its_own_train_finds_a_templated_near_copy():
    result = audit_files([real_data("eval/gsm8k_train.jsonl.gz")], [real_data("eval/gsm8k_test.jsonl")],
                         text="question", id_field="idx", methods=FAST_METHODS)
    flagged = {r["eval_id"]: r for r in result.table.to_pylist() if r["verdict"] != "clean"}
    # "A plane travels 1200 miles in 3 hours. At the same rate, how many additional hours would
    # it take to travel an additional 2000 miles?" is train 1314 with other numbers.
    assert flagged["602"]["evidence_id"] == "1314"
    assert flagged["602"]["verdict"] == "contaminated"
    assert len(flagged) <= 5  # the official split has no verbatim overlap


def test_exit_codes_gate_ci(tmp_path):
    train, _ = gsm8k_with_planted(tmp_path, count=3)
    args = ["audit", "--methods", "exact,ngram,minhash", "--train", str(train), "--eval", str(real_data("eval/gsm8k_test.jsonl")),
            "--text", "question", "--id", "idx"]
    failed = runner.invoke(app, args)
    assert failed.exit_code == 1, failed.output
    assert "contaminated" in failed.output and "audit failed" in failed.output
    assert runner.invoke(app, [*args, "--fail-on", "never"]).exit_code == 0
    clean_train = write_jsonl(tmp_path / "clean.jsonl", [{"question": "nothing like the tests"}])
    clean = runner.invoke(app, ["audit", "--methods", "exact,ngram,minhash", "--train", str(clean_train), "--eval",
                                str(real_data("eval/gsm8k_test.jsonl")), "--text", "question"])
    assert clean.exit_code == 0, clean.output


def test_bad_input_exits_2_with_a_message(tmp_path):
    eval_file = write_jsonl(tmp_path / "eval.jsonl", [{"q": "a question about models"}])
    train = write_jsonl(tmp_path / "train.jsonl", [{"q": "a question about models"}])
    cases = [
        (["--train", str(tmp_path / "missing.jsonl"), "--eval", str(eval_file), "--text", "q"],
         "missing.jsonl"),
        (["--train", str(train), "--eval", str(eval_file), "--text", "q", "--methods", "emb"],
         "--methods: unknown emb"),
        (["--train", str(train), "--eval", str(eval_file), "--text", "q",
          "--train-text", "{q!r}"], "--train-text"),
        (["--train", str(train), "--eval", str(eval_file), "--text", "question"], "question"),
        (["--train", str(train), "--eval", str(eval_file), "--text", "q", "--fail-on", "maybe"],
         "--fail-on"),
    ]
    for args, said in cases:
        result = runner.invoke(app, ["audit", "--methods", "exact,ngram,minhash", *args])
        assert result.exit_code == 2, (args, result.output)
        assert said in result.output and "Traceback" not in result.output
    (tmp_path / "report").mkdir()
    exists = runner.invoke(app, ["audit", "--methods", "exact,ngram,minhash", "--train", str(train), "--eval", str(eval_file),
                                 "--text", "q", "--report", str(tmp_path / "report")])
    assert exists.exit_code == 2 and "already exists" in exists.output


def test_verdict_levels_follow_each_checks_thresholds(tmp_path):
    base = ("the customer asked how to reset the router after the firmware update failed and "
            "the support agent explained the steps one by one in detail")
    words = base.split()
    edited = " ".join(w if i % 12 else "changed" for i, w in enumerate(words))  # ~8% edits
    train = write_jsonl(tmp_path / "train.jsonl", [
        {"id": "t1", "text": edited},
        {"id": "t2", "text": "intro words then reset the router and more"},
    ])
    eval_file = write_jsonl(tmp_path / "eval.jsonl", [
        {"id": "e1", "text": base},                 # an edited copy is in train
        {"id": "e2", "text": "reset the router"},   # a short phrase inside a training row
        {"id": "e3", "text": "an unrelated question about cooking pasta al dente at home"},
    ])
    result = audit_files([train], [eval_file], text="text", id_field="id", methods=FAST_METHODS)
    rows = {r["eval_id"]: r for r in result.table.to_pylist()}
    assert rows["e1"]["verdict"] == "contaminated" and rows["e1"]["evidence_id"] == "t1"
    assert rows["e2"]["verdict"] == "suspect" and rows["e2"]["evidence_method"] == "exact"
    assert rows["e3"]["verdict"] == "clean" and rows["e3"]["evidence_id"] is None


def test_answer_says_whether_the_question_alone_or_the_solved_example_leaked(tmp_path):
    with gzip.open(real_data("eval/gsm8k_train.jsonl.gz"), "rt", encoding="utf-8") as f:
        train = [json.loads(line) for _, line in zip(range(300), f, strict=False)]
    test = [json.loads(line) for line in
            real_data("eval/gsm8k_test.jsonl").read_text(encoding="utf-8").splitlines()][:40]
    train.append({"idx": 90001, "question": test[0]["question"]})  # the question alone
    train.append({"idx": 90002, "question": f"{test[1]['question']}\n{test[1]['answer']}"})
    train_file = write_jsonl(tmp_path / "train.jsonl", train)
    eval_file = write_jsonl(tmp_path / "eval.jsonl", test)
    result = audit_files([train_file], [eval_file], text="question", id_field="idx",
                         answer="answer", methods=FAST_METHODS)
    rows = {r["eval_id"]: r for r in result.table.to_pylist()}
    only_question = rows[str(test[0]["idx"])]
    assert only_question["verdict"] == "contaminated" and only_question["leaked"] == "input only"
    solved = rows[str(test[1]["idx"])]
    assert solved["verdict"] == solved["answer_verdict"] == "contaminated"
    assert solved["leaked"] == "input and answer" and solved["answer_evidence_id"] == "90002"
    others = [r for k, r in rows.items() if k not in (str(test[0]["idx"]), str(test[1]["idx"]))]
    assert all(r["verdict"] == "clean" for r in others)
    bad = runner.invoke(app, ["audit", "--methods", "exact,ngram,minhash", "--train", str(train_file), "--eval", str(eval_file),
                              "--text", "question", "--answer", "solution"])
    assert bad.exit_code == 2 and "--answer: no field 'solution'" in bad.output


def test_a_long_copy_is_contaminated_by_ngram_even_when_n_is_below_min_tokens(tmp_path):
    words = [f"w{i}" for i in range(40)]
    edited = list(words)
    edited[20] = "changed"  # not an exact copy any more, most 5-grams still there
    train = write_jsonl(tmp_path / "train.jsonl", [{"t": " ".join(edited)}])
    evals = write_jsonl(tmp_path / "eval.jsonl", [{"t": " ".join(words)}, {"t": "w1 w2 w3"}])
    result = audit_files([train], [evals], text="t", methods=("ngram",), ngram=5,
                         fail_on="never")
    rows = result.table.to_pylist()
    assert rows[0]["verdict"] == "contaminated"  # 40 words: not a short item
    assert rows[1]["verdict"] == "suspect"  # 3 words, found whole: capped
