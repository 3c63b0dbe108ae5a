"""The audit's self-test: how much of a planted leak would this audit, as configured, find?

Copies of a sample of the user's own eval items are planted into a sample of the user's own
training data, the sample is audited with the run's own settings (methods, n-gram, thresholds,
model, boilerplate), and what the audit finds is measured per kind of copy.

Algorithm (every draw is seeded by ``seed``, via ``rng_for(seed, "audit", "self_test", ...)``
and keyed hashes of the eval ids; nothing depends on ``hash()``, set order or the order of the
eval items):

1. **Sample.** Eval items are ranked by a keyed hash of their id (``stable_uniform``); an item
   whose normalized text repeats one ranked before is skipped. The first ``items`` are planted
   and up to ``items`` more stay unplanted. Up to ``rows`` training rows are drawn uniformly
   (a bottom-k sample on seeded keys; ``audit_files`` takes it while the real audit streams the
   training files, so they are read once).
2. **Plant.** The planted items are dealt in turn to three kinds, one kind per item, each copy a
   training row of its own:

   ``verbatim``
       the text itself; every second one instead inside a copy of a real training row of the
       sample, at a sentence boundary, so containment is tested too (the real row stays: the
       plants only add rows).
   ``edited``
       5-10% of the words dropped or swapped with a neighbour (CJK text: characters), with the
       challenge stage's ``word_drop`` / ``word_swap`` / ``zh_char_drop`` / ``zh_char_swap``;
       an item shorter than ``min_tokens`` words gets a prefix word instead (``Question:``).
   ``rephrased``
       **rule-based rewrites, not an LLM's**: clause and sentence reordering, a small built-in
       table of English synonyms, contractions and phrases, digits <-> number words, passive
       templates; for Chinese a small table of common synonym swaps, punctuation, clause order
       and digits <-> 数字. Such rewrites change less than an LLM's rephrase does, so the
       recall measured on them approximates that on LLM rephrases, and more likely from above.

3. **Audit** the eval sample against the training sample with the plants, in one scan.
4. **Measure.** A planted item is *found* when its verdict is ``suspect`` or worse with one of
   its own copies as the evidence; recall = found / measured, per kind. An unplanted item
   flagged ``suspect`` or worse with a copy of another item as the evidence is a false
   positive. An item, planted or not, whose evidence is a real row of the training sample (or
   the copy of a real row that hosts another item's copy) is already near the training data:
   it is left out of both rates and counted as ``excluded``.

Cost: one scan of at most ``2 * items`` eval items against ``rows + items`` training rows
(defaults 200 and 2,000), a bounded fraction of an audit; with ``embedding``, the model verifies
the candidates of at most 400 items.

The self-test reads the real audit's settings and never its results: the verdicts, the gate and
the exit code of the real audit are the same with or without it.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from splitforge.audit.base import as_string_array
from splitforge.audit.verdict import Thresholds
from splitforge.errors import RecipeError
from splitforge.normalize import normalize_text
from splitforge.normalize.boilerplate import NO_BOILERPLATE, Boilerplate
from splitforge.normalize.shingles import is_cjk, reading_lengths
from splitforge.progress import NO_PROGRESS
from splitforge.recipe import DEFAULT_AUDIT_METHODS
from splitforge.seeding import rng_for, stable_uniform

SELF_TEST_FILE = "self_test.json"
KINDS = ("verbatim", "edited", "rephrased")
DEFAULT_ITEMS = 200
DEFAULT_ROWS = 2_000
MAX_ITEMS = 2_000
MAX_ROWS = 100_000
MIN_EVAL_ITEMS = 12  # 6 planted (2 of each kind) and 6 left unplanted
RECALL_WARNING = 0.9
FALSE_POSITIVE_WARNING = 0.05
FEW = 5  # a kind measured on fewer items says so
SHOWN = 10
PREFIX = "self-test:"
NOTE = ("rephrased copies are rule-based rewrites (synonyms, contractions, numbers, clause and "
        "sentence order, passive templates), not an LLM's rephrases: they change less than an "
        "LLM does, so their recall approximates the recall on LLM rephrases, likely from above")
SCOPE = ("audit", "self_test")


# -- the training sample ------------------------------------------------------------------------


class TrainingSample:
    """A uniform sample of at most ``rows`` training rows, taken from a stream of batches.

    Every row gets a key from the seeded generator (``rng_for(seed, "audit", "self_test",
    "train")``, drawn row after row, so the batching does not matter) and the rows with the
    ``rows`` smallest keys are kept, in key order. ``wrap`` passes batches through unchanged
    while sampling them, so the real audit's scan reads each file once.

    Example:
        >>> sample = TrainingSample(2, seed=0)
        >>> sample.add(["a", "b", "c"], ["x", "y", "z"])
        >>> len(sample.ids), sample.seen
        (2, 3)
    """

    def __init__(self, rows: int, seed: int) -> None:
        self.rows = int(rows)
        self.seen = 0
        self._rng = rng_for(seed, *SCOPE, "train")
        self._keys = np.zeros(0, dtype=np.float64)
        self._ids: list[str] = []
        self._texts: list[str] = []

    def add(self, ids: Sequence[Any], texts: Any) -> None:
        """Offer one batch of ``(ids, raw texts)`` to the sample."""
        keys = self._rng.random(len(ids))
        self.seen += len(ids)
        if not self.rows or not len(keys):
            return
        if len(self._keys) >= self.rows:
            take = np.flatnonzero(keys < self._keys[-1])
            if not len(take):
                return
        else:
            take = np.arange(len(keys))
        picked = as_string_array(texts).take(pa.array(take)).to_pylist()
        all_keys = np.concatenate([self._keys, keys[take]])
        all_ids = self._ids + [str(ids[i]) for i in take.tolist()]
        all_texts = self._texts + ["" if t is None else t for t in picked]
        order = np.argsort(all_keys, kind="stable")[:self.rows]
        self._keys = all_keys[order]
        self._ids = [all_ids[i] for i in order.tolist()]
        self._texts = [all_texts[i] for i in order.tolist()]

    def wrap(self, batches: Iterable[tuple[Any, Any]]) -> Iterator[tuple[Any, Any]]:
        """The same batches, sampled on the way through."""
        for ids, texts in batches:
            self.add(ids, texts)
            yield ids, texts

    @property
    def ids(self) -> list[str]:
        """The sampled rows' ids, in key (random) order."""
        return list(self._ids)

    @property
    def texts(self) -> list[str]:
        """The sampled rows' raw texts, in the order of ``ids``."""
        return list(self._texts)


# -- the plants ---------------------------------------------------------------------------------

_SENTENCE_END = re.compile(r"(?<=[.!?。！？])[\"'’”」)]*(?=\s)|(?<=[。！？])(?=\S)|\n")


def insert_at_sentence_boundary(host: str, item: str, rng: np.random.Generator) -> str:
    """``item`` inside ``host``, between two of its sentences (or at its start or end)."""
    cuts = sorted({0, len(host), *(m.end() for m in _SENTENCE_END.finditer(host))})
    at = cuts[int(rng.integers(len(cuts)))]
    before, after = host[:at].rstrip(), host[at:].lstrip()
    return " ".join(part for part in (before, item.strip(), after) if part)


_EN_PREFIXES = ("Question:", "Q:", "Task:", "Re:")
_ZH_PREFIXES = ("请问：", "问题：", "题目：")


def edit(text: str, rng: np.random.Generator, min_tokens: int) -> tuple[str, str]:
    """A light edit of ``text`` and its name: 5-10% of the words dropped or swapped.

    An item shorter than ``min_tokens`` words (CJK characters count as words) gets a prefix
    word instead: at that length dropping one word is an edit of 15% or more.
    """
    from splitforge.challenge.perturbations import (
        WordDropPerturbation,
        WordSwapPerturbation,
        ZhCharDropPerturbation,
        ZhCharSwapPerturbation,
    )

    cjk = is_cjk(text)
    if int(reading_lengths([normalize_text(text)])[0]) < min_tokens:
        prefixes = _ZH_PREFIXES if cjk else _EN_PREFIXES
        prefix = prefixes[int(rng.integers(len(prefixes)))]
        return prefix + ("" if cjk else " ") + text.lstrip(), "prefix"
    share = float(rng.uniform(0.05, 0.10))
    # a swap moves two words: half as many swaps as drops edit the same share of the words
    if cjk:
        ops = (("char_drop", ZhCharDropPerturbation(aug_char_p=share)),
               ("char_swap", ZhCharSwapPerturbation(aug_char_p=share / 2)))
    else:
        ops = (("word_drop", WordDropPerturbation(aug_word_p=share)),
               ("word_swap", WordSwapPerturbation(aug_word_p=share / 2)))
    first = int(rng.integers(2))
    for name, op in (ops[first], ops[1 - first]):  # the other one where the first changes nothing
        out = op.apply(text, rng)
        if out.split() != text.split():
            return out, name
    return text, "unchanged"


# English: one pass of one regex over the whole table, so no rewrite is rewritten again.
_EN_CONTRACTIONS = {
    "do not": "don't", "does not": "doesn't", "did not": "didn't", "is not": "isn't",
    "are not": "aren't", "was not": "wasn't", "were not": "weren't", "cannot": "can't",
    "will not": "won't", "would not": "wouldn't", "should not": "shouldn't",
    "could not": "couldn't", "has not": "hasn't", "have not": "haven't", "it is": "it's",
    "that is": "that's", "there is": "there's", "let us": "let's", "i am": "I'm",
    "you are": "you're", "we are": "we're", "they are": "they're", "he is": "he's",
    "she is": "she's",
}
_EN_PHRASES = {
    "how many": "what number of", "how much money": "what amount of money",
    "in total": "altogether",
    "a lot of": "plenty of", "lots of": "plenty of", "per day": "a day", "per week": "a week",
    "per hour": "an hour", "per month": "a month", "in order to": "to",
    "for example": "for instance", "such as": "like", "because of": "due to",
    "a few": "several", "make sure": "ensure", "find out": "determine",
    "give me": "provide me with", "as well as": "along with", "each other": "one another",
}
_EN_WORDS = {
    "buy": "purchase", "buys": "purchases", "bought": "purchased", "purchase": "buy",
    "purchases": "buys", "purchased": "bought", "big": "large", "large": "big",
    "small": "little", "little": "small", "huge": "enormous", "tiny": "minute", "each": "every",
    "every": "each", "total": "overall", "altogether": "in total", "gets": "receives",
    "get": "receive", "got": "received", "receives": "gets", "receive": "get",
    "received": "got", "give": "provide", "gives": "provides", "gave": "provided",
    "provide": "give", "provides": "gives", "find": "determine", "determine": "find",
    "calculate": "compute", "compute": "calculate", "write": "compose", "writes": "composes",
    "wrote": "composed", "explain": "describe", "describe": "explain", "explains": "describes",
    "describes": "explains", "begin": "start", "start": "begin", "begins": "starts",
    "starts": "begins", "began": "started", "started": "began", "finish": "complete",
    "finishes": "completes", "finished": "completed", "complete": "finish", "help": "assist",
    "helps": "assists", "helped": "assisted", "use": "utilize", "uses": "utilizes",
    "used": "utilized", "show": "display", "shows": "displays", "showed": "displayed",
    "choose": "pick", "chooses": "picks", "chose": "picked", "select": "choose",
    "need": "require", "needs": "requires", "needed": "required", "earn": "make",
    "earns": "makes", "earned": "made", "create": "make", "creates": "makes",
    "created": "made", "generate": "produce", "generates": "produces", "suggest": "propose",
    "identify": "recognize", "classify": "categorize", "rewrite": "rephrase",
    "improve": "enhance", "convert": "transform", "check": "verify", "checks": "verifies",
    "quick": "fast", "fast": "quick", "quickly": "rapidly", "easy": "simple",
    "simple": "easy", "difficult": "hard", "hard": "difficult", "happy": "glad",
    "sad": "unhappy", "children": "kids", "kids": "children", "child": "kid", "kid": "child",
    "mom": "mother", "mother": "mom", "dad": "father", "father": "dad", "friend": "pal",
    "friends": "pals", "house": "home", "car": "vehicle", "store": "shop", "shop": "store",
    "money": "cash", "problem": "issue", "problems": "issues", "issue": "problem",
    "example": "instance", "examples": "instances", "method": "approach", "people":
    "individuals", "person": "individual", "because": "since",
    "approximately": "roughly", "twice": "two times", "also": "additionally",
    "only": "just", "just": "only", "again": "once more", "then": "afterwards",
    "given": "provided", "whether": "if", "element": "item", "elements": "items",
    "returns": "gives back", "integer": "whole number", "integers": "whole numbers",
}
_EN_NUMBERS = ("zero one two three four five six seven eight nine ten eleven twelve thirteen "
               "fourteen fifteen sixteen seventeen eighteen nineteen twenty").split()
_EN_TENS = {30: "thirty", 40: "forty", 50: "fifty", 60: "sixty", 70: "seventy", 80: "eighty",
            90: "ninety"}
_EN_NUMBER_WORDS = {**{w: str(i) for i, w in enumerate(_EN_NUMBERS)},
                    **{w: str(n) for n, w in _EN_TENS.items()}}


def _phrase_pattern(keys: Iterable[str]) -> re.Pattern[str]:
    alternatives = [re.escape(k).replace("'", "['’]").replace(r"\ ", r"\s+")
                    for k in sorted(keys, key=lambda k: (-len(k), k))]
    return re.compile(r"(?<![\w'’])(?:" + "|".join(alternatives) + r")(?![\w'’])", re.IGNORECASE)


_EN_TABLE = {**_EN_WORDS, **_EN_PHRASES, **_EN_CONTRACTIONS,
             **{v.lower(): k for k, v in _EN_CONTRACTIONS.items()}}
_EN_TABLE_PATTERN = _phrase_pattern(_EN_TABLE)
_EN_DIGITS = re.compile(r"(?<![\w$€£¥.,/:#-])(\d{1,2})(?![\w%°]|[.,:/]\d)")
_EN_NUMBER_PATTERN = _phrase_pattern(_EN_NUMBER_WORDS)


def _cased(original: str, replacement: str) -> str:
    if len(original) > 1 and original.isupper():
        return replacement.upper()
    if original[:1].isupper():
        return replacement[:1].upper() + replacement[1:]
    return replacement


def _number_words(n: int) -> str:
    if n <= 20:
        return _EN_NUMBERS[n]
    tens, ones = divmod(n, 10)
    word = _EN_TENS.get(tens * 10, "twenty")
    return word if not ones else f"{word}-{_EN_NUMBERS[ones]}"


_CLAUSE = re.compile(r"^(If|When|After|Before|Because|Since|While|Although|Once|Unless) "
                     r"([^,;:]{3,}?), ([^,;:]+?)([.!?]?)$")
_PASSIVE_VERBS = {
    "bought": "bought", "sold": "sold", "made": "made", "baked": "baked", "wrote": "written",
    "built": "built", "painted": "painted", "ate": "eaten", "found": "found", "picked": "picked",
    "collected": "collected", "planted": "planted", "read": "read", "cooked": "cooked",
    "drew": "drawn", "caught": "caught", "grew": "grown", "took": "taken", "ordered": "ordered",
    "saved": "saved", "spent": "spent", "sent": "sent", "gave": "given", "received": "received",
}
_OBJECT_PRONOUNS = {"He": "him", "She": "her", "They": "them", "We": "us", "I": "me",
                    "You": "you"}
_PASSIVE = re.compile(r"^([A-Z][a-z]+) (" + "|".join(_PASSIVE_VERBS) + r") ([^,;:!?]+?)([.!]?)$")
_IMPERATIVE_VERBS = {
    "write": "written", "create": "created", "generate": "generated", "compose": "composed",
    "make": "made", "give": "given", "provide": "provided", "suggest": "suggested",
    "describe": "described", "explain": "explained", "list": "listed", "name": "named",
    "find": "found", "calculate": "calculated", "identify": "identified",
    "summarize": "summarized", "translate": "translated", "rewrite": "rewritten",
    "classify": "classified", "compute": "computed", "determine": "determined",
    "design": "designed", "develop": "developed", "construct": "constructed", "edit": "edited",
    "convert": "converted", "compare": "compared", "analyze": "analyzed", "predict": "predicted",
    "choose": "chosen", "select": "selected", "return": "returned",
}
_IMPERATIVE = re.compile(r"^(" + "|".join(v.capitalize() for v in _IMPERATIVE_VERBS)
                         + r") ([^!?]{3,}?)([.!]?)$")
_PLURAL_START = re.compile(r"^(\d+|two|three|four|five|six|seven|eight|nine|ten|many|some|"
                           r"several|all|both|half|a few|the \w+s)\b", re.IGNORECASE)
_QUESTION_FRAMES = ((re.compile(r"^(?:Can|Could|Would|Will) you (?:please )?(.+?)\?$"),
                     lambda m: f"Please {m.group(1)}."),
                    (re.compile(r"^Please (.+?)\.?$"), lambda m: f"Could you {m.group(1)}?"),
                    (re.compile(r"^What is (.+?)\?$"), lambda m: f"Find {m.group(1)}."))
_CODE_LINE = re.compile(r"[=(){}\[\]<>]|^\s*(def|class|import|from|return|for|while|if|elif|"
                        r"else|try|except|with|@|>>>)\b")
_SENTENCES = re.compile(r"(?<=[.!?])\s+(?=\S)")


_FUNCTION_WORDS = {"The", "A", "An", "This", "That", "These", "Those", "There", "It", "Its",
                   "If", "When", "Then", "What", "How", "Why", "Who", "Which", "Each", "Every",
                   "Some", "All", "In", "On", "At", "For", "After", "Before"}


def _passive(sentence: str) -> str | None:
    m = _PASSIVE.match(sentence)
    if m is not None and (m.group(1) in _OBJECT_PRONOUNS or m.group(1) not in _FUNCTION_WORDS):
        subject, verb, obj, end = m.groups()
        agent = _OBJECT_PRONOUNS.get(subject, subject)
        plural = _PLURAL_START.match(obj) is not None or obj.split()[-1].endswith("s")
        return (f"{obj[:1].upper()}{obj[1:]} {'were' if plural else 'was'} "
                f"{_PASSIVE_VERBS[verb]} by {agent}{end or '.'}")
    m = _IMPERATIVE.match(sentence)
    if m is not None:
        verb, obj, end = m.groups()
        return f"{obj[:1].upper()}{obj[1:]} should be {_IMPERATIVE_VERBS[verb.lower()]}."
    return None


def _rephrase_sentence(sentence: str, rules: Counter[str]) -> str:
    m = _CLAUSE.match(sentence)
    if m is not None:
        conj, clause, main, end = m.groups()
        sentence = f"{main[:1].upper()}{main[1:]} {conj.lower()} {clause}{end}"
        rules["clause_order"] += 1
    else:
        for pattern, frame in _QUESTION_FRAMES:
            framed = pattern.match(sentence)
            if framed is not None:
                sentence = frame(framed)
                rules["question_frame"] += 1
                break
        else:
            passive = _passive(sentence)
            if passive is not None:
                sentence = passive
                rules["passive"] += 1
    return sentence


def _rephrase_words(text: str, rules: Counter[str]) -> str:
    def table(m: re.Match[str]) -> str:
        key = re.sub(r"\s+", " ", m.group().lower()).replace("’", "'")
        rules["synonyms" if key in _EN_WORDS or key in _EN_PHRASES else "contractions"] += 1
        return _cased(m.group(), _EN_TABLE[key])

    def digits(m: re.Match[str]) -> str:
        rules["numbers"] += 1
        word = _number_words(int(m.group(1)))
        starts = not text[:m.start()].strip() or text[:m.start()].rstrip().endswith(
            (".", "!", "?"))
        return word.capitalize() if starts else word

    def words(m: re.Match[str]) -> str:
        if "-" in m.string[max(0, m.start() - 1):m.start()] + m.string[m.end():m.end() + 1]:
            return m.group()  # a part of "twenty-one" or "one-third"
        rules["numbers"] += 1
        return _EN_NUMBER_WORDS[m.group().lower()]

    text = _EN_TABLE_PATTERN.sub(table, text)
    # Both directions at once would turn a rewritten number back: digits become words, and
    # only a text without digits gets its number words as digits.
    with_digits = _EN_DIGITS.sub(digits, text)
    return with_digits if with_digits != text else _EN_NUMBER_PATTERN.sub(words, text)


def _reorder(sentences: list[str], rng: np.random.Generator, rules: Counter[str],
             marks: tuple[str, ...] = ("?",)) -> list[str]:
    if len(sentences) < 2:
        return sentences
    # The closing question moves to the front, as a rephrase may ask first; statements keep
    # their order (swapping two of a story's sentences would change its meaning).
    if sentences[-1].endswith(marks) and not sentences[0].endswith(marks) and rng.random() < 0.5:
        rules["sentence_order"] += 1
        return [sentences[-1], *sentences[:-1]]
    return sentences


def _rephrase_en(text: str, rng: np.random.Generator, rules: Counter[str]) -> str:
    out = []
    for line in text.split("\n"):
        if not line.strip() or _CODE_LINE.search(line):
            out.append(line)
            continue
        indent = line[:len(line) - len(line.lstrip())]
        sentences = [_rephrase_sentence(s, rules) for s in _SENTENCES.split(line.strip())]
        sentences = _reorder(sentences, rng, rules)
        out.append(indent + _rephrase_words(" ".join(sentences), rules))
    return "\n".join(out)


_ZH_WORDS = {
    "如何": "怎样", "怎样": "如何", "怎么": "怎样", "为什么": "为何", "为何": "为什么",
    "可以": "能够", "能够": "可以", "非常": "十分", "十分": "非常", "特别": "尤其",
    "但是": "可是", "可是": "但是", "因为": "由于", "由于": "因为", "所以": "因此",
    "因此": "所以", "我们": "咱们", "帮我": "替我", "帮助": "协助", "告诉": "告知",
    "一些": "若干", "喜欢": "喜爱", "方法": "办法", "办法": "方法", "重要": "关键",
    "简单": "容易", "容易": "简单", "快速": "迅速", "迅速": "快速", "开始": "着手",
    "完成": "做完", "描述": "叙述", "解释": "说明", "说明": "解释", "列出": "列举",
    "列举": "列出", "给出": "提供", "提供": "给出", "生成": "产生", "产生": "生成",
    "建议": "提议", "认为": "觉得", "觉得": "认为", "现在": "目前", "目前": "现在",
    "使用": "利用", "利用": "使用", "例如": "比如", "比如": "例如", "以及": "还有",
    "或者": "或是", "主要": "首要", "不同": "不一样", "相同": "一样", "一样": "相同",
    "好处": "益处", "优点": "长处", "缺点": "不足", "比较": "对比", "对比": "比较",
    "分析": "剖析", "总结": "归纳", "归纳": "总结", "句子": "语句", "语句": "句子",
    "写一篇": "撰写一篇", "写一首": "创作一首", "写一个": "编写一个", "写出": "写下",
    "请问": "想问一下", "请你": "麻烦你", "哪些": "什么", "什么": "啥",
}
_ZH_PATTERN = re.compile("|".join(sorted(_ZH_WORDS, key=lambda k: (-len(k), k))))
_ZH_NUMERALS = "零一二三四五六七八九十"
_ZH_MEASURES = "个只本天年次件位名元块条张篇首句段点种岁人"
_ZH_DIGIT = re.compile(r"(?<![\d.,])(\d|10)(?![\d.,%])")
_ZH_NUMERAL = re.compile(f"([{_ZH_NUMERALS}两])(?=[{_ZH_MEASURES}])")
_ZH_CLAUSE = re.compile(r"^(如果|因为|虽然|当|由于|假如|要是)([^，,。！？]+)[，,]"
                        r"([^，,。！？]+)([。！？!?]?)$")
_ZH_SENTENCES = re.compile(r"(?<=[。！？!?])")


def _rephrase_zh(text: str, rng: np.random.Generator, rules: Counter[str]) -> str:
    def words(m: re.Match[str]) -> str:
        rules["synonyms"] += 1
        return _ZH_WORDS[m.group()]

    def digit(m: re.Match[str]) -> str:
        rules["numbers"] += 1
        return _ZH_NUMERALS[int(m.group(1))]

    def numeral(m: re.Match[str]) -> str:
        rules["numbers"] += 1
        return "2" if m.group(1) == "两" else str(_ZH_NUMERALS.index(m.group(1)))

    out = []
    for line in text.split("\n"):
        if not line.strip() or _CODE_LINE.search(line):
            out.append(line)
            continue
        sentences = [s for s in _ZH_SENTENCES.split(line.strip()) if s]
        for i, sentence in enumerate(sentences):
            m = _ZH_CLAUSE.match(sentence)
            if m is not None:
                conj, clause, main, end = m.groups()
                sentences[i] = f"{main}，{conj}{clause}{end}"
                rules["clause_order"] += 1
        sentences = _reorder(sentences, rng, rules, ("?", "？"))
        line = _ZH_PATTERN.sub(words, "".join(sentences))
        with_digits = _ZH_DIGIT.sub(digit, line)
        line = with_digits if with_digits != line else _ZH_NUMERAL.sub(numeral, line)
        if "，" in line:  # one comma becomes a semicolon
            commas = [k for k, c in enumerate(line) if c == "，"]
            k = commas[int(rng.integers(len(commas)))]
            line = line[:k] + "；" + line[k + 1:]
            rules["punctuation"] += 1
        out.append(line)
    return "\n".join(out)


def rephrase(text: str, rng: np.random.Generator) -> tuple[str, list[str]]:
    """A rule-based rewrite of ``text`` (no LLM) and the names of the rules that changed it.

    English: clause order (``If A, B.`` -> ``B if A.``), question frames (``Can you X?`` ->
    ``Please X.``), passive templates (``Tom bought 3 pens.`` -> ``3 pens were bought by Tom.``,
    ``Write a poem.`` -> ``A poem should be written.``), sentence order, a table of synonyms,
    phrases and contractions, digits <-> number words; code lines are left alone. Chinese: the
    clause order of conditionals, sentence order, a table of common synonyms, digits <->
    numerals, one comma made a semicolon. A text no rule changes is rotated at a middle word
    (``rotated``), so every rewrite differs from its item.
    """
    rules: Counter[str] = Counter()
    out = _rephrase_zh(text, rng, rules) if is_cjk(text) else _rephrase_en(text, rng, rules)
    if normalize_text(out) == normalize_text(text):
        words = text.split()
        if is_cjk(text) and len(words) < 2:
            half = len(text.strip()) // 2
            out = text.strip()[half:] + text.strip()[:half]
        else:
            half = len(words) // 2
            out = " ".join(words[half:] + words[:half])
        rules = Counter({"rotated": 1})
    return out, sorted(rules)


# -- the test -----------------------------------------------------------------------------------


@dataclass
class SelfTestResult:
    """What the self-test measured.

    Attributes:
        summary: The contents of ``self_test.json`` (recall per kind, false positives,
            warnings, the sample and the settings); ``summary["skipped"]`` says why when it
            could not run.
        table: One row per sampled eval item: ``eval_id``, ``planted`` (a kind or
            ``unplanted``), ``placement``, ``outcome`` (``found``, ``missed``, ``excluded``,
            ``false_positive``, ``clean``), the verdict and evidence, the planted text.
    """

    summary: dict[str, Any]
    table: pa.Table = field(default_factory=lambda: pa.table({}))

    @property
    def warnings(self) -> list[str]:
        """Recall below 90%, many false positives, a kind measured on few items, a skip."""
        return list(self.summary.get("warnings", []))

    @property
    def recall(self) -> dict[str, float | None]:
        """Recall per kind (``None`` where no item of the kind was measured)."""
        return {k: v["recall"] for k, v in self.summary.get("kinds", {}).items()}

    @property
    def false_positive_rate(self) -> float | None:
        """Unplanted items flagged at a planted copy, of those measured."""
        return (self.summary.get("false_positives") or {}).get("rate")

    def brief(self) -> dict[str, Any]:
        """What ``audit.json`` and the manifest keep (the rest is in ``self_test.json``)."""
        if self.summary.get("skipped"):
            return {"skipped": self.summary["skipped"], "file": SELF_TEST_FILE}
        return {"recall": self.recall, "false_positive_rate": self.false_positive_rate,
                "planted": self.summary["sample"]["planted"],
                "unplanted": self.summary["sample"]["unplanted"],
                "train_rows": self.summary["sample"]["train_rows"],
                "seed": self.summary["seed"], "warnings": self.warnings,
                "file": SELF_TEST_FILE}


def check_sizes(items: int, rows: int) -> None:
    """Refuse sample sizes out of range (they bound the self-test's cost).

    Raises:
        RecipeError: ``items`` not in 3..MAX_ITEMS or ``rows`` not in 0..MAX_ROWS.
    """
    problems = []
    if isinstance(items, bool) or not isinstance(items, int) or not 3 <= items <= MAX_ITEMS:
        problems.append(f"--self-test-items: {items!r}; give 3 to {MAX_ITEMS:,} eval items to "
                        f"plant (default {DEFAULT_ITEMS})")
    if isinstance(rows, bool) or not isinstance(rows, int) or not 0 <= rows <= MAX_ROWS:
        problems.append(f"--self-test-rows: {rows!r}; give 0 to {MAX_ROWS:,} training rows to "
                        f"sample (default {DEFAULT_ROWS:,})")
    if problems:
        raise RecipeError(problems)


def run_self_test(ids: Sequence[Any], texts: Sequence[str], sample: TrainingSample, *,
                  methods: Sequence[str], ngram: int, thresholds: Thresholds, model: str,
                  boilerplate: Boilerplate = NO_BOILERPLATE, seed: int = 0,
                  items: int = DEFAULT_ITEMS) -> SelfTestResult:
    """Plant copies of sampled eval items into the training sample, audit it, measure.

    ``ids`` and ``texts`` are the eval items (raw inputs, no answers), ``sample`` the training
    rows (``TrainingSample``); the audit runs with ``methods``, ``ngram``, ``thresholds``,
    ``model`` and ``boilerplate`` as the real run has them. Too few eval items (fewer than
    ``MIN_EVAL_ITEMS`` distinct ones) skip the test with a warning in the result.
    """
    from splitforge.audit.run import _scan_audit

    settings = {"methods": list(methods), "ngram": ngram, "thresholds": thresholds.model_dump(),
                "embedding_model": model if "embedding" in methods else None,
                "boilerplate_spans": len((boilerplate.summary or {}).get("spans") or [])}
    picked = _eval_sample(ids, texts, seed, 2 * items)
    planted_n = min(items, len(picked) // 2)
    unplanted = picked[planted_n:planted_n + min(items, len(picked) - planted_n)]
    planted = picked[:planted_n]
    sizes = {"eval_items": len(ids), "distinct_sampled": len(picked), "planted": len(planted),
             "unplanted": len(unplanted), "train_rows": len(sample.ids),
             "train_rows_seen": sample.seen}
    if len(picked) < MIN_EVAL_ITEMS:
        reason = (f"self-test skipped: {len(picked)} distinct eval item(s), and it needs at least "
                  f"{MIN_EVAL_ITEMS} (2 planted of each kind, 6 left unplanted for the "
                  f"false-positive rate)")
        return SelfTestResult({"skipped": reason, "warnings": [reason], "seed": seed,
                               "settings": settings, "sample": sizes, "note": NOTE})
    corpus_ids, corpus_texts = sample.ids, sample.texts
    hosts = [k for k, t in enumerate(corpus_texts) if t.strip()]
    plants: dict[str, int] = {}  # training id of a copy -> the eval item it copies
    hosted: set[str] = set()  # ids of real rows with a copy inside
    rows: list[dict[str, Any]] = []
    made: dict[str, Counter[str]] = {kind: Counter() for kind in KINDS}
    for j, item in enumerate(planted):
        kind, eval_id, text = KINDS[j % 3], str(ids[item]), texts[item]
        rng = rng_for(seed, *SCOPE, kind, eval_id)
        placement, copy_id = "own row", f"{PREFIX}{kind}:{j}"
        if kind == "verbatim":
            copy = text
            if (j // 3) % 2 and hosts:
                host = hosts.pop(0)
                copy = insert_at_sentence_boundary(corpus_texts[host], text, rng)
                placement, copy_id = "inside a row", f"{PREFIX}inside:{j}"
                hosted.add(copy_id)
            made[kind][placement] += 1
        elif kind == "edited":
            copy, how = edit(text, rng, thresholds.min_tokens)
            placement = how
            made[kind][how] += 1
        else:
            copy, applied = rephrase(text, rng)
            placement = "+".join(applied)
            made[kind].update(applied)
        corpus_ids.append(copy_id)
        corpus_texts.append(copy)
        plants[copy_id] = item
        rows.append({"eval_id": eval_id, "planted": kind, "placement": placement,
                     "planted_id": copy_id, "planted_text": copy})
    for item in unplanted:
        rows.append({"eval_id": str(ids[item]), "planted": "unplanted", "placement": None,
                     "planted_id": None, "planted_text": None})
    order = [*planted, *unplanted]
    found, _ = _scan_audit([str(ids[i]) for i in order], [texts[i] for i in order],
                           [(corpus_ids, pa.array(corpus_texts, pa.string()))], methods=methods,
                           ngram=ngram, thresholds=thresholds, model=model, fail_on="never",
                           progress=NO_PROGRESS, num_proc=1, total_rows=len(corpus_ids),
                           boilerplate=boilerplate)
    verdicts = found.column("verdict").to_pylist()
    evidence = found.column("evidence_id").to_pylist()
    methods_found = found.column("evidence_method").to_pylist()
    scores = found.column("evidence_score").to_pylist()
    for k, row in enumerate(rows):
        item, flagged = order[k], verdicts[k] != "clean"
        at = plants.get(evidence[k]) if flagged else None
        if flagged and (at is None or (evidence[k] in hosted and at != item)):
            # near a real row of the sample (a host row's copy holds that real row too)
            outcome = "excluded"
        elif row["planted"] == "unplanted":
            outcome = "false_positive" if flagged else "clean"
        else:
            outcome = "found" if at == item else "missed"
        row.update(outcome=outcome, verdict=verdicts[k], evidence_id=evidence[k],
                   evidence_method=methods_found[k], evidence_score=scores[k],
                   evidence_planted_for=None if at is None else str(ids[at]))
    summary = _summarize(rows, made, sizes, settings, seed)
    table = pa.Table.from_pylist(rows, schema=_SCHEMA)
    return SelfTestResult(summary, table)


_SCHEMA = pa.schema([("eval_id", pa.string()), ("planted", pa.string()),
                     ("placement", pa.string()), ("planted_id", pa.string()),
                     ("planted_text", pa.string()), ("outcome", pa.string()),
                     ("verdict", pa.string()), ("evidence_id", pa.string()),
                     ("evidence_method", pa.string()), ("evidence_score", pa.float64()),
                     ("evidence_planted_for", pa.string())])


def _eval_sample(ids: Sequence[Any], texts: Sequence[str], seed: int, wanted: int) -> list[int]:
    """Indices of up to ``wanted`` eval items of distinct normalized text, in keyed-hash order."""
    names = [str(i) for i in ids]
    keys = stable_uniform(names, seed, *SCOPE, "eval")
    order = sorted(range(len(names)), key=lambda i: (keys[i], names[i]))
    seen: set[str] = set()
    picked: list[int] = []
    for i in order:
        norm = normalize_text(texts[i] or "")
        if not norm or norm in seen:
            continue
        seen.add(norm)
        picked.append(i)
        if len(picked) == wanted:
            break
    return picked


def _rate(numerator: int, denominator: int) -> float | None:
    return round(numerator / denominator, 4) if denominator else None


def _kind_counts(rows: list[dict[str, Any]]) -> dict[str, Any]:
    found = [r for r in rows if r["outcome"] == "found"]
    measured = sum(r["outcome"] != "excluded" for r in rows)
    return {"planted": len(rows), "measured": measured,
            "excluded": sum(r["outcome"] == "excluded" for r in rows),
            "found": len(found), "recall": _rate(len(found), measured),
            "contaminated": sum(r["verdict"] == "contaminated" for r in found),
            "found_by": dict(sorted(Counter(r["evidence_method"] for r in found).items()))}


def _example(row: dict[str, Any]) -> dict[str, Any]:
    return {"eval_id": row["eval_id"], "verdict": row["verdict"],
            "evidence_id": row["evidence_id"], "evidence_method": row["evidence_method"],
            **({"planted_text": row["planted_text"][:300]} if row["planted_text"] else {}),
            **({"planted_for": row["evidence_planted_for"]}
               if row["evidence_planted_for"] else {})}


def _summarize(rows: list[dict[str, Any]], made: dict[str, Counter[str]], sizes: dict[str, Any],
               settings: dict[str, Any], seed: int) -> dict[str, Any]:
    kinds: dict[str, Any] = {}
    for kind in KINDS:
        mine = [r for r in rows if r["planted"] == kind]
        kinds[kind] = _kind_counts(mine)
        if kind == "verbatim":
            kinds[kind]["placement"] = {p: _kind_counts([r for r in mine if r["placement"] == p])
                                        for p in ("own row", "inside a row")}
        else:
            kinds[kind]["edits" if kind == "edited" else "rules"] = dict(sorted(made[kind].items()))
    kinds["rephrased"]["rule_based"] = True
    others = [r for r in rows if r["planted"] == "unplanted"]
    flagged = [r for r in others if r["outcome"] == "false_positive"]
    measured = sum(r["outcome"] != "excluded" for r in others)
    false_positives = {"unplanted": len(others), "measured": measured,
                       "excluded": len(others) - measured, "flagged": len(flagged),
                       "rate": _rate(len(flagged), measured),
                       "items": [_example(r) for r in flagged[:SHOWN]]}
    warnings = _warnings(kinds, false_positives, settings["methods"])
    missed = {kind: [_example(r) for r in rows if r["planted"] == kind
                     and r["outcome"] == "missed"][:SHOWN] for kind in KINDS}
    return {"note": NOTE, "seed": seed, "settings": settings, "sample": sizes, "kinds": kinds,
            "false_positives": false_positives, "warnings": warnings, "missed": missed,
            "skipped": None}


_ADVICE = {
    "verbatim": ("exact", "add `exact` to the methods: it finds copies and contained copies"),
    "edited": ("minhash", "add `minhash` (and `ngram`) to the methods: they find edited copies"),
    "rephrased": ("embedding", "add `embedding` to the methods: it finds rephrases (slower)"),
}


def _warnings(kinds: dict[str, Any], false_positives: dict[str, Any],
              methods: Sequence[str]) -> list[str]:
    out = []
    for kind in KINDS:
        info = kinds[kind]
        if info["measured"] and info["recall"] < RECALL_WARNING:
            method, advice = _ADVICE[kind]
            out.append(f"self-test: {kind}{' (rule-based)' if kind == 'rephrased' else ''} "
                       f"recall {info['recall']:.0%} is below {RECALL_WARNING:.0%} "
                       f"({info['found']} of {info['measured']} planted copies found)"
                       + (f"; {advice}" if method not in methods else ""))
        if info["measured"] < FEW:
            out.append(f"self-test: only {info['measured']} {kind} copies could be measured "
                       f"({info['excluded']} of {info['planted']} items were near a training "
                       f"row already): too few for a recall")
    rate = false_positives["rate"]
    if rate is not None and rate > FALSE_POSITIVE_WARNING:
        out.append(f"self-test: {false_positives['flagged']} of {false_positives['measured']} "
                   f"unplanted eval items ({rate:.0%}) were flagged at a planted copy of another "
                   f"item (look-alike items, such as templates that differ in numbers)")
    return out


# -- entry points -------------------------------------------------------------------------------


def self_test(train: Any, eval: Any, *, train_ids: Sequence[Any] | None = None,
              eval_ids: Sequence[Any] | None = None,
              methods: Sequence[str] = DEFAULT_AUDIT_METHODS, ngram: int = 13,
              thresholds: Thresholds | None = None, embedding_model: str = "minilm",
              boilerplate: bool = True, ignore: Sequence[str] = (), seed: int = 0,
              items: int = DEFAULT_ITEMS, rows: int = DEFAULT_ROWS) -> SelfTestResult:
    """The audit's self-test on texts in memory: recall per kind of copy, false positives.

    Args:
        train: Training texts (a list of strings, a pandas Series, an Arrow array).
        eval: Eval texts, the same way.
        train_ids: Ids of the training texts (default ``train:<row>``).
        eval_ids: Ids of the eval texts (default their row numbers).
        methods: The audit's checks, as ``splitforge.audit``'s ``methods``.
        ngram: Words per n-gram (characters for CJK).
        thresholds: Verdict thresholds (default ``Thresholds()``).
        embedding_model: The ``embedding`` check's model.
        boilerplate: Leave spans that recur in 5% of the eval texts out of every check, as the
            audit does.
        ignore: Spans to leave out of every check.
        seed: Seeds every draw: the same seed and inputs give the same result.
        items: Eval items planted (at most; as many again stay unplanted), 3 to 2,000.
        rows: Training rows sampled, 0 to 100,000.

    Returns:
        The ``SelfTestResult``; ``result.recall`` per kind, ``result.summary`` as in
        ``self_test.json``.

    Raises:
        RecipeError: An unknown method or a size out of range.
        InputError: A blank eval text.

    Example:
        >>> result = self_test(train_texts, eval_texts, methods=("exact",))  # doctest: +SKIP
        >>> result.recall["verbatim"]  # doctest: +SKIP
        1.0
    """
    from dataclasses import replace

    from splitforge.audit.run import AUDIT_METHODS
    from splitforge.normalize.boilerplate import BoilerplateSettings, detect_boilerplate

    check_sizes(items, rows)
    unknown = [m for m in methods if m not in AUDIT_METHODS]
    if unknown or not methods:
        raise RecipeError([f"methods: unknown {', '.join(unknown) or '(none given)'}; valid: "
                           f"{', '.join(AUDIT_METHODS)}"])
    train_texts, eval_texts = _strings(train), _strings(eval)
    ids = list(eval_ids) if eval_ids is not None else [str(i) for i in range(len(eval_texts))]
    trained = (list(train_ids) if train_ids is not None
               else [f"train:{i}" for i in range(len(train_texts))])
    settings = replace(BoilerplateSettings(), detect=boilerplate, ignore=tuple(ignore))
    found = detect_boilerplate([normalize_text(t) for t in eval_texts], settings)
    sample = TrainingSample(rows, seed)
    sample.add(trained, pa.array(train_texts, pa.string()))
    return run_self_test(ids, eval_texts, sample, methods=tuple(methods), ngram=ngram,
                         thresholds=thresholds or Thresholds(), model=embedding_model,
                         boilerplate=found, seed=seed, items=items)


def _strings(values: Any) -> list[str]:
    if hasattr(values, "to_pylist"):
        values = values.to_pylist()
    elif hasattr(values, "tolist"):
        values = values.tolist()
    return ["" if v is None else str(v) for v in values]


def build_self_test(table: pa.Table, rows: np.ndarray, codes: np.ndarray, recipe: Any,
                    boilerplate: Boilerplate = NO_BOILERPLATE) -> SelfTestResult:
    """The self-test of a build's audit: its kept val and test rows into a sample of train.

    ``rows`` are the kept table rows and ``codes`` their splits after the audit (0 train, 1 val,
    2 test, -1 removed); the eval ids are ``val:<id>`` and ``test:<id>`` as in the audit. The
    settings are ``recipe.audit``'s and the build's boilerplate; the seed is ``recipe.seed``.
    """
    from splitforge import columns as C
    from splitforge.tables import take_rows

    config = recipe.audit
    eval_rows = np.concatenate([rows[codes == 1], rows[codes == 2]])
    sets = ["val"] * int(np.count_nonzero(codes == 1)) + ["test"] * int(
        np.count_nonzero(codes == 2))
    ids = [f"{s}:{i}" for s, i in zip(sets, take_rows(table.column(C.ID),
                                                      eval_rows).to_pylist(), strict=True)]
    texts = take_rows(table.column(C.TEXT), eval_rows).to_pylist()
    train_rows = rows[codes == 0]
    sample = TrainingSample(DEFAULT_ROWS, recipe.seed)
    for start in range(0, len(train_rows), 16_384):
        part = train_rows[start:start + 16_384]
        sample.add(take_rows(table.column(C.ID), part).to_pylist(),
                   take_rows(table.column(C.TEXT), part))
    return run_self_test(ids, texts, sample, methods=config.methods, ngram=config.ngram,
                         thresholds=config.thresholds, model=config.embedding_model,
                         boilerplate=boilerplate, seed=recipe.seed, items=DEFAULT_ITEMS)


def write_self_test(folder: Path, result: SelfTestResult) -> None:
    """``self_test.json`` into an audit report folder, and a section at the end of ``audit.md``.

    The folder holds ``audit.md`` already (``write_audit_report``); the section is appended.
    """
    (folder / SELF_TEST_FILE).write_text(
        json.dumps(result.summary, indent=2, sort_keys=True, ensure_ascii=False) + "\n",
        encoding="utf-8")
    md = folder / "audit.md"
    if md.is_file():
        with md.open("a", encoding="utf-8") as f:
            f.write("\n" + render_self_test(result.summary))


def _percent(value: float | None) -> str:
    return "-" if value is None else f"{value:.1%}"


def render_self_test(summary: dict[str, Any]) -> str:
    """The self-test as a Markdown section (the end of ``audit.md``)."""
    out = ["## Self-test", ""]
    if summary.get("skipped"):
        return "\n".join([*out, summary["skipped"] + ".", ""])
    sample, kinds = summary["sample"], summary["kinds"]
    out += [f"Copies of {sample['planted']} eval items planted among {sample['train_rows']:,} "
            f"sampled training rows (seed {summary['seed']}) and audited with this audit's "
            f"settings; {sample['unplanted']} more items were not planted. Found means "
            f"`suspect` or worse with the item's own copy as the evidence; items already near a "
            f"training row of the sample are left out (excluded).", "",
            "| planted as | items | excluded | found | recall | of them contaminated |",
            "|---|---|---|---|---|---|"]
    for label, info in table_rows(kinds):
        out.append(f"| {label} | {info['planted']} | {info['excluded']} | {info['found']} | "
                   f"{_percent(info['recall'])} | {info['contaminated']} |")
    fp = summary["false_positives"]
    out += ["", f"False positives: {fp['flagged']} of {fp['measured']} unplanted items "
            f"({_percent(fp['rate'])}) flagged at another item's copy ({fp['excluded']} "
            f"excluded).", "", f"Note: {summary['note']}.", ""]
    out += [f"- {w}" for w in summary["warnings"]]
    return "\n".join(out).rstrip() + "\n"


def table_rows(kinds: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """The rows of the self-test's table: each kind, verbatim also by placement."""
    rows = [("verbatim", kinds["verbatim"])]
    rows += [(f"  verbatim, {p}", info) for p, info in kinds["verbatim"]["placement"].items()]
    rows += [("edited", kinds["edited"]), ("rephrased (rule-based)", kinds["rephrased"])]
    return rows
