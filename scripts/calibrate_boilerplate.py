"""Calibrate boilerplate detection: template recall, content loss and natural-text loss.

Precision is measured like recall. Text sets are built from the real data under
``/work/shared/data``:

* templated, the template known: the Alpaca prompt template over English and over Chinese
  Alpaca rows (with the "### Input:" variant where the row has an input), a chat system prompt
  (English, and Chinese) flattened as ``system: ...`` / ``user: ...`` / ``assistant: ...``
  lines, and a signature plus a 2-line legal footer appended to 30% of commit messages;
* natural, no template: Alpaca English instructions, Chinese instructions, English outputs,
  GSM8K questions, commit messages and MRPC sentences.

Each set's rows are split into half A (tune) and half B (report) by a SHA-256 of the row index;
detection (``detect_boilerplate``) runs on each half on its own, as it would on a user's data,
and ``strip_texts`` gives each row's similarity text. Accounting is by multisets of normalized
tokens (words split on spaces, or the non-space characters of CJK rows):

* template = tokens(full) - tokens(content), content being the same row built without the
  template; removed = tokens(full) - tokens(stripped);
* template removed = sum over tokens of min(removed, template); content removed = the rest;
* template recall = template removed / template tokens; content loss = content removed /
  content tokens; precision = template removed / all removed; on natural sets (no template),
  the share of tokens left out and the share of rows touched.

A row is counted in characters when its full text or its content is CJK (an English template
over a Chinese answer is cut into characters once the template is out), and also when its
similarity text holds a word that its full text does not (a word row that changed unit).

Over the grid ngram in {3, 4, 5}, char_ngram in {4, 6, 8}, min_share in {0.02, 0.05, 0.1, 0.2}
(min_rows 10), the setting chosen on half A maximises the mean template recall (rounded to 0.1%;
ties go to the lower content + natural loss) subject to a mean content loss of at most 2% over
the templated sets and a mean token loss of at most 1% over the natural sets. The script prints
the grid's means, per-set tables (both halves) for the chosen setting and the package default
(ngram 4, char_ngram 6, min_share 0.05), whether the default meets the constraints, and the spans
that natural text loses (and the template tokens kept, the content tokens lost) at the default
and at the chosen setting.

    .venv/bin/python scripts/calibrate_boilerplate.py [--quick] [--rows 4000] [--seed 0]

``--quick``: 1,000 rows per set (unless ``--rows`` is given), a smoke run of a minute or so.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import itertools
import json
import random
import sys
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from splitforge.normalize import normalize_text
from splitforge.normalize.boilerplate import Boilerplate, BoilerplateSettings, detect_boilerplate
from splitforge.normalize.shingles import char_codes, is_cjk

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"

NGRAMS = (3, 4, 5)
CHAR_NGRAMS = (4, 6, 8)
MIN_SHARES = (0.02, 0.05, 0.1, 0.2)
MIN_ROWS = 10
DEFAULT = (4, 6, 0.05)
MAX_CONTENT_LOSS = 0.02
MAX_NATURAL_LOSS = 0.01
FOOTER_SHARE = 0.3

ALPACA = ("Below is an instruction that describes a task. Write a response that appropriately "
          "completes the request.\n\n### Instruction:\n{instruction}\n\n### Response:\n{output}")
ALPACA_INPUT = ("Below is an instruction that describes a task, paired with an input that provides "
                "further context. Write a response that appropriately completes the request.\n\n"
                "### Instruction:\n{instruction}\n\n### Input:\n{input}\n\n"
                "### Response:\n{output}")
SYSTEM_EN = ("You are a helpful, respectful and honest assistant. Always answer as helpfully as "
             "possible while being safe. Your answers should not include any harmful, unethical, "
             "racist, sexist, toxic, dangerous or illegal content. If a question does not make "
             "any sense, explain why instead of answering something incorrect. If you do not "
             "know the answer to a question, please do not share false information.")
SYSTEM_ZH = ("你是一个乐于助人、尊重他人且诚实的助手。"
             "请始终在确保安全的前提下尽可能提供有帮助的回答。"
             "你的回答不应包含任何有害、不道德、种族歧视、性别歧视、有毒、危险或违法的内容。"
             "如果一个问题没有意义，请解释原因，而不是给出不正确的回答。"
             "如果你不知道问题的答案，请不要分享虚假信息。")
FOOTER = ("Signed-off-by: Release Bot <bot@example.org>\n\n"
          "This contribution is made under the terms of the Example Foundation Contributor "
          "License Agreement.\n"
          "Copyright (c) Example Foundation and its contributors. All rights reserved.")

Setting = tuple[int, int, float]


@dataclass
class TextSet:
    """Rows of one text set: full texts and, for templated sets, the texts without template."""

    name: str
    templated: bool
    full: list[str]
    content: list[str]


@dataclass
class Row:
    """One row's normalized text and its token multisets, in its accounting unit."""

    norm: str
    content_norm: str
    char: bool
    full: Counter[str]
    template: Counter[str]
    _char_counts: tuple[Counter[str], Counter[str]] | None = None

    def char_counts(self) -> tuple[Counter[str], Counter[str]]:
        """Full and template multisets in characters (for a word row that changed unit)."""
        if self._char_counts is None:
            full = Counter(tokens(self.norm, True))
            self._char_counts = (full, full - Counter(tokens(self.content_norm, True)))
        return self._char_counts


@dataclass
class Stats:
    """Token and row counts of one set, half and setting."""

    rows: int = 0
    touched: int = 0
    template: int = 0
    content: int = 0
    template_removed: int = 0
    content_removed: int = 0
    spans: list[dict] = field(default_factory=list)
    template_kept: Counter[str] = field(default_factory=Counter)
    content_lost: Counter[str] = field(default_factory=Counter)

    @property
    def recall(self) -> float:
        return self.template_removed / self.template if self.template else float("nan")

    @property
    def content_loss(self) -> float:
        return self.content_removed / self.content if self.content else 0.0

    @property
    def precision(self) -> float:
        removed = self.template_removed + self.content_removed
        return self.template_removed / removed if removed else float("nan")

    @property
    def touched_share(self) -> float:
        return self.touched / self.rows if self.rows else 0.0


def tokens(text: str, char: bool) -> list[str]:
    """Words of a normalized text, or its character tokens (no spaces, no punctuation)."""
    if char:  # the characters that are tokens (char_codes): punctuation is none
        return [chr(c) for c in char_codes([text])[0].tolist()]
    return text.split()


def read_jsonl(path: Path) -> Iterator[dict]:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as handle:
        for line in handle:
            if line.strip():
                yield json.loads(line)


def sample(items: list, n: int, seed: int, name: str) -> list:
    """A seeded sample of ``n`` items (all of them when fewer), in their file order."""
    if len(items) <= n:
        return list(items)
    picked = random.Random(f"{seed}:{name}").sample(range(len(items)), n)
    return [items[i] for i in sorted(picked)]


def half(index: int) -> str:
    """Half A or B of a row, by a SHA-256 of its index (stable across runs and machines)."""
    return "AB"[hashlib.sha256(str(index).encode()).digest()[0] & 1]


def build_sets(rows: int, seed: int) -> list[TextSet]:
    """The templated and natural text sets, ``rows`` rows each."""
    alpaca = list(read_jsonl(DATA / "instruct" / "alpaca_en_zh_52k.jsonl.gz"))
    gsm8k = list(read_jsonl(DATA / "eval" / "gsm8k_train.jsonl.gz"))
    commits = [(r["subject"] + ("\n\n" + r["body"] if r["body"].strip() else "")).strip()
               for r in read_jsonl(DATA / "temporal" / "oss_commit_messages.jsonl.gz")]
    mrpc = sorted({s for r in read_jsonl(DATA / "paraphrase" / "mrpc_train.jsonl.gz")
                   for s in (r["sentence1"], r["sentence2"])})
    out: list[TextSet] = []

    def alpaca_set(lang: str) -> TextSet:
        full, content = [], []
        for r in sample(alpaca, rows, seed, f"alpaca-{lang}"):
            ins, inp, outp = (r[f"{lang}_{k}"].strip() for k in ("instruction", "input", "output"))
            if inp:
                full.append(ALPACA_INPUT.format(instruction=ins, input=inp, output=outp))
                content.append(f"{ins}\n\n{inp}\n\n{outp}")
            else:
                full.append(ALPACA.format(instruction=ins, output=outp))
                content.append(f"{ins}\n\n{outp}")
        return TextSet(f"alpaca-template-{lang}", True, full, content)

    def chat_set(lang: str, system: str) -> TextSet:
        full, content = [], []
        for r in sample(alpaca, rows, seed, f"chat-{lang}"):
            user = "\n".join(x for x in (r[f"{lang}_instruction"].strip(),
                                         r[f"{lang}_input"].strip()) if x)
            answer = r[f"{lang}_output"].strip()
            full.append(f"system: {system}\nuser: {user}\nassistant: {answer}")
            content.append(f"{user}\n{answer}")
        return TextSet(f"chat-system-{lang}", True, full, content)

    out += [alpaca_set("en"), alpaca_set("zh"), chat_set("en", SYSTEM_EN),
            chat_set("zh", SYSTEM_ZH)]
    rng = random.Random(f"{seed}:footer")
    messages = sample(commits, rows, seed, "commit-footer")
    with_footer = [m + "\n\n" + FOOTER if rng.random() < FOOTER_SHARE else m for m in messages]
    out.append(TextSet("commit-footer", True, with_footer, messages))
    natural = {
        "alpaca-instruction-en": [r["en_instruction"] for r in alpaca],
        "alpaca-instruction-zh": [r["zh_instruction"] for r in alpaca],
        "alpaca-output-en": [r["en_output"] for r in alpaca],
        "gsm8k-question": [r["question"] for r in gsm8k],
        "commit-message": commits,
        "mrpc-sentence": mrpc,
    }
    for name, texts in natural.items():
        picked = sample(texts, rows, seed, name)
        out.append(TextSet(name, False, picked, picked))
    return out


def prepare(text_set: TextSet) -> dict[str, list[Row]]:
    """Per half, each row's normalized text and token multisets."""
    halves: dict[str, list[Row]] = {"A": [], "B": []}
    for i, (full, content) in enumerate(zip(text_set.full, text_set.content, strict=True)):
        norm = normalize_text(full)
        content_norm = normalize_text(content) if text_set.templated else norm
        char = is_cjk(norm) or is_cjk(content_norm)
        counts = Counter(tokens(norm, char))
        template = counts - Counter(tokens(content_norm, char)) if text_set.templated else Counter()
        halves[half(i)].append(Row(norm, content_norm, char, counts, template))
    return halves


def may_be_cjk(rows: list[Row]) -> bool:
    """Whether some row holds a CJK character (else no part of any row can be cut in chars)."""
    chars = {c for r in rows if not r.norm.isascii() for c in r.norm if ord(c) >= 0x2E80}
    return any(is_cjk(c) for c in chars)


def measure(rows: list[Row], setting: Setting) -> Stats:
    """Detect on ``rows``, strip them, and account for what was left out."""
    ngram, char_ngram, share = setting
    norm = [r.norm for r in rows]
    settings = BoilerplateSettings(min_share=share, min_rows=MIN_ROWS, ngram=ngram,
                                   char_ngram=char_ngram)
    found: Boilerplate = detect_boilerplate(norm, settings)
    stripped = found.strip_texts(norm)
    stats = Stats(rows=len(rows), spans=list(found.summary.get("spans", [])))
    for row, text in zip(rows, stripped, strict=True):
        full, template = row.full, row.template
        if text == row.norm:
            stats.template_kept.update(template)
        else:
            stats.touched += 1
            left = Counter(tokens(text, row.char))
            if not row.char and left - full:  # a word row stripped in characters
                full, template = row.char_counts()
                left = Counter(tokens(text, True))
            removed = full - left
            gone = sum(removed.values())
            taken = Counter({t: min(v, template[t]) for t, v in removed.items() if t in template})
            from_template = sum(taken.values())
            stats.template_kept.update(template - taken)
            stats.content_lost.update(removed - taken)
            stats.template_removed += from_template
            stats.content_removed += gone - from_template
        n_template = sum(template.values())
        stats.template += n_template
        stats.content += sum(full.values()) - n_template
    return stats


def mean(values: list[float]) -> float:
    return sum(values) / len(values) if values else float("nan")


def pct(x: float, digits: int = 1) -> str:
    return "    -" if x != x else f"{100 * x:5.{digits}f}"


def summarize(results: dict, sets: list[TextSet], setting: Setting, half_name: str
              ) -> tuple[float, float, float]:
    """Mean template recall and content loss over templated sets, mean natural token loss."""
    tmpl = [results[(s.name, half_name, setting)] for s in sets if s.templated]
    nat = [results[(s.name, half_name, setting)] for s in sets if not s.templated]
    return (mean([t.recall for t in tmpl]), mean([t.content_loss for t in tmpl]),
            mean([t.content_loss for t in nat]))


def feasible(means: tuple[float, float, float]) -> bool:
    return means[1] <= MAX_CONTENT_LOSS and means[2] <= MAX_NATURAL_LOSS


def label(setting: Setting) -> str:
    return f"ngram={setting[0]} char_ngram={setting[1]} min_share={setting[2]}"


def print_setting(results: dict, sets: list[TextSet], setting: Setting, title: str) -> None:
    """Per-set figures of one setting, both halves."""
    print(f"\n== {title}: {label(setting)}, min_rows={MIN_ROWS}")
    print(f"{'templated set':24} {'half':>4} {'rows':>5} {'recall%':>8} {'c.loss%':>8} "
          f"{'prec%':>6} {'touched%':>9}")
    for s in sets:
        if not s.templated:
            continue
        for h in "AB":
            st = results[(s.name, h, setting)]
            print(f"{s.name:24} {h:>4} {st.rows:5d} {pct(st.recall):>8} "
                  f"{pct(st.content_loss, 2):>8} {pct(st.precision):>6} "
                  f"{pct(st.touched_share):>9}")
    print(f"{'natural set':24} {'half':>4} {'rows':>5} {'t.loss%':>8} {'touched%':>9}")
    for s in sets:
        if s.templated:
            continue
        for h in "AB":
            st = results[(s.name, h, setting)]
            print(f"{s.name:24} {h:>4} {st.rows:5d} {pct(st.content_loss, 2):>8} "
                  f"{pct(st.touched_share, 2):>9}")
    for h in "AB":
        rec, closs, nloss = summarize(results, sets, setting, h)
        verdict = "within" if feasible((rec, closs, nloss)) else "OUTSIDE"
        print(f"mean half {h}: template recall {pct(rec)}%, content loss {pct(closs, 2)}% "
              f"(max {100 * MAX_CONTENT_LOSS:.0f}%), natural loss {pct(nloss, 2)}% "
              f"(max {100 * MAX_NATURAL_LOSS:.0f}%): {verdict} the constraints")


def print_losses(results: dict, sets: list[TextSet], setting: Setting) -> None:
    """Half A: the template tokens most often kept, the content tokens most often left out,
    and the spans that natural text loses."""
    print(f"\n== what is missed and lost at {label(setting)} (half A)")
    for s in sets:
        st = results[(s.name, "A", setting)]
        if s.templated:
            kept = ", ".join(f"{t!r} x{n}" for t, n in st.template_kept.most_common(4))
            lost = ", ".join(f"{t!r} x{n}" for t, n in st.content_lost.most_common(6))
            print(f"{s.name}: template kept: {kept or '-'}")
            print(f"{'':{len(s.name)}}  content lost: {lost or '-'}")
            continue
        print(f"{s.name}: {st.touched} of {st.rows} rows touched")
        for span in st.spans[:5]:
            text = span["text"].replace("\n", " ")
            print(f"    {span['rows']:4d} rows  {text[:90]!r}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=None, help="rows per text set (4000)")
    parser.add_argument("--quick", action="store_true", help="1,000 rows per set")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    rows = args.rows or (1000 if args.quick else 4000)
    start = time.perf_counter()
    sets = build_sets(rows, args.seed)
    prepared = {s.name: prepare(s) for s in sets}
    print(f"{len(sets)} text sets, {rows} rows each (seed {args.seed}), "
          f"built in {time.perf_counter() - start:.1f}s")
    grid: list[Setting] = list(itertools.product(NGRAMS, CHAR_NGRAMS, MIN_SHARES))
    results: dict[tuple[str, str, Setting], Stats] = {}
    for s in sets:
        for h in "AB":
            rows_h = prepared[s.name][h]
            # without a CJK character, char runs strip nothing: char_ngram cannot matter
            cjk = may_be_cjk(rows_h)
            for setting in grid:
                base = setting if cjk else (setting[0], CHAR_NGRAMS[0], setting[2])
                if (s.name, h, base) not in results:
                    results[(s.name, h, base)] = measure(rows_h, base)
                results[(s.name, h, setting)] = results[(s.name, h, base)]
        print(f"  {s.name}: done at {time.perf_counter() - start:.0f}s", file=sys.stderr)

    print("\n== grid (means: template recall and content loss over the 5 templated sets, "
          "token loss over the 6 natural sets)")
    print(f"{'ngram':>5} {'char':>4} {'share':>5} | {'A rec%':>6} {'A c.l%':>6} {'A n.l%':>6} "
          f"{'ok':>2} | {'B rec%':>6} {'B c.l%':>6} {'B n.l%':>6} {'ok':>2}")
    means_a = {g: summarize(results, sets, g, "A") for g in grid}
    for g in grid:
        b = summarize(results, sets, g, "B")
        a = means_a[g]
        mark = " *" if g == DEFAULT else ""
        print(f"{g[0]:5d} {g[1]:4d} {g[2]:5.2f} | {pct(a[0]):>6} {pct(a[1], 2):>6} "
              f"{pct(a[2], 2):>6} {'y' if feasible(a) else 'n':>2} | {pct(b[0]):>6} "
              f"{pct(b[1], 2):>6} {pct(b[2], 2):>6} {'y' if feasible(b) else 'n':>2}{mark}")
    print("(* = package default)")

    ok = [g for g in grid if feasible(means_a[g])]
    if ok:
        chosen = min(ok, key=lambda g: (-round(means_a[g][0], 3), means_a[g][1] + means_a[g][2],
                                        g))
        print(f"\nchosen on half A: {label(chosen)} ({len(ok)} of {len(grid)} settings meet "
              f"the constraints)")
    else:
        chosen = min(grid, key=lambda g: (max(means_a[g][1] - MAX_CONTENT_LOSS, 0)
                                          + max(means_a[g][2] - MAX_NATURAL_LOSS, 0), g))
        print("\nNO setting meets the constraints on half A; shown: the least violating, "
              f"{label(chosen)}")
    print_setting(results, sets, chosen, "chosen")
    if chosen != DEFAULT:
        print_setting(results, sets, DEFAULT, "package default")
    for h in "AB":
        verdict = "meets" if feasible(summarize(results, sets, DEFAULT, h)) else "does NOT meet"
        print(f"default {verdict} the constraints on half {h}")

    for setting in dict.fromkeys((DEFAULT, chosen)):
        print_losses(results, sets, setting)
    print(f"\ntotal {time.perf_counter() - start:.0f}s")


if __name__ == "__main__":
    main()
