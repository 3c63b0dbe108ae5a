"""Acceptance run of the contamination audit on planted leaks, with all four methods.

Training = Alpaca rows (instruction, input and output) plus, planted among them: the English
rephrases of half the MMLU (3 subjects) items and of half the HumanEval items, the Chinese
translations of a quarter of the MMLU items, verbatim copies and lightly edited copies (5% of
the words dropped; a word put in front of items under 20 words) of a few others.
``splitforge audit`` (``audit_files``, the CLI's code path) then audits
``eval/mmlu_test_3subjects.jsonl`` (``{question}``) and ``eval/humaneval.jsonl``
(``{prompt}{canonical_solution}``: the rephrases are prompt and solution) against it, and this
prints, per kind of plant, the share of items contaminated / suspect / flagged (either), and
what the unplanted items that were flagged matched.

    .venv/bin/python scripts/calibrate_paraphrase.py [--train-rows 20000] [--plant odd]
                                                     [--by-item]

``--plant odd`` plants the other half (validation of thresholds chosen on the even half).
MMLU's passage-based items are planted by passage (the items that share a passage are planted
or not together): ``--by-item`` decides per item instead, and then an unplanted item's passage is
often in training as part of a planted sibling's rephrase, where ``ngram`` and ``minhash`` rightly
find it (13-gram overlap of 50-96% of the item), so it cannot serve as a clean item.
"""

from __future__ import annotations

import argparse
import gzip
import json
import random
import re
import tempfile
import time
from collections import Counter
from pathlib import Path

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


def read_jsonl(path: Path) -> list[dict]:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def edited(text: str, seed: int) -> str:
    """A light edit: 5% of the words dropped; under 20 words, one word put in front instead.

    (Dropping one word of a 4-word item is a 25% edit, not a light one.)
    """
    words = text.split(" ")
    if len(words) < 20:
        return "Question: " + text
    rng = random.Random(seed)
    drop = set(rng.sample(range(len(words)), max(1, len(words) // 20)))
    return " ".join(w for i, w in enumerate(words) if i not in drop)


def passage_groups(questions: list[str]) -> list[int]:
    """Items that share a passage (all but the question's last line) share a group number."""
    keys: dict[str, int] = {}
    out = []
    for i, question in enumerate(questions):
        lines = question.strip().split("\n")
        key = "\n".join(lines[:-1]) if len(lines) > 1 and len(lines[0]) > 20 else f"item {i}"
        out.append(keys.setdefault(key, len(keys)))
    return out


def plan(n_items: int, parity: int, kinds: tuple[str, ...],
         groups: list[int] | None = None) -> list[str]:
    """Per item: what is planted (one of ``kinds``, ``verbatim``, ``edited``) or ``unplanted``.

    With ``groups``, the decision is taken per group (the first item's position decides), so an
    unplanted item never shares its passage with a planted one.
    """
    groups = groups if groups is not None else list(range(n_items))
    out = []
    for i in (groups.index(g) for g in groups):
        if i % 2 == parity:
            out.append(kinds[0])
        elif len(kinds) > 1 and i % 4 == (parity + 1) % 4:
            out.append(kinds[1])
        elif i % 20 in (3, 4):
            out.append("verbatim")
        elif i % 20 in (7, 8):
            out.append("edited")
        else:
            out.append("unplanted")
    return out


# Alpaca rows (of the first 20,000) that ask for the task a HumanEval item asks for, details aside:
# one reader's judgment of the best Alpaca candidate of every unplanted HumanEval item whose
# cosine reached 0.7 in the calibration runs (36 items, flagged or not). llm-decontaminator's
# GPT-4 judge calls the CodeAlpaca rows on 13, 31, 34, 35, 53 and 55 rephrases of these items;
# 34 (no sorting) and 71 (no validity check) are the closest calls. Not same task, for example:
# 75 (a product of three primes / all primes below 100), 148 (planets between two orbits /
# list the planets), 26 (drop repeated values / deduplicate), 139 (a product of factorials /
# factorial). A flag at one of these rows is the same task written independently; whether that
# is contamination is the "same task" / "same question" call that the summary reports apart.
SAME_TASK = {
    "HumanEval/13": "alpaca-14254", "HumanEval/31": "alpaca-19681",
    "HumanEval/34": "alpaca-19079", "HumanEval/35": "alpaca-1230",
    "HumanEval/45": "alpaca-8215", "HumanEval/53": "alpaca-8054",
    "HumanEval/55": "alpaca-10950", "HumanEval/71": "alpaca-16852",
    "HumanEval/79": "alpaca-17407", "HumanEval/90": "alpaca-2210",
}


_WORD = re.compile(r"[^\W\d_]{2,}")


def template_siblings(a: str, b: str) -> bool:
    """Two items of one template: the same words (80% of them), other numbers or expressions.

    ("Compute the product in the given ring. (20)(-8) in Z_26" / "... (12)(16) in Z_24"). A
    planted copy of one is the other with its numbers changed, which the audit flags by design
    (GSM8K questions with other numbers: ``calibrate_same_domain.py``), so the summary reports
    these flags apart from the unplanted items' false flags.
    """
    x, y = set(_WORD.findall(a.lower())), set(_WORD.findall(b.lower()))
    return len(x & y) >= 0.8 * len(x | y) > 0


def evidence_kind(row: dict, texts: dict[str, str] | None = None) -> str:
    """What an unplanted item was flagged at: another item's planted row, or an Alpaca row."""
    evidence = str(row["evidence_id"])
    if evidence.startswith("planted"):
        other = evidence.removeprefix("planted-mmlu-").removeprefix("planted-he-")
        if texts and other in texts and template_siblings(texts[row["eval_id"]], texts[other]):
            return "planted row of a template sibling"
        return "planted row of another item"
    if SAME_TASK.get(row["eval_id"]) == evidence:
        return "alpaca row on the same task"
    return "alpaca row"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train-rows", type=int, default=20000)
    parser.add_argument("--plant", choices=("even", "odd"), default="even")
    parser.add_argument("--methods", default="exact,ngram,minhash,embedding")
    parser.add_argument("--by-item", action="store_true",
                        help="plant MMLU items one by one, not by passage group (siblings "
                        "sharing a passage are then planted or not independently)")
    parser.add_argument("--save", type=Path, help="write each eval set's audit table, with a "
                        "`planted` column, as DIR/<name>.parquet (to study other thresholds)")
    args = parser.parse_args()
    from splitforge.audit.run import audit_files

    parity = 0 if args.plant == "even" else 1
    alpaca = read_jsonl(DATA / "instruct" / "alpaca_en_zh_52k.jsonl.gz")[:args.train_rows]
    train = [{"id": f"alpaca-{i}", "text": "\n".join(x for x in (r["en_instruction"],
                                                               r["en_input"], r["en_output"]) if x)}
             for i, r in enumerate(alpaca)]
    mmlu_pairs = read_jsonl(DATA / "contamination" / "mmlu_rephrased_translated_pairs.jsonl.gz")
    he_pairs = [r for r in read_jsonl(DATA / "contamination" /
                                      "humaneval_rephrased_pairs.jsonl.gz")
                if r["rephrase_language"] == "python"]
    mmlu = read_jsonl(DATA / "eval" / "mmlu_test_3subjects.jsonl")
    humaneval = read_jsonl(DATA / "eval" / "humaneval.jsonl")
    groups: dict[str, dict[str, str]] = {"mmlu": {}, "humaneval": {}}
    passages = None if args.by_item else passage_groups([r["question"] for r in mmlu])
    mmlu_plan = plan(len(mmlu), parity, ("rephrase", "chinese"), passages)
    for i, (row, pair) in enumerate(zip(mmlu, mmlu_pairs, strict=True)):
        key = f"{row['subject']}-{row['idx']}"
        what = mmlu_plan[i]
        text = {"rephrase": pair["rephrased_english"],
                "chinese": pair["translated_chinese_question_with_choices"],
                "verbatim": row["question"], "edited": edited(row["question"], i)}.get(what, "")
        if what != "unplanted" and not text.strip():
            what, text = "unplanted", ""  # 20 MMLU rows have no rephrase
        groups["mmlu"][key] = what
        if text:
            train.append({"id": f"planted-mmlu-{key}", "text": text})
    for i, (row, pair) in enumerate(zip(humaneval, he_pairs, strict=True)):
        what = plan(len(humaneval), parity, ("rephrase",))[i]
        full = row["prompt"] + row["canonical_solution"]
        text = {"rephrase": pair["rephrased_text"], "verbatim": full,
                "edited": edited(full, i)}.get(what, "")
        if what != "unplanted" and not text.strip():
            what, text = "unplanted", ""
        groups["humaneval"][row["task_id"]] = what
        if text:
            train.append({"id": f"planted-he-{row['task_id']}", "text": text})
    with tempfile.TemporaryDirectory() as tmp:
        train_path = Path(tmp) / "train.jsonl"
        with open(train_path, "w", encoding="utf-8") as handle:
            for row in train:
                handle.write(json.dumps(row, ensure_ascii=False) + "\n")
        mmlu_path, he_path = Path(tmp) / "mmlu.jsonl", Path(tmp) / "humaneval.jsonl"
        for path, rows, key in ((mmlu_path, mmlu, lambda r: f"{r['subject']}-{r['idx']}"),
                                (he_path, humaneval, lambda r: r["task_id"])):
            with open(path, "w", encoding="utf-8") as handle:
                for row in rows:
                    handle.write(json.dumps({**row, "id": key(row)}) + "\n")
        print(f"training rows: {len(train):,} ({args.train_rows:,} Alpaca + "
              f"{len(train) - args.train_rows} planted); plant: {args.plant} half, "
              f"{'by item' if args.by_item else 'by passage'}")
        for name, path, template in (("mmlu", mmlu_path, "{question}"),
                                     ("humaneval", he_path, "{prompt}{canonical_solution}")):
            start = time.perf_counter()
            result = audit_files([train_path], [path], train_text="text", eval_text=template,
                                 id_field="id", methods=tuple(args.methods.split(",")),
                                 fail_on="never")
            seconds = time.perf_counter() - start
            rows = result.table.to_pylist()
            if args.save:
                import pyarrow as pa
                import pyarrow.parquet as pq

                args.save.mkdir(parents=True, exist_ok=True)
                planted = [groups[name][r["eval_id"]] for r in rows]
                pq.write_table(result.table.append_column("planted", pa.array(planted)),
                               args.save / f"{name}.parquet")
            print(f"\n{name}: {len(rows)} items, {seconds:.0f} s")
            tally: dict[str, Counter] = {}
            for row in rows:
                what = groups[name][row["eval_id"]]
                tally.setdefault(what, Counter())[row["verdict"]] += 1
            for what in ("verbatim", "edited", "rephrase", "chinese", "unplanted"):
                if what not in tally:
                    continue
                c = tally[what]
                total = sum(c.values())
                print(f"  {what:10s} n={total:4d}  contaminated {c['contaminated'] / total:6.1%}"
                      f"  suspect {c['suspect'] / total:6.1%}  flagged "
                      f"{(c['contaminated'] + c['suspect']) / total:6.1%}")
            unplanted = [r for r in rows if groups[name][r["eval_id"]] == "unplanted"]
            flagged = [r for r in unplanted if r["verdict"] != "clean"]
            texts = {r["eval_id"]: r["eval_text"] for r in rows}
            by = Counter(f"{evidence_kind(r, texts)}, {r['evidence_method']}" for r in flagged)
            apart = sum(evidence_kind(r, texts) in ("alpaca row on the same task",
                                                    "planted row of a template sibling")
                        for r in flagged)
            print(f"  unplanted flagged, by evidence: {dict(sorted(by.items()))}; not counting "
                  f"the {apart} at an Alpaca row on the same task (SAME_TASK) or at a template "
                  f"sibling's planted row: {len(flagged) - apart} of {len(unplanted) - apart} = "
                  f"{(len(flagged) - apart) / max(1, len(unplanted) - apart):.1%}")
            for row in rows:
                if groups[name][row["eval_id"]] == "unplanted" and row["verdict"] != "clean":
                    matched = " ".join(str(row["matched_text"]).split())[:60]
                    print(f"    unplanted flagged: {row['eval_id']} {row['verdict']} "
                          f"{row['evidence_method']} {row['evidence_score']:.2f} -> "
                          f"{row['evidence_id']}: {matched}")


if __name__ == "__main__":
    main()
