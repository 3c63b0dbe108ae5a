"""Same-domain calibration of the audit: GSM8K test against GSM8K train, all four methods.

Users' fine-tuning data comes from the domain of their eval set, where a sentence embedding puts
different problems on one topic close together. Two settings, with the hand-written variants of
48 GSM8K test questions in ``tests/data/gsm8k_variants.jsonl`` (paraphrases, numbers changed, a
fact removed, a distracting sentence added):

1. **look-alikes**: eval = GSM8K test (1,319), training = GSM8K train (7,473) plus the 48
   paraphrases as training rows. Reports the share of planted test items flagged (their
   paraphrase is in training) and of the other test items flagged (same-topic look-alikes: false
   positives, apart from known templated near-copies such as test 602 / train 1314).
2. **variants** (issue #19): eval = the 112 variants, training = GSM8K train plus the 48 original
   test questions. Reports, per kind, the share flagged and contaminated with the original as
   evidence.

Every figure is given per half: A = the variant questions at even positions of the file's list
and the test items of even idx (the thresholds were chosen looking at half A), B = the rest.

    .venv/bin/python scripts/calibrate_same_domain.py [--methods exact,ngram,minhash,embedding]
"""

from __future__ import annotations

import argparse
import gzip
import json
import tempfile
import time
from collections import defaultdict
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
REAL = REPO / "tests" / "data" / "real" / "eval"


def write(path: Path, rows: list[dict]) -> Path:
    with open(path, "w", encoding="utf-8") as handle:
        for row in rows:
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--methods", default="exact,ngram,minhash,embedding")
    args = parser.parse_args()
    from splitforge.audit.run import audit_files

    methods = tuple(args.methods.split(","))
    test = [json.loads(line) for line in open(REAL / "gsm8k_test.jsonl", encoding="utf-8")]
    with gzip.open(REAL / "gsm8k_train.jsonl.gz", "rt", encoding="utf-8") as handle:
        train = [json.loads(line) for line in handle]
    variants = [json.loads(line) for line in
                open(REPO / "tests" / "data" / "gsm8k_variants.jsonl", encoding="utf-8")]
    questions = sorted({v["idx"] for v in variants})
    half = {idx: "AB"[k % 2] for k, idx in enumerate(questions)}
    paraphrase = {v["idx"]: v["text"] for v in variants if v["kind"] == "paraphrase"}
    base = [{"id": f"train-{r['idx']}", "text": r["question"]} for r in train]
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        # 1. look-alikes
        train_path = write(folder / "train1.jsonl", base + [
            {"id": f"paraphrase-{i}", "text": t} for i, t in sorted(paraphrase.items())])
        eval_path = write(folder / "test.jsonl", [{"id": f"test-{r['idx']}", "text": r["question"]}
                                                  for r in test])
        start = time.perf_counter()
        result = audit_files([train_path], [eval_path], train_text="text", eval_text="text",
                             id_field="id", methods=methods, fail_on="never")
        seconds = time.perf_counter() - start
        rows = result.table.to_pylist()
        print(f"1. GSM8K test ({len(test):,}) vs GSM8K train ({len(train):,}) + "
              f"{len(paraphrase)} planted paraphrases, {', '.join(methods)}: {seconds:.0f} s")
        tally: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0])
        for row in rows:
            idx = int(row["eval_id"].split("-")[1])
            planted = idx in paraphrase
            key = ("planted" if planted else "unplanted",
                   half[idx] if planted else "AB"[idx % 2])
            tally[key][0] += 1
            found = row["verdict"] != "clean" and (
                not planted or row["evidence_id"] == f"paraphrase-{idx}")
            tally[key][1] += found
        for what in ("planted", "unplanted"):
            cells = []
            for h in "AB":
                n, hit = tally[(what, h)]
                cells.append(f"half {h}: {hit}/{n} = {hit / max(n, 1):.1%}")
            print(f"  {what:9s} flagged  " + "   ".join(cells))
        near = next(r for r in rows if r["eval_id"] == "test-602")
        print(f"  known near-copy test 602: {near['verdict']} by {near['evidence_method']} at "
              f"{near['evidence_id']}")
        flagged = [r for r in rows if r["verdict"] != "clean"
                   and int(r["eval_id"].split("-")[1]) not in paraphrase]
        for row in flagged:
            print(f"    unplanted flagged: {row['eval_id']} {row['verdict']} "
                  f"{row['evidence_method']} {row['evidence_score']:.2f} -> {row['evidence_id']}: "
                  f"{' '.join(str(row['matched_text']).split())[:70]}")
        # 2. variants
        originals = [{"id": f"original-{r['idx']}", "text": r["question"]}
                     for r in test if r["idx"] in half]
        train_path = write(folder / "train2.jsonl", base + originals)
        eval_path = write(folder / "variants.jsonl", [
            {"id": f"{v['kind']}-{v['idx']}", "text": v["text"]} for v in variants])
        start = time.perf_counter()
        result = audit_files([train_path], [eval_path], train_text="text", eval_text="text",
                             id_field="id", methods=methods, fail_on="never")
        seconds = time.perf_counter() - start
        print(f"\n2. {len(variants)} variants vs GSM8K train + the {len(originals)} originals: "
              f"{seconds:.0f} s")
        counts: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0, 0])
        for row in result.table.to_pylist():
            kind, idx = row["eval_id"].split("-")
            cell = counts[(kind, half[int(idx)])]
            right = row["evidence_id"] == f"original-{idx}"
            cell[0] += 1
            cell[1] += row["verdict"] != "clean" and right
            cell[2] += row["verdict"] == "contaminated" and right
        for kind in ("paraphrase", "numbers", "unanswerable", "distractor"):
            cells = []
            for h in "AB":
                n, flag, cont = counts[(kind, h)]
                cells.append(f"half {h}: flagged {flag / max(n, 1):6.1%} contaminated "
                             f"{cont / max(n, 1):6.1%} (n={n})")
            print(f"  {kind:12s} " + "   ".join(cells))


if __name__ == "__main__":
    main()
