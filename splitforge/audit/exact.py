"""Exact copies: an eval item equal to a training text, or contained whole inside one.

**Equal.** Each eval item's normalized text is hashed with xxh3 (``text_hashes``); the sorted
hashes are searched for every training text's hash, and each hash hit is confirmed by comparing
the strings, so a hash collision can never produce a match.

**Contained.** Other tools hash whole texts and so miss a verbatim copy sitting inside a longer
training row. Here an eval item of ``L`` tokens (words; non-space characters for CJK text) gets
two *anchors*: the two of its windows of ``m = min(n, L)`` tokens that the fewest other eval items
hold (the first and the last on ties; one anchor when ``L <= n``: the whole item), so that a
window shared by many items (a template) never anchors them. A training text that contains the
item contains both anchors, so the
anchors are looked up in every training text's windows of length ``m`` (``NgramIndex``: a
byte-table prefilter, then ``searchsorted``) and only texts holding both anchors are candidates.
Each candidate is then verified with a real substring test on token boundaries
(``" item " in " text "``; spaces dropped for character units), in order of training id and
stopping at the first success per item and batch. The outcome is exact: no false positives, and
no copy is missed whatever its length, short items included (an item shorter than ``n`` tokens
is its own anchor, so only texts holding all its tokens in a row are ever string-compared).

Cost per training batch: one pass per token for each of ``n`` window lengths plus one table
gather per needed length; strings are compared only for hash hits and anchor candidates.

An exact copy is also contained. ``score`` is 1.0 for contained items, else 0.0; ``flagged``
equals ``contained``. Evidence is the smallest training id in string order among the texts that
match (equal: ``match_id``; containing: ``contained_id``). What the verdict shows beside the item
(``evidence_text``) is the item itself for an equal text, and for a containing one
``contained_text``: the passage of the ``contained_id`` text around the item (normalized, at most
300 characters, the item with as much of the text before it as after), cut when the substring test
succeeds, so only one short text per eval item is kept (a training id given to two containing
rows keeps the smaller passage, whatever the order).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa

from splitforge.audit.base import (
    CHECKS,
    CONTAMINATED,
    PREVIEW,
    SUSPECT,
    AuditCheck,
    CheckResult,
    NgramIndex,
    TrainingBatch,
    eval_lengths,
    eval_shingles64,
    match_sorted,
    prefer_smaller_id,
    smallest_id_per_key,
)
from splitforge.normalize.text import text_hashes


@dataclass(frozen=True)
class ExactResult(CheckResult):
    """``CheckResult`` of ``ExactCheck``.

    Attributes:
        matched: bool per eval item: some training text equals it (after normalization).
        match_id: the smallest training id among the equal texts, or None.
        contained: bool per eval item: it occurs whole inside some training text (equal
            texts included).
        contained_id: the smallest training id among the containing texts, or None.
        tokens: the item's length in words, a CJK character counting as one
            (``reading_lengths``): short items can be contained by chance, so a gate may want a
            minimum.
        contained_text: the passage of the ``contained_id`` text around the item (normalized,
            at most 300 characters), or None (not contained, or ``containment`` off). Not a
            column of ``to_table``: the verdict's ``matched_text`` shows it.
    """

    matched: np.ndarray
    match_id: list[str | None]
    contained: np.ndarray
    contained_id: list[str | None]
    tokens: np.ndarray
    contained_text: list[str | None] | None = None

    def __post_init__(self) -> None:
        if self.contained_text is None:  # a result built without the training texts
            object.__setattr__(self, "contained_text", [None] * len(self.score))

    def levels(self, thresholds: Any) -> np.ndarray:
        """Contaminated: equal, or contained with ``min_tokens`` tokens; suspect: contained."""
        level = np.zeros(len(self.score), dtype=np.int8)
        contained = np.asarray(self.contained, dtype=bool)
        level[contained] = SUSPECT
        long = np.asarray(self.tokens) >= thresholds.min_tokens
        level[(contained & long) | np.asarray(self.matched, dtype=bool)] = CONTAMINATED
        return level

    def evidence_text(self, item: int, eval_text: str) -> str:
        """An equal text is the item itself; a containing one shows the passage around it."""
        passage = self.contained_text[item]
        if self.matched[item] or passage is None:
            return eval_text[:PREVIEW]
        return passage

    def to_table(self) -> pa.Table:
        """``CheckResult.to_table`` but ``contained_text`` (the verdict's ``matched_text``)."""
        return super().to_table().drop_columns([f"{self.name}_contained_text"])


def _rarest_anchors(values: np.ndarray, offsets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per item, its two windows held by the fewest items (ties: first, then last); item, key.

    Each window gets one rank key, (holders, tie, position) packed in an int64, and an item's
    two smallest keys come from two ``minimum.reduceat`` passes: no sort of all the windows by
    item (the working memory is a few arrays of one word per window).
    """
    counts = np.diff(offsets)
    if not len(values):
        return np.zeros(0, np.int64), values
    item = np.repeat(np.arange(len(counts), dtype=np.int32), counts)
    order = np.argsort(values, kind="stable")  # equal values: their items in order
    v = values[order]
    new_key = np.r_[True, v[1:] != v[:-1]]
    del v
    it = item[order]
    distinct = new_key.copy()
    distinct[1:] |= it[1:] != it[:-1]  # the first window of an item holding the key
    del it
    key_start = np.flatnonzero(new_key)
    del new_key
    holders = np.add.reduceat(distinct.astype(np.int32), key_start)
    del distinct
    rank = np.empty(len(values), dtype=np.int64)
    rank[order] = np.repeat(np.minimum(holders, _HOLDERS_CAP).astype(np.int64),
                            np.diff(np.r_[key_start, len(values)]))
    del order, key_start, holders
    position = np.arange(len(values), dtype=np.int64) - offsets[:-1][item]
    tie = np.full(len(values), 2, dtype=np.int8)  # 0: an item's first window, 1: its last
    tie[position == counts[item] - 1] = 1
    tie[position == 0] = 0
    rank <<= 2
    rank |= tie
    rank <<= 32
    rank |= position  # an item's keys differ: its windows' positions differ
    del tie, position
    filled = np.flatnonzero(counts)
    first = np.minimum.reduceat(rank, offsets[filled])
    rank[offsets[filled] + (first & _POSITION)] = np.iinfo(np.int64).max
    two = filled[counts[filled] > 1]
    second = np.minimum.reduceat(rank, offsets[two]) if len(two) else np.zeros(0, np.int64)
    pick = np.r_[offsets[filled] + (first & _POSITION), offsets[two] + (second & _POSITION)]
    by_item = np.argsort(np.r_[filled, two], kind="stable")  # first, then second, per item
    pick = pick[by_item]
    return item[pick].astype(np.int64), values[pick]


_HOLDERS_CAP = (1 << 29) - 1  # holders counts above this rank alike (more items than this)
_POSITION = np.int64((1 << 32) - 1)


@CHECKS.register("exact")
class ExactCheck(AuditCheck):
    """Eval items equal to a training text, or contained whole inside one.

    Args:
        eval_norm: Normalized eval texts.
        n: Anchor length in words (default 13); longer anchors give fewer candidates to verify.
        char_n: Anchor length in characters for CJK items (default: ``n``).
        unit: ``auto`` (characters for CJK items, words otherwise), ``word`` or ``char``.
        containment: Also look for items inside longer training texts (default True).

    Example:
        >>> check = ExactCheck(["what is two plus two"], n=3)
        >>> check.update(["t1", "t2"], ["what is two plus two", "q: what is two plus two? 4"])
        >>> r = check.result()
        >>> r.match_id, r.contained_id
        (['t1'], ['t1'])

    Guarantees: ``matched`` and ``contained`` are exact (strings are compared); the result does
    not depend on how the training corpus is batched or ordered.
    """

    name = "exact"

    def __init__(self, eval_norm: Sequence[str], n: int = 13, char_n: int | None = None,
                 unit: str = "auto", containment: bool = True) -> None:
        super().__init__(eval_norm)
        if n < 1 or (char_n is not None and char_n < 1):
            raise ValueError(f"anchor lengths must be at least 1 token, got n={n}, "
                             f"char_n={char_n}")
        self.n, self.char_n, self.containment = n, char_n or n, containment
        self.unit = unit
        items = len(self.eval_norm)
        nonempty = np.array([bool(t) for t in self.eval_norm], dtype=bool)
        self._hash_item = np.flatnonzero(nonempty)
        hashes = text_hashes(self.eval_norm[i] for i in self._hash_item)
        order = np.argsort(hashes, kind="stable")
        self._hash_keys, self._hash_item = hashes[order], self._hash_item[order]
        shingles = eval_shingles64(self.eval_norm, self.n, self.char_n, unit)
        self._char_mode, self._tokens = shingles.char_mode, shingles.tokens
        item, keys = _rarest_anchors(shingles.values, shingles.offsets)
        length = np.minimum(np.where(self._char_mode, self.char_n, self.n), self._tokens)[item]
        self._required = np.bincount(item, minlength=items)
        self._anchor_item: dict[bool, np.ndarray] = {}
        self._index: dict[bool, NgramIndex] = {}
        for char in (False, True):
            mine = self._char_mode[item] == char
            self._anchor_item[char] = item[mine]
            self._index[char] = NgramIndex(keys[mine], length[mine])
        self._match_id = np.full(items, None, dtype=object)
        self._contained_id = np.full(items, None, dtype=object)
        self._contained_text = np.full(items, None, dtype=object)

    def _probe(self, batch: TrainingBatch) -> dict[str, tuple[np.ndarray, ...]]:
        found = {"match": self._equal(batch)}
        if self.containment:
            found["contained"] = self._contained(batch)
        return found

    def _equal(self, batch: TrainingBatch) -> tuple[np.ndarray, np.ndarray]:
        """Items equal to a text of the batch, each with the smallest such id."""
        hashes = batch.hashes
        rows = np.argsort(hashes, kind="stable")
        query, position = match_sorted(self._hash_keys, hashes[rows])
        items, rows = self._hash_item[position], rows[query]
        same = np.array([batch.text(r) == self.eval_norm[i]  # the hash found it; the text decides
                         for i, r in zip(items.tolist(), rows.tolist(), strict=True)], dtype=bool)
        items, rows = items[same].astype(np.int64), rows[same].astype(np.int64)
        items, rows = smallest_id_per_key(items, rows, batch)
        return items, np.array([batch.ids[r] for r in rows], dtype=object)

    def _contained(self, batch: TrainingBatch) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Items inside a text of the batch, each with the smallest such id (verified).

        Returns the items, their ids and the passages around them (``_passage``).
        """
        items, rows = [], []
        for char in (False, True):
            index = self._index[char]
            if not len(index):
                continue
            entry, row = index.probe(*batch.tokens(char, self.unit))
            item = self._anchor_item[char][entry]
            width = len(batch) + 1
            code, count = np.unique(item * width + row, return_counts=True)
            full = code[count == self._required[code // width]]
            items.append(full // width)
            rows.append(full % width)
        if not items:  # no eval item has tokens (all empty)
            return np.zeros(0, np.int64), np.zeros(0, dtype=object), np.zeros(0, dtype=object)
        item, row = np.concatenate(items), np.concatenate(rows)
        order = np.lexsort((batch.id_rank[row], item))
        out_items, out_ids, out_texts = [], [], []
        done = -1
        for i, r in zip(item[order].tolist(), row[order].tolist(), strict=True):
            if i == done and batch.ids[r] != out_ids[-1]:
                continue  # found in a text of a smaller id (the same id on another row: compare)
            passage = self._passage(i, batch.text(r))
            if passage is None:
                continue
            if i == done:
                out_texts[-1] = min(out_texts[-1], passage)
                continue
            out_items.append(i)
            out_ids.append(batch.ids[r])
            out_texts.append(passage)
            done = i
        texts = np.empty(len(out_texts), dtype=object)
        texts[:] = out_texts
        return np.array(out_items, dtype=np.int64), np.array(out_ids, dtype=object), texts

    def _passage(self, item: int, text: str) -> str | None:
        """The passage of ``text`` around ``item`` (``_around``), or None if it is not inside.

        Words: the item on token boundaries (``" item " in " text "``). Characters: the item
        without spaces in the text without spaces, the passage cut from the text as it is.
        """
        needle = self.eval_norm[item]
        if self._char_mode[item]:
            needle = needle.replace(" ", "")
            at = text.replace(" ", "").find(needle)
            if at < 0:
                return None
            codes = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32)
            kept = np.flatnonzero(codes != ord(" "))  # position of each non-space character
            return _around(text, int(kept[at]), int(kept[at + len(needle) - 1]) + 1, False)
        at = f" {text} ".find(f" {needle} ")  # the space before the item is text[at - 1]
        return None if at < 0 else _around(text, at, at + len(needle), True)

    def _merge(self, payload: dict[str, tuple[np.ndarray, ...]]) -> None:
        if "match" in payload:
            items, ids = payload["match"]
            better = prefer_smaller_id(ids, self._match_id[items])
            self._match_id[items[better]] = ids[better]
        if "contained" in payload:
            items, ids, texts = payload["contained"]
            old = self._contained_id[items]
            better = prefer_smaller_id(ids, old)
            same = ~better & (ids == old)  # one training id on two rows: the smaller passage
            better[same] = prefer_smaller_id(texts[same], self._contained_text[items[same]])
            self._contained_id[items[better]] = ids[better]
            self._contained_text[items[better]] = texts[better]

    def _result(self) -> ExactResult:
        matched = np.array([i is not None for i in self._match_id], dtype=bool)
        contained = matched | np.array([i is not None for i in self._contained_id], dtype=bool)
        contained_id = [c if c is not None else m
                        for c, m in zip(self._contained_id, self._match_id, strict=True)]
        match_id = self._match_id.tolist()
        evidence = [m if m is not None else c for m, c in zip(match_id, contained_id,
                                                               strict=True)]
        summary: dict[str, Any] = {"n": self.n, "char_n": self.char_n,
                                   "containment": self.containment,
                                   "n_matched": int(matched.sum()),
                                   "n_contained": int(contained.sum())}
        return ExactResult(self.name, contained.copy(), contained.astype(np.float64), evidence,
                           summary, matched, match_id, contained, contained_id,
                           eval_lengths(self.eval_norm), self._contained_text.tolist())


def _around(text: str, start: int, end: int, words: bool) -> str:
    """At most ``PREVIEW`` characters of ``text`` around ``text[start:end]``.

    The match first, then as much of the text before it as after it (more before where the
    text ends soon after); with ``words`` the passage starts on a word. A match longer than
    ``PREVIEW`` is its own start.
    """
    if end - start >= PREVIEW:
        return text[start:start + PREVIEW]
    lo = max(0, start - (PREVIEW - (end - start)) // 2)
    hi = min(len(text), lo + PREVIEW)
    lo = max(0, hi - PREVIEW)
    if words and lo > 0 and text[lo - 1] != " ":
        space = text.find(" ", lo, start)
        lo = space + 1 if space >= 0 else start
    return text[lo:hi]
