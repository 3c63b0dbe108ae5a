"""Near-duplicate quality of splitforge's MinHash on real text, and its speed next to datasketch.

Quality: 20k rows of Alpaca (English, and separately Chinese), plus near-copies of 2,000 of them
with 5-15% of the words (characters for Chinese) inserted, deleted or replaced, and 500 copies
that differ only in whitespace, case or punctuation. Prints recall per edit band and language,
and the precision of the reported pairs (planted, or truly near-identical: exact shingle Jaccard
at or above the threshold).

Speed: shingling + signatures + LSH + verification + clustering on a synthetic corpus, next to
datasketch's own fastest path (MinHash.bulk + MinHashLSH.insert/query) on a sample.

    .venv/bin/python scripts/bench_dedup.py [--rows 20000] [--speed-docs 100000]
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import random
import resource
import tempfile
import time
from pathlib import Path

import numpy as np

from splitforge.dedup.clusters import UnionFind
from splitforge.dedup.minhash import MinHashDeduper, candidate_pairs, estimated_jaccard
from splitforge.normalize import normalize_text
from splitforge.normalize.shingles import shingle_hashes
from splitforge.recipe import MinHashConfig
from splitforge.signatures import lsh_params

ALPACA = Path(__file__).resolve().parents[2] / "shared" / "data" / "instruct" / \
    "alpaca_en_zh_52k.jsonl.gz"
PUNCT = list(",.;:!?")


def edit_words(tokens: list[str], rate: float, rng: random.Random, vocab: list[str]) -> list[str]:
    """Insert, delete or replace round(rate * len) tokens at random positions."""
    tokens = tokens[:]
    for _ in range(max(1, round(rate * len(tokens)))):
        op = rng.choice(("insert", "delete", "replace"))
        pos = rng.randrange(len(tokens)) if tokens else 0
        if op == "insert" or not tokens:
            tokens.insert(pos, rng.choice(vocab))
        elif op == "delete" and len(tokens) > 1:
            del tokens[pos]
        else:
            tokens[pos] = rng.choice(vocab)
    return tokens


def surface_variant(text: str, rng: random.Random) -> str:
    kind = rng.choice(("upper", "spaces", "punct"))
    if kind == "upper":
        return text.upper()
    if kind == "spaces":
        return "  " + text.replace(" ", "\n ", 3) + "\t"
    return text.rstrip(".!?。") + rng.choice(PUNCT)


def load_texts(lang: str, rows: int) -> list[str]:
    """The first ``rows`` Alpaca texts (instruction, input, output) of 40+ characters."""
    texts = []
    with gzip.open(ALPACA, "rt", encoding="utf-8") as handle:
        for line in handle:
            r = json.loads(line)
            parts = [r[f"{lang}_instruction"], r[f"{lang}_input"], r[f"{lang}_output"]]
            text = "\n".join(p for p in parts if p)
            if len(text) >= 40:
                texts.append(text)
            if len(texts) == rows:
                break
    return texts


def quality(lang: str, rows: int, config: MinHashConfig, seed: int = 0) -> None:
    rng = random.Random(seed)
    base = load_texts(lang, rows)
    char = lang == "zh"
    vocab = list({c for t in base[:2000] for c in t if not c.isspace()}) if char else \
        list({w for t in base[:2000] for w in t.split()})
    texts = base[:]
    planted: dict[tuple[int, int], float] = {}
    for i in rng.sample(range(rows), 2000):
        rate = rng.uniform(0.05, 0.15)
        tokens = list(base[i]) if char else base[i].split()
        edited = edit_words(tokens, rate, rng, vocab)
        texts.append("".join(edited) if char else " ".join(edited))
        planted[(i, len(texts) - 1)] = rate
    for i in rng.sample(range(rows), 500):
        texts.append(surface_variant(base[i], rng))
        planted[(i, len(texts) - 1)] = 0.0
    norm = [normalize_text(t) for t in texts]
    deduper = MinHashDeduper(config)
    sig = deduper.signatures(_arrow(norm))
    bands, r = lsh_params(config.threshold, config.num_perm)
    left, right = candidate_pairs(sig, bands, r)
    score = estimated_jaccard(sig, left, right)
    ok = score >= config.threshold
    left, right = left[ok], right[ok]
    union = UnionFind(len(texts))
    union.union(left, right)
    roots = union.find_all()
    bands_seen = {"surface (0%)": [], "5-10%": [], "10-15%": []}
    for (a, b), rate in planted.items():
        band = "surface (0%)" if rate == 0 else ("5-10%" if rate <= 0.10 else "10-15%")
        bands_seen[band].append(roots[a] == roots[b])
    recall = ", ".join(f"{k}: {np.mean(v):.1%} of {len(v)}" for k, v in bands_seen.items())
    shingles = shingle_hashes(norm, config.ngram, config.char_ngram, config.unit)
    planted_pairs = {tuple(sorted(p)) for p in planted}
    true_pairs = 0
    for a, b in zip(left.tolist(), right.tolist(), strict=True):
        if (a, b) in planted_pairs:
            true_pairs += 1
            continue
        sa, sb = set(shingles.of(a).tolist()), set(shingles.of(b).tolist())
        jaccard = len(sa & sb) / max(1, len(sa | sb))
        true_pairs += jaccard >= config.threshold * 0.9
    precision = true_pairs / max(1, len(left))
    print(f"[{lang}] {len(texts):,} texts, threshold {config.threshold}, ngram "
          f"{config.char_ngram if char else config.ngram} {'chars' if char else 'words'}, "
          f"b={bands} r={r}: recall {recall}; {len(left):,} pairs reported, precision "
          f"{precision:.2%}")


def _arrow(values: list[str]):
    import pyarrow as pa

    return pa.array(values, pa.string())


WORDS = ("model data train eval split test leak token prompt answer question user system the a of "
         "to and in is for on with how what why when please explain write code python function "
         "list value error fix bug update readme docs add remove refactor support").split()


def synthetic(n: int, seed: int = 0) -> list[str]:
    """n documents of 50-400 words; every 20th is an edited copy of an earlier one."""
    rng = random.Random(seed)
    docs: list[str] = []
    vocab = WORDS + [f"w{i}" for i in range(5000)]
    for i in range(n):
        if i % 20 == 19:
            docs.append(" ".join(edit_words(docs[rng.randrange(i)].split(), 0.05, rng, vocab)))
        else:
            docs.append(" ".join(rng.choices(vocab, k=rng.randint(50, 400))))
    return docs


def corpus(n: int, workdir: Path, seed: int = 0) -> Path:
    """The synthetic corpus of n documents as an Arrow IPC file (sf_id, sf_text), made once.

    Made in a fresh process: a child that ``run_child`` starts later would otherwise report the
    generator's memory as its own peak.
    """
    path = workdir / f"synthetic_{n}_{seed}.arrow"
    if not path.exists():
        from bench_build import in_fresh_process

        in_fresh_process(write_corpus, n, seed, path)
    return path


def write_corpus(n: int, seed: int, path: Path) -> None:
    """``synthetic(n, seed)`` as an Arrow IPC file (sf_id, sf_text)."""
    import pyarrow as pa

    from splitforge import columns as C

    t = time.perf_counter()
    docs = synthetic(n, seed)
    table = pa.table({C.ID: [f"d{i:08d}" for i in range(n)], C.TEXT: docs})
    with pa.OSFile(str(path.with_suffix(".tmp")), "wb") as sink, \
            pa.ipc.new_file(sink, table.schema) as writer:
        writer.write_table(table, max_chunksize=65_536)
    path.with_suffix(".tmp").rename(path)
    print(f"generated {path} in {time.perf_counter() - t:.1f}s")


def child_minhash(path: str, config: MinHashConfig) -> None:
    """In a fresh process: map the corpus, normalize and MinHash-dedup it; print timings."""
    import pyarrow as pa

    from splitforge.dedup.base import deduplicate
    from splitforge.normalize import add_normalized
    from splitforge.recipe import DedupConfig

    table = pa.ipc.open_file(pa.memory_map(path)).read_all()  # as datasets maps its Arrow files
    t = time.perf_counter()
    table = add_normalized(table)
    normalize_s = time.perf_counter() - t
    t = time.perf_counter()
    result = deduplicate(table, DedupConfig(exact=False, minhash=config))
    dedup_s = time.perf_counter() - t
    print(json.dumps({"normalize": normalize_s, "dedup": dedup_s,
                      "removed": result.stats["rows_removed"]}))


def speed(n: int, sample: int, config: MinHashConfig, workdir: Path) -> None:
    """splitforge end to end on n docs (child process); datasketch's paths on a sample."""
    import sys

    import datasketch
    import pyarrow as pa
    from bench_build import run_child

    path = corpus(n, workdir)
    _, peak, out = run_child([sys.executable, __file__, "--child-minhash", str(path),
                              "--threshold", str(config.threshold), "--ngram", str(config.ngram)])
    t = json.loads(out.strip().splitlines()[-1])
    total = t["normalize"] + t["dedup"]
    print(f"splitforge minhash, {n:,} docs on {os.cpu_count()} cores: normalize "
          f"{t['normalize']:.1f}s + shingles/signatures/LSH/verify/clusters {t['dedup']:.1f}s = "
          f"{total:.1f}s = {n / total:,.0f} docs/s ({n / t['dedup']:,.0f} docs/s without "
          f"normalize), {t['removed']:,} removed; peak RSS {peak:,.0f} MB (the main process, "
          f"corpus of {path.stat().st_size / 1e6:,.0f} MB mapped; workers hold one batch each)")
    docs = pa.ipc.open_file(pa.memory_map(str(path))).read_all().column("sf_text")
    docs = docs.slice(0, sample).to_pylist()
    part = [" ".join(d.lower().split()) for d in docs]
    t0 = time.perf_counter()
    shingles = [[" ".join(w[i:i + config.ngram]).encode() for i in
                 range(max(1, len(w) - config.ngram + 1))] for w in (d.split() for d in part)]
    hashes = datasketch.MinHash.bulk(shingles, num_perm=config.num_perm)
    lsh = datasketch.MinHashLSH(threshold=config.threshold, num_perm=config.num_perm)
    for i, m in enumerate(hashes):
        lsh.insert(i, m)
    for m in hashes:
        lsh.query(m)
    bulk = time.perf_counter() - t0
    print(f"datasketch MinHash.bulk + MinHashLSH.insert/query (1 process): {sample:,} docs in "
          f"{bulk:.1f}s = {sample / bulk:,.0f} docs/s; splitforge end to end is "
          f"{(n / total) / (sample / bulk):.1f}x that")
    few = min(sample, 2000)
    t0 = time.perf_counter()
    for sh in shingles[:few]:
        m = datasketch.MinHash(num_perm=config.num_perm)
        for s in sh:
            m.update(s)
    loop = time.perf_counter() - t0
    print(f"datasketch MinHash.update per shingle: {few:,} docs in {loop:.1f}s = "
          f"{few / loop:,.0f} docs/s")


PARAPHRASE = ALPACA.parents[1] / "paraphrase"


def semantic_quality(threshold: float) -> None:
    """Precision/recall of 'cosine >= threshold' against paraphrase labels (MRPC, STS-B >= 4)."""
    from splitforge.embed import TfidfEmbedder

    sets = []
    mrpc = [json.loads(line) for line in (PARAPHRASE / "mrpc_test.jsonl").open()]
    sets.append(("MRPC test (label 1)", mrpc, lambda r: r["label"] == 1))
    with gzip.open(PARAPHRASE / "stsb_en_zh.jsonl.gz", "rt", encoding="utf-8") as handle:
        stsb = [json.loads(line) for line in handle]
    for lang in ("en", "zh"):
        rows = [r for r in stsb if r["lang"] == lang and r["split"] == "test"]
        sets.append((f"STS-B {lang} test (score >= 4)", rows, lambda r: r["score"] >= 4))
    for name, rows, positive in sets:
        texts = [r["sentence1"] for r in rows] + [r["sentence2"] for r in rows]
        vectors = TfidfEmbedder(seed=0).fit(texts).embed(texts)
        cos = (vectors[: len(rows)] * vectors[len(rows):]).sum(axis=1)
        truth = np.array([positive(r) for r in rows])
        flagged = cos >= threshold
        precision = (flagged & truth).sum() / max(1, flagged.sum())
        recall = (flagged & truth).sum() / max(1, truth.sum())
        print(f"semantic tfidf @ {threshold}: {name}: {flagged.sum()} of {len(rows)} pairs "
              f"flagged, precision {precision:.1%}, recall {recall:.1%} "
              f"(of {truth.sum()} positives)")


def semantic_speed(n: int, queries: int = 2000, real: bool = True) -> None:
    """Embedding + faiss self-kNN of n documents, and IVF recall@10 against exact search.

    ``real``: Alpaca's English and Chinese rows (topical text, 104k documents); otherwise the
    synthetic corpus, whose documents all draw from one uniform vocabulary: no topical structure,
    the worst case for an IVF index (its lists come out unbalanced).
    """
    from splitforge.embed import TfidfEmbedder, build_index

    if real:
        docs = load_texts("en", 52_002) + load_texts("zh", 52_002)
        docs = docs[:n]
        name = f"Alpaca en+zh, {len(docs):,} docs"
    else:
        docs = synthetic(n, seed=1)
        name = f"synthetic, {n:,} docs"
    t = time.perf_counter()
    vectors = TfidfEmbedder(seed=0).fit(docs).embed(docs)
    embed_s = time.perf_counter() - t
    t = time.perf_counter()
    index, kind = build_index(vectors, exact_below=50_000)
    _, approx = index.search(vectors, 11)
    search_s = time.perf_counter() - t
    flat, _ = build_index(vectors[:0], exact_below=10**9)
    flat.add(vectors)
    sample = np.random.default_rng(0).choice(len(docs), queries, replace=False)
    _, exact = flat.search(vectors[sample], 11)
    recall = np.mean([len(set(a) & set(e)) / 11 for a, e in zip(approx[sample], exact,
                                                                 strict=True)])
    print(f"semantic ({name}): embedded in {embed_s:.1f}s + {kind} self-kNN (k=10 besides "
          f"itself) in {search_s:.1f}s = {embed_s + search_s:.1f}s on {os.cpu_count()} cores; "
          f"recall@10 vs exact on {queries:,} queries {recall:.1%}; peak RSS {peak_mb():,.0f} MB")


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=20_000)
    parser.add_argument("--threshold", type=float, default=MinHashConfig().threshold)
    parser.add_argument("--ngram", type=int, default=MinHashConfig().ngram)
    parser.add_argument("--char-ngram", type=int, default=MinHashConfig().char_ngram)
    parser.add_argument("--semantic-threshold", type=float, default=0.92)
    parser.add_argument("--speed-docs", type=int, default=100_000,
                        help="documents for the speed run (0 skips it)")
    parser.add_argument("--sample", type=int, default=100_000,
                        help="documents for datasketch's own paths")
    parser.add_argument("--workdir", type=Path, default=Path(tempfile.gettempdir()) / "sf-bench")
    parser.add_argument("--skip-quality", action="store_true")
    parser.add_argument("--synthetic-semantic", action="store_true",
                        help="also time the semantic tier on the synthetic corpus (worst case)")
    parser.add_argument("--child-minhash", help=argparse.SUPPRESS)
    args = parser.parse_args()
    config = MinHashConfig(threshold=args.threshold, ngram=args.ngram, char_ngram=args.char_ngram)
    if args.child_minhash:
        child_minhash(args.child_minhash, config)
        return
    args.workdir.mkdir(parents=True, exist_ok=True)
    timed = args.speed_docs or args.skip_quality
    if timed:  # first: its child would report a peak RSS the quality passes left in this process
        speed(args.speed_docs, min(args.sample, args.speed_docs), config, args.workdir)
    if not args.skip_quality:
        for lang in ("en", "zh"):
            t = time.perf_counter()
            quality(lang, args.rows, config)
            print(f"  ({time.perf_counter() - t:.1f}s, peak RSS {peak_mb():,.0f} MB)")
        semantic_quality(args.semantic_threshold)
    if timed:
        semantic_speed(min(args.speed_docs, 104_004))
        if args.synthetic_semantic and not args.skip_quality:
            semantic_speed(min(args.speed_docs, 100_000), real=False)


if __name__ == "__main__":
    main()
