"""The build audits its own val and test rows against train (and external corpora): the gate."""

import json

import pyarrow.parquet as pq
import pytest

from splitforge import build
from splitforge.errors import LeakageError, RecipeError
from tests.conftest import FAST_METHODS, REPO, write_jsonl, write_recipe


def gsm8k(n=300):
    lines = (REPO / "data" / "gsm8k_train_2k.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines[:n]]


def recipe(tmp_path, audit, dedup=None, data_rows=None):
    data = write_jsonl(tmp_path / "data.jsonl", data_rows or gsm8k())
    return write_recipe(tmp_path, sources=[{"path": str(data)}],
                        fields={"id": "idx", "text": "question"},
                        dedup=dedup or {"exact": True, "minhash": {}},
                        split={"method": "random", "ratios": {"train": 0.7, "val": 0.1,
                                                              "test": 0.2}},
                        audit=audit)


def test_a_clean_build_writes_its_audit_and_passes(tmp_path):
    result = build(recipe(tmp_path, {}), out=tmp_path / "out")
    info = result.manifest["stages"]["audit"]
    assert info["eval_items"] == sum(info["eval_sets"].values()) > 0
    assert info["verdicts"]["contaminated"] == 0 and info["failed"] is False
    audit = json.loads((result.path / "audit" / "audit.json").read_text(encoding="utf-8"))
    assert audit["eval_items"] == info["eval_items"]
    assert "## Contamination audit" in (result.path / "report.md").read_text(encoding="utf-8")


def test_test_rows_found_in_an_external_corpus_are_removed_or_fail_the_build(tmp_path):
    path = recipe(tmp_path, {})
    built = build(path, out=tmp_path / "first")
    test_rows = pq.read_table(built.path / "test.parquet").to_pylist()
    leaked = write_jsonl(tmp_path / "web.jsonl", [
        {"question": "scraped page: " + test_rows[0]["question"] + " and more text around it"}])
    removed = build(recipe(tmp_path, {"against": [str(leaked)]}), out=tmp_path / "removed")
    info = removed.manifest["stages"]["audit"]
    assert info["verdicts"]["contaminated"] == 0 and info["removed"] == {"leak_link": 0,
                                                                        "contaminated": 1}
    gone = pq.read_table(removed.path / "removed.parquet").to_pylist()
    [row] = [r for r in gone if r["sf_stage"] == "audit"]
    assert (row["sf_id"], row["sf_reason"], row["sf_kept_id"]) == (
        test_rows[0]["sf_id"], "contaminated", "web:1")
    test_ids = pq.read_table(removed.path / "test.parquet").column("sf_id").to_pylist()
    assert test_ids == [r["sf_id"] for r in test_rows[1:]]
    audited = pq.read_table(removed.path / "audit" / "audit.parquet").to_pylist()
    assert [r["action"] for r in audited if r["eval_id"] == f"test:{row['sf_id']}"] == [
        "removed"]
    assert removed.manifest["counts"]["removed_by_reason"]["audit:contaminated"] == 1

    gated = recipe(tmp_path, {"against": [str(leaked)], "on_contaminated": "fail"})
    with pytest.raises(LeakageError, match=f"test:{test_rows[0]['sf_id']} ~ train web:1"
                       ".*audit.on_contaminated: remove"):
        build(gated, out=tmp_path / "second")
    written = sorted(p.relative_to(tmp_path / "second").as_posix()
                     for p in (tmp_path / "second").rglob("*.parquet"))
    [gate] = list((tmp_path / "second").glob("*/audits/*/gate"))
    assert written == [(gate / "audit.parquet").relative_to(tmp_path / "second").as_posix()]
    assert not any((tmp_path / "second").glob("*/*/train.parquet"))  # no build, but the report:
    assert f"test:{test_rows[0]['sf_id']}" in (gate / "audit.md").read_text(encoding="utf-8")
    kept = build(recipe(tmp_path, {"against": [str(leaked)], "on_contaminated": "keep",
                                   "fail_on": "never"}), out=tmp_path / "third")
    info = kept.manifest["stages"]["audit"]
    assert info["verdicts"]["contaminated"] == 1 and info["failed"] is False  # gate off
    assert info["against"][0]["path"] == str(leaked)
    md = (kept.path / "audit" / "audit.md").read_text(encoding="utf-8")
    assert f"test:{test_rows[0]['sf_id']}" in md and "web:1" in md


def test_audit_can_be_turned_off_and_against_needs_a_text_field(tmp_path):
    off = build(recipe(tmp_path, {"methods": []}), out=tmp_path / "out")
    assert "audit" not in off.manifest["stages"] and not (off.path / "audit").exists()
    chats = write_jsonl(tmp_path / "chat.jsonl", [
        {"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}]}])
    bad = write_recipe(tmp_path, sources=[{"path": str(chats)}],
                       fields={"messages": "messages"}, audit={"against": ["x.jsonl"]})
    with pytest.raises(RecipeError, match="audit.against_text"):
        build(bad, out=tmp_path / "out2")


def test_against_files_are_read_with_the_recipe_template(tmp_path):
    rows = [{"idx": i, "q": f"question number {i} about the {w} of a small red house",
             "a": f"answer {i}"} for i, w in enumerate(["door", "roof", "wall", "floor"] * 25)]
    data = write_jsonl(tmp_path / "qa.jsonl", rows)
    built = build(write_recipe(tmp_path, sources=[{"path": str(data)}],
                               fields={"id": "idx", "text": "{q}\n{a}"},
                               split={"method": "random",
                                      "ratios": {"train": 0.6, "val": 0.2, "test": 0.2}}),
                  out=tmp_path / "first")
    row = pq.read_table(built.path / "test.parquet").to_pylist()[0]
    web = write_jsonl(tmp_path / "web.jsonl", [{"q": row["q"], "a": row["a"]}])
    gated = write_recipe(tmp_path, sources=[{"path": str(data)}],
                         fields={"id": "idx", "text": "{q}\n{a}"},
                         split={"method": "random",
                                "ratios": {"train": 0.6, "val": 0.2, "test": 0.2}},
                         audit={"against": [str(web)], "methods": ["exact"],
                                "on_contaminated": "fail"})
    with pytest.raises(LeakageError, match="web:1"):
        build(gated, out=tmp_path / "second")


def test_near_copies_that_exact_dedup_let_through_never_reach_val_or_test(tmp_path):
    # Real problems with edited copies (a word added, the question mark dropped): exact dedup
    # keeps them all, the split scatters them, and the audit sees test rows whose near-copies
    # train. The build removes those eval rows (split:leak_link, naming the train row), so its
    # own audit is 0.
    rows = gsm8k(200)
    copies = [{**r, "idx": 10_000 + i, "question": "Please " + r["question"].rstrip("?")}
              for i, r in enumerate(rows[:60])]
    templated = rows + copies
    path = recipe(tmp_path, {}, dedup={"exact": True}, data_rows=templated)
    built = build(path, out=tmp_path / "out")
    audit = built.manifest["stages"]["audit"]
    assert audit["verdicts"]["contaminated"] == 0 and audit["removed"]["leak_link"] > 0
    gone = [r for r in pq.read_table(built.path / "removed.parquet").to_pylist()
            if r["sf_reason"] == "leak_link"]
    assert len(gone) == audit["removed"]["leak_link"]
    train = set(pq.read_table(built.path / "train.parquet").column("sf_id").to_pylist())
    val = set(pq.read_table(built.path / "val.parquet").column("sf_id").to_pylist())
    assert all(r["sf_stage"] == "split" and r["sf_kept_id"] in train | val for r in gone)
    # the same rows, audited again from the stored build against its own train split: clean
    from splitforge.audit.run import audit_files

    again = audit_files([built.path / "train.parquet"], [], build_dir=built.path,
                        text="question", methods=FAST_METHODS)
    assert again.summary["verdicts"]["contaminated"] == 0
    with pytest.raises(LeakageError, match=r"~ train \d+ \((minhash|ngram_overlap) [01]\.\d\d\)"
                       r".*audit.on_contaminated: remove"):
        build(recipe(tmp_path, {"on_contaminated": "fail"}, dedup={"exact": True},
                     data_rows=templated), out=tmp_path / "failed")


def test_a_stored_build_is_reaudited_against_new_training_data(tmp_path):
    from typer.testing import CliRunner

    from splitforge.cli import app

    built = build(recipe(tmp_path, {}), out=tmp_path / "out")
    before = {p.relative_to(built.path).as_posix(): p.read_bytes()
              for p in built.path.rglob("*") if p.is_file()}
    test_rows = pq.read_table(built.path / "test.parquet").to_pylist()
    new_train = write_jsonl(tmp_path / "new_train.jsonl", [
        {"question": "forum post: " + test_rows[0]["question"] + " thanks in advance"},
        {"question": "an unrelated sentence about gardening in spring"}])
    runner = CliRunner()
    result = runner.invoke(app, ["audit", "--methods", "exact,ngram,minhash", "--build", str(built.path), "--train", str(new_train)])
    assert result.exit_code == 1, result.output  # the new training data holds a test item
    records = list((built.path.parent / "audits" / built.path.name).iterdir())
    assert len(records) == 1
    audit = json.loads((records[0] / "audit.json").read_text(encoding="utf-8"))
    assert audit["build_id"] == built.path.name
    assert audit["verdicts"]["contaminated"] == 1
    assert audit["inputs"]["train"][0]["sha256"]
    rows = pq.read_table(records[0] / "audit.parquet").to_pylist()
    flagged = [r for r in rows if r["verdict"] == "contaminated"]
    assert [r["eval_id"] for r in flagged] == [f"test:{test_rows[0]['sf_id']}"]
    after = {p.relative_to(built.path).as_posix(): p.read_bytes()
             for p in built.path.rglob("*") if p.is_file()}
    assert after == before  # the version itself is untouched
    assert runner.invoke(app, ["verify", str(built.path)]).exit_code == 0
    again = runner.invoke(app, ["audit", "--methods", "exact,ngram,minhash", "--build", str(built.path), "--train", str(new_train)])
    assert again.exit_code == 2 and "already exists" in again.output
    none = runner.invoke(app, ["audit", "--methods", "exact,ngram,minhash", "--train", str(new_train)])
    assert none.exit_code == 2 and "--eval FILE" in none.output
    # through `latest` the record goes beside the same version, under its build id
    latest = runner.invoke(app, ["audit", "--methods", "exact,ngram,minhash", "--build", str(built.path.parent / "latest"),
                                 "--train", str(new_train), "--answer", "answer"])
    assert latest.exit_code == 1, latest.output
    assert len(list((built.path.parent / "audits" / built.path.name).iterdir())) == 2
    assert not (built.path.parent / "audits" / "latest").exists()
    both = runner.invoke(app, ["audit", "--methods", "exact,ngram,minhash", "--build", str(built.path), "--train", str(new_train),
                               "--eval", str(new_train)])
    assert both.exit_code == 2 and "not with --build" in both.output
    inside = runner.invoke(app, ["audit", "--methods", "exact,ngram,minhash", "--build", str(built.path), "--train", str(new_train),
                                 "--report", str(built.path / "audit"), "--force"])
    assert inside.exit_code == 2 and "that it reads" in inside.output
    assert runner.invoke(app, ["verify", str(built.path)]).exit_code == 0


def test_rows_kept_after_removal_audit_clean_again_from_the_stored_build(tmp_path):
    # Triples of one real problem: T, T plus a word, T with every 9th word changed. A training
    # text counts for the eval item it resembles most, so removing that item can uncover the
    # next: the build scans again until the rows it keeps audit clean.
    from splitforge.audit.run import audit_files

    rows = []
    for r in gsm8k(150):
        words = r["question"].split()
        rows += [{"idx": f"{r['idx']}T", "question": r["question"]},
                 {"idx": f"{r['idx']}A", "question": r["question"] + " indeed"},
                 {"idx": f"{r['idx']}B", "question": " ".join(
                     w + "s" if i % 9 == 4 else w for i, w in enumerate(words))}]
    built = build(recipe(tmp_path, {}, dedup={"exact": True}, data_rows=rows),
                  out=tmp_path / "out")
    info = built.manifest["stages"]["audit"]
    assert info["verdicts"]["contaminated"] == 0 and info["removed"]["leak_link"] > 0
    again = audit_files([built.path / "train.parquet"], [], build_dir=built.path,
                        text="question", fail_on="never", methods=FAST_METHODS)
    assert again.summary["verdicts"]["contaminated"] == 0
    assert again.summary["verdicts"]["suspect"] <= info["verdicts"]["suspect"]
    counts = built.manifest["counts"]["splits"]
    assert built.manifest["stages"]["split"]["rows"] == counts  # after the removals
