"""Precision, recall and cost of the hardening: format characters, load checks, hashing.

    python scripts/bench_hardening.py [--quick] [--old-tree /tmp/sf_old] [--sizes 20000,100000]

Three parts, all printed:

1. Precision of dropping Unicode format characters (category Cf) before NFKC, on real short
   texts from ``/work/shared/data``: per text set, the rows, the rows holding a Cf character, and
   exact duplicates (rows with the same normalized text) under the new ``normalize_text`` and the
   old rule (``" ".join(text.lower().split())`` for ASCII, else NFKC + casefold + whitespace), split
   into short (<= 8 words) and long rows. Every pair the new rule links and the old one does not is
   printed with its format characters made visible, so a reader can judge whether it is a copy.
2. Recall: 500 real English and 500 real Chinese texts get zero-width space, ZWJ, soft hyphen or
   BOM inserted at seeded random positions; the share whose normalized form equals the original's.
3. Scale: N chat-like rows sharing one ~2,000-character system prompt (curly quotes, dashes and
   Chinese, so the non-ASCII path runs) plus a short distinct user turn, written as JSONL under
   /tmp; ``load_sources`` and ``add_normalized`` are timed separately, each in a fresh child
   process that reports its own peak RSS (VmHWM) and that of its worker processes. With
   ``--old-tree`` (a checkout of the old commit, e.g. a git worktree) the same children run with
   ``PYTHONPATH`` set to it, so they import the old package.

A "word" below is a run of non-space characters, except that every CJK character counts as one
word (Chinese has no spaces). A row's length bucket is that of its new normalized text, so both
members of a duplicate pair always fall in the same bucket.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import random
import re
import subprocess
import sys
import tempfile
import time
import unicodedata
from collections import Counter, defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
SHORT_WORDS = 8
_WORD = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]|[^\s\u3400-\u4dbf\u4e00-\u9fff"
                   r"\uf900-\ufaff]+")
INSERTED = {"ZWSP": "\u200b", "ZWJ": "\u200d", "SHY": "\u00ad", "BOM": "\ufeff"}


# -- the two rules ---------------------------------------------------------------------------


def old_normalize(text: str) -> str:
    """The canonical form before the change (commit efe16eb)."""
    if text.isascii():
        return " ".join(text.lower().split())
    return " ".join(unicodedata.normalize("NFKC", text).casefold().split())


def words(text: str) -> int:
    return len(_WORD.findall(text))


def visible(text: str, limit: int = 240) -> str:
    """``text`` with format characters shown as <U+XXXX NAME>, newlines as \\n, cut at ``limit``."""
    out = []
    for ch in text:
        if unicodedata.category(ch) == "Cf":
            out.append(f"<U+{ord(ch):04X} {unicodedata.name(ch, '?')}>")
        elif ch == "\n":
            out.append("\\n")
        else:
            out.append(ch)
    shown = "".join(out)
    return shown if len(shown) <= limit else shown[: limit - 3] + "..."


def cf_chars(text: str) -> list[str]:
    return [ch for ch in text if unicodedata.category(ch) == "Cf"]


# -- real text sets --------------------------------------------------------------------------


def read_jsonl(path: Path) -> tuple[list[dict[str, Any]], int]:
    """The JSON objects of a JSONL file (plain or .gz), and the number of lines that are not."""
    opener = gzip.open if path.suffix == ".gz" else open
    rows, bad = [], 0
    with opener(path, "rt", encoding="utf-8") as handle:
        for line in handle:
            if not line.strip():
                continue
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError:
                bad += 1
    return rows, bad


def field_texts(rows: list[dict[str, Any]], name: str) -> list[str]:
    return [r[name] for r in rows if isinstance(r.get(name), str)]


def text_sets(extra: bool) -> list[tuple[str, list[str], str]]:
    """(name, texts, note) for every real text set."""
    out = []
    train, _ = read_jsonl(DATA / "eval" / "gsm8k_train.jsonl.gz")
    test, _ = read_jsonl(DATA / "eval" / "gsm8k_test.jsonl")
    out.append(("gsm8k question (train+test)", field_texts(train + test, "question"),
                f"{len(train):,} train + {len(test):,} test"))
    commits, _ = read_jsonl(DATA / "temporal" / "oss_commit_messages.jsonl.gz")
    out.append(("commit subject", field_texts(commits, "subject"), "20 OSS repos"))
    wild, bad = read_jsonl(DATA / "instruct" / "instructionwild_v2_user_1-3.raw.jsonl")
    out.append(("instructionwild instruction", field_texts(wild, "instruction"),
                f"{bad} invalid JSON lines skipped"))
    alpaca, _ = read_jsonl(DATA / "instruct" / "alpaca_en_zh_52k.jsonl.gz")
    out.append(("alpaca en_instruction", field_texts(alpaca, "en_instruction"), ""))
    out.append(("alpaca zh_instruction", field_texts(alpaca, "zh_instruction"), ""))
    belle, _ = read_jsonl(DATA / "eval" / "belle_eval_set_zh.jsonl")
    fields = sorted({k for r in belle for k in r})
    out.append(("belle question", field_texts(belle, "question"),
                f"fields: {', '.join(fields)}"))
    out.append(("belle std_answer", field_texts(belle, "std_answer"), "the reference answers"))
    if extra:
        note = "supplementary: long texts, the Cf-richest field of the corpus"
        out.append(("alpaca en_output", field_texts(alpaca, "en_output"), note))
        out.append(("alpaca zh_output", field_texts(alpaca, "zh_output"), note))
    return out


def pairs(k: int) -> int:
    return k * (k - 1) // 2


def precision(name: str, texts: list[str], note: str, new_normalize: Callable[[str], str],
              examples: int) -> list[tuple[str, str, str]]:
    """Print one set's figures; return examples of newly linked pairs (set, text a, text b)."""
    new = [new_normalize(t) for t in texts]
    old = [old_normalize(t) for t in texts]
    bucket = ["short" if words(n) <= SHORT_WORDS else "long" for n in new]
    has_cf = [bool(cf_chars(t)) for t in texts]
    # new key -> old key -> row indices
    groups: dict[str, dict[str, list[int]]] = defaultdict(lambda: defaultdict(list))
    for i, (n, o) in enumerate(zip(new, old, strict=True)):
        groups[n][o].append(i)
    old_sizes = Counter(old)
    stats: dict[str, Counter[str]] = {b: Counter() for b in ("short", "long")}
    found: list[tuple[str, str, str]] = []
    split_pairs = 0
    for n, subgroups in groups.items():
        b = "short" if words(n) <= SHORT_WORDS else "long"
        members = [i for rows in subgroups.values() for i in rows]
        k = len(members)
        s = stats[b]
        s["new_dup_rows"] += k - 1
        s["new_linked_rows"] += k if k > 1 else 0
        s["new_pairs"] += pairs(k)
        within = sum(pairs(len(rows)) for rows in subgroups.values())
        s["added_pairs"] += pairs(k) - within
        if len(subgroups) > 1:
            s["merged_groups"] += 1
            keys = list(subgroups)
            for other in keys[1:]:
                if len(found) < examples:
                    found.append((name, texts[subgroups[keys[0]][0]], texts[subgroups[other][0]]))
        for o, rows in subgroups.items():
            split_pairs += pairs(len(rows)) if old_sizes[o] != len(rows) else 0
    first_row: dict[str, int] = {}
    for i, o in enumerate(old):
        first_row.setdefault(o, i)
    for o, k in old_sizes.items():
        if k > 1:
            b = bucket[first_row[o]]
            stats[b]["old_dup_rows"] += k - 1
            stats[b]["old_linked_rows"] += k
            stats[b]["old_pairs"] += pairs(k)
    for i in range(len(texts)):
        stats[bucket[i]]["rows"] += 1
        stats[bucket[i]]["cf_rows"] += has_cf[i]
        stats[bucket[i]]["newly_blank"] += (new[i] == "") and (old[i] != "")
    cf_kinds = Counter(f"U+{ord(c):04X}" for t in texts for c in cf_chars(t))
    print(f"\n== {name}: {len(texts):,} rows ({note})")
    print(f"   Cf characters: {dict(cf_kinds) or 'none'}")
    header = (f"   {'bucket':6s} {'rows':>7s} {'Cf rows':>7s} {'dup rows old':>12s} "
              f"{'new':>6s} {'pairs old':>9s} {'new':>7s} {'extra rows':>10s} "
              f"{'extra pairs':>11s} {'newly blank':>11s}")
    print(header)
    total: Counter[str] = Counter()
    for b in ("short", "long"):
        total.update(stats[b])
    for b, s in (("short", stats["short"]), ("long", stats["long"]), ("all", total)):
        extra = s["new_dup_rows"] - s["old_dup_rows"]
        print(f"   {b:6s} {s['rows']:7,d} {s['cf_rows']:7,d} {s['old_dup_rows']:12,d} "
              f"{s['new_dup_rows']:6,d} {s['old_pairs']:9,d} {s['new_pairs']:7,d} "
              f"{extra:10,d} {s['added_pairs']:11,d} {s['newly_blank']:11,d}")
    if split_pairs:
        print(f"   !! {split_pairs} old duplicate pairs are no longer linked under the new rule")
    return found


def buffers_agree(texts: list[str], new_normalize: Callable[[str], str]) -> int:
    """Rows where add_normalized (vectorized normalize_buffers) differs from normalize_text."""
    import pyarrow as pa

    from splitforge import columns as C
    from splitforge.normalize import add_normalized

    table = add_normalized(pa.table({C.TEXT: pa.array(texts, pa.string())}), num_proc=1)
    norm = table.column(C.NORM).to_pylist()
    return sum(a != new_normalize(t) for a, t in zip(norm, texts, strict=True))


# -- recall ----------------------------------------------------------------------------------


def insert(text: str, chars: list[str], rng: random.Random) -> str:
    out = text
    for ch in chars:
        at = rng.randint(0, len(out))
        out = out[:at] + ch + out[at:]
    return out


def recall(name: str, texts: list[str], new_normalize: Callable[[str], str], seed: int) -> None:
    variants: list[tuple[str, Callable[[random.Random], list[str]]]] = [
        (label, lambda r, c=ch: [c] * r.randint(1, 3)) for label, ch in INSERTED.items()]
    variants.append(("mixed 1-5", lambda r: [r.choice(list(INSERTED.values()))
                                             for _ in range(r.randint(1, 5))]))
    print(f"\n== recall on {name}: {len(texts)} texts "
          f"({sum(t.isascii() for t in texts)} pure ASCII before insertion)")
    print(f"   {'inserted':10s} {'new rule':>9s} {'old rule':>9s} {'sf_hash (new)':>14s}")
    for label, draw in variants:
        rng = random.Random(f"{seed}-{name}-{label}")
        mutated = [insert(t, draw(rng), rng) for t in texts]
        new_ok = sum(new_normalize(m) == new_normalize(t) for m, t in zip(mutated, texts,
                                                                         strict=True))
        old_ok = sum(old_normalize(m) == old_normalize(t) for m, t in zip(mutated, texts,
                                                                         strict=True))
        hash_ok = _hash_recall(texts, mutated)
        n = len(texts)
        print(f"   {label:10s} {new_ok / n:9.1%} {old_ok / n:9.1%} {hash_ok / n:14.1%}")


def _hash_recall(texts: list[str], mutated: list[str]) -> int:
    """Rows whose sf_hash from add_normalized equals the original's (the pipeline's exact key)."""
    import pyarrow as pa

    from splitforge import columns as C
    from splitforge.normalize import add_normalized

    def hashes(values: list[str]) -> list[int]:
        table = add_normalized(pa.table({C.TEXT: pa.array(values, pa.string())}), num_proc=1)
        return table.column(C.HASH).to_pylist()

    return sum(a == b for a, b in zip(hashes(texts), hashes(mutated), strict=True))


# -- scale -----------------------------------------------------------------------------------

PREAMBLE = """You are “Atlas”, the customer-support assistant of Northwind Outfitters — an online \
shop for hiking, camping and climbing gear that ships to 31 countries. Follow these rules in \
every reply.

1. Tone. Be warm, brief and exact. Address the customer by the name they give; never guess a \
name. Do not use emoji unless the customer does first. Avoid phrases such as “I’m just an AI” or \
“as a language model”.
2. Orders. You may look up an order only after the customer gives the order number (format \
NW-123456) and the e-mail address on the order. Never read out a full card number, address or \
phone number; show at most the last four digits. If the lookup fails twice, offer a hand-off to a \
human agent (“Shall I connect you with a colleague?”).
3. Returns. Items can be returned within 60 days if unused, with tags; worn boots within 14 \
days only if they are defective. Refunds go to the original payment method within 5–7 business \
days. Gift cards, custom-cut ropes and opened fuel canisters cannot be returned — say so \
plainly, and offer store credit where the policy allows it.
4. Safety. For questions about avalanche terrain, glacier travel, rope systems or water \
purification, give general guidance only, cite the product manual, and recommend a certified \
guide or course; never promise that a product makes an activity “safe”.
5. Prices and stock. Quote only prices returned by the catalogue tool, with currency (e.g. \
€129.00, £99.50, ¥899). If an item is out of stock, give the restock date when known, otherwise \
say “no date yet”, and suggest at most two alternatives.
6. Languages. Reply in the customer’s language. Chinese-speaking customers often write in \
Simplified Chinese; keep product names in English and use these phrases where they fit: \
“您好，欢迎光临 Northwind！”, “请提供您的订单号和邮箱地址。”, \
“退货期限为六十天，商品须未使用且吊牌完好。”, \
“我们会在五到七个工作日内退款。” Do not translate brand names such as Gore‑Tex® or Vibram®.
7. Escalation. Hand off to a human when the customer asks for one, mentions an injury, a legal \
claim or a chargeback, or is still unhappy after two answers. Summarise the case in one line \
for the agent: order number, issue, what was tried.
8. Format. Use short paragraphs; use a numbered list only for steps. End with one question that \
moves the case forward, not with a generic “Anything else?”.

Today’s date and the customer’s country are given in the metadata. Answer only the customer’s \
latest message below."""


def write_corpus(path: Path, n: int, users: list[str]) -> int:
    """N JSONL rows: an id and a chat-like text (the shared preamble plus a distinct user turn)."""
    with open(path, "w", encoding="utf-8") as handle:
        for i in range(n):
            user = f"{users[i % len(users)]} (ticket {i})"
            record = {"id": f"row-{i:07d}", "text": f"system: {PREAMBLE}\nuser: {user}"}
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")
    return path.stat().st_size


def peak_kib(pid: int | str = "self") -> int:
    """VmHWM (peak resident memory) of a process, in KiB; 0 when it is gone."""
    try:
        with open(f"/proc/{pid}/status") as handle:
            for line in handle:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


class ChildWatch:
    """Polls the peak RSS of this process's child processes (the worker pool) every 50 ms.

    ``getrusage(RUSAGE_CHILDREN)`` is not used for them: a spawned worker is forked before it
    execs, and Linux keeps the high-water mark of that copy of the parent, so it would report
    the parent's RSS. A worker's own VmHWM, after its exec, is its own.
    """

    def __init__(self) -> None:
        import threading

        self.peaks: dict[int, int] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _children(self) -> list[int]:
        me, out = str(os.getpid()), []
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                try:
                    with open(f"/proc/{entry}/stat") as handle:
                        fields = handle.read().rsplit(")", 1)[1].split()
                except OSError:
                    continue
                if fields[1] == me:
                    out.append(int(entry))
        return out

    def _run(self) -> None:
        while not self._stop.is_set():
            for pid in self._children():
                self.peaks[pid] = max(self.peaks.get(pid, 0), peak_kib(pid))
            self._stop.wait(0.05)

    def __enter__(self) -> ChildWatch:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def child(spec: dict[str, Any]) -> dict[str, Any]:
    """One measurement in this fresh process; the parent reads the JSON printed last."""
    import pyarrow as pa

    import splitforge
    from splitforge import columns as C

    out: dict[str, Any] = {"package": str(Path(splitforge.__file__).parent)}
    if spec["stage"] == "load":
        from splitforge.load import load_sources
        from splitforge.recipe import FieldsConfig, SourceConfig

        path = Path(spec["path"])
        sources = [SourceConfig(path=path.name, format="jsonl")]
        fields = FieldsConfig(id="id", text="text")
        out["baseline_kib"] = peak_kib()
        with ChildWatch() as watch:
            start = time.perf_counter()
            result = load_sources(sources, fields, path.parent)
            out["seconds"] = time.perf_counter() - start
        out["rows"] = result.table.num_rows
        out["peak_kib"] = peak_kib()
        texts = result.table.column(C.TEXT)
        del result
        start = time.perf_counter()
        load_sources(sources, fields, path.parent)
        out["warm_seconds"] = time.perf_counter() - start
        try:  # the new load check alone, when this package has it
            import pyarrow.compute as pc

            from splitforge.load.fields import BLANK_TEXT

            start = time.perf_counter()
            pc.match_substring_regex(texts, BLANK_TEXT)
            out["blank_regex_seconds"] = time.perf_counter() - start
        except ImportError:
            pass
        try:  # hashing alone: the sha256 of the stored bytes
            import hashlib

            start = time.perf_counter()
            hashlib.sha256(path.read_bytes()).hexdigest()
            out["sha256_seconds"] = time.perf_counter() - start
        except OSError:
            pass
    else:
        from splitforge.normalize import add_normalized

        with pa.memory_map(spec["path"]) as source:
            table = pa.ipc.open_file(source).read_all()
        table = pa.table({C.TEXT: table.column(C.TEXT).combine_chunks()})  # held in memory
        out["baseline_kib"] = peak_kib()
        with ChildWatch() as watch:
            start = time.perf_counter()
            result = add_normalized(table, num_proc=spec["num_proc"])
            out["seconds"] = time.perf_counter() - start
        out["rows"] = result.num_rows
        out["peak_kib"] = peak_kib()
        del result
        from splitforge.normalize import text as module

        sample = table.column(C.TEXT).slice(0, 5000).to_pylist()
        if hasattr(module, "FORMAT_CHARACTERS"):  # the Cf step alone, when this package has it
            start = time.perf_counter()
            for value in sample:
                module.FORMAT_CHARACTERS.sub("", value)
            out["cf_us_per_row"] = (time.perf_counter() - start) / len(sample) * 1e6
            ranged = as_ranges(module.FORMAT_CHARACTERS)
            start = time.perf_counter()
            for value in sample:
                ranged.sub("", value)
            out["cf_ranges_us_per_row"] = (time.perf_counter() - start) / len(sample) * 1e6
            out["cf_ranges_same"] = all(ranged.sub("", v) == module.FORMAT_CHARACTERS.sub("", v)
                                        for v in sample)
        start = time.perf_counter()
        for value in sample:
            module.normalize_text(value)
        out["normalize_text_us_per_row"] = (time.perf_counter() - start) / len(sample) * 1e6
    out["worker_peak_kib"] = max(watch.peaks.values(), default=0)
    out["workers_sum_kib"] = sum(watch.peaks.values())
    out["workers"] = sum(1 for v in watch.peaks.values() if v)
    return out


def as_ranges(pattern: re.Pattern[str]) -> re.Pattern[str]:
    """The same one-class pattern ``[...]+``, its characters written as code-point ranges."""
    codes = [c for c in range(sys.maxunicode + 1) if pattern.fullmatch(chr(c))]
    parts, start = [], codes[0]
    for prev, code in zip(codes, [*codes[1:], -1], strict=True):
        if code != prev + 1:
            parts.append(f"{re.escape(chr(start))}-{re.escape(chr(prev))}" if prev > start
                         else re.escape(chr(start)))
            start = code
    return re.compile(f"[{''.join(parts)}]+")


def run_child(spec: dict[str, Any], tree: Path | None) -> dict[str, Any]:
    env = dict(os.environ)
    env.pop("PYTHONPATH", None)
    if tree is not None:
        env["PYTHONPATH"] = str(tree)
    done = subprocess.run([sys.executable, str(Path(__file__).resolve()), "--child",
                           json.dumps(spec)], env=env, cwd="/tmp", capture_output=True,
                          text=True, check=False)
    if done.returncode:
        raise SystemExit(f"child failed ({spec}):\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def _load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def scale(sizes: list[int], old_tree: Path | None, repeats: int, folder: Path) -> None:
    import pyarrow as pa

    from splitforge import columns as C

    alpaca, _ = read_jsonl(DATA / "instruct" / "alpaca_en_zh_52k.jsonl.gz")
    users = [u for r in alpaca[:4000] for u in (r["en_instruction"], r["zh_instruction"])]
    print(f"\n== scale: preamble {len(PREAMBLE):,} characters "
          f"({sum(not c.isascii() for c in PREAMBLE)} non-ASCII), user turns from Alpaca "
          f"en/zh instructions + a ticket number; {os.cpu_count()} CPUs; best of {repeats} "
          f"fresh child process(es) per cell; load average {_load()}")
    trees: list[tuple[str, Path | None]] = [("new", None)]
    if old_tree is not None:
        trees.append(("old", old_tree))
    print(f"   {'code':4s} {'stage':22s} {'rows':>8s} {'MB':>6s} {'seconds':>8s} "
          f"{'rows/s':>9s} {'2nd call s':>10s} {'peak RSS MiB':>12s} {'before MiB':>10s} "
          f"{'worker MiB':>10s} {'all workers':>11s}")
    extras: list[str] = []
    packages: set[str] = set()
    for n in sizes:
        jsonl = folder / f"chat_{n}.jsonl"
        size = write_corpus(jsonl, n, users)
        arrow = folder / f"chat_{n}.arrow"
        with open(jsonl, encoding="utf-8") as handle:
            texts = [json.loads(line)["text"] for line in handle]
        with pa.OSFile(str(arrow), "wb") as sink, pa.ipc.new_file(
                sink, pa.schema([(C.TEXT, pa.string())])) as writer:
            writer.write_table(pa.table({C.TEXT: pa.array(texts, pa.string())}))
        del texts
        stages = [("load_sources", {"stage": "load", "path": str(jsonl)}),
                  ("add_normalized 1 proc", {"stage": "normalize", "path": str(arrow),
                                             "num_proc": 1})]
        if n >= 50_000:
            stages.append(("add_normalized default", {"stage": "normalize",
                                                      "path": str(arrow), "num_proc": None}))
        for done in (jsonl, arrow):  # into the page cache, so no tree pays the first read
            done.read_bytes()
        for label, spec in stages:
            runs_of: dict[str, list[dict[str, Any]]] = {code: [] for code, _ in trees}
            for r in range(repeats):  # new, old, then old, new: neither always goes first
                for code, tree in trees if r % 2 == 0 else trees[::-1]:
                    runs_of[code].append(run_child(spec, tree))
            for code, _ in trees:
                runs = runs_of[code]
                best = min(runs, key=lambda r: r["seconds"])
                packages.add(f"{code}: {best['package']}")
                peak = max(r["peak_kib"] for r in runs) / 1024
                base = min(r["baseline_kib"] for r in runs) / 1024
                worker = max(r["worker_peak_kib"] for r in runs) / 1024
                workers = max(r["workers_sum_kib"] for r in runs) / 1024
                count = max(r["workers"] for r in runs)
                warm = (f"{min(r['warm_seconds'] for r in runs):.2f}"
                        if "warm_seconds" in best else "-")
                print(f"   {code:4s} {label:22s} {best['rows']:8,d} {size / 1e6:6.0f} "
                      f"{best['seconds']:8.2f} {best['rows'] / best['seconds']:9,.0f} "
                      f"{warm:>10s} {peak:12.0f} {base:10.0f} {worker:10.0f} "
                      f"{f'{workers:.0f} ({count})':>11s}", flush=True)
                if "blank_regex_seconds" in best:
                    extras.append(f"{code} N={n:,}: BLANK_TEXT regex alone "
                                  f"{best['blank_regex_seconds']:.2f} s")
                if "normalize_text_us_per_row" in best:
                    cf = (f", of which the Cf regex {best['cf_us_per_row']:.0f} µs (the same "
                          f"class as ranges: {best['cf_ranges_us_per_row']:.0f} µs, output "
                          f"{'identical' if best['cf_ranges_same'] else 'DIFFERENT'})"
                          if "cf_us_per_row" in best else "")
                    extras.append(f"{code} N={n:,}: normalize_text alone "
                                  f"{best['normalize_text_us_per_row']:.0f} µs/row{cf} "
                                  f"(5,000 rows)")
                if "sha256_seconds" in best:
                    extras.append(f"{code} N={n:,}: sha256 of the file alone "
                                  f"{best['sha256_seconds']:.2f} s")
        jsonl.unlink()
        arrow.unlink()
    print("   seconds/rows/s = the first call in a fresh child (best of the repeats); 2nd call s ="
          " load_sources again in that child\n   (files cached, pools and imports warm); peak "
          "RSS = the child's VmHWM after the first call; before = its VmHWM\n   just before it "
          "(imports and, for add_normalized, the input table); worker = the largest child "
          "process's\n   own peak, all workers = the sum of its child processes' peaks (how "
          "many), polled every 50 ms")
    print(f"   load average at the end: {_load()} (other processes share the CPUs when it is "
          f"above the core count)")
    for line in sorted(set(extras)):
        print(f"   {line}")
    for line in sorted(packages):
        print(f"   package imported by the children, {line}")


# -- main ------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="sizes 20000 only, one repeat, no supplementary sets")
    parser.add_argument("--old-tree", type=Path, default=None,
                        help="a checkout of the old commit, imported by the children via "
                        "PYTHONPATH for the old-code timings")
    parser.add_argument("--sizes", default="20000,100000")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--examples", type=int, default=5,
                        help="newly linked pairs printed per set")
    parser.add_argument("--recall-n", type=int, default=500)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--skip", default="", help="comma list of parts to skip: 1,2,3")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(json.loads(args.child))))
        return
    if args.old_tree is not None and not (args.old_tree / "splitforge").is_dir():
        raise SystemExit(f"--old-tree {args.old_tree}: no splitforge package there")
    sizes = [20_000] if args.quick else [int(s) for s in args.sizes.split(",")]
    repeats = 1 if args.quick else args.repeats
    skip = set(args.skip.split(",")) - {""}

    import splitforge
    from splitforge.normalize import normalize_text

    head = subprocess.run(["git", "-C", str(ROOT), "log", "-1", "--format=%h %ci"],
                          capture_output=True, text=True, check=False).stdout.strip()
    dirty = subprocess.run(["git", "-C", str(ROOT), "status", "--porcelain", "splitforge"],
                           capture_output=True, text=True, check=False).stdout.strip()
    print(f"new package: {Path(splitforge.__file__).parent} at {head or '?'}"
          f"{' with uncommitted changes to splitforge/' if dirty else ''}; data: {DATA}")
    started = time.perf_counter()
    sets = text_sets(extra=not args.quick)
    if "1" not in skip:
        print("\n#### 1. precision: exact duplicates, new rule (Cf dropped) vs old rule")
        print("   dup rows = rows exact dedup drops (rows minus distinct texts); pairs = rows "
              "linked two by two;\n   extra rows = new dup rows minus old; extra pairs = pairs "
              "linked only by the new rule;\n   newly blank = rows that normalize to '' only "
              "under the new rule (the load's BLANK_TEXT check refuses them)")
        examples = []
        for name, texts, note in sets:
            examples += precision(name, texts, note, normalize_text, args.examples)
            mismatched = buffers_agree(texts, normalize_text)
            if mismatched:
                print(f"   !! add_normalized differs from normalize_text on {mismatched} rows")
        print(f"\n   newly linked pairs, examples ({len(examples)}):")
        for name, a, b in examples:
            print(f"   [{name}]\n     a: {visible(a)}\n     b: {visible(b)}")
        if not examples:
            print("   none: the new rule links no pair the old rule did not")
        print("\n   rows holding a Cf character, all of them, with whether a copy exists:")
        for name, texts, _ in sets:
            new = Counter(normalize_text(t) for t in texts)
            for t in texts:
                if cf_chars(t):
                    n = normalize_text(t)
                    print(f"   [{name}] copies under new rule: {new[n] - 1}; "
                          f"{visible(t, 160)}")
        print(f"   ({time.perf_counter() - started:.0f} s so far)")
    if "2" not in skip:
        print("\n#### 2. recall: share of texts whose normalized form still equals the original's")
        by_name = {name: texts for name, texts, _ in sets}
        rng = random.Random(args.seed)
        for name in ("gsm8k question (train+test)", "alpaca zh_instruction"):
            sample = rng.sample(by_name[name], args.recall_n)
            recall(name, sample, normalize_text, args.seed)
        print(f"   ({time.perf_counter() - started:.0f} s so far)")
    del sets
    if "3" not in skip:
        print("\n#### 3. scale: load_sources and add_normalized, new vs old code")
        with tempfile.TemporaryDirectory(prefix="bench_hardening_", dir="/tmp") as folder:
            scale(sizes, args.old_tree, repeats, Path(folder))
    print(f"\ntotal {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
