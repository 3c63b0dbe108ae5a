"""Contamination audit speed, memory and recall: an eval set against a large synthetic corpus.

The corpus is ``bench_dedup.synthetic`` (documents of 50-400 words over a 5,000-word vocabulary).
The eval set has ``--eval-items`` items of 8-60 words (so some are shorter than a 13-gram). Planted
contamination: 500 eval items copied verbatim into the middle of longer training documents, and
500 eval items with ~10% of their words edited, each as a training document of its own.

Each method runs in a child process (peak RSS from ``os.wait4``): exact + containment, 13-gram
overlap, MinHash (word bigrams, threshold 0.5), and all three in one pass over all cores. The
plain-Python baseline (a ``set`` of every training 13-gram string) runs on a sample of at most
``--baseline-docs`` documents, since at 1M documents its set would not fit in memory; it cannot
check items shorter than 13 words, so it skips them as such tools do.

    .venv/bin/python scripts/bench_audit.py [--train-docs 1000000] [--eval-items 10000]

``--real`` runs a real-text setting instead: GSM8K test (1,319 questions) as the eval set against
8,648 training rows (8,000 Alpaca rows, 300 test questions copied verbatim, 300 with 5% of their
words dropped, 48 hand-written paraphrases from tests/data/gsm8k_variants.jsonl), through
``splitforge audit`` in a child process, with the default methods (all four) on a cold and on a
warm vector cache, with today's NumPy encoder (``SPLITFORGE_EMBEDDING_BACKEND=numpy``, the
encoder before ONNX Runtime) and without the embedding check. It prints wall and CPU seconds
(user + system of the child, all cores), peak RSS and what each run found.

``--long DOCS`` runs the long-document setting (issue #23): DOCS documents of 300-900 words of
real Alpaca answers against GSM8K test, then the same answers one per row, each through
``splitforge audit`` with all four methods on a cold vector cache; it prints CPU seconds per
million training words of both, and how many passages the long texts were read as.

``--methods embedding`` times the paraphrase check (character TF-IDF retrieval per item and per
sentence over the corpus, then MiniLM on the retrieved candidates); it is not part of ``all``
and is far slower per document, so give it a smaller corpus (``--train-docs 100000``).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_build import ALPACA, in_fresh_process, run_child  # noqa: E402
from bench_dedup import edit_words, synthetic  # noqa: E402

PLANTED = 500
METHODS = ("exact", "ngram", "minhash", "all", "embedding")


def data_folder(train_docs: int, eval_items: int, workdir: Path) -> Path:
    return workdir / f"audit_{train_docs}_{eval_items}"


def make_data(train_docs: int, eval_items: int, workdir: Path) -> None:
    """The training corpus, eval set and planted pairs under a folder, made once per size.

    Run it with ``in_fresh_process``: the corpus takes GBs in memory, which the children that
    ``run_child`` starts afterwards would otherwise report as their own peak.
    """
    folder = data_folder(train_docs, eval_items, workdir)
    if (folder / "planted.json").exists():
        return
    folder.mkdir(parents=True, exist_ok=True)
    t = time.perf_counter()
    rng = random.Random(0)
    train = synthetic(train_docs, seed=0)
    # synthetic() makes every 20th document an edited copy of an earlier one: drop those, so
    # that eval items are not near copies of each other (nor of each other's planted copies)
    originals = [d for i, d in enumerate(synthetic(eval_items * 20 // 19 + 20, seed=1))
                 if i % 20 != 19]
    evals = [" ".join(doc.split()[:rng.randint(8, 60)]) for doc in originals[:eval_items]]
    vocab = [f"w{i}" for i in range(5000)]
    chosen = rng.sample(range(eval_items), 2 * PLANTED)
    docs = rng.sample(range(train_docs), 2 * PLANTED)
    verbatim, edited = {}, {}
    for item, doc in zip(chosen[:PLANTED], docs[:PLANTED], strict=True):
        words = train[doc].split()
        cut = rng.randrange(len(words) + 1)
        train[doc] = " ".join(words[:cut] + [evals[item]] + words[cut:])
        verbatim[item] = doc
    for item, doc in zip(chosen[PLANTED:], docs[PLANTED:], strict=True):
        train[doc] = " ".join(edit_words(evals[item].split(), 0.10, rng, vocab))
        edited[item] = doc
    ids = [f"d{i:08d}" for i in range(train_docs)]
    pq.write_table(pa.table({"id": ids, "text": train}), folder / "train.parquet",
                   row_group_size=65536)
    pq.write_table(pa.table({"id": [f"e{i:06d}" for i in range(eval_items)], "text": evals}),
                   folder / "eval.parquet")
    planted = {"verbatim": {str(k): ids[v] for k, v in verbatim.items()},
               "edited": {str(k): ids[v] for k, v in edited.items()}}
    (folder / "planted.json").write_text(json.dumps(planted), encoding="utf-8")
    print(f"generated {train_docs:,} training docs and {eval_items:,} eval items in "
          f"{time.perf_counter() - t:.0f}s ({folder})")


def recall(flagged: np.ndarray, evidence: list | None, planted: dict) -> dict:
    """Share of each planted kind flagged (with the right evidence id), and clean items flagged."""
    out = {}
    for kind, pairs in planted.items():
        items = [int(k) for k in pairs]
        hits = sum(bool(flagged[i]) for i in items)
        right = None if evidence is None else sum(
            bool(flagged[i]) and evidence[i] == pairs[str(i)] for i in items) / len(items)
        out[kind] = (hits / len(items), right)
    dirty = {int(k) for pairs in planted.values() for k in pairs}
    clean = [i for i in range(len(flagged)) if i not in dirty]
    out["clean_flagged"] = int(sum(bool(flagged[i]) for i in clean))
    return out


def child(method: str, folder: Path, num_proc: int, batch_rows: int) -> None:
    """In a fresh process: index the eval set, stream the corpus, print timings and recall."""
    from splitforge.audit import (
        EmbeddingCheck,
        ExactCheck,
        MinHashCheck,
        NgramOverlapCheck,
        iter_training_batches,
        read_eval,
        scan_training,
    )

    planted = json.loads((folder / "planted.json").read_text(encoding="utf-8"))
    t = time.perf_counter()
    _, evals = read_eval(folder / "eval.parquet", "text", "id")
    makers = {"exact": lambda: ExactCheck(evals), "ngram": lambda: NgramOverlapCheck(evals),
              "minhash": lambda: MinHashCheck(evals), "embedding": lambda: EmbeddingCheck(evals)}
    names = ["exact", "ngram", "minhash"] if method == "all" else [method]
    checks = [makers[name]() for name in names]
    build = time.perf_counter() - t
    t = time.perf_counter()
    batches = iter_training_batches(folder / "train.parquet", "text", "id", batch_rows)
    results = scan_training(checks, batches, num_proc=num_proc)
    scan = time.perf_counter() - t
    report = {"build": build, "scan": scan, "rows": results[0].summary["train_rows"]}
    for name, result in zip(names, results, strict=True):
        report[name] = recall(result.flagged, result.evidence_id, planted)
        if name == "ngram":
            report["ngram_any"] = recall(result.score > 0, result.evidence_id, planted)
            report["short_items"] = result.summary["short_items"]
    print(json.dumps(report))


def child_baseline(folder: Path, docs: int, n: int = 13) -> None:
    """In a fresh process: a Python set of every training n-gram string of the first docs."""
    from splitforge.normalize import normalize_text

    planted = json.loads((folder / "planted.json").read_text(encoding="utf-8"))
    evals = [normalize_text(t) for t in pq.read_table(folder / "eval.parquet").column("text")
             .to_pylist()]
    train = pq.ParquetFile(folder / "train.parquet")
    t = time.perf_counter()
    grams: set[str] = set()
    seen, sample_ids = 0, set()
    for batch in train.iter_batches(batch_size=65536, columns=["id", "text"]):
        take = min(batch.num_rows, docs - seen)
        for text in batch.column("text").slice(0, take).to_pylist():
            words = normalize_text(text).split()
            grams.update(" ".join(words[i:i + n]) for i in range(len(words) - n + 1))
        sample_ids.update(batch.column("id").slice(0, take).to_pylist())
        seen += take
        if seen >= docs:
            break
    build = time.perf_counter() - t
    t = time.perf_counter()
    coverage = np.zeros(len(evals))
    for i, text in enumerate(evals):
        words = text.split()
        mine = [" ".join(words[j:j + n]) for j in range(len(words) - n + 1)]
        if mine:  # shorter items have no n-gram: skipped
            coverage[i] = sum(g in grams for g in mine) / len(mine)
    query = time.perf_counter() - t
    in_sample = {kind: {k: v for k, v in pairs.items() if v in sample_ids}
                 for kind, pairs in planted.items()}
    report = {"build": build, "query": query, "docs": seen, "grams": len(grams),
              "planted_in_sample": {k: len(v) for k, v in in_sample.items()},
              "flag": recall(coverage >= 0.5, None,
                             {k: v for k, v in in_sample.items() if v}),
              "any": recall(coverage > 0, None,
                            {k: v for k, v in in_sample.items() if v}),
              "skipped_short": int(sum(len(t.split()) < n for t in evals))}
    print(json.dumps(report))


def show(kind: dict) -> str:
    parts = [f"{k} {hits:.1%}" + (f" (right id {right:.1%})" if right is not None else "")
             for k, (hits, right) in ((k, v) for k, v in kind.items() if k != "clean_flagged")]
    return "recall " + ", ".join(parts) + f"; clean items flagged {kind['clean_flagged']}"


def real_data(workdir: Path) -> tuple[Path, Path, dict[str, set[str]]]:
    """The ``--real`` setting's training and eval files, and the planted eval ids per kind."""
    import gzip

    repo = Path(__file__).resolve().parents[1]
    folder = workdir / "real"
    folder.mkdir(parents=True, exist_ok=True)
    test = [json.loads(line) for line in
            open(repo / "tests" / "data" / "real" / "eval" / "gsm8k_test.jsonl", encoding="utf-8")]
    variants = [json.loads(line) for line in
                open(repo / "tests" / "data" / "gsm8k_variants.jsonl", encoding="utf-8")]
    rows = []
    with gzip.open(ALPACA, "rt", encoding="utf-8") as handle:
        for i, line in zip(range(8000), handle, strict=False):
            r = json.loads(line)
            rows.append({"id": f"alpaca-{i}", "text": "\n".join(
                x for x in (r["en_instruction"], r["en_input"], r["en_output"]) if x)})
    rng = random.Random(0)
    paraphrased = {v["idx"]: v["text"] for v in variants if v["kind"] == "paraphrase"}
    others = [r for r in test if r["idx"] not in paraphrased]
    planted: dict[str, set[str]] = {"verbatim": set(), "edited": set(), "rephrased": set()}
    for k, r in enumerate(others[:600]):
        text = r["question"]
        kind = "verbatim" if k % 2 == 0 else "edited"
        if kind == "edited":
            words = text.split()
            drop = set(rng.sample(range(len(words)), max(1, len(words) // 20)))
            text = " ".join(w for j, w in enumerate(words) if j not in drop)
        rows.append({"id": f"plant-{r['idx']}", "text": text})
        planted[kind].add(f"test-{r['idx']}")
    for idx, text in sorted(paraphrased.items()):
        rows.append({"id": f"plant-{idx}", "text": text})
        planted["rephrased"].add(f"test-{idx}")
    rng.shuffle(rows)
    train, evals = folder / "train.jsonl", folder / "eval.jsonl"
    for path, data in ((train, rows), (evals, [{"id": f"test-{r['idx']}", "text": r["question"]}
                                              for r in test])):
        with open(path, "w", encoding="utf-8") as handle:
            for row in data:
                handle.write(json.dumps(row) + "\n")
    return train, evals, planted


def run_cli(args: list[str], env: dict[str, str]) -> tuple[float, float, float]:
    """``splitforge audit ARGS`` in a child: (wall seconds, CPU seconds, peak RSS in MB)."""
    import subprocess

    start = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "splitforge", "audit", *args], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) not in (0, 1):
        sys.exit(f"splitforge audit failed: {proc.stderr.read().decode()[-2000:]}")
    return seconds, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024


def main_real(workdir: Path) -> None:
    """The ``--real`` runs, one line each."""
    import shutil

    train, evals, planted = real_data(workdir)
    print(f"GSM8K test (1,319) vs {sum(1 for _ in open(train)):,} training rows (8,000 Alpaca "
          f"+ {', '.join(f'{len(v)} {k}' for k, v in planted.items())}); {os.cpu_count()} cores")
    cache = workdir / "real" / "user_cache"
    shutil.rmtree(cache, ignore_errors=True)
    runs = [("all four, ONNX encoder, cold cache", {}, None),
            ("all four, ONNX encoder, warm cache", {}, None),
            ("all four, today's NumPy encoder, cold cache", {"SPLITFORGE_EMBEDDING_BACKEND":
                                                            "numpy"}, "numpy"),
            ("exact, ngram, minhash (no embedding)", {}, "exact,ngram,minhash")]
    for label, extra, option in runs:
        folder = cache if option != "numpy" else workdir / "real" / "numpy_cache"
        if option == "numpy":
            shutil.rmtree(folder, ignore_errors=True)
        env = {**os.environ, "SPLITFORGE_CACHE": str(folder), **extra}
        report = workdir / "real" / "report"
        methods = ["--methods", option] if option and option != "numpy" else []
        wall, cpu, peak = run_cli(["--train", str(train), "--eval", str(evals), "--text", "text",
                                   "--id", "id", "--fail-on", "never", "--report", str(report),
                                   "--force", *methods], env)
        rows = pq.read_table(report / "audit.parquet").to_pylist()
        flagged = {r["eval_id"] for r in rows if r["verdict"] != "clean"}
        dirty = set().union(*planted.values())
        found = ", ".join(f"{k} {len(v & flagged) / len(v):.0%}" for k, v in planted.items())
        print(f"[{label}] {wall:.1f} s wall, {cpu:.1f} CPU-s, peak {peak:,.0f} MB; found {found};"
              f" unplanted flagged {len(flagged - dirty)} of {len(rows) - len(dirty)}")


def main_long(workdir: Path, docs: int) -> None:
    """``--long``: the same training words as long documents and as short rows, one line each.

    ``docs`` documents of 300-900 words of real Alpaca answers (``calibrate_long_documents``),
    then the same answers one per row; GSM8K test (1,319 questions) as the eval set, all four
    methods, a cold vector cache each (issue #23: the long-document audit should cost at most 3x
    the short-row audit of the same words).
    """
    import shutil

    from calibrate_long_documents import documents

    folder = workdir / "long"
    folder.mkdir(parents=True, exist_ok=True)
    paragraphs = documents(docs)
    words = sum(len(p.split()) for d in paragraphs for p in d)
    settings = {"long documents": [{"id": f"doc-{k}", "text": "\n\n".join(d)}
                                   for k, d in enumerate(paragraphs)],
                "short rows": [{"id": f"row-{k}-{j}", "text": p}
                               for k, d in enumerate(paragraphs) for j, p in enumerate(d)]}
    repo = Path(__file__).resolve().parents[1]
    evals = repo / "tests" / "data" / "real" / "eval" / "gsm8k_test.jsonl"
    rows = [json.loads(line) for line in open(evals, encoding="utf-8")]
    eval_file = folder / "eval.jsonl"
    with open(eval_file, "w", encoding="utf-8") as handle:
        for r in rows:
            handle.write(json.dumps({"id": f"test-{r['idx']}", "text": r["question"]}) + "\n")
    print(f"GSM8K test ({len(rows):,}) vs {words:,} words of Alpaca answers; {os.cpu_count()} "
          f"cores; all four methods, cold vector cache")
    for label, data in settings.items():
        train = folder / f"{label.replace(' ', '_')}.jsonl"
        with open(train, "w", encoding="utf-8") as handle:
            for row in data:
                handle.write(json.dumps(row) + "\n")
        cache = folder / "cache"
        shutil.rmtree(cache, ignore_errors=True)
        env = {**os.environ, "SPLITFORGE_CACHE": str(cache)}
        report = folder / "report"
        wall, cpu, peak = run_cli(["--train", str(train), "--eval", str(eval_file), "--text",
                                   "text", "--id", "id", "--fail-on", "never", "--report",
                                   str(report), "--force"], env)
        summary = json.loads((report / "audit.json").read_text(encoding="utf-8"))
        embedding = summary.get("per_check", {}).get("embedding", {})
        print(f"[{label}: {len(data):,} rows] {wall:.1f} s wall, {cpu:.1f} CPU-s "
              f"({cpu / words * 1e6:.0f} CPU-s per million training words), peak {peak:,.0f} MB;"
              f" windows {embedding.get('windows', 0):,} of {embedding.get('long_texts', 0):,} "
              f"long texts")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train-docs", type=int, default=1_000_000)
    parser.add_argument("--eval-items", type=int, default=10_000)
    parser.add_argument("--baseline-docs", type=int, default=100_000,
                        help="documents for the Python-set baseline (0 skips it)")
    parser.add_argument("--methods", default="exact,ngram,minhash,all",
                        help=f"comma-separated, of {', '.join(METHODS)}")
    parser.add_argument("--num-proc", type=int, default=os.cpu_count() or 1,
                        help="processes for the 'all' run (single methods run in one)")
    parser.add_argument("--batch-rows", type=int, default=16384)
    parser.add_argument("--workdir", type=Path,
                        default=Path(tempfile.gettempdir()) / "sf-bench-audit")
    parser.add_argument("--real", action="store_true",
                        help="the real-text setting (GSM8K test vs Alpaca + planted copies)")
    parser.add_argument("--long", type=int, metavar="DOCS", help="the long-document setting: "
                        "DOCS documents of 300-900 words against the same words as short rows")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--folder", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.real:
        main_real(args.workdir)
        return
    if args.long:
        main_long(args.workdir, args.long)
        return
    if args.child == "baseline":
        child_baseline(args.folder, args.baseline_docs)
        return
    if args.child:
        child(args.child, args.folder, args.num_proc, args.batch_rows)
        return
    in_fresh_process(make_data, args.train_docs, args.eval_items, args.workdir)
    folder = data_folder(args.train_docs, args.eval_items, args.workdir)
    cores = os.cpu_count()
    print(f"{args.eval_items:,} eval items vs {args.train_docs:,} training docs; "
          f"{PLANTED} verbatim copies inside longer docs, {PLANTED} ~10%-edited copies as docs; "
          f"{cores} cores")
    for method in args.methods.split(","):
        procs = args.num_proc if method == "all" else 1
        seconds, peak, out = run_child([sys.executable, __file__, "--child", method, "--folder",
                                        str(folder), "--num-proc", str(procs),
                                        "--batch-rows", str(args.batch_rows)])
        r = json.loads(out.strip().splitlines()[-1])
        print(f"\n[{method}] {procs} process(es): {seconds:.1f}s wall (index {r['build']:.1f}s, "
              f"scan {r['scan']:.1f}s) = {r['rows'] / seconds:,.0f} docs/s; peak RSS "
              f"{peak:,.0f} MB (largest single process)")
        for name in ("exact", "ngram", "ngram_any", "minhash", "embedding"):
            if name in r:
                label = {"ngram": "ngram coverage>=0.5", "ngram_any": "ngram any 13-gram"}
                print(f"  {label.get(name, name)}: {show(r[name])}")
        if "short_items" in r:
            print(f"  short items (< 13 words) checked: {r['short_items']:,}")
    if args.baseline_docs:
        seconds, peak, out = run_child([sys.executable, __file__, "--child", "baseline",
                                        "--folder", str(folder), "--baseline-docs",
                                        str(args.baseline_docs)])
        r = json.loads(out.strip().splitlines()[-1])
        print(f"\n[python set of 13-gram strings] on the first {r['docs']:,} docs only "
              f"({r['grams']:,} n-grams): {seconds:.1f}s wall (set {r['build']:.1f}s, "
              f"query {r['query']:.1f}s) = {r['docs'] / seconds:,.0f} docs/s; peak RSS "
              f"{peak:,.0f} MB; planted in that sample: {r['planted_in_sample']}; "
              f"{r['skipped_short']:,} items under 13 words skipped")
        print(f"  coverage>=0.5: {show(r['flag'])}")
        print(f"  any 13-gram: {show(r['any'])}")


if __name__ == "__main__":
    main()
