"""Paraphrases: training texts that say what an eval item says in other words.

Word and character overlap (the other checks) cannot tell a rephrased benchmark item from an
item of the same domain: both share a topic's vocabulary. A sentence-embedding model can, but
embedding a whole training corpus on a CPU is far too slow (tens of texts per second). So the
check works in two steps, as contamination tools that use an LLM judge do:

1. **Retrieve** (streamed, in the workers): every training batch is vectorized with character
   4-gram TF-IDF (``gram_counts``: hashed byte windows, in NumPy; document frequencies from the
   eval side, so the result never depends on how the corpus is batched) and each eval *view*
   keeps its ``candidates`` most similar training texts. A view is the item's whole text or one
   of its sentences or lines of at least ``min_words`` words: a rephrase often keeps only the
   question of a long passage-based item (measured on the MMLU rephrases: the passage is dropped
   in about a fifth of them), and a sentence finds it where the whole item cannot.
2. **Verify** (once, at the end): the views and their candidates are embedded with a
   sentence-embedding model (``splitforge.embed.MiniLMEmbedder``: all-MiniLM-L6-v2 in NumPy), and
   an item's score is the best cosine similarity of any of its views with any of their candidates.

A long training text (more than ``window_from`` words, 256: more than MiniLM reads) is also
retrieved by its passages (``windows``: ``window`` words from sentence starts, sized to the eval
items), so an item rephrased inside a 600-word document is compared with the passage that holds
it, not with one vector of the whole; each text counts once per view, by its best passage or
itself, and its other passages are no rivals in the margin. ``span`` names the passage.

Per eval item: ``score`` = that cosine, ``evidence_id`` = the training id of the candidate
(ties: the smallest id in string order), ``view`` = the part of the item that matched and
``matched_text`` = the start of the training text, ``retrieval`` = the TF-IDF similarity of that
pair, ``margin`` = how far the best cosine stands above the next-best training text.

Eval sets hold look-alikes of their own (MMLU's abstract-algebra items "Find the degree of the
field extension Q(...)" differ only in the expression; HumanEval has fib4 beside fibfib), so a
training text near one item is often near its siblings too. Attribution (``_claimed``): a
candidate that another eval item (not the item's own answer) matches more closely is set aside for
this item only when that sibling is also more than ``_SIBLING`` closer to the item than the text
is (the sibling, not the text, explains the likeness); a candidate that a closer item matches at
``threshold`` or more is that item's evidence and no rival in this item's margin. Each item is
then read twice where its closest text is such a claimed one: on that text, and on its closest
text that no closer item claims (a HumanEval function whose closest text is the planted copy of its
template sibling, and whose own rephrase comes next); the first reading that is flagged is the
verdict, so attribution never hides an item's own match.

A cosine alone cannot separate a rephrase from the same task written independently (a HumanEval
item and an Alpaca row that both check for primes score 0.88). What does separate them is that a
rephrase stands out from everything else in the corpus, as in Lowe's ratio test for image
feature matches: on the calibration data the best cosine of a planted MMLU rephrase is a median
0.34 above the next training text, that of an unplanted item 0.06. So a pair is a candidate when
``score >= threshold`` (0.85), or ``score >= floor`` (0.7) with ``margin >= margin`` (0.1).

Mean-pooled vectors still put a HumanEval function beside an Alpaca row that asks for the same
task in one line (both "about primes"). A rephrase keeps the item's parts (docstring, examples,
the solution's steps) one by one, so each candidate pair is checked word piece by word piece:
``alignment`` = BERTScore F1 (Zhang et al. 2020: every token's best cosine in the other text,
averaged both ways, with the same model's token vectors). ``flagged`` = candidate and either
``alignment >= alignment`` (0.68) or ``margin >= standout`` (0.5: a match that stands that far
above every other training text needs no second proof; short MMLU questions rephrased at twice
their length, "Socialization is:" / "What does socialization mean?", align at 0.65). The margin
is measured against the texts no other eval item claims, so where every other retrieved text was
set aside (or is a copy of the evidence, or a passage of the same text) it is the cosine itself:
such a match stands out from nothing (``rivals`` 0), and it must align like any other (on
same-domain data, a GSM8K-like word problem inside a long Alpaca document whose every other
retrieved passage is closer to some other GSM8K item). What the
thresholds mean on the rephrased MMLU and HumanEval pairs is in the README
(``scripts/calibrate_paraphrase.py``).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp

from splitforge.audit.base import (
    CHECKS,
    CONTAMINATED,
    PREVIEW,
    SUSPECT,
    AuditCheck,
    CheckResult,
    TrainingBatch,
)
from splitforge.normalize.shingles import CJK_RANGES, fmix64, is_cjk, text_buffers
from splitforge.normalize.text import normalize_text
from splitforge.progress import NO_PROGRESS, Progress

_LATIN_STOPS, _CJK_STOPS = ".!?;:", "。！？；"
_SENTENCE_END = re.compile(rf"\n+|(?<=[{_LATIN_STOPS}])\s+|(?<=[{_CJK_STOPS}])")
_WORD = re.compile(r"[^\W\d_]{2,}")  # a word with at least two letters
_MAX_VIEWS = 32
_SIM_BYTES = 64 << 20  # views x training rows similarities held at once
_TEXT_BYTES = 2 << 20  # training text vectorized at once (its n-grams take ~40x that)
GRAM_BYTES = 4
_HASH_BITS = 44  # the other 20 bits of a key hold the text's row
_HASH_MASK = np.uint64((1 << _HASH_BITS) - 1)
_SAME = 0.95  # candidates this close to the evidence are copies of it, not other neighbours
# A sibling explains an item's match only when it is this much closer to the item than the
# training text is: MMLU's abstract-algebra templates beside a rephrase of one of them sit
# 0.035-0.036 closer to the rephrased sibling; a paraphrase of a GSM8K question beside a copy of
# it with numbers changed or a fact removed, at most 0.014 (tests/data/gsm8k_variants.jsonl).
_SIBLING = 0.02
NUMBERS_DECIDE_BELOW = 0.3  # a match standing out this far is not judged by its numbers


_CJK = "".join(f"{chr(lo)}-{chr(hi)}" for lo, hi in CJK_RANGES)  # is_cjk's, no punctuation
_UNIT = re.compile(f"[{_CJK}]{{1,2}}|[^\\s{_CJK}]+")  # a word; CJK: 2 characters
_STOPS = frozenset(_LATIN_STOPS + _CJK_STOPS)
_PASSAGE = "\x00"  # between a training id and a window's span in a candidate's key
WINDOW_FROM = 256  # words: a longer text has more than the 256 word pieces MiniLM reads


def window_size(views_: Sequence[str]) -> int:
    """Words per passage window: 1.25 times the median eval item, within 16-128 words."""
    if not views_:
        return 64
    return int(min(128, max(16, round(1.25 * float(np.median([len(_UNIT.findall(v))
                                                               for v in views_]))))))


def windows(text: str, size: int, longer_than: int = WINDOW_FROM) -> list[tuple[int, int]]:
    """Character spans of the passages a long training text is compared by.

    A text of at most ``longer_than`` words is one span, itself. A longer one: ``size`` words
    from a sentence start, a new window at the first sentence start at least ``size // 4``
    words after the last (or ``size // 2`` words on where no sentence starts), until one reaches
    the end. An eval item planted in a document starts at a sentence, so some window starts with
    it; at most ``4 * words / size`` windows per text.
    """
    units = [m.span() for m in _UNIT.finditer(text)]
    n = len(units)
    if n <= longer_than:
        return [(0, len(text))]
    out, last = [], -size
    for i in range(n):
        starts = i == 0 or text[units[i - 1][1] - 1] in _STOPS
        if (starts and i - last >= max(1, size // 4)) or i - last >= max(1, size // 2):
            end = min(n, i + size)
            out.append((units[i][0], units[end - 1][1]))
            last = i
            if end == n:
                break
    return out


def views(text: str, min_words: int) -> list[str]:
    """The whole text, then its distinct sentences and lines of at least ``min_words`` words.

    Only words of two letters or more count (a line of code or numbers says little on its own);
    CJK text counts two characters as a word. Texts are normalized (``normalize_text``).
    """
    whole = normalize_text(text)
    out = [whole] if whole else []
    seen = set(out)
    for part in _SENTENCE_END.split(text):
        part = normalize_text(part)
        size = len(part.replace(" ", "")) / 2 if is_cjk(part) else len(_WORD.findall(part))
        if size >= min_words and part not in seen and len(out) < _MAX_VIEWS:
            out.append(part)
            seen.add(part)
    return out


_UNITS = {w: i for i, w in enumerate(
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen "
    "fifteen sixteen seventeen eighteen nineteen".split())}
_TENS = {w: 10 * i for i, w in enumerate(
    "twenty thirty forty fifty sixty seventy eighty ninety".split(), start=2)}
_SCALES = {"hundred": 100, "thousand": 1000, "million": 1_000_000}
_NUMBER_TOKEN = re.compile(r"\d+(?:[.,]\d+)*|[a-z]+")


def numbers(text: str) -> set[str]:
    """The distinct numbers of a normalized text, as digits.

    Digits (``1,200`` = ``1200``, ``4.00`` = ``4``) and number words, read as a number
    (``twenty-eight`` = 28, ``ten thousand`` = ``10 thousand`` = 10000): a rephrase often writes
    one as the other. Words such as "half" or "dozen" are left alone (a rephrase turns "half"
    into "twice" as often as into 0.5).
    """
    found: set[str] = set()
    total, current, last = 0.0, 0.0, ""  # last: "", "digit", "unit", "ten", "scale", "and"

    def close() -> None:
        nonlocal total, current, last
        if last:
            value = total + current
            found.add(str(int(value)) if value == int(value) else f"{value:g}")
        total, current, last = 0.0, 0.0, ""

    for token in _NUMBER_TOKEN.findall(text):
        if token[0].isdigit():
            close()
            value = token.replace(",", "")
            current, last = (float(value) if value.count(".") <= 1 else 0.0), "digit"
        elif token in _UNITS or token in _TENS:
            joins = (last in ("scale", "and")
                     or (last == "ten" and token in _UNITS and _UNITS[token] < 10))
            if not joins:
                close()
            current += _UNITS.get(token, 0) + _TENS.get(token, 0)
            last = "ten" if token in _TENS else "unit"
        elif token in _SCALES and last in ("digit", "unit", "ten", "scale"):
            if _SCALES[token] == 100:
                current *= 100
            else:
                total, current = total + current * _SCALES[token], 0.0
            last = "scale"
        elif token == "and" and last == "scale":
            last = "and"
        else:
            if last == "and":
                last = "scale"
            close()
    close()
    return found


_CODE = re.compile(r"\bdef \w+\(|>>>|\breturn\b|\w\(\w*\)\s*[:{]")


def looks_like_code(text: str) -> bool:
    """A function definition, a doctest prompt or a ``return``.

    Numbers in code are examples that a rephrase of the task may change, so ``number_agreement``
    does not apply to it.
    """
    return bool(_CODE.search(text))


def number_agreement(view: str, text: str) -> float:
    """Share of the view's distinct numbers that the training text has; NaN under two numbers.

    A rephrase of a word problem keeps its numbers (or writes them as words); a problem of the
    same kind written independently has its own: on GSM8K test against GSM8K train, the
    same-topic look-alikes that MiniLM puts at cosine 0.75-0.89 share few of them.
    """
    mine = numbers(view)
    if len(mine) < 2:
        return float("nan")
    return len(mine & numbers(text)) / len(mine)


def gram_counts(data: np.ndarray, offsets: np.ndarray, n: int = GRAM_BYTES
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each text's distinct ``n``-byte windows: (row, 44-bit hash, count), by row then hash.

    The windows are read from the UTF-8 buffer as little-endian integers (so for ASCII text they
    are character n-grams, across word boundaries) and hashed with ``fmix64``, in NumPy: this
    replaces sklearn's ``HashingVectorizer(analyzer="char")``, whose Python loop over characters
    ran at about 400 training documents per second, and whose 2**20 columns made unrelated
    n-grams of two texts share a column often enough to move their cosine by a few hundredths
    (44-bit hashes: never, in practice). A text shorter than ``n`` bytes has no window.
    """
    rows = len(offsets) - 1
    windows = len(data) - n + 1
    empty = np.zeros(0, np.int64), np.zeros(0, np.uint64), np.zeros(0, np.int64)
    if rows <= 0 or windows <= 0:
        return empty
    if rows >= 1 << (64 - _HASH_BITS):
        raise ValueError(f"at most {1 << (64 - _HASH_BITS):,} texts at once")
    wide = data.astype(np.uint64)
    value = wide[:windows].copy()
    for k in range(1, n):
        value |= wide[k:windows + k] << np.uint64(8 * k)
    doc = np.repeat(np.arange(rows, dtype=np.uint64), np.diff(offsets))[:windows]
    inside = np.arange(windows, dtype=np.int64) + n <= offsets[1:][doc.astype(np.int64)]
    key = (doc[inside] << np.uint64(_HASH_BITS)) | (fmix64(value[inside])
                                                    >> np.uint64(64 - _HASH_BITS))
    key, count = np.unique(key, return_counts=True)
    return ((key >> np.uint64(_HASH_BITS)).astype(np.int64), key & _HASH_MASK,
            count.astype(np.int64))


@dataclass(frozen=True)
class EmbeddingResult(CheckResult):
    """``CheckResult`` of ``EmbeddingCheck``; ``score`` is the best verified cosine similarity.

    Attributes:
        margin: ``score`` minus the cosine of the next-best retrieved training text (copies of
            the evidence and texts set aside excluded; ``score`` itself when there is none).
        retrieval: Character TF-IDF similarity of the evidence pair.
        alignment: BERTScore F1 of the matching view and the evidence, computed only where it
            decides the verdict: items that their cosine and margin make candidates, under the
            ``standout`` margin, whose numbers do not rule them out (1 for a verbatim copy
            without computing it; NaN for the others).
        set_aside: Retrieved training texts not counted for the item because another eval item
            resembles them more (``EmbeddingCheck._claimed``).
        view: The part of the eval item (whole text or one sentence) that matched.
        matched_text: The start of the evidence training text (normalized).
        numbers: ``number_agreement`` of the matching view and the evidence (NaN where the view
            has fewer than two numbers).
        span: ``start-end``, the characters of the normalized training text that matched where
            it was read as passages (``windows``: a text over ``window_from`` words); None where
            it was read whole.
        rivals: How many other training texts the margin was measured against (0: the margin is
            the cosine itself, and the match must align: ``flag``).
    """

    margin: np.ndarray
    retrieval: np.ndarray
    alignment: np.ndarray
    set_aside: np.ndarray
    view: list[str | None]
    matched_text: list[str | None]
    numbers: np.ndarray | None = None
    span: list[str | None] | None = None
    rivals: np.ndarray | None = None

    def levels(self, thresholds: Any) -> np.ndarray:
        """``flag`` with the verdict's thresholds; contaminated from ``embedding_contaminated``."""
        t = thresholds
        flagged = flag(self.score, np.asarray(self.margin, dtype=np.float64),
                       np.asarray(self.alignment, dtype=np.float64), t.embedding_suspect,
                       t.embedding_margin, t.embedding_floor, t.embedding_alignment,
                       t.embedding_standout, self._numbers(), t.embedding_numbers,
                       self.rivals)
        level = np.zeros(len(self.score), dtype=np.int8)
        level[flagged] = SUSPECT
        level[flagged & (self.score >= t.embedding_contaminated)] = CONTAMINATED
        return level

    def evidence_text(self, item: int, eval_text: str) -> str:
        """The start of the training text that matched."""
        return self.matched_text[item] or ""

    def _numbers(self) -> np.ndarray:
        if self.numbers is None:
            return np.full(len(self.score), np.nan)
        return np.asarray(self.numbers, dtype=np.float64)


@CHECKS.register("embedding")
class EmbeddingCheck(AuditCheck):
    """Best sentence-embedding cosine of each eval item with its retrieved training texts.

    Args:
        eval_norm: Normalized eval texts.
        threshold: Cosine from which an item is flagged (default 0.85).
        margin: An item is also flagged when its best cosine is at least ``floor`` and at least
            ``margin`` above the next-best retrieved training text (default 0.1).
        floor: See ``margin`` (default 0.7).
        alignment: The BERTScore F1 a flagged pair needs besides (default 0.68) ...
        standout: ... unless its margin is at least this (default 0.5).
        numbers: The ``number_agreement`` a flagged pair needs where the item has two numbers or
            more (default 0.6).
        candidates: Training texts kept per view by the TF-IDF retrieval (default 5).
        min_words: Words a sentence needs to be a view of its own (default 8).
        model: ``minilm`` (the packaged all-MiniLM-L6-v2) or a sentence-transformers BERT
            model folder.
        eval_texts: The raw eval texts, cut into sentences and lines (normalized text has no
            line breaks left); default ``eval_norm``.
        groups: One number per eval text; texts of one group (an item's input and its answer)
            never set aside each other's candidates. Default: every text its own group.
        window: Words per passage of a long training text (``windows``); default
            ``window_size`` of the eval items (1.25 times their median length, 16-128).
        window_from: A training text of more words is read as passages (default 256): one
            vector of a 600-word document dilutes a 40-word rephrase in it, and MiniLM reads only
            its first 256 word pieces. Each text is retrieved by its best passage or itself
            (what a text read whole scored it never loses), and the margin counts other texts
            only, never the text's other passages.
        shared_views: ``(rows, share)`` of boilerplate detection (``BoilerplateSettings``): a
            sentence that at least ``max(rows, share * items)`` eval items hold (a system
            prompt's) is no view of any of them. None (the default): every sentence is a
            view.

    Guarantees: the result does not depend on how the training corpus is batched or ordered.
    """

    name = "embedding"
    version = "3"

    def __init__(self, eval_norm: Sequence[str], threshold: float = 0.85, margin: float = 0.1,
                 floor: float = 0.7, alignment: float = 0.68, standout: float = 0.5,
                 numbers: float = 0.6, candidates: int = 5,
                 min_words: int = 8, model: str = "minilm",
                 eval_texts: Sequence[str] | None = None,
                 groups: Sequence[int] | None = None, window: int | None = None,
                 window_from: int = WINDOW_FROM,
                 shared_views: tuple[int, float] | None = None) -> None:
        super().__init__(eval_norm)
        if not 0 < threshold <= 1:
            raise ValueError(f"threshold={threshold} must be in (0, 1]: it is the cosine "
                             f"similarity from which an eval item is flagged")
        from splitforge.embed.minilm import model_folder

        self.threshold, self.k, self.min_words = threshold, candidates, min_words
        self.margin, self.floor, self.alignment = margin, floor, alignment
        self.standout, self.numbers = standout, numbers
        self.model = str(model)
        model_folder(self.model)  # a missing model is bad input now, not after the scan
        raw = list(eval_texts) if eval_texts is not None else self.eval_norm
        if len(raw) != len(self.eval_norm):
            raise ValueError("eval_texts must hold one text per eval item")
        self.views: list[str] = []
        owner: list[int] = []
        cut = [views(text if isinstance(text, str) else "", min_words) for text in raw]
        # a sentence in many items is boilerplate (a system prompt's): no view of any
        common = Counter(v for parts in cut for v in parts[1:]) if shared_views else Counter()
        rows, share = shared_views or (0, 0.0)
        shared = max(rows, share * len(raw))
        for item, parts in enumerate(cut):
            for k, view in enumerate(parts):
                if k == 0 or not shared_views or common[view] < shared:
                    self.views.append(view)
                    owner.append(item)
        self.owner = np.asarray(owner, dtype=np.int64)
        group = np.arange(len(raw)) if groups is None else np.asarray(groups, dtype=np.int64)
        if len(group) != len(raw):
            raise ValueError("groups must hold one number per eval item")
        self.groups = group
        whole = [v for k, v in enumerate(self.views) if k == 0 or owner[k] != owner[k - 1]]
        self.window = int(window) if window else window_size(whole)
        self.window_from = int(window_from)
        if self.window < 1 or self.window_from < 1:
            raise ValueError("window and window_from must be at least 1 word")
        row, gram, count = gram_counts(*text_buffers(self.views))
        self._vocab = np.unique(gram)  # the eval side's n-grams: the only columns a dot uses
        df = np.bincount(np.searchsorted(self._vocab, gram), minlength=len(self._vocab))
        n = max(1, len(self.views))
        self._idf = (np.log((1 + n) / (1 + df)) + 1).astype(np.float32)
        self._idf_unseen = np.float32(np.log(1 + n) + 1)
        self._eval = self._vectorize(row, gram, count, len(self.views)).T.tocsr()
        views_n = len(self.views)
        self._score = np.full((views_n, self.k), -1.0, dtype=np.float32)
        self._id = np.full((views_n, self.k), None, dtype=object)
        self._texts: dict[str, str] = {}
        self._spans: dict[str, tuple[str, int, int]] = {}  # window key -> (id, start, end)
        self._windows = self._long = 0
        self._done: EmbeddingResult | None = None  # finish()'s result, until the next batch

    def _vectorize(self, row: np.ndarray, gram: np.ndarray, count: np.ndarray, rows: int
                   ) -> sp.csr_matrix:
        """Unit-length TF-IDF rows (sublinear TF) over the eval vocabulary.

        N-grams that no eval item has count in a row's length (their IDF is the largest) and are
        then dropped: no dot product with an eval item can use them.
        """
        col = np.minimum(np.searchsorted(self._vocab, gram), max(len(self._vocab) - 1, 0))
        known = self._vocab[col] == gram if len(self._vocab) else np.zeros(len(gram), bool)
        weight = np.log1p(count).astype(np.float32)
        weight *= np.where(known, self._idf[col] if len(self._vocab) else 0, self._idf_unseen)
        norm = np.sqrt(np.bincount(row, weight * weight, minlength=rows)).astype(np.float32)
        weight /= np.where(norm > 0, norm, 1)[row]
        return sp.csr_matrix((weight[known], (row[known], col[known])),
                             shape=(rows, len(self._vocab)))

    def _passages(self, batch: TrainingBatch
                  ) -> tuple[np.ndarray, list[str], list[tuple[int, int] | None]] | None:
        """The batch's texts as retrieval rows: per row, its text row, text and span.

        Every text is a row of its own (span None); one of more than ``window_from`` words is
        also each of its ``windows`` (span: characters of the normalized text). None where no
        text of the batch is that long (the batch's own rows serve).
        """
        _, offsets = batch.buffers
        long = np.flatnonzero(np.diff(offsets) > 2 * self.window_from)  # a word: 2 bytes or more
        cuts = {r: cut for r in long.tolist()
                if len(cut := windows(batch.text(r), self.window, self.window_from)) > 1}
        if not cuts:
            return None
        owner: list[int] = []
        texts: list[str] = []
        spans: list[tuple[int, int] | None] = []
        for r, text in enumerate(batch.norm.to_pylist()):
            cut = cuts.get(r, ())
            owner += [r] * (1 + len(cut))  # the whole text too: what MiniLM reads whole scored
            texts += [text, *(text[a:b] for a, b in cut)]
            spans += [None, *cut]
        return np.asarray(owner, dtype=np.int64), texts, spans

    def _probe(self, batch: TrainingBatch) -> dict[str, Any]:
        if not len(self.views) or not len(batch):
            return {}
        ids = np.array(batch.ids, dtype=object)
        expanded = self._passages(batch)
        windowed = expanded is not None
        if expanded is not None:
            owner, passages, spans = expanded
            data, offsets = text_buffers(passages)
            keys = np.array([ids[r] if span is None else f"{ids[r]}{_PASSAGE}{span[0]}-{span[1]}"
                             for r, span in zip(owner.tolist(), spans, strict=True)],
                            dtype=object)
        else:
            data, offsets = batch.buffers
            owner, keys, spans, passages = np.arange(len(batch)), ids, [], []
        scores, rows = [], []
        step = max(64, _SIM_BYTES // (4 * len(self.views)))
        lo, total = 0, len(keys)
        while lo < total:
            hi = min(lo + step, total)  # and at most _TEXT_BYTES of text (or one text)
            hi = max(lo + 1, min(hi, int(np.searchsorted(offsets, offsets[lo] + _TEXT_BYTES,
                                                         "right")) - 1))
            part = offsets[lo:hi + 1]
            train = self._vectorize(*gram_counts(data[part[0]:part[-1]], part - part[0]),
                                    hi - lo)
            sim = (train @ self._eval).T.toarray()  # views x rows
            if windowed:  # per text, its best window in this part
                sim, columns = _best_per_owner(sim, owner[lo:hi])
            k = min(self.k, sim.shape[1])
            top = np.argpartition(-sim, k - 1, axis=1)[:, :k]
            scores.append(np.take_along_axis(sim, top, 1))
            rows.append((np.take_along_axis(columns, top, 1) if windowed else top) + lo)
            lo = hi
        score, row = np.concatenate(scores, axis=1), np.concatenate(rows, axis=1)
        if windowed:  # a text whose windows fell in two parts: its best window only
            score = _once_per_owner(score, keys[row], owner[row])
        keep = self._best(score, keys[row])
        score = np.take_along_axis(score, keep, 1)
        row = np.take_along_axis(row, keep, 1)
        used = np.unique(row[score > 0]).tolist()
        texts = {keys[r]: passages[r] if windowed else batch.text(r) for r in used}
        places = {keys[r]: (ids[owner[r]], *spans[r]) for r in used
                  if windowed and spans[r] is not None}
        windowed_rows = len(np.unique(owner[[s is not None for s in spans]])) if windowed else 0
        return {"score": score, "id": keys[row], "texts": texts, "spans": places,
                "windows": (len(keys) - len(batch), windowed_rows)}

    def _best(self, score: np.ndarray, ids: np.ndarray) -> np.ndarray:
        """Per view, the columns of the ``k`` best scores (ties: smallest id first)."""
        views, width = score.shape
        order = np.lexsort((ids.astype(str).ravel(), -score.ravel(),
                            np.repeat(np.arange(views), width)))  # one sort for every view
        return (order.reshape(views, width) % max(width, 1))[:, :self.k]

    def _merge(self, payload: dict[str, Any]) -> None:
        if not payload:
            return
        score = np.concatenate([self._score, payload["score"]], axis=1)
        ids = np.concatenate([self._id, payload["id"]], axis=1)
        keep = self._best(score, np.where(ids == None, "\uffff", ids))  # noqa: E711
        self._score = np.take_along_axis(score, keep, 1)
        self._id = np.take_along_axis(ids, keep, 1)
        self._texts.update(payload["texts"])
        self._spans.update(payload.get("spans", {}))
        windows_, long_ = payload.get("windows", (0, 0))
        self._windows += windows_
        self._long += long_
        self._done = None
        wanted = set(self._id[self._score > 0].tolist())
        self._texts = {i: t for i, t in self._texts.items() if i in wanted}
        self._spans = {i: t for i, t in self._spans.items() if i in wanted}

    def finish(self, progress: Progress = NO_PROGRESS) -> None:
        """Verify, attribute and align the retrieved candidates (the slow steps: progress bars)."""
        self._done = self._verify(progress)

    def _result(self) -> EmbeddingResult:
        if self._done is None:
            self.finish()
        return self._done

    def _verify(self, progress: Progress) -> EmbeddingResult:
        """Embed the views and their candidates, then keep, per item, its closest own text."""
        from splitforge.embed.minilm import MiniLMEmbedder

        n = len(self.eval_norm)
        best = np.zeros(n, dtype=np.float64)
        margin = np.zeros(n, dtype=np.float64)
        retrieval = np.zeros(n, dtype=np.float64)
        aligned = np.full(n, np.nan)
        best_view = np.full(n, -1, dtype=np.int64)
        agree = np.full(n, np.nan)
        evidence: list[str | None] = [None] * n
        view_text: list[str | None] = [None] * n
        matched: list[str | None] = [None] * n
        span: list[str | None] = [None] * n
        rivals = np.zeros(n, dtype=np.int64)
        set_aside: list[set[str]] = [set() for _ in range(n)]
        pairs = int((self._score > 0).sum())
        if pairs:
            texts = sorted(set(self._texts.values()))  # equal texts, equal vectors: ties
            advance = progress.task("audit: embedding texts", len(self.views) + len(texts))
            embedder = MiniLMEmbedder(self.model)
            vectors = embedder.embed(self.views + texts, advance)  # one call: fewer short batches
            view_vec, cand_vec = vectors[:len(self.views)], vectors[len(self.views):]
            row = {t: k for k, t in enumerate(texts)}
            where = {i: row[t] for i, t in self._texts.items()}
            vs, js = np.nonzero(self._score > 0)
            cand = np.array([where[i] for i in self._id[vs, js]], dtype=np.int64)
            cosines = np.round(np.einsum("ij,ij->i", view_vec[vs], cand_vec[cand]), 6)
            aside, claim = self._claimed(view_vec, cand_vec, vs, cand, cosines)
            per_item: dict[int, dict[str, tuple[float, int, int]]] = {}
            theirs: dict[int, set[str]] = {}  # another item's evidence: no rival for the margin
            for v, j, cos, claimed, other in zip(vs.tolist(), js.tolist(), cosines.tolist(),
                                                 aside.tolist(), claim.tolist(), strict=True):
                cid, item = self._id[v, j], int(self.owner[v])
                if other >= self.threshold:
                    theirs.setdefault(item, set()).add(cid)
                if claimed:
                    set_aside[item].add(cid)
                    continue
                found = per_item.setdefault(item, {})
                if cid not in found or cos > found[cid][0]:
                    found[cid] = (cos, v, j)
            # Two readings per item: its closest text, and its closest text that no closer item
            # claims as evidence (a sibling's planted copy can be the closest text of an item whose
            # own rephrase is next). The first that is flagged is the item's verdict.
            readings = []
            for item, found in per_item.items():
                mine = theirs.get(item, set())
                readings.append((item, self._judge(found, mine, frozenset(), cand_vec, where)))
                if readings[-1][1][0] in mine and any(i not in mine for i in found):
                    readings.append((item, self._judge(found, mine, mine, cand_vec, where)))
            score = np.clip([cos for _, (_, cos, _, _, _, _) in readings], 0.0, 1.0)
            gap = np.array([m for _, (_, _, _, _, m, _) in readings])
            others = np.array([n for _, (_, _, _, _, _, n) in readings], dtype=np.int64)
            agrees = np.array([np.nan if looks_like_code(self.views[v]) else
                               number_agreement(self.views[v], self._texts[cid])
                               for _, (cid, _, v, _, _, _) in readings])

            def judged(fit: np.ndarray) -> np.ndarray:
                return flag(score, gap, fit, self.threshold, self.margin, self.floor,
                            self.alignment, self.standout, agrees, self.numbers, others)

            # alignment only where it decides the flag (elsewhere NaN: not computed)
            todo = np.flatnonzero(judged(np.ones(len(readings)))
                                  & ~judged(np.zeros(len(readings))))
            fit = np.full(len(readings), np.nan)
            fit[todo] = self._aligned([(self.views[readings[k][1][2]],
                                        self._texts[readings[k][1][0]])
                                       for k in todo.tolist()], progress)
            ok = judged(fit)
            chosen: dict[int, int] = {}  # item -> its first flagged reading, else its first
            for k, (item, _) in enumerate(readings):
                if item not in chosen or (ok[k] and not ok[chosen[item]]):
                    chosen[item] = k
            for item, k in chosen.items():
                cid, cos, v, j, m, rivals[item] = readings[k][1]
                set_aside[item].difference_update(per_item[item])  # kept through another view
                best[item], evidence[item], margin[item] = cos, self._doc(cid), m
                if cid in self._spans:
                    span[item] = "{}-{}".format(*self._spans[cid][1:])
                retrieval[item] = float(self._score[v, j])
                best_view[item] = v
                view_text[item] = self.views[v][:PREVIEW]
                matched[item] = self._texts[cid][:PREVIEW]
                aligned[item], agree[item] = fit[k], agrees[k]
        best = np.clip(best, 0.0, 1.0)
        flagged = flag(best, margin, aligned, self.threshold, self.margin, self.floor,
                       self.alignment, self.standout, agree, self.numbers, rivals)
        aside = np.array([len(s) for s in set_aside], dtype=np.int64)
        summary = {"threshold": self.threshold, "margin": self.margin, "floor": self.floor,
                   "alignment": self.alignment, "standout": self.standout,
                   "numbers": self.numbers, "candidates": self.k, "min_words": self.min_words,
                   "model": self.model, "window_words": self.window,
                   "window_from": self.window_from, "long_texts": self._long,
                   "windows": self._windows,
                   "views": len(self.views), "verified_pairs": pairs,
                   "items_with_candidates_set_aside": int((aside > 0).sum())}
        return EmbeddingResult(self.name, flagged, best, evidence, summary, margin, retrieval,
                               aligned, aside, view_text, matched, agree, span, rivals)

    def _judge(self, found: dict[str, tuple[float, int, int]], mine: set[str],
               skip: set[str] | frozenset[str], cand_vec: np.ndarray, where: dict[str, int]
               ) -> tuple[str, float, int, int, float, int]:
        """The closest of ``found`` not in ``skip``: ``(id, cos, view, slot, margin, rivals)``.

        The margin's rivals are the other found texts, except copies of it, passages of the same
        text and ``mine`` (texts a closer eval item claims as evidence); with none, the margin
        is the cosine itself.
        """
        cid = min((i for i in found if i not in skip), key=lambda i: (-found[i][0], i))
        cos, v, j = found[cid]
        doc = self._doc(cid)
        others = [c for i, (c, _, _) in found.items()  # copies of the evidence: not others
                  if i != cid and i not in mine and self._doc(i) != doc
                  and float(np.dot(cand_vec[where[i]], cand_vec[where[cid]])) < _SAME]
        return cid, cos, v, j, cos - max(others, default=0.0), len(others)

    def _doc(self, key: str) -> str:
        """The training id of a retrieved text (a window's key names its text and span)."""
        place = self._spans.get(key)
        return key if place is None else place[0]

    def _aligned(self, pairs: list[tuple[str, str]], progress: Progress) -> list[float]:
        """``alignment`` of each (view, training text) pair."""
        from splitforge.embed.minilm import MiniLMEmbedder

        if not pairs:
            return []
        out: list[float] = [1.0 if view == text else np.nan for view, text in pairs]  # a copy
        todo = [k for k, (view, text) in enumerate(pairs) if view != text]
        embedder = MiniLMEmbedder(self.model) if todo else None
        advance = progress.task("audit: aligning candidates", len(pairs))
        advance(len(pairs) - len(todo))
        for lo in range(0, len(todo), 256):  # token vectors: up to 256 x 384 floats a text
            part = todo[lo:lo + 256]
            texts = sorted({t for k in part for t in pairs[k]})
            vectors = dict(zip(texts, embedder.token_vectors(texts), strict=True))
            for k in part:
                out[k] = round(alignment(vectors[pairs[k][0]], vectors[pairs[k][1]]), 6)
            advance(len(part))
        return out

    def _claimed(self, view_vec: np.ndarray, cand_vec: np.ndarray, vs: np.ndarray,
                 cand: np.ndarray, cosines: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Per retrieved pair (view ``vs``, candidate ``cand``): is it another item's evidence?

        Returns ``(aside, claim)``: whether the pair is set aside (below), and the cosine of the
        closest other item's view where that item is closer to the candidate than this one (0
        elsewhere). A candidate that a closer item matches at ``threshold`` or more is that
        item's evidence, so it is no rival in this item's margin either.

        A pair is set aside when the view of another eval item (of another group) closest to the
        candidate is closer to it than any view of the pair's own item, *and* the pair's view is
        closer (by more than ``_SIBLING``) to that view than to the candidate: the sibling, not
        the training text, explains why this item looks like the text. A rephrase of a sibling
        ("Find the degree of the field extension Q(sqrt(2))" beside Q(sqrt(2), sqrt(3))) stays
        with the sibling, while a
        variant of one problem (a paraphrase beside a near-verbatim copy of the same training
        question) keeps its own match: it is closer to the training text than to its sibling.
        Ties keep the pair.
        """
        group = self.groups[self.owner]
        aside = np.zeros(len(vs), dtype=bool)
        claim = np.zeros(len(vs), dtype=np.float64)
        if len(np.unique(group)) < 2:
            return aside, claim
        order = np.argsort(group, kind="stable")
        starts = np.flatnonzero(np.r_[True, np.diff(group[order]) != 0])
        slot = np.searchsorted(group[order][starts], group[vs])
        used, row = np.unique(cand, return_inverse=True)
        ordered = view_vec[order]
        step = max(1, _SIM_BYTES // (4 * len(order)))
        for lo in range(0, len(used), step):
            sims = np.round(cand_vec[used[lo:lo + step]] @ ordered.T, 6)
            per_group = np.maximum.reduceat(sims, starts, axis=1)
            closest = order[sims.argmax(1)]  # the view closest to each candidate
            here = np.flatnonzero((row >= lo) & (row < lo + step))
            r = row[here] - lo
            other = per_group[r, slot[here]] < per_group.max(1)[r]
            if not other.any():
                continue
            here, r = here[other], r[other]
            claim[here] = per_group.max(1)[r]
            sibling = np.round(np.einsum("ij,ij->i", view_vec[vs[here]],
                                         view_vec[closest[r]]), 6)
            aside[here] = sibling > cosines[here] + _SIBLING
        return aside, claim


def _once_per_owner(score: np.ndarray, keys: np.ndarray, owner: np.ndarray) -> np.ndarray:
    """``score`` with each view's entries of a text after its best (ties: smallest key) at -2."""
    views, width = score.shape
    order = np.lexsort((keys.astype(str).ravel(), -score.ravel(),
                        np.repeat(np.arange(views), width)))
    pair = (np.repeat(np.arange(views), width) * (int(owner.max()) + 1) + owner.ravel())[order]
    _, first = np.unique(pair, return_index=True)
    out = np.full(score.size, -2.0, dtype=score.dtype)
    out[order[first]] = score.ravel()[order[first]]
    return out.reshape(views, width)


def _best_per_owner(sim: np.ndarray, owner: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per view, each text's best window: (views x texts similarities, their window columns).

    ``owner`` holds each column's text, sorted; ties keep the first window.
    """
    starts = np.flatnonzero(np.r_[True, owner[1:] != owner[:-1]])
    best = np.maximum.reduceat(sim, starts, axis=1)
    width = np.diff(np.r_[starts, len(owner)])
    at = np.where(sim == np.repeat(best, width, axis=1), np.arange(len(owner), dtype=np.int32),
                  np.int32(len(owner)))
    return best, np.minimum.reduceat(at, starts, axis=1)


def candidate(score: np.ndarray, margin: np.ndarray, threshold: float, min_margin: float,
              floor: float) -> np.ndarray:
    """Cosine at least ``threshold``, or at least ``floor`` and ``min_margin`` above the next."""
    return (score >= threshold) | ((score >= floor) & (margin >= min_margin))


def flag(score: np.ndarray, margin: np.ndarray, aligned: np.ndarray, threshold: float,
         min_margin: float, floor: float, min_alignment: float, standout: float,
         agreement: np.ndarray | None = None, min_numbers: float = 0.0,
         rivals: np.ndarray | None = None) -> np.ndarray:
    """A ``candidate`` whose tokens also align, or that stands far out, and keeps its numbers.

    Aligned: a BERTScore F1 (``aligned``) of at least ``min_alignment``; standing out: a margin of
    at least ``standout``; numbers: a ``number_agreement`` of at least ``min_numbers`` where the
    item has two numbers or more (NaN: no numbers to agree on) and its margin is under
    ``NUMBERS_DECIDE_BELOW``. (Rephrased MMLU algebra items rewrite ``Z_3[x]/(x^3 + x^2 + c)``
    and keep half its numbers at margins of 0.45-0.94; GSM8K look-alikes stand 0.03-0.20 above
    the next training text.) A match with no rival text (``rivals`` 0: every other retrieved
    text was a copy of it, a passage of the same text, set aside or claimed) stands out from
    nothing: its margin is the cosine itself, so it must align. Its numbers are still judged by
    that margin: rephrased MMLU algebra items whose every other retrieved text a sibling claims
    match alone at 0.81-0.95 and keep half their numbers (judged by rivals, 7 of 241 of the
    even half's rephrases were lost; GSM8K look-alikes alone are caught by the alignment).
    """
    apart = margin if rivals is None else np.where(np.asarray(rivals) > 0, margin, 0.0)
    ok = candidate(score, margin, threshold, min_margin, floor) \
        & ((aligned >= min_alignment) | (apart >= standout))
    if agreement is not None:
        ok &= np.isnan(agreement) | (agreement >= min_numbers) | (margin >= NUMBERS_DECIDE_BELOW)
    return ok


def alignment(a: np.ndarray, b: np.ndarray) -> float:
    """BERTScore F1 of two texts' unit token vectors (rows); 0 for an empty text.

    Each token's best cosine in the other text, averaged over each text, then their harmonic mean.
    """
    if not len(a) or not len(b):
        return 0.0
    sims = a @ b.T
    recall, precision = float(sims.max(1).mean()), float(sims.max(0).mean())
    return 2 * precision * recall / (precision + recall) if precision + recall > 0 else 0.0
