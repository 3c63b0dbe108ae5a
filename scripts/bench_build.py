"""Benchmark `splitforge build` on a synthetic JSONL corpus, or on real instruction data.

Default: a synthetic corpus (exact dedup, temporal split, the default audit with its leak links);
prints the build's stage times, rows/s and peak memory (RSS of its largest process; PSS of it and
its workers summed: what the machine must hold), run in a child process so that the generator's
memory does not count, next to a plain pandas baseline (read_json + normalized drop_duplicates +
time cutoffs) measured in the same run.

    .venv/bin/python scripts/bench_build.py --rows 1000000

``--chat``, ``--template`` and ``--zh`` build real Alpaca rows (../shared/data/instruct) with the
recipe ``splitforge init`` writes (exact dedup, random 80/10/10, the default audit), as
``messages`` that all open with one 60-word system prompt (``--chat``; ``--zh``: Chinese rows and a
Chinese system prompt), or as ``text`` in the Alpaca prompt template (``--template``). English and
Chinese rows are mixed when more rows are asked for than one language has. 1% of the rows are
planted near copies of another row (user turn re-cased, re-punctuated or with one word added, same
answer). Printed: wall time, peak RSS, exit code, the own audit's verdicts, the val/test shares, and
how many planted copies ended in another split than their original (must be 0).

    .venv/bin/python scripts/bench_build.py --chat --rows 100000

``--commits`` and ``--titles`` build the 98k real commit messages (../shared/data/temporal) with
the init recipe's exact dedup and default audit, a temporal split (80/10/10, 3-day gap) grouped by
repository (``--commits``: subject and body) or by author (``--titles``: the subject only, a short
title). 400 planted reposts copy a subject with one change each (case, punctuation, a year tag, a
"Show HN:"-style prefix, one word changed), dated 1-60 days after their original, in its
repository but by another author (so grouping by author does not keep a repost with its
original). Printed as for the instruction modes, plus the planted reposts that straddle splits per
kind of change, and the shares of the kept rows against the recipe's.

    .venv/bin/python scripts/bench_build.py --titles
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

WORDS = (
    "model data train eval split test leak token prompt answer question user system the a of to "
    "and in is for on with how what why when please explain write code python function list "
    "value error fix bug update readme docs add remove refactor support chinese english 模型 数据 "
    "评估 微调 训练 测试 问题 回答"
).split()


def generate(path: Path, rows: int, seed: int = 0) -> None:
    """Write `rows` JSONL records: id, text (20-80 words), ISO time, group; ~5% exact duplicates."""
    rng = random.Random(seed)
    start = datetime(2020, 1, 1, tzinfo=UTC)
    recent: list[str] = []
    with open(path, "w", encoding="utf-8") as handle:
        for i in range(rows):
            if recent and rng.random() < 0.05:
                text = rng.choice(recent)
                text = text.upper() if rng.random() < 0.5 else "  " + text.replace(" ", "\n", 1)
            else:
                text = " ".join(rng.choices(WORDS, k=rng.randint(20, 80)))
                if len(recent) < 10_000:
                    recent.append(text)
                else:
                    recent[rng.randrange(len(recent))] = text
            when = start + timedelta(seconds=rng.randrange(5 * 365 * 86400))
            record = {"id": f"doc-{i:07d}", "text": text, "created_at": when.isoformat(),
                      "user": f"user-{rng.randrange(rows // 20 + 1)}"}
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")


RECIPE = """\
name: bench
seed: 1
sources:
  - path: {path}
fields:
  id: id
  text: text
  time: created_at
dedup:
  exact: true
split:
  method: temporal
  ratios: {{train: 0.8, val: 0.1, test: 0.1}}
  gap: 1d
output:
  dir: {out}
"""

BASELINE = """\
import sys, time, pandas as pd
t = time.perf_counter()
df = pd.read_json(sys.argv[1], lines=True)
norm = df["text"].str.normalize("NFKC").str.casefold().str.split().str.join(" ")
df["t"] = pd.to_datetime(df["created_at"], utc=True, format="ISO8601")
df = df.assign(norm=norm).sort_values(["t", "id"]).drop_duplicates("norm")
q = df["t"].quantile([0.8, 0.9])
lo, hi = q.iloc[0], q.iloc[1]
train, val, test = df[df.t < lo], df[(df.t >= lo) & (df.t < hi)], df[df.t >= hi]
for name, part in (("train", train), ("val", val), ("test", test)):
    part.drop(columns=["norm", "t"]).to_parquet(sys.argv[2] + f"/{name}.parquet")
print(time.perf_counter() - t)
"""


def in_fresh_process(fn: Callable[..., None], *args: Any) -> None:
    """``fn(*args)`` in a spawned interpreter, for work (making test data) that must not count.

    Linux carries a process's peak RSS across fork and exec, so a ``run_child`` started after
    this process grew would report this process's peak, not its own.
    """
    import multiprocessing

    proc = multiprocessing.get_context("spawn").Process(target=fn, args=args)
    proc.start()
    proc.join()
    if proc.exitcode != 0:
        sys.exit(f"{fn.__name__} failed (exit code {proc.exitcode})")


def build_child(recipe: Path) -> tuple[float, float, int, str]:
    """``splitforge build RECIPE --force`` without the stage cache, in a child process.

    Returns its seconds, peak RSS (MB), exit code and output.
    """
    cmd = [sys.executable, "-m", "splitforge", "build", str(recipe), "--force",
           "--output.cache", "false"]  # every stage timed, none read from the stage cache
    with tempfile.TemporaryFile() as log:
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - start
        log.seek(0)
        output = log.read().decode("utf-8", "replace")
    return seconds, usage.ru_maxrss / 1024, os.waitstatus_to_exitcode(status), output


def run_child(cmd: list[str]) -> tuple[float, float, str]:
    """Run a command; return (seconds, peak RSS in MB of that child alone via wait4, stdout)."""
    with tempfile.TemporaryFile() as log, tempfile.TemporaryFile() as out:
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=out, stderr=log)
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - start
        log.seek(0)
        stderr = log.read().decode("utf-8", "replace")
        out.seek(0)
        stdout = out.read().decode("utf-8", "replace")
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit(f"command failed: {' '.join(cmd)}\n{stderr[-3000:]}")
    return seconds, usage.ru_maxrss / 1024, stdout


def tree_memory_mb(pid: int) -> tuple[float, float]:
    """Memory of a process and all of its descendants (its workers), in MB, now.

    Returns the summed RSS, and the summed PSS (a page shared by k of them counts 1/k in each:
    what the machine holds for them, when workers map one copy of an index).
    """
    parents: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            parents[int(stat.parent.name)] = int(fields[1])
        except (OSError, IndexError, ValueError):
            continue
    tree, frontier = {pid}, [pid]
    while frontier:
        frontier = [p for p, parent in parents.items() if parent in frontier and p not in tree]
        tree.update(frontier)
    rss = pss = 0
    for p in tree:
        try:
            for line in Path(f"/proc/{p}/smaps_rollup").read_text().splitlines():
                if line.startswith("Rss:"):
                    rss += int(line.split()[1])
                elif line.startswith("Pss:"):
                    pss += int(line.split()[1])
        except (OSError, IndexError, ValueError):
            continue
    return rss / 1024, pss / 1024


def run_sampled(cmd: list[str]) -> tuple[float, float, float, float, str]:
    """``run_child``, and the peak memory of the child and its workers together.

    Returns (seconds, peak RSS of the largest process, peaks of the process tree's summed RSS
    and summed PSS sampled every 0.2 s, output). The PSS figure is what the machine must hold.
    """
    import threading

    with tempfile.TemporaryFile() as log:
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
        peaks = [0.0, 0.0]
        done = threading.Event()

        def sample() -> None:
            while not done.wait(0.2):
                rss, pss = tree_memory_mb(proc.pid)
                peaks[0], peaks[1] = max(peaks[0], rss), max(peaks[1], pss)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - start
        done.set()
        sampler.join()
        log.seek(0)
        output = log.read().decode("utf-8", "replace")
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit(f"command failed: {' '.join(cmd)}\n{output[-3000:]}")
    return seconds, usage.ru_maxrss / 1024, peaks[0], peaks[1], output


ALPACA = (Path(__file__).resolve().parents[1].parent / "shared" / "data" / "instruct"
          / "alpaca_en_zh_52k.jsonl.gz")
SYSTEM_EN = (
    "You are a helpful, respectful and honest assistant. Always answer as helpfully as possible, "
    "while being safe. Your answers should not include any harmful, unethical, racist, sexist, "
    "toxic, dangerous, or illegal content. Please ensure that your responses are socially unbiased "
    "and positive in nature. If a question does not make any sense, explain why instead of "
    "answering something not correct."
)
SYSTEM_ZH = (
    "你是一个乐于助人、尊重他人且诚实的助手。请始终尽可能有帮助地回答，同时确保安全。你的回答不应包含任何有害、"
    "不道德、种族主义、性别歧视、有毒、危险或非法的内容。请确保你的回答在社会上没有偏见并且是积极的。如果一个问题"
    "没有任何意义，请解释原因，而不是回答不正确的内容。"
)
TEMPLATE_INPUT = (
    "Below is an instruction that describes a task, paired with an input that provides further "
    "context. Write a response that appropriately completes the request.\n\n### Instruction:\n"
    "{instruction}\n\n### Input:\n{input}\n\n### Response:\n{output}"
)
TEMPLATE = (
    "Below is an instruction that describes a task. Write a response that appropriately completes "
    "the request.\n\n### Instruction:\n{instruction}\n\n### Response:\n{output}"
)
INIT_RECIPE = """\
name: {name}
seed: 7
sources:
  - path: {path}
fields:
  id: id
  {field}
dedup:
  exact: true
split:
  method: {method}
  ratios: {{train: 0.8, val: 0.1, test: 0.1}}{gap}
output:
  dir: {out}
  formats: [parquet]
"""  # what `splitforge init` writes, with the fields and split of each mode


def _plant(text: str, rng: random.Random) -> str:
    """A near copy of a user turn: re-cased, re-punctuated, or one word added."""
    kind = rng.randrange(3)
    if kind == 0:
        return text.upper() if rng.random() < 0.5 else text.lower()
    if kind == 1:
        return text.rstrip(".?!。？！") + rng.choice(["!", "?!", " ...", "。"])
    words = text.split(" ")
    words.insert(rng.randrange(len(words) + 1), rng.choice(["please", "kindly", "now", "请"]))
    return " ".join(words)


def instruction_rows(rows: int, langs: list[str], seed: int = 0) -> list[dict[str, str]]:
    """Real Alpaca rows (instruction, input, output) in the given languages, 1% planted copies."""
    import gzip

    out: list[dict[str, str]] = []
    with gzip.open(ALPACA, "rt", encoding="utf-8") as handle:
        records = [json.loads(line) for line in handle]
    for lang in langs:
        for i, r in enumerate(records):
            if r[f"{lang}_instruction"].strip() and r[f"{lang}_output"].strip():
                out.append({"id": f"{lang}-{i:05d}", "lang": lang,
                            "instruction": r[f"{lang}_instruction"], "input": r[f"{lang}_input"],
                            "output": r[f"{lang}_output"]})
    rng = random.Random(seed)
    planted = max(1, rows // 100)
    base = out[:rows - planted]
    for k, original in enumerate(rng.sample(base, planted)):
        base.append({**original, "id": f"planted-{k:05d}", "of": original["id"],
                     "instruction": _plant(original["instruction"], rng)})
    return base


def write_instruction_corpus(path: Path, rows: int, mode: str) -> None:
    """JSONL of real instruction rows as chat messages with a system prompt, or templated text."""
    langs = ["zh"] if mode == "zh" else ["en", "zh"]
    with open(path, "w", encoding="utf-8") as handle:
        for r in instruction_rows(rows, langs):
            user = r["instruction"] + (("\n\n" + r["input"]) if r["input"] else "")
            if mode == "template":
                form = TEMPLATE_INPUT if r["input"] else TEMPLATE
                record = {"id": r["id"], "text": form.format(**r)}
            else:
                system = SYSTEM_ZH if mode == "zh" else SYSTEM_EN
                record = {"id": r["id"], "messages": [
                    {"role": "system", "content": system}, {"role": "user", "content": user},
                    {"role": "assistant", "content": r["output"]}]}
            if "of" in r:
                record["planted_of"] = r["of"]
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")


def words_of(record: dict[str, Any]) -> list[str]:
    """The words of a record's user and assistant text (a CJK character is a word), lowercased."""
    import re

    text = record.get("text") or " ".join(m["content"] for m in record["messages"][1:])
    return re.findall(r"[\u3400-\u9fff]|[^\W_]+", text.lower())


def word_overlap(a: dict[str, Any], b: dict[str, Any]) -> float:
    """Shared distinct words over the distinct words of the shorter record."""
    x, y = set(words_of(a)), set(words_of(b))
    if not x and not y:  # punctuation alone ("-", "?"): compare the texts
        return 1.0 if (a.get("text") or "").strip() == (b.get("text") or "").strip() else 0.0
    return len(x & y) / max(1, min(len(x), len(y)))


def instruction_bench(args: argparse.Namespace, mode: str) -> None:
    """Build real instruction rows with the init recipe; print time, memory, audit and shares."""
    import pyarrow.parquet as pq

    data = args.workdir / f"{mode}_{args.rows}.jsonl"
    if not data.exists():
        in_fresh_process(write_instruction_corpus, data, args.rows, mode)
    field = "text: text" if mode == "template" else "messages: messages"
    recipe = args.workdir / f"{mode}.yaml"
    out = args.workdir / f"out-{mode}"
    recipe.write_text(INIT_RECIPE.format(name=mode, path=data, field=field, method="random",
                                         gap="", out=out), encoding="utf-8")
    seconds, peak, code, text = build_child(recipe)
    print(f"splitforge build --{mode}: {args.rows:,} rows in {seconds:.1f}s, peak RSS "
          f"{peak:,.0f} MB, exit {code}")
    if code != 0:
        print(text[-2000:])
        return
    folder = (out / mode / "latest").resolve()
    manifest = json.loads((folder / "manifest.json").read_text())
    audit = manifest["stages"].get("audit", {})
    print(f"  own audit: {audit.get('verdicts')}")
    splits = manifest["counts"]["splits"]
    total = sum(splits.values())
    print("  shares: " + ", ".join(f"{k} {v / total:.3f}" for k, v in splits.items())
          + f" of {total:,} kept; removed {manifest['counts']['removed_by_reason']}")
    where: dict[str, str] = {}
    for name in ("train", "val", "test"):
        for i in pq.read_table(folder / f"{name}.parquet", columns=["id"]).column(0).to_pylist():
            where[i] = name
    planted = [json.loads(line) for line in data.open(encoding="utf-8")]
    planted = [(r["id"], r["planted_of"]) for r in planted if "planted_of" in r]
    apart = [(p, o) for p, o in planted if p in where and o in where and where[p] != where[o]]
    print(f"  planted near copies: {len(planted)}, in another split than their original: "
          f"{len(apart)}{' e.g. ' + str(apart[:3]) if apart else ''}")
    links = [r for r in pq.read_table(folder / "removed.parquet").to_pylist()
             if r["sf_reason"] == "leak_link"]
    rows = {r["id"]: r for r in map(json.loads, data.open(encoding="utf-8"))}
    loose = [(r["id"], r["sf_kept_id"]) for r in links
             if word_overlap(rows[r["id"]], rows[r["sf_kept_id"]]) < 0.5]
    short = [r for r in links if len(words_of(rows[r["id"]])) <= 12]
    # the corpus is parallel: en-N and zh-N are one Alpaca row and its translation, a true copy
    # that no word count can see
    translated = [(a, b) for a, b in loose if {a[:3], b[:3]} == {"en-", "zh-"}
                  and a[3:] == b[3:]]
    others = [pair for pair in loose if pair not in translated]
    print(f"  leak links: {len(links)} removed ({len(short)} with <= 12 words); sharing fewer "
          f"than half their words with the linked row: {len(loose)} "
          f"({len(loose) / max(1, len(links)):.1%}){' e.g. ' + str(loose[:3]) if loose else ''}"
          f"; of them the same row in English and Chinese: {len(translated)}, others: "
          f"{len(others)} ({len(others) / max(1, len(links)):.1%})"
          f"{' e.g. ' + str(others[:3]) if others else ''}")
    for name in ("boilerplate", "similarity"):
        if name in manifest["stages"]:
            print(f"  {name}: {json.dumps(manifest['stages'][name])[:600]}")


COMMITS = (Path(__file__).resolve().parents[1].parent / "shared" / "data" / "temporal"
           / "oss_commit_messages.jsonl.gz")
REPOST_KINDS = ("case", "punct", "tag", "prefix", "word")


def _repost(subject: str, kind: str, vocab: list[str], rng: random.Random) -> str | None:
    """One planted change of a subject line, or None when the kind does not apply."""
    if kind == "case":
        changed = subject.upper() if subject != subject.upper() else subject.lower()
    elif kind == "punct":
        changed = subject.rstrip(".!?") + rng.choice(["!", "?", ".", " ..."])
    elif kind == "tag":
        changed = f"{subject} ({rng.choice(['2019', '2021', 'v2', '#1234'])})"
    elif kind == "prefix":
        changed = rng.choice(["Show HN: ", "Re: ", "[WIP] ", "fixup: "]) + subject
    else:
        words = subject.split()
        if len(words) < 3:
            return None
        words[rng.randrange(len(words))] = rng.choice(vocab)
        changed = " ".join(words)
    return changed if changed != subject else None


def write_commit_corpus(path: Path, mode: str, seed: int = 0) -> None:
    """The real commit messages as JSONL (id, subject, body, time, repo, author) with reposts."""
    import gzip
    from datetime import datetime

    with gzip.open(COMMITS, "rt", encoding="utf-8") as handle:
        records = [json.loads(line) for line in handle]
    rows = [{"id": r["sha"], "subject": r["subject"], "body": r["body"], "time": r["commit_date"],
             "repo": r["repo"], "author": r["author"]} for r in records if r["subject"].strip()]
    rng = random.Random(seed)
    vocab = sorted({w for r in rows[:5000] for w in r["subject"].split() if w.isalpha()})
    planted = 0
    for original in rng.sample(rows, 2000):
        if planted >= 400:
            break
        kind = REPOST_KINDS[planted % len(REPOST_KINDS)]
        changed = _repost(original["subject"], kind, vocab, rng)
        if changed is None:
            continue
        when = datetime.fromisoformat(original["time"]) + timedelta(days=rng.randint(1, 60))
        rows.append({**original, "id": f"repost-{planted:04d}", "subject": changed,
                     "time": when.isoformat(), "planted_of": original["id"],
                     "planted_kind": kind, "author": f"reposter-{planted:04d}"})
        planted += 1
    with open(path, "w", encoding="utf-8") as handle:
        for r in rows:
            handle.write(json.dumps(r, ensure_ascii=False) + "\n")


def commits_bench(args: argparse.Namespace, mode: str) -> None:
    """Build the commit messages with the init recipe, temporal and grouped; print the figures."""
    import pyarrow.parquet as pq

    data = args.workdir / f"{mode}.jsonl"
    if not data.exists():
        in_fresh_process(write_commit_corpus, data, mode)
    text, group = ("'{subject}\\n\\n{body}'", "repo") if mode == "commits" else ("subject",
                                                                                 "author")
    recipe = args.workdir / f"{mode}.yaml"
    out = args.workdir / f"out-{mode}"
    field = f"text: {text}\n  time: time\n  group: {group}"
    recipe.write_text(INIT_RECIPE.format(name=mode, path=data, field=field, method="temporal",
                                         gap="\n  gap: 3d", out=out), encoding="utf-8")
    seconds, peak, code, output = build_child(recipe)
    rows = {r["id"]: r for r in map(json.loads, data.open(encoding="utf-8"))}
    print(f"splitforge build --{mode}: {len(rows):,} rows in {seconds:.1f}s, peak RSS "
          f"{peak:,.0f} MB, exit {code}")
    for line in output.splitlines():
        if line.startswith(("warning", "note")):
            print("  " + line)
    if code != 0:
        print(output[-2000:])
        return
    folder = (out / mode / "latest").resolve()
    manifest = json.loads((folder / "manifest.json").read_text())
    print(f"  own audit: {manifest['stages']['audit']['verdicts']}")
    splits = manifest["counts"]["splits"]
    total = sum(splits.values())
    print("  shares of the kept rows: " + ", ".join(f"{k} {v / total:.3f}"
                                                     for k, v in splits.items())
          + f" of {total:,} (asked 0.8/0.1/0.1); removed {manifest['counts']['removed_by_reason']}")
    where: dict[str, str] = {}
    for name in ("train", "val", "test"):
        for i in pq.read_table(folder / f"{name}.parquet", columns=["id"]).column(0).to_pylist():
            where[i] = name
    by_kind = {k: [0, 0] for k in REPOST_KINDS}
    apart = []
    for r in rows.values():
        if "planted_of" in r:
            by_kind[r["planted_kind"]][0] += 1
            a, b = where.get(r["id"]), where.get(r["planted_of"])
            if a and b and a != b:
                by_kind[r["planted_kind"]][1] += 1
                apart.append((r["id"], r["subject"][:50], rows[r["planted_of"]]["subject"][:50]))
    print("  planted reposts in another split than their original, per kind: "
          + ", ".join(f"{k} {n[1]}/{n[0]}" for k, n in by_kind.items())
          + (f"; e.g. {apart[:3]}" if apart else ""))

    def record(i: str) -> dict[str, Any]:
        r = rows[i]
        return {"text": r["subject"] if mode == "titles" else r["subject"] + " " + r["body"]}

    gone = pq.read_table(folder / "removed.parquet").to_pylist()
    linked = [r for r in gone if r["sf_reason"] in ("leak_link", "exact_duplicate")]
    loose = [(r["id"], r["sf_kept_id"]) for r in linked if r["sf_kept_id"] in rows
             and word_overlap(record(r["id"]), record(r["sf_kept_id"])) < 0.5]
    print(f"  removed or linked as similar: {len(linked)}; sharing fewer than half their words "
          f"with their partner: {len(loose)} ({len(loose) / max(1, len(linked)):.1%})"
          + (f" e.g. {[(record(a)['text'][:40], record(b)['text'][:40]) for a, b in loose[:3]]}"
             if loose else ""))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    for mode in ("chat", "template", "zh"):
        parser.add_argument(f"--{mode}", action="store_true",
                            help=f"real instruction rows, {mode} form (see the docstring)")
    for mode in ("commits", "titles"):
        parser.add_argument(f"--{mode}", action="store_true",
                            help=f"real commit messages, {mode} (see the docstring)")
    parser.add_argument("--workdir", type=Path, default=Path(tempfile.gettempdir()) / "sf-bench")
    parser.add_argument("--no-baseline", action="store_true", help="skip the pandas baseline")
    args = parser.parse_args()
    args.workdir.mkdir(parents=True, exist_ok=True)
    modes = [m for m in ("chat", "template", "zh") if getattr(args, m)]
    temporal = [m for m in ("commits", "titles") if getattr(args, m)]
    if modes or temporal:
        for mode in modes:
            instruction_bench(args, mode)
        for mode in temporal:
            commits_bench(args, mode)
        return
    data = args.workdir / f"synthetic_{args.rows}.jsonl"
    if not data.exists():
        t = time.perf_counter()
        generate(data, args.rows)
        print(f"generated {data} ({data.stat().st_size / 1e6:.0f} MB) in "
              f"{time.perf_counter() - t:.1f}s")
    recipe = args.workdir / "bench.yaml"
    recipe.write_text(RECIPE.format(path=data, out=args.workdir / "out"), encoding="utf-8")

    seconds, peak, rss, pss, output = run_sampled([sys.executable, "-m", "splitforge", "build",
                                                   str(recipe), "--force", "--output.cache",
                                                   "false"])
    print(output.rstrip())
    print(f"splitforge build: {args.rows:,} rows in {seconds:.1f}s = "
          f"{args.rows / seconds:,.0f} rows/s, peak RSS {peak:,.0f} MB in one process; with "
          f"its workers: peak PSS {pss:,.0f} MB (RSS summed {rss:,.0f} MB, shared pages counted "
          f"in each) (process start included)")
    if not args.no_baseline:
        out = args.workdir / "baseline"
        out.mkdir(exist_ok=True)
        script = args.workdir / "baseline.py"
        script.write_text(textwrap.dedent(BASELINE), encoding="utf-8")
        seconds, peak_b, _ = run_child([sys.executable, str(script), str(data), str(out)])
        print(f"pandas baseline (no ids, groups, gap, manifest or checks): {args.rows:,} rows in "
              f"{seconds:.1f}s = {args.rows / seconds:,.0f} rows/s, peak RSS {peak_b:,.0f} MB")


if __name__ == "__main__":
    main()
