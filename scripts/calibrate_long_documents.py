"""Acceptance run of the audit on eval items planted inside long training documents (issue #23).

Training = ``--docs`` documents, each made of real Alpaca answers (``en_output``, in file order)
joined into 300-900 words (a length drawn per document). Half of the eval items (by parity:
``--plant even`` or ``odd``) are planted, one per document, at its start, middle (between two
answers) or end, in one of three ways: verbatim, lightly edited (5% of the words dropped;
``calibrate_paraphrase.edited``) or rephrased. The other half are not planted anywhere: the
share of them flagged is the false-positive rate.

Eval sets, audited one after the other through ``audit_files`` (the CLI's code path) with the
audit's default methods (all four) or ``--methods``:

- **gsm8k**: GSM8K test questions, planted with their solution (question, then answer). Rephrased
  plants are the hand-written paraphrases of ``tests/data/gsm8k_variants.jsonl`` (48 questions,
  planted rephrased by the halves of ``calibrate_same_domain.py``; the rest verbatim or edited).
- **mmlu**: MMLU (3 subjects, 505 items), rephrased plants from llm-decontaminator's English
  rephrases (items without one are planted verbatim or edited). Items that share a passage are
  planted or not together (``calibrate_paraphrase.passage_groups``): an unplanted sibling of a
  planted item would rightly be found by its passage.

Prints, per eval set, the share of planted items found (contaminated or suspect, with the
document they were planted in among the evidence) by kind and by position, how many were flagged
only at another document (most often where a sibling sharing their passage was planted), the
share of unplanted items flagged and the wall time.

    .venv/bin/python scripts/calibrate_long_documents.py [--docs 3000] [--plant even]
        [--methods exact,ngram,minhash,embedding] [--sets gsm8k,mmlu] [--save DIR]
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from calibrate_paraphrase import DATA, edited, passage_groups, read_jsonl  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
KINDS = ("verbatim", "edited", "rephrased")
POSITIONS = ("start", "middle", "end")


def documents(n: int, seed: int = 0) -> list[list[str]]:
    """``n`` documents of 300-900 words, each a list of real Alpaca answers (paragraphs)."""
    rng = random.Random(seed)
    answers = (r["en_output"].strip() for r in
               read_jsonl(DATA / "instruct" / "alpaca_en_zh_52k.jsonl.gz"))
    docs = []
    for _ in range(n):
        target, words, paragraphs = rng.randint(300, 900), 0, []
        while words < target:
            text = next(answers)
            if len(text.split()) >= 20:  # a one-line answer is no paragraph
                paragraphs.append(text)
                words += len(text.split())
        docs.append(paragraphs)
    return docs


def plant(doc: list[str], text: str, position: str) -> str:
    """The document with ``text`` as a paragraph at its start, middle or end."""
    at = {"start": 0, "middle": len(doc) // 2, "end": len(doc)}[position]
    return "\n\n".join(doc[:at] + [text] + doc[at:])


def eval_sets(parity: int) -> dict[str, list[dict]]:
    """Per eval set: items with ``id``, ``text`` (audited), and what to plant (or nothing)."""
    variants = [json.loads(line) for line in
                open(REPO / "tests" / "data" / "gsm8k_variants.jsonl", encoding="utf-8")]
    paraphrase = {v["idx"]: v["text"] for v in variants if v["kind"] == "paraphrase"}
    gsm8k = [json.loads(line) for line in open(DATA / "eval" / "gsm8k_test.jsonl",
                                               encoding="utf-8")]
    mmlu = read_jsonl(DATA / "eval" / "mmlu_test_3subjects.jsonl")
    pairs = read_jsonl(DATA / "contamination" / "mmlu_rephrased_translated_pairs.jsonl.gz")
    rank = {idx: k for k, idx in enumerate(sorted(paraphrase))}  # the variants' halves A / B
    out: dict[str, list[dict]] = {"gsm8k": [], "mmlu": []}
    for k, row in enumerate(gsm8k):
        full = f"{row['question']}\n{row['answer']}"
        out["gsm8k"].append({"id": f"gsm8k-{row['idx']}", "text": row["question"],
                             "full": full, "rephrase": paraphrase.get(row["idx"]),
                             "planted": rank.get(row["idx"], k) % 2 == parity,
                             "group": f"gsm8k-{row['idx']}"})
    groups = passage_groups([r["question"] for r in mmlu])  # siblings sharing a passage: together
    for k, (row, pair) in enumerate(zip(mmlu, pairs, strict=True)):
        out["mmlu"].append({"id": f"{row['subject']}-{row['idx']}", "text": row["question"],
                            "full": row["question"], "rephrase": pair["rephrased_english"] or None,
                            "planted": groups.index(groups[k]) % 2 == parity,
                            "group": f"passage-{groups[k]}"})
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=3000)
    parser.add_argument("--plant", choices=("even", "odd"), default="even")
    parser.add_argument("--methods", default="exact,ngram,minhash,embedding")
    parser.add_argument("--sets", default="gsm8k,mmlu")
    parser.add_argument("--save", type=Path, help="write each eval set's audit table, with "
                        "`planted` (kind) and `position` columns, as DIR/<name>.parquet")
    args = parser.parse_args()
    from splitforge.audit.run import audit_files

    parity = 0 if args.plant == "even" else 1
    docs = documents(args.docs)
    sets = eval_sets(parity)
    methods = tuple(args.methods.split(","))
    print(f"{len(docs):,} documents of {min(sum(len(p.split()) for p in d) for d in docs)}-"
          f"{max(sum(len(p.split()) for p in d) for d in docs)} words; plant: {args.plant} half;"
          f" methods: {', '.join(methods)}")
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.sets.split(","):
            items = sets[name]
            rng = random.Random(f"{name}-{parity}")
            where: dict[str, tuple[str, str, str]] = {}  # item id -> kind, position, doc id
            holds: dict[str, str] = {}  # doc id -> the passage group planted there
            group = {i["id"]: i["group"] for i in items}
            texts = ["\n\n".join(d) for d in docs]
            slots = rng.sample(range(len(docs)), sum(i["planted"] for i in items))
            planted = [i for i in items if i["planted"]]
            for k, (item, slot) in enumerate(zip(planted, slots, strict=True)):
                kind = "rephrased" if item["rephrase"] and (name == "gsm8k" or k % 3 == 2) \
                    else KINDS[k % 2]
                position = POSITIONS[(k // 3) % 3 if name == "mmlu" else (k // 2) % 3]
                text = {"verbatim": item["full"], "edited": edited(item["full"], k),
                        "rephrased": item["rephrase"]}[kind]
                texts[slot] = plant(docs[slot], text, position)
                where[item["id"]] = (kind, position, f"doc-{slot}")
                holds[f"doc-{slot}"] = item["group"]
            train = Path(tmp) / f"{name}_train.jsonl"
            with open(train, "w", encoding="utf-8") as handle:
                for k, text in enumerate(texts):
                    handle.write(json.dumps({"id": f"doc-{k}", "text": text}) + "\n")
            evals = Path(tmp) / f"{name}_eval.jsonl"
            with open(evals, "w", encoding="utf-8") as handle:
                for item in items:
                    handle.write(json.dumps({"id": item["id"], "text": item["text"]}) + "\n")
            start = time.perf_counter()
            result = audit_files([train], [evals], train_text="text", eval_text="text",
                                 id_field="id", methods=methods, fail_on="never")
            seconds = time.perf_counter() - start
            rows = {r["eval_id"]: r for r in result.table.to_pylist()}
            if args.save:
                import pyarrow as pa
                import pyarrow.parquet as pq

                args.save.mkdir(parents=True, exist_ok=True)
                ids = result.table.column("eval_id").to_pylist()
                table = result.table.append_column(
                    "planted", pa.array([where.get(i, ("unplanted",))[0] for i in ids]))
                table = table.append_column(
                    "position", pa.array([where.get(i, (None, None))[1] for i in ids]))
                pq.write_table(table, args.save / f"{name}.parquet")
            cells: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0])
            elsewhere = Counter()
            for item_id, (kind, position, doc) in where.items():
                row = rows[item_id]
                flagged = row["verdict"] != "clean"
                evidence = row["evidence_ids"] or [row["evidence_id"]]
                hit = flagged and doc in evidence
                for key in ((kind, position), (kind, "all"), ("all", position)):
                    cells[key][0] += 1
                    cells[key][1] += hit
                if flagged and not hit:
                    sibling = any(holds.get(e) == group[item_id] for e in evidence)
                    elsewhere[(kind, "a sibling's" if sibling else "another")] += 1
            unplanted = [rows[i["id"]] for i in items if not i["planted"]]
            false = [r for r in unplanted if r["verdict"] != "clean"]
            print(f"\n{name}: {len(items)} items, {len(where)} planted, {seconds:.0f} s")
            print(f"  {'':10s}" + "".join(f"{p:>16s}" for p in POSITIONS + ("all",)))
            for kind in KINDS + ("all",):
                line = []
                for position in POSITIONS + ("all",):
                    n, hit = cells.get((kind, position), (0, 0))
                    line.append(f"{hit / n:7.1%} ({n:4d})" if n else f"{'-':>14s}")
                print(f"  {kind:10s}" + "".join(f"{c:>16s}" for c in line))
            print(f"  unplanted flagged: {len(false)} of {len(unplanted)} = "
                  f"{len(false) / max(1, len(unplanted)):.2%}; planted items flagged only at "
                  f"another document: {dict(sorted(elsewhere.items()))}")
            by = Counter(r["evidence_method"] for r in false)
            print(f"  unplanted flagged by method: {dict(sorted(by.items()))}")


if __name__ == "__main__":
    main()
