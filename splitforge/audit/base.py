"""Contamination audit plumbing: an index over the eval set, a training corpus streamed past it.

An audit asks, for every item of a small eval set, whether it (or most of it) appears in a
possibly huge training corpus. Memory follows the eval side: each check builds an index over the
eval items' normalized texts once, then consumes the training corpus batch by batch and keeps only
per-eval-item running results. A batch goes through two steps:

* ``probe(batch)`` reads the index and one batch and returns what the batch contributes (matches
  with training ids). It never touches the running results, so it can run in a worker process.
* ``merge(found)`` folds that contribution into the running results with an order-free rule
  (a maximum or a minimum), so the outcome does not depend on how the corpus is cut into batches
  or in which order they arrive.

Ties are broken by the training id: when several training documents match an eval item equally
well, the evidence is the one with the smallest id in string order (``"d10" < "d9"``).

Word n-grams are matched by 64-bit hashes. A window of ``L`` tokens hashes as the multiply-add
chain ``h = (...((t_1) * C + t_2) * C + ...) * C + t_L`` over token hashes ``t_i``
(``shingle_hashes64`` computes the eval side with the same chain), so on the training side one
pass per extra token extends every window by one token, and the hashes of all window lengths an
index needs come out of the same ``max(L)`` passes. Before an exact ``searchsorted`` lookup, a
byte table addressed by a hash's top bits (about 16 slots per eval key, so about 6% of training
windows pass) drops most training windows with one gather: sorting every training n-gram would
cost far more than the lookup itself.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, fields
from functools import cached_property
from typing import Any, ClassVar

import numpy as np
import pyarrow as pa

from splitforge.normalize.shingles import (
    _COMBINE,
    Shingles,
    Shingles64,
    TextBuffers,
    _char_token_hashes,
    _combine,
    _decode,
    _word_token_hashes,
    cjk_texts,
    reading_lengths,
    shingle_hashes64,
    text_buffers,
)
from splitforge.normalize.text import _buffer_hashes, normalize_text
from splitforge.progress import NO_PROGRESS, Progress
from splitforge.registry import Registry

CHECKS: Registry[type[AuditCheck]] = Registry("audit check")


def index_type(n: int) -> type[np.signedinteger]:
    """int32 for positions into ``n`` elements when they fit (half the memory), else int64.

    Only for arrays used as indices: arithmetic on int32 values with Python ints stays int32
    (NEP 50) and can overflow.
    """
    return np.int32 if n < 2**31 else np.int64


def match_sorted(keys: np.ndarray, queries: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Every pair of a query and a key equal to it; both arrays sorted (queries for speed).

    Returns:
        For each match, the query's index and the key's position, queries in order.
    """
    lo = np.searchsorted(keys, queries, "left")
    count = np.searchsorted(keys, queries, "right") - lo
    hit = np.flatnonzero(count)
    count = count[hit]
    first = np.repeat(lo[hit] - np.cumsum(count) + count, count)
    return np.repeat(hit, count), first + np.arange(int(count.sum()))
PREVIEW = 300
SHARED_CAP = 100  # an n-gram or LSH bucket of more eval items than this pairs none of them
_CJK_LEAD_BYTE = 0xE3  # UTF-8 lead byte of U+3000 and up: kana, CJK ideographs, Hangul


CLEAN, SUSPECT, CONTAMINATED = 0, 1, 2  # verdict levels, worst last


def graded(score: np.ndarray, suspect: float, contaminated: float) -> np.ndarray:
    """Verdict levels of scores against a check's suspect and contaminated thresholds."""
    level = np.zeros(len(score), dtype=np.int8)
    level[score >= suspect] = SUSPECT
    level[score >= contaminated] = CONTAMINATED
    return level


@dataclass(frozen=True)
class CheckResult:
    """Per-eval-item results of one check, in eval order, and a summary.

    Attributes:
        name: The check's registry name (``exact``, ``ngram_overlap``, ``minhash``).
        flagged: bool per eval item: the check considers it contaminated.
        score: float64 in [0, 1] per eval item (what it is depends on the check).
        evidence_id: per eval item, the training id that best supports the score, or None.
        summary: Counts and parameters: ``n_items``, ``n_flagged``, ``score`` (mean score),
            ``train_rows`` and the check's own entries.
    """

    name: str
    flagged: np.ndarray
    score: np.ndarray
    evidence_id: list[str | None]
    summary: dict[str, Any]

    def levels(self, thresholds: Any) -> np.ndarray:
        """Each item's verdict level (``CLEAN``, ``SUSPECT``, ``CONTAMINATED``) by this check.

        ``thresholds`` is the recipe's ``AuditThresholdsConfig``; a check without thresholds of
        its own there counts its flag as contamination.
        """
        level = np.zeros(len(self.score), dtype=np.int8)
        level[self.flagged] = CONTAMINATED
        return level

    def evidence_text(self, item: int, eval_text: str) -> str:
        """The text shown beside ``item``'s evidence (the verdict's ``matched_text``).

        Checks that keep the training text that matched return it (its start, or the passage
        around the match: ``PREVIEW`` characters); this default shows the item itself.
        """
        return eval_text[:PREVIEW]

    def to_table(self) -> pa.Table:
        """One row per eval item: ``is_<name>_issue``, ``<name>_score``, then the other fields."""
        columns: dict[str, Any] = {
            f"is_{self.name}_issue": pa.array(self.flagged, pa.bool_()),
            f"{self.name}_score": pa.array(self.score, pa.float64()),
            f"{self.name}_evidence_id": pa.array(self.evidence_id, pa.string()),
        }
        base = {f.name for f in fields(CheckResult)}
        for field in fields(self):
            value = getattr(self, field.name)
            if field.name not in base and value is not None:  # None: an optional field unset
                columns[f"{self.name}_{field.name}"] = pa.array(value)
        return pa.table(columns)


def as_string_array(texts: pa.Array | pa.ChunkedArray | Sequence[str]) -> pa.Array:
    """Texts as one Arrow string array, nulls read as empty texts."""
    if isinstance(texts, pa.ChunkedArray):
        texts = texts.combine_chunks() if texts.num_chunks != 1 else texts.chunk(0)
    if not isinstance(texts, pa.Array):
        texts = pa.array(list(texts), pa.large_string())
    if not (pa.types.is_string(texts.type) or pa.types.is_large_string(texts.type)):
        raise TypeError(f"training texts must be strings, got Arrow type {texts.type}")
    return texts.fill_null("") if texts.null_count else texts


class NormalizedTexts(list[str]):
    """Eval texts that are in their compared form already (normalized, boilerplate stripped).

    A check keeps them as they are instead of normalizing every one again (the audit runner
    passes them so; any other sequence is normalized), and the checks built over one such list
    share its shingles and lengths (``eval_shingles64``, ``eval_lengths``) instead of each
    cutting the texts again. Pickled (to a worker), it becomes ``SharedTexts`` (a text that
    is no valid UTF-8 keeps it a plain list).
    """

    def __reduce__(self) -> tuple[Any, ...]:
        lengths = self.__dict__.get("_memo", {}).get(("lengths",))
        try:
            return SharedTexts, (pa.array(self, pa.large_string()), lengths)
        except UnicodeEncodeError:  # a lone surrogate (the file readers refuse them)
            return NormalizedTexts, (list(self),)

    def memo(self, key: tuple[Any, ...], compute: Callable[[], Any]) -> Any:
        """``compute()``, once per key for this list."""
        cache = self.__dict__.setdefault("_memo", {})
        if key not in cache:
            cache[key] = compute()
        return cache[key]

    def forget_shingles(self) -> None:
        """Drop the shared shingles (once every check is indexed), keep the lengths."""
        cache = self.__dict__.get("_memo", {})
        for key in [k for k in cache if k[0] == "shingles"]:
            del cache[key]


class SharedTexts(Sequence[str]):
    """A pickled ``NormalizedTexts``: its texts as one Arrow string array, and their lengths.

    Pickled with protocol 5 into the file worker processes map (``splitforge.parallel``), the
    array's buffers are views of that one mapping, not a Python string per text in every
    process. Indexing decodes one text; the checks' probes read only the texts they verify.
    """

    def __init__(self, array: pa.Array, lengths: np.ndarray | None = None) -> None:
        self.array, self.lengths = array, lengths

    def __len__(self) -> int:
        return len(self.array)

    def __getitem__(self, i: Any) -> Any:
        return self.array[i].to_pylist() if isinstance(i, slice) else self.array[i].as_py()

    def __iter__(self) -> Iterator[str]:
        return iter(self.array.to_pylist())


def eval_shingles64(texts: Sequence[str], n_word: int, n_char: int, unit: str) -> Shingles64:
    """``shingle_hashes64`` of eval texts, shared by the checks of one ``NormalizedTexts``."""
    if isinstance(texts, NormalizedTexts):
        return texts.memo(("shingles", n_word, n_char, unit),
                          lambda: shingle_hashes64(texts, n_word, n_char, unit))
    return shingle_hashes64(texts, n_word, n_char, unit)


def eval_lengths(texts: Sequence[str]) -> np.ndarray:
    """``reading_lengths`` of eval texts, shared by the checks of one ``NormalizedTexts``."""
    if isinstance(texts, NormalizedTexts):
        return texts.memo(("lengths",), lambda: reading_lengths(texts))
    if isinstance(texts, SharedTexts):  # a copy: a view would keep the workers' file mapped
        return texts.lengths.copy() if texts.lengths is not None else \
            reading_lengths(texts.array)
    return reading_lengths(texts)


class TrainingBatch:
    """One batch of normalized training texts and their ids, with arrays the checks share.

    Token hashes, text hashes and the id order are computed on first use and then reused by every
    check that consumes the batch.

    Args:
        ids: Training id of each text (``str``; other values are converted with ``str``).
        norm: Normalized texts (``normalize_text`` form), an Arrow string array or strings.
        hashes: Their ``text_hashes`` when already known (``normalize_buffers`` returns them).
    """

    def __init__(self, ids: Sequence[Any], norm: pa.Array | pa.ChunkedArray | Sequence[str],
                 hashes: np.ndarray | None = None) -> None:
        self.norm = as_string_array(norm)
        self.ids = [i if isinstance(i, str) else str(i) for i in ids]
        if len(self.ids) != len(self.norm):
            raise ValueError(f"a training batch has {len(self.ids)} ids for {len(self.norm)} "
                             f"texts; give one id per text")
        if hashes is not None:
            self.__dict__["hashes"] = np.asarray(hashes, dtype=np.uint64)

    def __len__(self) -> int:
        return len(self.ids)

    def text(self, row: int) -> str:
        """The normalized text of one row."""
        return self.norm[row].as_py()

    @cached_property
    def buffers(self) -> TextBuffers:
        """UTF-8 bytes and offsets of the texts (``text_buffers``)."""
        return text_buffers(self.norm)

    @cached_property
    def hashes(self) -> np.ndarray:
        """xxh3 hash of each normalized text (``text_hashes``)."""
        return _buffer_hashes(*self.buffers)

    @cached_property
    def id_rank(self) -> np.ndarray:
        """Each row's position when the ids are sorted as strings (ties by row)."""
        order = sorted(range(len(self.ids)), key=self.ids.__getitem__)
        rank = np.empty(len(order), dtype=np.int64)
        rank[order] = np.arange(len(order))
        return rank

    @cached_property
    def word_tokens(self) -> tuple[np.ndarray, np.ndarray]:
        """Hash of every word of every text, and the row it belongs to."""
        return _word_token_hashes(*self.buffers)

    @cached_property
    def char_tokens(self) -> tuple[np.ndarray, np.ndarray]:
        """Hash of every non-space character of texts that may hold CJK text, and its row.

        Only texts with a UTF-8 lead byte of U+3000 or above are cut into characters (an eval item
        in character units can only occur inside such a text); Latin text with curly quotes or
        dashes (U+2000-U+2FFF) is skipped.
        """
        data, offsets = self.buffers
        nonempty = np.flatnonzero(offsets[1:] > offsets[:-1])
        if not len(nonempty):
            return np.zeros(0, np.uint64), np.zeros(0, np.int64)
        top = np.maximum.reduceat(data, offsets[nonempty])
        rows = nonempty[top >= _CJK_LEAD_BYTE]
        if not len(rows):
            return np.zeros(0, np.uint64), np.zeros(0, np.int64)
        tokens, doc = _char_token_hashes([_decode(data, offsets, int(i)) for i in rows])
        return tokens, rows[doc]

    @cached_property
    def every_char_token(self) -> tuple[np.ndarray, np.ndarray]:
        """Hash of every non-space character of every text, and its row (``unit: char``)."""
        return _char_token_hashes([self.text(row) for row in range(len(self))])

    def tokens(self, char: bool, unit: str = "auto") -> tuple[np.ndarray, np.ndarray]:
        """Word token hashes, or character ones: of every row for ``unit: char``.

        With ``unit: auto`` only rows that may hold CJK text are cut into characters.
        """
        if not char:
            return self.word_tokens
        return self.every_char_token if unit == "char" else self.char_tokens

    @cached_property
    def cjk(self) -> np.ndarray:
        """Per row, whether ``unit: auto`` cuts it into characters (``is_cjk``, on the bytes)."""
        return cjk_texts(*self.buffers)

    def shingles(self, n_word: int, n_char: int, unit: str = "auto") -> Shingles:
        """``shingle_hashes(norm, n_word, n_char, unit)``, from the batch's cached token hashes."""
        n = len(self)
        char_mode = np.full(n, unit == "char") if unit != "auto" else self.cjk
        values, owners = [], []
        for char in (False, True):
            rows = np.flatnonzero(char_mode == char)
            if not len(rows):
                continue
            tokens, doc = self.tokens(char, unit)  # a superset of the rows in this unit
            if len(rows) < n:
                keep = char_mode[doc] == char
                local = np.cumsum(char_mode == char) - 1
                tokens, doc = tokens[keep], local[doc[keep]]
            grams, owner = _combine(tokens, doc, len(rows), n_char if char else n_word)
            values.append(grams)
            owners.append(rows[owner])
        if len(values) == 1:
            value, owner = values[0], owners[0]
        else:
            value = np.concatenate(values) if values else np.zeros(0, np.uint64)
            owner = np.concatenate(owners) if owners else np.zeros(0, np.int64)
            order = np.argsort(owner, kind="stable")
            value, owner = value[order], owner[order]
        counts = np.bincount(owner, minlength=n)
        bounds = np.concatenate(([0], np.cumsum(counts))).astype(np.int64)
        return Shingles((value >> np.uint64(32)).astype(np.uint32), bounds)


def smallest_id_per_key(keys: np.ndarray, rows: np.ndarray, batch: TrainingBatch
                        ) -> tuple[np.ndarray, np.ndarray]:
    """For each distinct key, the row whose training id is smallest among its rows."""
    if not len(keys):
        return keys[:0], rows[:0]
    order = np.lexsort((batch.id_rank[rows], keys))
    keys, rows = keys[order], rows[order]
    first = np.ones(len(keys), dtype=bool)
    first[1:] = keys[1:] != keys[:-1]
    return keys[first], rows[first]


def prefer_smaller_id(new_ids: np.ndarray, old_ids: np.ndarray) -> np.ndarray:
    """Elementwise ``new < old`` over object arrays of id strings, where None counts as largest."""
    missing = np.array([o is None for o in old_ids], dtype=bool)
    out = missing.copy()
    if (~missing).any():
        out[~missing] = new_ids[~missing] < old_ids[~missing]
    return out


def closest_group(text: np.ndarray, group: np.ndarray, score: np.ndarray) -> np.ndarray:
    """Per (eval item, training text) pair: does no other group score higher on that text?

    A training text is evidence only for the eval item it resembles most: the look-alike items
    of one benchmark (templates that differ in one expression) would otherwise all be flagged by
    the copy of any one of them. ``text`` names the training text of each pair, ``group`` its
    eval item's group (an item's input and answer are one: a group scores its best pair, so an
    answer is kept wherever its input wins), ``score`` its similarity; ties keep the pair.
    """
    keep = np.ones(len(text), dtype=bool)
    if not len(text):
        return keep
    order = np.lexsort((group, text))
    t, g = text[order], group[order]
    s = np.asarray(score, dtype=np.float64)[order]
    new_text = np.r_[True, t[1:] != t[:-1]]
    new_group = new_text | np.r_[True, g[1:] != g[:-1]]
    group_best = np.maximum.reduceat(s, np.flatnonzero(new_group))[np.cumsum(new_group) - 1]
    text_best = np.maximum.reduceat(s, np.flatnonzero(new_text))[np.cumsum(new_text) - 1]
    keep[order] = group_best >= text_best  # the group's best pair is the text's best (or ties)
    return keep


def merge_best(best_score: np.ndarray, best_id: np.ndarray, item: np.ndarray,
               score: np.ndarray, ids: np.ndarray, best_text: np.ndarray | None = None,
               texts: np.ndarray | None = None) -> None:
    """Keep, per item, the larger score, or the same score with the smaller id (in place).

    The order-free rule every check's ``_merge`` uses for its best training text. With
    ``best_text`` and ``texts`` (object arrays beside ``best_id`` and ``ids``), the evidence's
    text is kept with its id; the same score and id (one training id on two rows) keeps the
    smaller text in string order, so the text does not depend on the order either.
    """
    if not len(item):
        return
    old = best_score[item]
    better = (score > old) | ((score == old) & prefer_smaller_id(ids, best_id[item]))
    if best_text is not None and texts is not None:
        same = ~better & (score == old) & (ids == best_id[item])
        if same.any():
            better[same] = prefer_smaller_id(texts[same], best_text[item[same]])
        best_text[item[better]] = texts[better]
    best_score[item[better]] = score[better]
    best_id[item[better]] = ids[better]


_TABLE_CHUNK = 1 << 20  # keys set in ``NgramIndex.table`` at a time


class NgramIndex:
    """Sorted 64-bit keys of eval n-gram windows (of one or more lengths), probed by token hashes.

    Equal keys of several entries (an n-gram many eval items share) are stored once, so a
    training window matches at most one key per length whatever the number of items holding it:
    ``probe_keys`` costs one pair per matching window. ``probe`` expands keys to their entries.

    Args:
        keys: Window hash of each entry (the ``shingle_hashes64`` chain).
        lengths: Window length in tokens of each entry; a training window only matches an entry
            of its own length.
    """

    def __init__(self, keys: np.ndarray, lengths: np.ndarray) -> None:
        keys = np.asarray(keys, dtype=np.uint64)
        lengths = np.asarray(lengths, dtype=np.int32)
        self.lengths = np.unique(lengths).tolist()
        # one length (every item at least n tokens long): the stable sort lexsort would give
        order = np.argsort(keys, kind="stable") if len(self.lengths) < 2 else \
            np.lexsort((lengths, keys))
        sorted_keys = keys[order]
        if len(self.lengths) < 2:  # one length: the keys alone tell entries apart
            new = np.r_[True, sorted_keys[1:] != sorted_keys[:-1]] if len(keys) else \
                np.zeros(0, dtype=bool)
            self.keys = sorted_keys[new]
            self.key_length = np.full(len(self.keys), self.lengths[0] if self.lengths else 0,
                                      dtype=np.int32)
        else:
            sorted_lengths = lengths[order]
            new = np.r_[True, (sorted_keys[1:] != sorted_keys[:-1])
                        | (sorted_lengths[1:] != sorted_lengths[:-1])]
            self.keys = sorted_keys[new]
            self.key_length = sorted_lengths[new]
            del sorted_lengths
        del sorted_keys
        self.key_start = np.empty(len(self.keys) + 1, dtype=np.int64)
        self.key_start[:-1] = np.flatnonzero(new)
        self.key_start[-1] = len(keys)
        del new
        # entries of key k: key_entries[key_start[k]:key_start[k + 1]]
        self.key_entries = order.astype(index_type(len(keys)))
        del order
        # a bit per slot, about 16 slots per key: most windows that match no key stop here
        bits = int(np.clip(np.ceil(np.log2(max(1, len(self.keys)) * 16)), 12, 30))
        self.shift = np.uint64(64 - bits)
        self.table = np.zeros(1 << (bits - 3), dtype=np.uint8)  # slot s: bit s % 8 of byte s // 8
        for lo in range(0, len(self.keys), _TABLE_CHUNK):  # keys sorted: so are their slots
            slot = self.keys[lo:lo + _TABLE_CHUNK] >> self.shift
            byte = (slot >> np.uint64(3)).astype(np.int64)
            bit = np.left_shift(np.uint8(1), (slot & np.uint64(7)).astype(np.uint8))
            runs = np.flatnonzero(np.r_[True, byte[1:] != byte[:-1]])
            self.table[byte[runs]] |= np.bitwise_or.reduceat(bit, runs)

    @property
    def entry_key(self) -> np.ndarray:
        """The key number of each entry (computed when asked: the index does not keep it)."""
        key = np.empty(len(self.key_entries), dtype=np.int64)
        key[self.key_entries] = np.repeat(np.arange(len(self.keys)), self.key_entry_counts)
        return key

    def _may_hold(self, windows: np.ndarray) -> np.ndarray:
        """Per window hash, whether its slot holds some key (no false negatives)."""
        slot = windows >> self.shift
        return (self.table[slot >> np.uint64(3)] >> (slot & np.uint64(7)).astype(np.uint8)
                ) & np.uint8(1) > 0

    def __len__(self) -> int:
        return len(self.keys)

    @property
    def key_entry_counts(self) -> np.ndarray:
        """Entries per key."""
        return np.diff(self.key_start)

    def probe_keys(self, tokens: np.ndarray, doc: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Every (key, training row) where a window of the row's tokens equals the key.

        Args:
            tokens: Token hashes of the training texts, text after text.
            doc: The row of each token (non-decreasing).

        Returns:
            Key numbers and rows, one pair per distinct match.
        """
        if not len(self.keys) or not len(tokens):
            return np.zeros(0, np.int64), np.zeros(0, np.int64)
        found_keys, rows = [], []
        wanted = set(self.lengths)
        acc = tokens.copy()
        for length in range(1, max(self.lengths) + 1):
            if length > 1:
                if length > len(tokens):
                    break
                acc = acc[:-1]
                acc *= _COMBINE
                acc += tokens[length - 1:]
            if length not in wanted:
                continue
            start = np.flatnonzero(self._may_hold(acc))
            start = start[doc[start] == doc[start + length - 1]]  # windows inside one text
            if not len(start):
                continue
            values = acc[start]
            order = np.argsort(values)
            values, start = values[order], start[order]
            query, position = match_sorted(self.keys, values)
            keep = self.key_length[position] == length
            found_keys.append(position[keep])
            rows.append(doc[start[query[keep]]])
        if not found_keys:
            return np.zeros(0, np.int64), np.zeros(0, np.int64)
        key, row = np.concatenate(found_keys), np.concatenate(rows)
        width = int(doc[-1]) + 1
        code = np.unique(key * width + row)
        return code // width, code % width

    def expand(self, key: np.ndarray, row: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(entry, row) pairs of (key, row) pairs: each key stands for all of its entries."""
        counts = self.key_entry_counts[key]
        first = np.repeat(self.key_start[key] - np.cumsum(counts) + counts, counts)
        position = first + np.arange(int(counts.sum()))
        return self.key_entries[position], np.repeat(row, counts)

    def probe(self, tokens: np.ndarray, doc: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Every (entry, training row) where a window of the row's tokens equals the entry."""
        return self.expand(*self.probe_keys(tokens, doc))


@dataclass(frozen=True)
class Found:
    """What one training batch contributes to a check: its row count and the check's payload."""

    rows: int
    payload: Any


class AuditCheck(ABC):
    """A contamination check of eval items against a streamed training corpus.

    Subclasses build their index in ``__init__`` and write ``_probe`` (a pure function of the
    index and one batch), ``_merge`` (fold a batch's payload into the running results, order-free)
    and ``_result``. ``consume`` is ``merge(probe(batch))``; ``scan_training`` runs the probes over
    worker processes and the merges here.

    Args:
        eval_norm: Eval texts, one per eval item, normalized (``normalize_text``; applied here
            too, which changes nothing on normalized text). Empty items are never flagged and
            are counted as ``empty_items``.
    """

    name: ClassVar[str]
    version: ClassVar[str] = "1"

    def __init__(self, eval_norm: Sequence[str]) -> None:
        if isinstance(eval_norm, NormalizedTexts):
            self.eval_norm: Sequence[str] = eval_norm
        else:
            self.eval_norm = [normalize_text(t) if isinstance(t, str) else "" for t in eval_norm]
        self.train_rows = 0

    def update(self, ids: Sequence[Any], norm: pa.Array | Sequence[str]) -> None:
        """Consume one batch of training ids and their normalized texts (``normalize_text``).

        ``scan_training`` normalizes raw training texts itself; use this with texts that are
        already normalized (an ``sf_norm`` column).
        """
        self.consume(TrainingBatch(ids, norm))

    def consume(self, batch: TrainingBatch) -> None:
        """Consume one training batch."""
        self.merge(self.probe(batch))

    def probe(self, batch: TrainingBatch) -> Found:
        """What ``batch`` contributes; reads the index only, so it can run in a worker."""
        return Found(len(batch), self._probe(batch))

    def merge(self, found: Found) -> None:
        """Fold one batch's contribution into the running results."""
        self.train_rows += found.rows
        self._merge(found.payload)

    def finish(self, progress: Progress = NO_PROGRESS) -> None:
        """Work that needs every batch merged first (none here); ``scan_training`` calls it."""
        return None

    def result(self) -> CheckResult:
        """Per-eval-item results so far; the summary adds the shared counts."""
        result = self._result()
        result.summary.update({
            "n_items": len(self.eval_norm),
            "n_flagged": int(result.flagged.sum()),
            "score": float(result.score.mean()) if len(result.score) else 0.0,
            "train_rows": self.train_rows,
            "empty_items": sum(1 for t in self.eval_norm if not t),
        })
        return result

    @abstractmethod
    def _probe(self, batch: TrainingBatch) -> Any:
        """The matches of one batch, with training ids."""

    @abstractmethod
    def _merge(self, payload: Any) -> None:
        """Fold ``_probe``'s payload into the running results (a max or min, never order-bound)."""

    @abstractmethod
    def _result(self) -> CheckResult:
        """Per-eval-item results from the running state."""
