"""N-gram overlap: the share of an eval item's n-grams that occur anywhere in the training corpus.

Every eval item is cut into overlapping windows of ``n`` tokens: words (default ``n = 13``, as in
the GPT-3 contamination study; ``n = 8`` is the other common preset), or for Chinese and Japanese
text (``unit: auto`` picks characters when at least a third of the item's non-space characters
are CJK) non-space characters, ``char_n`` of them (default ``n``: 13 characters of Chinese are
about 7-9 words, short enough to survive light edits and long enough to be rare)::

    item:      w1 w2 w3 w4 w5 w6 w7 w8 ... w20        (20 words, n = 13: 8 n-grams)
    n-gram 1:  w1 ........................ w13
    n-gram 2:     w2 ........................ w14
    n-gram 8:                 w8 ............. w20

The n-grams are hashed to 64 bits (``shingle_hashes64``) and indexed as one sorted array with
their item and position; every training batch's windows of the same lengths are looked up in it
(``NgramIndex``: a byte-table prefilter drops most windows, the survivors are sorted and found
with ``searchsorted``). An n-gram that several items share is one key, so a training window
costs one lookup however many items hold it. Per eval n-gram the check remembers whether it was
found; per eval item, the training text holding the most of its n-grams. An n-gram held by more
than ``SHARED_CAP`` (100) eval items still counts for coverage, but it names no evidence text
(pairing it with every training text that holds it is what made templated data cost the square
of its rows); ``ngrams_over_cap`` in the summary counts such n-grams.

Per eval item:

* ``coverage`` = found n-grams / all n-grams (the ``score``; flagged at ``min_coverage``, default
  0.5). A copy with a fraction ``e`` of its words changed keeps about ``(1-e)^n`` of its n-grams:
  with ``n = 13``, 5% edits keep ~51%, 10% edits ~25%; a verbatim copy keeps 100%. One shared
  n-gram alone is weak evidence (stock phrases of 13-16 words recur), which coverage discounts.
* ``token_coverage`` = the share of the item's tokens inside at least one found n-gram: suspect
  from ``ngram_token_suspect`` (0.4). An edit breaks the 13 n-grams around it but only the one
  word: a GSM8K question copied into a long document with 5% of the words dropped often keeps
  under 20% of its 13-grams and still 40-70% of its words in found ones
  (``scripts/calibrate_long_documents.py``). A single shared 13-gram (a stock phrase) covers 40%
  of an item of at most 32 words; such items have few n-grams, so ``coverage`` already flags
  them at one or two (measured: no new flags at 0.4 on the same-domain and paraphrase runs).
* ``longest_span`` = the longest run of consecutive found n-grams, in tokens
  (``run + n_used - 1``), and ``matched_text``, the item's tokens of that span (first
  300 characters; the first such span on ties).
* ``evidence_id`` = the training text that contains the most of the item's n-grams (ties: the
  smallest id in string order) and ``evidence_share``, the share of n-grams it contains.

**Short items are never skipped.** An item with ``L < n`` tokens is one n-gram of all its
``L`` tokens (``n_used = L``): it is found exactly when a training text holds those ``L`` tokens
in a row, so coverage is 0 or 1. Short items are counted as ``short_items`` in the summary. A
one- or two-word item is found in almost any corpus; ``n_used`` lets a gate ignore such items.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from splitforge.audit.base import (
    CHECKS,
    CONTAMINATED,
    PREVIEW,
    SHARED_CAP,
    SUSPECT,
    AuditCheck,
    CheckResult,
    NgramIndex,
    TrainingBatch,
    eval_lengths,
    eval_shingles64,
    graded,
    index_type,
    merge_best,
)
from splitforge.normalize.shingles import char_codes

_WORD = re.compile(r"[^\x00-\x20]+")  # how the word hashes split: on spaces and control bytes


@dataclass(frozen=True)
class NgramOverlapResult(CheckResult):
    """``CheckResult`` of ``NgramOverlapCheck``; ``score`` is the coverage.

    Attributes:
        longest_span: tokens in the longest run of consecutive found n-grams (0: none found).
        matched_text: the item's tokens of that span, at most 300 characters ("" if none).
        evidence_share: share of the item's n-grams that the ``evidence_id`` text contains.
        n_used: tokens per n-gram for this item (``n``, ``char_n``, or the item's length when
            shorter).
        unit: ``word`` or ``char``.
        length: the item's length in words, a CJK character counting as one.
        token_coverage: share of the item's tokens inside at least one found n-gram.
    """

    longest_span: np.ndarray
    matched_text: list[str]
    evidence_share: np.ndarray
    n_used: np.ndarray
    unit: list[str]
    length: np.ndarray
    token_coverage: np.ndarray | None = None

    def levels(self, thresholds: Any) -> np.ndarray:
        """Coverage against ``ngram_contaminated`` / ``ngram_suspect``.

        Also suspect: a ``token_coverage`` of at least ``ngram_token_suspect``. An item shorter
        than n is one n-gram of all its words (containment): shorter than ``min_tokens`` too, it
        is at most suspect, as ``exact`` has it.
        """
        level = graded(self.score, thresholds.ngram_suspect, thresholds.ngram_contaminated)
        if self.token_coverage is not None:
            words = np.asarray(self.token_coverage) >= thresholds.ngram_token_suspect
            level[words & (level < SUSPECT)] = SUSPECT
        full = np.where(np.asarray(self.unit) == "char", self.summary["char_n"],
                        self.summary["n"])
        used = np.asarray(self.n_used)
        # not every item when n is small; a Chinese sentence is one "word" but many tokens
        short = (used < full) & (np.asarray(self.length) < thresholds.min_tokens)
        level[short & (level == CONTAMINATED)] = SUSPECT
        return level

    def evidence_text(self, item: int, eval_text: str) -> str:
        """The item's longest run of found n-grams."""
        return self.matched_text[item] or ""

    @property
    def coverage(self) -> np.ndarray:
        """Share of each item's n-grams found in training (same as ``score``)."""
        return self.score


@CHECKS.register("ngram_overlap")
class NgramOverlapCheck(AuditCheck):
    """Share of each eval item's word (or CJK character) n-grams found in training texts.

    Args:
        eval_norm: Normalized eval texts.
        n: Words per n-gram (default 13; 8 is the other usual preset). At least 1.
        char_n: Characters per n-gram for CJK items (default ``n``).
        unit: ``auto`` (characters for CJK items, words otherwise), ``word`` or ``char``.
        min_coverage: Coverage from which an item is flagged, in (0, 1] (default 0.5).

    Example:
        >>> check = NgramOverlapCheck(["a b c d e f"], n=3)
        >>> check.update(["t1"], ["x a b c d y"])
        >>> r = check.result()
        >>> float(r.coverage[0]), int(r.longest_span[0]), r.matched_text[0]
        (0.5, 4, 'a b c d')

    Guarantees: items shorter than ``n`` are checked (as one n-gram of all their tokens); the
    result does not depend on how the training corpus is batched or ordered.
    """

    name = "ngram_overlap"

    def __init__(self, eval_norm: Sequence[str], n: int = 13, char_n: int | None = None,
                 unit: str = "auto", min_coverage: float = 0.5) -> None:
        super().__init__(eval_norm)
        if n < 1 or (char_n is not None and char_n < 1):
            raise ValueError(f"n-grams need at least 1 token, got n={n}, char_n={char_n}")
        if not 0 < min_coverage <= 1:
            raise ValueError(f"min_coverage={min_coverage} must be in (0, 1]: it is the share "
                             f"of an item's n-grams found in training from which it is flagged")
        self.n, self.char_n, self.min_coverage = n, char_n or n, min_coverage
        self.unit = unit
        shingles = eval_shingles64(self.eval_norm, self.n, self.char_n, unit)
        self._offsets = shingles.offsets
        self._char_mode, self._tokens = shingles.char_mode, shingles.tokens
        items = len(self.eval_norm)
        counts = np.diff(shingles.offsets)
        self._entry_item = np.repeat(np.arange(items), counts)
        self._n_used = np.minimum(np.where(self._char_mode, self.char_n, self.n), self._tokens)
        self._entry_char = self._char_mode[self._entry_item]
        self._entries: dict[bool, np.ndarray] = {}
        self._index: dict[bool, NgramIndex] = {}
        for char in (False, True):
            mine = np.flatnonzero(self._entry_char == char)
            mine = mine.astype(index_type(len(self._entry_char)))
            self._entries[char] = mine
            unit = self._char_mode == char  # its entries are those of its items, in order
            self._index[char] = NgramIndex(
                shingles.values if len(mine) == len(shingles.values) else shingles.values[mine],
                np.repeat(self._n_used[unit].astype(np.int32), counts[unit]))
        self._key_found = {char: np.zeros(len(self._index[char]), dtype=bool)
                           for char in (False, True)}
        self._best_count = np.zeros(items, dtype=np.int64)
        self._best_id = np.full(items, None, dtype=object)
        self._over_cap = {char: self._shared_keys(char) for char in (False, True)}

    def _shared_keys(self, char: bool) -> np.ndarray:
        """Per key of one unit's index: held by more than ``SHARED_CAP`` distinct eval items.

        An item may repeat an n-gram, so only keys of more entries than that are counted by
        item (few: the rest cannot pass the cap).
        """
        index = self._index[char]
        if not len(index):
            return np.zeros(0, dtype=bool)
        counts = index.key_entry_counts
        shared = counts > SHARED_CAP
        candidates = np.flatnonzero(shared)
        if not len(candidates):
            return shared
        # the entries of the candidate keys only: their runs of key_entries
        sizes = counts[candidates]
        first = np.repeat(index.key_start[candidates] - np.cumsum(sizes) + sizes, sizes)
        entries = index.key_entries[first + np.arange(int(sizes.sum()))]
        item = self._entry_item[self._entries[char][entries]]
        width = len(self.eval_norm) + 1
        pairs = np.unique(np.repeat(candidates.astype(np.int64), sizes) * width + item)
        items = np.bincount(pairs // width, minlength=len(index))
        shared[candidates] = items[candidates] > SHARED_CAP
        return shared

    def _probe(self, batch: TrainingBatch) -> dict[str, Any]:
        keys, pairs = {}, []
        for char in (False, True):
            index = self._index[char]
            if not len(index):
                continue
            key, row = index.probe_keys(*batch.tokens(char, self.unit))
            keys[char] = np.unique(key)
            # an n-gram of more than SHARED_CAP items counts for coverage, not for evidence
            small = ~self._over_cap[char][key]
            entry, entry_row = index.expand(key[small], row[small])
            pairs.append((self._entries[char][entry], entry_row))
        if not keys:
            return {}
        entry = np.concatenate([e for e, _ in pairs])
        row = np.concatenate([r for _, r in pairs])
        width = len(batch) + 1
        code, count = np.unique(self._entry_item[entry] * width + row, return_counts=True)
        # the text with the most n-grams of each item: most first, then the smallest id
        item, text = code // width, code % width
        order = np.lexsort((batch.id_rank[text], -count, item))
        item, text, count = item[order], text[order], count[order]
        first = np.ones(len(item), dtype=bool)
        first[1:] = item[1:] != item[:-1]
        ids = np.array(batch.ids, dtype=object)
        return {"keys": keys, "items": (item[first], count[first], ids[text[first]])}

    def _merge(self, payload: dict[str, Any]) -> None:
        if not payload:
            return
        for char, key in payload["keys"].items():
            self._key_found[char][key] = True
        merge_best(self._best_count, self._best_id, *payload["items"])

    @property
    def _entry_found(self) -> np.ndarray:
        """Per eval n-gram: found in some training text."""
        found = np.zeros(len(self._entry_item), dtype=bool)
        for char in (False, True):
            index = self._index[char]
            if len(index):
                found[self._entries[char]] = self._key_found[char][index.entry_key]
        return found

    def _result(self) -> NgramOverlapResult:
        items = len(self.eval_norm)
        total = np.diff(self._offsets)
        entry_found = self._entry_found
        found = np.bincount(self._entry_item[entry_found], minlength=items)
        coverage = np.where(total > 0, found / np.maximum(total, 1), 0.0)
        run, start = self._longest_runs(entry_found)
        words = self._token_coverage(entry_found)
        span = np.where(run > 0, run + self._n_used - 1, 0)
        texts = [self._span_text(i, int(start[i]), int(span[i])) if span[i] else ""
                 for i in range(items)]
        share = np.where(total > 0, self._best_count / np.maximum(total, 1), 0.0)
        full_unit = np.where(self._char_mode, self.char_n, self.n)
        short = int(((self._tokens > 0) & (self._tokens < full_unit)).sum())
        summary = {"n": self.n, "char_n": self.char_n, "min_coverage": self.min_coverage,
                   "short_items": short, "n_ngrams": int(total.sum()),
                   "n_ngrams_found": int(entry_found.sum()),
                   "ngrams_over_cap": int(sum(int(v.sum()) for v in self._over_cap.values())),
                   "shared_cap": SHARED_CAP}
        return NgramOverlapResult(
            self.name, coverage >= self.min_coverage, coverage.astype(np.float64),
            self._best_id.tolist(), summary, span.astype(np.int64), texts, share,
            self._n_used.astype(np.int64), ["char" if c else "word" for c in self._char_mode],
            eval_lengths(self.eval_norm), words)

    def _token_coverage(self, entry_found: np.ndarray) -> np.ndarray:
        """Per item, the share of its tokens that lie inside at least one found n-gram."""
        tokens = np.asarray(self._tokens, dtype=np.int64)
        first = np.r_[0, np.cumsum(tokens)]  # each item's first token in one flat row
        pos = np.flatnonzero(entry_found)
        owner = self._entry_item[pos]
        begin = first[owner] + pos - self._offsets[owner]
        end = first[owner] + np.minimum(pos - self._offsets[owner] + self._n_used[owner],
                                        tokens[owner])
        size = int(first[-1]) + 1
        mark = np.bincount(begin, minlength=size) - np.bincount(end, minlength=size)
        inside = np.cumsum(mark)[:-1] > 0
        covered = np.bincount(np.repeat(np.arange(len(tokens)), tokens), inside,
                              minlength=len(tokens))
        return np.where(tokens > 0, covered / np.maximum(tokens, 1), 0.0)

    def _longest_runs(self, entry_found: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Per item, the longest run of consecutive found n-grams and its first n-gram number."""
        items = len(self.eval_norm)
        run, start = np.zeros(items, dtype=np.int64), np.zeros(items, dtype=np.int64)
        pos = np.flatnonzero(entry_found)
        if not len(pos):
            return run, start
        owner = self._entry_item[pos]
        begins = np.ones(len(pos), dtype=bool)
        begins[1:] = (pos[1:] != pos[:-1] + 1) | (owner[1:] != owner[:-1])
        lengths = np.bincount(np.cumsum(begins) - 1)
        run_item, run_pos = owner[begins], pos[begins]
        order = np.lexsort((run_pos, -lengths, run_item))  # longest first, then the earliest
        keep = order[np.r_[True, run_item[order][1:] != run_item[order][:-1]]]
        run[run_item[keep]] = lengths[keep]
        start[run_item[keep]] = run_pos[keep] - self._offsets[run_item[keep]]
        return run, start

    def _span_text(self, item: int, first: int, tokens: int) -> str:
        text = self.eval_norm[item]
        if self._char_mode[item]:
            chars = "".join(chr(c) for c in char_codes([text])[0].tolist())
            return chars[first:first + tokens][:PREVIEW]
        return " ".join(_WORD.findall(text)[first:first + tokens])[:PREVIEW]
