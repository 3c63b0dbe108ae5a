"""Variant families (#19): several eval items flagged at one training text are reported as one
family, in audit.parquet (`family`, `family_size`, `variant_of`), audit.json and audit.md.

Real data: the hand-written `unanswerable` and `distractor` variants (tests/data/gsm8k_variants.jsonl)
of four GSM8K test questions, twelve unrelated test questions and one test question alone, against
1,500 GSM8K train questions plus the five original test questions."""

import gzip
import json
from itertools import islice

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from splitforge.audit.base import CheckResult
from splitforge.audit.run import audit_files
from splitforge.audit.verdict import Thresholds, verdict_table, with_families
from tests.conftest import REPO, real_data, write_jsonl

ORIGINALS = (37, 97, 157, 217)  # test questions with both an unanswerable and a distractor variant
UNRELATED = tuple(range(1000, 1012))  # test questions not in the training set
ALONE = 600  # a test question in training with no variant in the eval set
METHODS = ("exact", "ngram", "minhash")


def _test_questions() -> list[dict]:
    path = real_data("eval/gsm8k_test.jsonl")
    return [json.loads(line) for line in path.open(encoding="utf-8")]


def _variants() -> dict[tuple[int, str], str]:
    path = REPO / "tests" / "data" / "gsm8k_variants.jsonl"
    rows = [json.loads(line) for line in path.open(encoding="utf-8")]
    return {(r["idx"], r["kind"]): r["text"] for r in rows}


def _audit(folder, train_rows, eval_rows, report):
    write_jsonl(folder / "train.jsonl", train_rows)
    write_jsonl(folder / "eval.jsonl", eval_rows)
    return audit_files([folder / "train.jsonl"], [folder / "eval.jsonl"], train_text="text",
                       eval_text="question", id_field="id", methods=METHODS, fail_on="never",
                       report=report, num_proc=1)


@pytest.fixture(scope="module")
def audited(tmp_path_factory):
    tests, variants = _test_questions(), _variants()
    with gzip.open(real_data("eval/gsm8k_train.jsonl.gz"), "rt", encoding="utf-8") as f:
        train = [{"id": f"train-{k}", "text": json.loads(line)["question"]}
                 for k, line in enumerate(islice(f, 1500))]
    train += [{"id": f"test-{k}", "text": tests[k]["question"]} for k in (*ORIGINALS, ALONE)]
    eval_rows = [{"id": f"{kind}-{k}", "question": variants[(k, kind)]}
                 for k in ORIGINALS for kind in ("unanswerable", "distractor")]
    eval_rows += [{"id": f"test-{k}", "question": tests[k]["question"]}
                  for k in (*UNRELATED, ALONE)]
    root = tmp_path_factory.mktemp("families")
    runs = {}
    for name, rows in (("first", train), ("again", train), ("reversed", train[::-1])):
        (root / name).mkdir()
        runs[name] = _audit(root / name, rows, eval_rows, root / name / "report")
    return runs


def _rows(result):
    return {r["eval_id"]: r for r in result.table.to_pylist()}


def test_the_variants_of_one_question_form_one_family(audited):
    rows = _rows(audited["first"])
    for k in ORIGINALS:
        pair = (f"unanswerable-{k}", f"distractor-{k}")
        for item, other in (pair, pair[::-1]):
            row = rows[item]
            assert row["verdict"] != "clean", item
            assert f"test-{k}" in row["evidence_ids"], item
            assert (row["family"], row["family_size"], row["variant_of"]) == (
                f"test-{k}", 2, [other]), item
    # MinHash counts test-37 for one of its two variants only; ngram links both
    assert rows["unanswerable-37"]["minhash_evidence_id"] is None
    assert rows["unanswerable-37"]["ngram_overlap_evidence_id"] == "test-37"


def test_clean_items_and_an_item_contaminated_alone_have_no_family(audited):
    rows = _rows(audited["first"])
    for k in UNRELATED:
        row = rows[f"test-{k}"]
        assert row["verdict"] == "clean"
        assert (row["evidence_ids"], row["family"], row["family_size"], row["variant_of"]) == (
            [], None, 0, [])
    alone = rows[f"test-{ALONE}"]
    assert (alone["verdict"], alone["evidence_id"]) == ("contaminated", f"test-{ALONE}")
    assert (alone["family"], alone["family_size"], alone["variant_of"]) == (None, 0, [])


def test_the_summary_and_audit_md_name_the_families(audited):
    result = audited["first"]
    assert (result.summary["families"], result.summary["items_in_families"]) == (4, 8)
    saved = json.loads((result.report / "audit.json").read_text(encoding="utf-8"))
    assert (saved["families"], saved["items_in_families"]) == (4, 8)
    md = (result.report / "audit.md").read_text(encoding="utf-8")
    assert "8 items in 4 families of variants: several eval items match one training text" in md
    section = md.split("## Variant families (4)\n", 1)[1]
    for k in ORIGINALS:
        assert f"**test-{k}**: 2 items; training id test-{k}" in section
        block = section.split(f"**test-{k}**", 1)[1].split("**", 1)[0]
        assert f"| unanswerable-{k} | " in block and f"| distractor-{k} | " in block
    assert "test-1000" not in section and f"test-{ALONE} |" not in section


def test_the_families_are_deterministic(audited):
    first, again = audited["first"].report, audited["again"].report
    for name in ("audit.parquet", "audit.md", "audit.json"):
        if name == "audit.json":  # it names the input files, which are in other folders
            a, b = (json.loads((f / name).read_text(encoding="utf-8")) for f in (first, again))
            a.pop("inputs"), b.pop("inputs")
            assert a == b
        else:
            assert (first / name).read_bytes() == (again / name).read_bytes(), name
    # the training rows in the other order: the same families
    columns = ["eval_id", "evidence_ids", "family", "family_size", "variant_of"]
    assert (pq.read_table(first / "audit.parquet").select(columns)
            == audited["reversed"].table.select(columns))


def test_a_table_stitched_from_several_scans_gets_the_families_of_all_its_rows(audited):
    table = audited["first"].table
    # two scans each see one variant of every pair, so neither finds a family ...
    odd = np.arange(table.num_rows) % 2 == 1
    parts = [with_families(table.filter(pa.array(mask))) for mask in (~odd, odd)]
    assert all(p.column("family").null_count == p.num_rows for p in parts)
    # ... the stitched table is recomputed over all of them, as write_audit_report does
    stitched = with_families(pa.concat_tables(parts)).sort_by("eval_id")
    assert stitched.equals(table.sort_by("eval_id"))


def test_an_item_with_its_answer_is_never_its_own_variant(tmp_path):
    tests = _test_questions()
    train = [{"id": "question-600", "text": tests[ALONE]["question"]},
             {"id": "answer-600", "text": tests[ALONE]["answer"]}]
    write_jsonl(tmp_path / "train.jsonl", train)
    write_jsonl(tmp_path / "eval.jsonl", [{"id": f"test-{k}", **tests[k]} for k in (ALONE, 601)])
    result = audit_files([tmp_path / "train.jsonl"], [tmp_path / "eval.jsonl"],
                         train_text="text", eval_text="question", answer="answer", id_field="id",
                         methods=METHODS, fail_on="never", num_proc=1)
    row = _rows(result)[f"test-{ALONE}"]
    assert (row["leaked"], row["answer_evidence_id"]) == ("input and answer", "answer-600")
    assert (row["family"], row["family_size"], row["variant_of"]) == (None, 0, [])
    assert result.summary["families"] == 0


def test_any_flagging_check_links_an_item_and_one_that_did_not_flag_never_does():
    """Generic over the checks (as the embedding check's columns would be): an item joins the
    family of every training id a check flagged it at, transitively; a check's evidence below
    its own threshold links nothing."""
    tests, variants = _test_questions(), _variants()
    ids = ["unanswerable-37", "paraphrase-37", "distractor-97", "test-1000"]
    texts = [variants[(37, "unanswerable")], variants[(37, "paraphrase")],
             variants[(97, "distractor")], tests[1000]["question"]]
    ngram = CheckResult("ngram_overlap", np.array([True, False, True, False]),
                        np.array([0.6, 0.0, 0.6, 0.0]), ["test-37", None, "test-97", None], {})
    embedding = CheckResult("embedding", np.array([False, True, True, False]),
                            np.array([0.8, 0.95, 0.92, 0.7]),
                            ["test-37", "test-37", "test-37", "test-97"], {})
    rows = {r["eval_id"]: r for r in
            verdict_table(ids, texts, [ngram, embedding], Thresholds()).to_pylist()}
    assert rows["distractor-97"]["evidence_ids"] == ["test-37", "test-97"]
    for item in ids[:3]:
        assert (rows[item]["family"], rows[item]["family_size"]) == ("test-37", 3), item
        assert rows[item]["variant_of"] == sorted(set(ids[:3]) - {item})
    # test-1000's embedding evidence is test-97, but the check did not flag it
    assert rows["test-1000"]["verdict"] == "clean"
    assert (rows["test-1000"]["evidence_ids"], rows["test-1000"]["family"]) == ([], None)
