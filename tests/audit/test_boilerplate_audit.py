"""The audit on chat and templated data: shared preambles are no evidence, copies still are, and
work stays bounded however alike the rows are."""

import gzip
import json
import os
import subprocess
import sys

import numpy as np
from typer.testing import CliRunner

from splitforge.audit import ExactCheck, MinHashCheck, NgramOverlapCheck
from splitforge.audit.base import SHARED_CAP
from splitforge.audit.exact import _rarest_anchors
from splitforge.audit.run import audit_files
from splitforge.cli import app
from splitforge.normalize import normalize_text
from splitforge.normalize.affixes import strip_variants
from splitforge.normalize.shingles import shingle_hashes64
from tests.audit.conftest import norm_all, run
from tests.conftest import FAST_METHODS, REPO, real_data, write_jsonl

SYSTEM = ("You are a helpful, respectful and honest assistant. Always answer as helpfully as "
          "possible, while being safe. Your answers should not include any harmful, unethical, "
          "racist, sexist, toxic, dangerous, or illegal content. Please ensure that your "
          "responses are socially unbiased and positive in nature.")
TEMPLATE = ("Below is an instruction that describes a task. Write a response that appropriately "
            "completes the request.\n\n### Instruction:\n{question}\n\n### Response:\n{answer}")


def gsm8k(n: int) -> list[dict]:
    with gzip.open(real_data("eval/gsm8k_train.jsonl.gz"), "rt", encoding="utf-8") as f:
        return [json.loads(line) for _, line in zip(range(n), f, strict=False)]


def chat(row: dict, question: str | None = None) -> dict:
    return {"messages": [{"role": "system", "content": SYSTEM},
                         {"role": "user", "content": question or row["question"]},
                         {"role": "assistant", "content": row["answer"]}]}


def test_a_chat_audit_ignores_the_shared_system_prompt_and_finds_the_edited_copy(tmp_path):
    rows = gsm8k(400)
    train, held = rows[:300], rows[300:]
    copied = held[0]
    edited = {**copied, "question": copied["question"].upper().rstrip("?") + " please?"}
    write_jsonl(tmp_path / "train.jsonl", [{"id": f"t{i}", **chat(r)}
                                           for i, r in enumerate([*train, edited])])
    write_jsonl(tmp_path / "eval.jsonl", [{"id": f"e{i}", **chat(r)} for i, r in enumerate(held)])
    result = CliRunner().invoke(app, ["audit", "--methods", "exact,ngram,minhash", "--train", str(tmp_path / "train.jsonl"),
                                      "--eval", str(tmp_path / "eval.jsonl"), "--text",
                                      "messages", "--id", "id", "--report",
                                      str(tmp_path / "report")])
    assert result.exit_code == 1, result.output  # the edited copy
    summary = json.loads((tmp_path / "report" / "audit.json").read_text(encoding="utf-8"))
    assert summary["verdicts"]["contaminated"] == 1 and summary["verdicts"]["suspect"] <= 2
    audited = {r["eval_id"]: r for r in _rows(tmp_path / "report")}
    assert audited["e0"]["verdict"] == "contaminated"
    assert "system:" not in audited["e1"]["eval_text"]  # the system turn is not read at all
    # with the system turn read as content, detection still leaves it out of every check
    asked = audit_files([tmp_path / "train.jsonl"], [tmp_path / "eval.jsonl"], text="messages",
                        id_field="id", methods=FAST_METHODS)
    assert asked.summary["verdicts"]["contaminated"] == 1


def _rows(folder):
    import pyarrow.parquet as pq

    return pq.read_table(folder / "audit.parquet").to_pylist()


def alpaca() -> list[dict]:
    with gzip.open(real_data("instruct/alpaca_en_zh_52k.jsonl.gz"), "rt", encoding="utf-8") as f:
        rows = [json.loads(line) for line in f]
    return [{"question": r["en_instruction"], "answer": r["en_output"]} for r in rows
            if r["en_output"].strip() and not r["en_input"]]


def test_a_template_on_both_sides_hides_no_copy_and_makes_no_leak(tmp_path):
    rows = alpaca()  # short rows: the template is most of each text
    train, held = rows[:-60], rows[-60:]
    edited = {**held[0], "question": held[0]["question"].replace(" ", " indeed ", 1)}
    write_jsonl(tmp_path / "train.jsonl", [{"id": f"t{i}", "text": TEMPLATE.format(**r)}
                                           for i, r in enumerate([*train, edited])])
    write_jsonl(tmp_path / "eval.jsonl",
                [{"id": f"e{i}", "text": TEMPLATE.format(**r)} for i, r in enumerate(held)])
    found = audit_files([tmp_path / "train.jsonl"], [tmp_path / "eval.jsonl"], text="text",
                        id_field="id", methods=FAST_METHODS)
    verdicts = dict(zip(found.table.column("eval_id").to_pylist(),
                        found.table.column("verdict").to_pylist(), strict=True))
    assert verdicts["e0"] == "contaminated"
    assert list(verdicts.values()).count("contaminated") == 1
    assert found.summary["boilerplate"]["rows_with_boilerplate"] == len(held)
    blind = audit_files([tmp_path / "train.jsonl"], [tmp_path / "eval.jsonl"], text="text",
                        id_field="id", boilerplate=False, methods=FAST_METHODS)
    flagged = sum(v != "clean" for v in blind.table.column("verdict").to_pylist())
    assert flagged > 10  # the template alone, read as content, makes most rows look leaked


def test_ngrams_shared_by_many_items_count_for_coverage_but_pair_no_text():
    rows = gsm8k(SHARED_CAP + 50)
    block = " ".join(r["question"] for r in rows[:3])  # a shared paragraph of real text
    items = [f"{block} {r['question']}" for r in rows]
    check = NgramOverlapCheck(norm_all(items))
    result = run(check, [(["t1", "t2"], [block, rows[5]["question"]])])
    assert result.summary["ngrams_over_cap"] > 0 and result.summary["shared_cap"] == SHARED_CAP
    assert (result.coverage > 0.3).all()  # the block is found in training for every item
    assert result.evidence_id[5] == "t2"  # evidence comes from what is not shared
    assert result.evidence_id[0] is None or result.evidence_id[0] != "t1"
    minhash = run(MinHashCheck(norm_all([block] * (SHARED_CAP + 1) + items[:1])),
                  [(["t1"], [block])])
    assert minhash.summary["buckets_over_cap"] > 0
    assert minhash.summary["candidates"] <= 1  # none of the 101 equal items paired with t1


def test_exact_anchors_are_the_windows_fewest_items_share_and_stay_exact():
    rows = gsm8k(60)
    block = rows[0]["question"]
    items = [f"{block} {r['question']}" for r in rows[1:]]
    norm = norm_all(items)
    grams = shingle_hashes64(norm, 13, 13)
    item, keys = _rarest_anchors(grams.values, grams.offsets)
    shared = set(grams.of(0)[:5].tolist())  # windows inside the block, held by every item
    assert not (set(keys.tolist()) & shared)
    assert np.bincount(item).max() == 2
    check = ExactCheck(norm)
    result = run(check, [(["t1", "t2"], [block, "prefix " + items[7] + " suffix"])])
    assert result.contained_id[7] == "t2" and sum(c is not None for c in result.contained_id) == 1


def test_twenty_thousand_rows_sharing_a_block_audit_in_bounded_memory(tmp_path):
    questions = [r["question"] for r in gsm8k(8_000)]
    block = " ".join(" ".join(questions).split()[:300])  # 300 words of real text
    words = " ".join(questions[100:]).split()
    tails = [" ".join(words[5 * i:5 * i + 5]) for i in range(20_000)]
    assert len(words) >= 100_000 and len(set(tails)) > 19_900
    train = [{"id": f"t{i}", "text": f"{block} {t}"} for i, t in enumerate(tails[:18_000])]
    planted = {f"e{i}" for i in range(0, 2_000, 20)}  # 100 eval rows repeat a training tail
    evals = [{"id": f"e{i}", "text": f"{block} {tails[i] if f'e{i}' in planted else tails[18_000 + i]}"}
             for i in range(2_000)]
    write_jsonl(tmp_path / "train.jsonl", train)
    write_jsonl(tmp_path / "eval.jsonl", evals)
    script = ("import json, resource, sys; from splitforge.audit.run import audit_files; "
              "r = audit_files([sys.argv[1]], [sys.argv[2]], text='text', id_field='id', methods=('exact', 'ngram', 'minhash')); "
              "v = dict(zip(r.table.column('eval_id').to_pylist(), "
              "r.table.column('verdict').to_pylist())); "
              "print(json.dumps({'v': v, 'mb': resource.getrusage(resource.RUSAGE_SELF)"
              ".ru_maxrss / 1024}))")
    out = subprocess.run([sys.executable, "-c", script, str(tmp_path / "train.jsonl"),
                          str(tmp_path / "eval.jsonl")], capture_output=True, text=True,
                         check=True, cwd=REPO, env={**os.environ, "PYTHONHASHSEED": "0"})
    found = json.loads(out.stdout.strip().splitlines()[-1])
    assert found["mb"] < 1024, found["mb"]
    seen = {normalize_text(t["text"]) for t in train}
    copies = {e["id"] for e in evals if normalize_text(e["text"]) in seen}
    assert planted <= copies and len(copies - planted) < 20  # real 5-word runs recur, rarely
    contaminated = {i for i, v in found["v"].items() if v == "contaminated"}
    # The tails decide: a tail with the same words as a training tail but for punctuation or an
    # affix is a copy too (normalize/affixes.py); look-alike 5-word tails are suspect at most.
    def words_of(texts):
        shingles = shingle_hashes64([normalize_text(t) for t in texts], 1, 1)
        return [tuple(shingles.of(i).tolist()) for i in range(len(texts))]

    def variants(text):
        return strip_variants(normalize_text(text))

    train_tails = [t["text"][len(block) + 1:] for t in train]
    exact_words = set(words_of(train_tails))
    any_words = exact_words | set(words_of([v for t in train_tails for v in variants(t)]))
    affix = {e["id"] for e in evals
             if words_of([e["text"][len(block) + 1:]])[0] in any_words
             or set(words_of(variants(e["text"][len(block) + 1:]) or [""])) & exact_words}
    assert copies <= affix and len(affix - copies) < 10
    assert contaminated == affix


def test_the_cli_turns_detection_off_and_leaves_named_spans_out(tmp_path):
    rows = alpaca()
    train, held = rows[:-60], rows[-60:]
    write_jsonl(tmp_path / "train.jsonl", [{"id": f"t{i}", "text": TEMPLATE.format(**r)}
                                           for i, r in enumerate(train)])
    write_jsonl(tmp_path / "eval.jsonl", [{"id": f"e{i}", "text": TEMPLATE.format(**r)}
                                          for i, r in enumerate(held)])
    base = ["audit", "--methods", "exact,ngram,minhash", "--train", str(tmp_path / "train.jsonl"), "--eval",
            str(tmp_path / "eval.jsonl"), "--text", "text", "--id", "id", "--fail-on", "never"]

    def flagged(*extra: str) -> int:
        report = tmp_path / f"r{len(list(tmp_path.iterdir()))}"
        result = CliRunner().invoke(app, [*base, *extra, "--report", str(report)])
        assert result.exit_code == 0, result.output
        summary = json.loads((report / "audit.json").read_text(encoding="utf-8"))
        return summary["verdicts"]["suspect"] + summary["verdicts"]["contaminated"]

    blind = flagged("--no-boilerplate")
    named = flagged("--no-boilerplate", "--ignore", TEMPLATE.split("\n\n### Instruction")[0],
                    "--ignore", "### Instruction:", "--ignore", "### Response:")
    assert blind > 10 and named < blind / 3 and flagged() < blind / 3


def rarest_reference(values: np.ndarray, offsets: np.ndarray) -> tuple[list[int], list[int]]:
    """``_rarest_anchors`` in plain Python: per item its two windows of fewest holding items."""
    windows = [values[offsets[i]:offsets[i + 1]].tolist() for i in range(len(offsets) - 1)]
    holders: dict[int, set[int]] = {}
    for item, grams in enumerate(windows):
        for g in grams:
            holders.setdefault(g, set()).add(item)
    items, keys = [], []
    for item, grams in enumerate(windows):
        last = len(grams) - 1
        ranked = sorted(range(len(grams)), key=lambda p: (
            len(holders[grams[p]]), 0 if p == 0 else 1 if p == last else 2, p))
        for p in ranked[:2]:
            items.append(item)
            keys.append(grams[p])
    return items, keys


def test_exact_anchors_equal_a_plain_reference_on_real_and_templated_text():
    rows = gsm8k(400)
    texts = [r["question"] for r in rows]
    texts += [TEMPLATE.format(question=r["question"], answer="") for r in rows[:150]]
    texts += ["", "one two", texts[3], texts[3] + " and more words after it"]  # empty, short
    grams = shingle_hashes64(norm_all(texts), 13, 13)
    item, keys = _rarest_anchors(grams.values, grams.offsets)
    want_items, want_keys = rarest_reference(grams.values, grams.offsets)
    assert item.tolist() == want_items and keys.tolist() == want_keys
    assert item.dtype == np.int64 and keys.dtype == np.uint64


def test_a_shared_preamble_gives_the_embedding_check_no_views(tmp_path):
    # the embedding check cuts items into sentences: a system prompt's sentences in every item
    # matched every training row that has it too (1,213 of 1,219 GSM8K items flagged)
    rows = gsm8k(300)
    train, held = rows[:240], rows[240:]
    planted = [held[0]["question"], held[1]["question"]]
    topics = alpaca()[:3]  # the preamble's sentences are also training rows of their own
    preamble = " ".join(r["answer"] for r in topics)
    flagged = {}
    for tag, before in (("plain", ""), ("preamble", preamble + "\n\n")):
        write_jsonl(tmp_path / f"train_{tag}.jsonl",
                    [{"id": f"t{i}", "text": before + t}
                     for i, t in enumerate([r["question"] for r in train] + planted)]
                    + [{"id": f"a{i}", "text": r["answer"]} for i, r in enumerate(topics)])
        write_jsonl(tmp_path / f"eval_{tag}.jsonl",
                    [{"id": f"e{i}", "text": before + r["question"]} for i, r in enumerate(held)])
        result = audit_files([tmp_path / f"train_{tag}.jsonl"], [tmp_path / f"eval_{tag}.jsonl"],
                             text="text", id_field="id", methods=("embedding",))
        flagged[tag] = {r["eval_id"] for r in result.table.to_pylist() if r["verdict"] != "clean"}
        if tag == "preamble":
            assert result.summary["boilerplate"]["rows_with_boilerplate"] == len(held)
    assert {"e0", "e1"} <= flagged["plain"]
    assert flagged["preamble"] == flagged["plain"]
