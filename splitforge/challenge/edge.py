"""Edge-case challenge items: the extremes of the held-out rows, and the slices a team names.

Each built-in rule (``challenge.edge.rules``) and each user slice (``challenge.edge.slices``)
ranks the candidates it matches, best first:

=================  ===========================================================  ================
rule               a candidate matches when                                     ranked by
=================  ===========================================================  ================
``shortest``       its ``sf_text`` has at most the 5th percentile of the        length, ascending
                   candidates' character lengths
``longest``        its length is at least the 95th percentile                   length,
                                                                                descending
``rare_label``     its ``sf_label`` has a share of the *train* rows below       train share,
                   ``rare_label_share`` (a label absent from train has share    ascending
                   0); only when a label field is mapped
``rare_words``     the mean IDF of its words is at least the 95th percentile    mean IDF,
                   of the candidates' mean IDFs                                 descending
``unusual_chars``  it has emoji, mixed scripts, code, a URL or a long number    features,
                                                                                descending
``slice:<name>``   every condition of the slice's ``where`` holds               row order
=================  ===========================================================  ================

Percentiles use NumPy's default linear interpolation over the candidates. Ties are broken by row
order, that is by ``sf_id``.

Rare words:
    Words are the space-separated tokens of ``sf_norm``; a CJK text (at least a third of its
    non-space characters Chinese, Japanese or Korean, :func:`~splitforge.normalize.shingles.is_cjk`)
    has one word per character. These are the unigram shingles of the MinHash stage, hashed to 32
    bits in NumPy (:func:`~splitforge.normalize.shingles.shingle_hashes`), so a million train rows
    cost seconds, not a Python call per word. Document frequencies ``df`` come from the train rows
    (``N`` of them) and ``idf = ln((1 + N) / (1 + df)) + 1`` (scikit-learn's smooth IDF); a word
    never seen in train gets ``df = 0``, the largest IDF there is. A row's score is the mean IDF
    over its word occurrences. Two words sharing a 32-bit hash share a document frequency; with a
    million distinct words that happens to about one word in four thousand.

Unusual characters (one point each, the score is the sum):
    - ``emoji``: a pictograph (U+1F000-1FAFF), a symbol or dingbat (U+2600-27BF, U+2B00-2BFF) or
      the emoji variation selector U+FE0F.
    - ``mixed_scripts``: at least two scripts among Latin, Greek, Cyrillic, Hebrew, Arabic,
      Devanagari, Thai and CJK, each with at least ``MIXED_SCRIPT_SHARE`` (20%) of the text's
      units, where a unit is a word of an alphabetic script or one CJK character (which carries
      about as much as a word). A Chinese sentence of twenty characters that names *Python* once
      is not mixed; ``Привет мир, hello world`` is.
    - ``code``: a fenced block (three backticks), a closing markup tag (``</p``), a line starting
      ``def name(``, an ``import``/``from ... import``/``#include`` line, or a line with a brace
      and a semicolon.
    - ``url``: ``http://`` or ``https://``.
    - ``long_number``: ten or more consecutive digits.

Combining rules and slices:
    The ``n`` rows are dealt round-robin over the rules (in the order of ``rules``) and then the
    slices (in their order): each in turn takes its best row not taken yet. Every rule thus gets
    its fair share when it has enough candidates, and a rule that runs out leaves its turns to the
    others. A row matched by several rules carries the reason of the rule that took it.

Guarantees:
    The picks depend only on the pool and the config (no randomness; ties by ``sf_id``), never on
    ``PYTHONHASHSEED`` or dictionary order.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from splitforge import columns as C
from splitforge.challenge.base import CHALLENGES, ChallengeKind, ChallengePool, Picked
from splitforge.normalize.shingles import buffer_batches, is_cjk, shingle_hashes
from splitforge.recipe import EdgeConfig, SliceWhere

LOW_PERCENTILE = 5.0
HIGH_PERCENTILE = 95.0
MIXED_SCRIPT_SHARE = 0.2
_HASH_BATCH = 50_000
_CODE_POINT_BATCH = 2_000

# RE2 syntax (pyarrow.compute): these fixed patterns run over the whole column in C++.
_FEATURE_PATTERNS: dict[str, str] = {
    "emoji": r"[\x{1F000}-\x{1FAFF}\x{2600}-\x{27BF}\x{2B00}-\x{2BFF}\x{FE0F}]",
    "code": (
        r"(?m)```|</[A-Za-z]|^[ \t]*def [A-Za-z_]\w*[ \t]*\("
        r"|^[ \t]*(?:import [A-Za-z_][\w.]*|from [A-Za-z_][\w.]* import |#include[ \t]*[<\"])"
        r"|^[^\n]*(?:[{}][^\n]*;|;[^\n]*[{}])"
    ),
    "url": r"(?i)https?://",
    "long_number": r"[0-9]{10,}",
}
FEATURES: tuple[str, ...] = ("emoji", "mixed_scripts", "code", "url", "long_number")

_SCRIPTS: tuple[str, ...] = ("latin", "greek", "cyrillic", "hebrew", "arabic", "devanagari",
                             "thai", "cjk")
_SCRIPT_RANGES: tuple[tuple[int, int, int], ...] = tuple(sorted(
    (low, high, _SCRIPTS.index(script)) for script, ranges in (
        ("latin", ((0x41, 0x5A), (0x61, 0x7A), (0xC0, 0xD6), (0xD8, 0xF6), (0xF8, 0x24F),
                   (0x1E00, 0x1EFF))),
        ("greek", ((0x370, 0x3FF),)),
        ("cyrillic", ((0x400, 0x52F),)),
        ("hebrew", ((0x5D0, 0x5EA),)),
        ("arabic", ((0x620, 0x64A), (0x66E, 0x6D3), (0x750, 0x77F))),
        ("devanagari", ((0x904, 0x939), (0x958, 0x961))),
        ("thai", ((0xE01, 0xE30),)),
        ("cjk", ((0x1100, 0x11FF), (0x3040, 0x30FF), (0x3400, 0x4DBF), (0x4E00, 0x9FFF),
                 (0xAC00, 0xD7AF), (0xF900, 0xFAFF), (0x20000, 0x2FA1F))),
    ) for low, high in ranges
))
_RANGE_LOW = np.array([r[0] for r in _SCRIPT_RANGES], dtype=np.int64)
_RANGE_HIGH = np.array([r[1] for r in _SCRIPT_RANGES], dtype=np.int64)
_RANGE_SCRIPT = np.array([r[2] for r in _SCRIPT_RANGES], dtype=np.int64)


# -- words and their rarity ----------------------------------------------------------------------


def _word_hashes(norm: pa.ChunkedArray | pa.Array | Sequence[str]) -> Iterator[
        tuple[np.ndarray, np.ndarray]]:
    """Per batch of texts: the 32-bit hash of every word occurrence and the counts per text."""
    if not isinstance(norm, pa.Array | pa.ChunkedArray):
        norm = pa.array(list(norm), pa.large_string())
    for buffers in buffer_batches(norm, _HASH_BATCH):
        shingles = shingle_hashes(buffers, 1, 1, unit="auto")
        yield shingles.values, np.diff(shingles.offsets)


class TrainWords:
    """Document frequencies of the train rows' words: IDF rarity and unseen-word shares.

    Words are ``sf_norm`` split on spaces, or the characters of a CJK text (see the module
    docstring); ``idf = ln((1 + N) / (1 + df)) + 1`` with unseen words at ``df = 0``.

    Example:
        >>> words = TrainWords(["the cat sat", "the dog ran"])
        >>> bool(words.mean_idf(["the zebra"])[0] > words.mean_idf(["the cat"])[0])
        True
    """

    def __init__(self, train_norm: pa.ChunkedArray | pa.Array | Sequence[str]) -> None:
        self.n_docs = len(train_norm)
        seen, counts = [], []
        for values, per_doc in _word_hashes(train_norm):
            owner = np.repeat(np.arange(len(per_doc), dtype=np.uint64), per_doc)
            # One entry per (text, word): document frequency, not term frequency.
            pairs = np.unique((owner << np.uint64(32)) | values.astype(np.uint64))
            words, df = np.unique((pairs & np.uint64(0xFFFFFFFF)).astype(np.uint32),
                                  return_counts=True)
            seen.append(words)
            counts.append(df)
        if seen:
            words, inverse = np.unique(np.concatenate(seen), return_inverse=True)
            df = np.bincount(inverse, weights=np.concatenate(counts), minlength=len(words))
        else:
            words, df = np.zeros(0, np.uint32), np.zeros(0)
        self.words = words
        self.df = df.astype(np.int64)
        self.idf = np.log((1 + self.n_docs) / (1 + self.df)) + 1
        self.unseen_idf = float(np.log(1 + self.n_docs) + 1)

    def _lookup(self, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """For each word hash: whether a train row has it, and its IDF."""
        if not len(self.words):
            return np.zeros(len(values), dtype=bool), np.full(len(values), self.unseen_idf)
        position = np.minimum(np.searchsorted(self.words, values), len(self.words) - 1)
        known = self.words[position] == values
        return known, np.where(known, self.idf[position], self.unseen_idf)

    def mean_idf(self, norm: pa.ChunkedArray | pa.Array | Sequence[str]) -> np.ndarray:
        """Mean IDF over each text's word occurrences (NaN for a text without words)."""
        means = []
        for values, per_doc in _word_hashes(norm):
            _known, idf = self._lookup(values)
            owner = np.repeat(np.arange(len(per_doc)), per_doc)
            total = np.bincount(owner, weights=idf, minlength=len(per_doc))
            with np.errstate(invalid="ignore", divide="ignore"):
                means.append(np.where(per_doc > 0, total / per_doc, np.nan))
        return np.concatenate(means) if means else np.zeros(0)

    def unseen_share(self, norm: pa.ChunkedArray | pa.Array | Sequence[str]) -> float | None:
        """Share of the texts' word occurrences that no train row has (None without words)."""
        unseen = total = 0
        for values, _per_doc in _word_hashes(norm):
            known, _idf = self._lookup(values)
            unseen += int((~known).sum())
            total += len(values)
        return unseen / total if total else None


# -- per-row features ----------------------------------------------------------------------------


def _strings(column: pa.ChunkedArray) -> pa.ChunkedArray:
    return pc.fill_null(column, "")


def char_lengths(texts: pa.ChunkedArray) -> np.ndarray:
    """Characters (code points) per text; a null counts as empty."""
    return pc.utf8_length(_strings(texts)).to_numpy(zero_copy_only=False).astype(np.int64)


def word_counts(texts: Sequence[str | None]) -> np.ndarray:
    """Words per text: whitespace-separated tokens, or non-space characters for CJK text."""
    return np.fromiter(
        (0 if t is None else (sum(not c.isspace() for c in t) if is_cjk(t) else len(t.split()))
         for t in texts),
        dtype=np.int64, count=len(texts),
    )


def _script_units(texts: Sequence[str]) -> np.ndarray:
    """Words per alphabetic script and characters of CJK (columns in ``_SCRIPTS`` order)."""
    cjk = _SCRIPTS.index("cjk")
    out = np.zeros((len(texts), len(_SCRIPTS)), dtype=np.int64)
    for start in range(0, len(texts), _CODE_POINT_BATCH):
        batch = texts[start:start + _CODE_POINT_BATCH]
        codes = np.frombuffer("".join(batch).encode("utf-32-le"), dtype=np.uint32).astype(
            np.int64)
        lengths = np.array([len(t) for t in batch], dtype=np.int64)
        owner = np.repeat(np.arange(len(batch)), lengths)
        slot = np.searchsorted(_RANGE_LOW, codes, side="right") - 1
        inside = (slot >= 0) & (codes <= _RANGE_HIGH[np.maximum(slot, 0)])
        script = np.where(inside, _RANGE_SCRIPT[np.maximum(slot, 0)], -1)
        previous = np.concatenate(([-1], script[:-1]))
        previous[np.cumsum(lengths)[:-1][lengths[1:] > 0]] = -1  # a text's first character
        unit = (script >= 0) & ((script != previous) | (script == cjk))
        flat = np.bincount(owner[unit] * len(_SCRIPTS) + script[unit],
                           minlength=len(batch) * len(_SCRIPTS))
        out[start:start + len(batch)] = flat.reshape(len(batch), len(_SCRIPTS))
    return out


def mixed_scripts(texts: pa.ChunkedArray) -> np.ndarray:
    """Whether each text mixes scripts (see the module docstring); ASCII texts never do."""
    texts = _strings(texts)
    result = np.zeros(len(texts), dtype=bool)
    rows = np.flatnonzero(~pc.string_is_ascii(texts).to_numpy(zero_copy_only=False))
    if not len(rows):
        return result
    units = _script_units(texts.take(pa.array(rows)).to_pylist())
    share = units / np.maximum(units.sum(axis=1, keepdims=True), 1)
    result[rows] = (share >= MIXED_SCRIPT_SHARE).sum(axis=1) >= 2
    return result


def unusual_features(texts: pa.ChunkedArray) -> dict[str, np.ndarray]:
    """One boolean array per feature in ``FEATURES`` (see the module docstring)."""
    texts = _strings(texts)
    found = {name: pc.match_substring_regex(texts, pattern).to_numpy(zero_copy_only=False)
             for name, pattern in _FEATURE_PATTERNS.items()}
    found["mixed_scripts"] = mixed_scripts(texts)
    return {name: np.asarray(found[name], dtype=bool) for name in FEATURES}


# -- user slices ---------------------------------------------------------------------------------


def _as_text(value: Any) -> str:
    """A field value as compared by ``equals`` and searched by ``matches``."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def slice_mask(table: pa.Table, where: SliceWhere) -> np.ndarray:
    """Rows of ``table`` for which every condition of ``where`` holds.

    ``text_matches`` is searched in ``sf_text`` ignoring case; ``matches`` is searched in the
    field's value as written (case-sensitive: start the pattern with ``(?i)`` to ignore case).
    ``equals`` compares values as text, so ``3`` matches ``3``, ``3.0`` and ``"3"``, and ``true``
    matches ``true`` and ``"true"``. Null values match nothing. Character counts are code points
    of ``sf_text``; word counts are whitespace-separated tokens, or characters for CJK text.
    """
    mask = np.ones(table.num_rows, dtype=bool)
    texts = table.column(C.TEXT)
    if where.text_matches is not None:
        pattern = re.compile(where.text_matches, re.IGNORECASE)
        mask &= np.fromiter((t is not None and pattern.search(t) is not None
                             for t in texts.to_pylist()), dtype=bool, count=table.num_rows)
    if where.field is not None:
        values = table.column(where.field).to_pylist()
        if where.equals is not None:
            target = _as_text(where.equals)
            mask &= np.fromiter((v is not None and _as_text(v) == target for v in values),
                                dtype=bool, count=table.num_rows)
        if where.matches is not None:
            pattern = re.compile(where.matches)
            mask &= np.fromiter((v is not None and pattern.search(_as_text(v)) is not None
                                 for v in values), dtype=bool, count=table.num_rows)
    if where.min_chars is not None or where.max_chars is not None:
        lengths = char_lengths(texts)
        if where.min_chars is not None:
            mask &= lengths >= where.min_chars
        if where.max_chars is not None:
            mask &= lengths <= where.max_chars
    if where.min_words is not None or where.max_words is not None:
        words = word_counts(texts.to_pylist())
        if where.min_words is not None:
            mask &= words >= where.min_words
        if where.max_words is not None:
            mask &= words <= where.max_words
    return mask


# -- the challenge kind --------------------------------------------------------------------------


@dataclass
class _Ranked:
    """One rule's or slice's matches, best first."""

    reason: str
    rows: np.ndarray
    scores: np.ndarray
    info: dict[str, Any] = field(default_factory=dict)
    picked: int = 0


def _rank(rows: np.ndarray, keys: np.ndarray, descending: bool) -> np.ndarray:
    """``rows`` ordered by ``keys`` (ascending or descending), ties by row."""
    order = np.argsort(-keys[rows] if descending else keys[rows], kind="stable")
    return rows[order]


def _round(value: float) -> float:
    return round(float(value), 4)


def _deal(ranked: list[_Ranked], n: int, num_rows: int) -> tuple[list[int], list[str],
                                                                  list[float]]:
    """Round-robin: each source in turn takes its best row not yet taken, until ``n`` rows."""
    taken = np.zeros(num_rows, dtype=bool)
    cursors = [0] * len(ranked)
    rows: list[int] = []
    reasons: list[str] = []
    scores: list[float] = []
    progress = True
    while len(rows) < n and progress:
        progress = False
        for s, source in enumerate(ranked):
            if len(rows) >= n:
                break
            c = cursors[s]
            while c < len(source.rows) and taken[source.rows[c]]:
                c += 1
            if c < len(source.rows):
                row = int(source.rows[c])
                taken[row] = True
                rows.append(row)
                reasons.append(source.reason)
                scores.append(float(source.scores[c]))
                source.picked += 1
                c += 1
                progress = True
            cursors[s] = c
    return rows, reasons, scores


@CHALLENGES.register("edge")
class EdgeChallenge(ChallengeKind):
    """Edge cases: length extremes, rare labels and words, unusual characters, user slices.

    Args:
        config: ``challenge.edge`` of the recipe: the rules to apply, the user slices and the
            train share under which a label is rare.

    ``info`` holds ``{"rules": {rule: {"candidates", "picked", ...}}, "slices": {name:
    {"candidates", "picked"}}}``; a rule that cannot run (``rare_label`` without a label field,
    ``rare_label``/``rare_words`` without train rows) says why under ``"skipped"``.

    Guarantees:
        Deterministic (no randomness; ties by ``sf_id``); rows are dealt round-robin over the
        rules then the slices, so each gets its fair share of ``n``.

    Example:
        >>> from splitforge.recipe import EdgeConfig
        >>> EdgeChallenge(EdgeConfig(rules=["shortest"])).config.rules
        ['shortest']
    """

    name = "edge"

    def __init__(self, config: EdgeConfig) -> None:
        self.config = config

    def check_fields(self, columns: Sequence[str]) -> list[str]:
        """Every slice that names a field the candidate table lacks, with the fields it has."""
        present = list(columns)
        return [
            f"challenge.edge.slices[{i}].where.field: no field {s.where.field!r} in the data; "
            f"available fields: "
            f"{', '.join(c for c in present if not c.startswith(C.PREFIX)) or '(none)'}"
            for i, s in enumerate(self.config.slices)
            if s.where.field is not None and s.where.field not in present
        ]

    def merge_info(self, infos: list[dict[str, Any]]) -> dict[str, Any]:
        """The first round's info, with every rule's and slice's ``picked`` summed over rounds."""
        info = super().merge_info(infos)
        for later in infos[1:]:
            for group in ("rules", "slices"):
                for name, entry in later.get(group, {}).items():
                    if name in info.get(group, {}) and "picked" in entry:
                        info[group][name]["picked"] += entry["picked"]
        return info

    def _pick(self, pool: ChallengePool, n: int) -> Picked:
        """Deal ``n`` rows round-robin over the rules and slices (see the module docstring)."""
        rules = list(dict.fromkeys(self.config.rules))
        ranked: list[_Ranked] = []
        info: dict[str, Any] = {"rules": {}, "slices": {}}
        builders = {
            "shortest": self._shortest, "longest": self._longest,
            "rare_label": self._rare_label, "rare_words": self._rare_words,
            "unusual_chars": self._unusual_chars,
        }
        for rule in rules:
            result = builders[rule](pool)
            if isinstance(result, str):
                info["rules"][rule] = {"candidates": 0, "picked": 0, "skipped": result}
            else:
                ranked.append(result)
        for edge_slice in self.config.slices:
            mask = slice_mask(pool.candidates, edge_slice.where)
            rows = np.flatnonzero(mask)
            ranked.append(_Ranked(f"slice:{edge_slice.name}", rows, np.full(len(rows), np.nan)))
        rows, reasons, scores = _deal(ranked, n, pool.candidates.num_rows)
        for source in ranked:
            entry = {"candidates": len(source.rows), "picked": source.picked, **source.info}
            if source.reason.startswith("slice:"):
                name = source.reason.removeprefix("slice:")
                before = info["slices"].get(name, {"candidates": 0, "picked": 0})
                info["slices"][name] = {key: before[key] + entry[key] for key in before}
            else:
                info["rules"][source.reason] = entry
        info["rules"] = {rule: info["rules"][rule] for rule in rules}
        return Picked(np.asarray(rows, dtype=np.int64), reasons,
                      np.asarray(scores, dtype=np.float64), info)

    def _shortest(self, pool: ChallengePool) -> _Ranked:
        lengths = char_lengths(pool.candidates.column(C.TEXT))
        limit = float(np.percentile(lengths, LOW_PERCENTILE))
        rows = _rank(np.flatnonzero(lengths <= limit), lengths, descending=False)
        return _Ranked("shortest", rows, lengths[rows].astype(np.float64),
                       {"max_chars": _round(limit)})

    def _longest(self, pool: ChallengePool) -> _Ranked:
        lengths = char_lengths(pool.candidates.column(C.TEXT))
        limit = float(np.percentile(lengths, HIGH_PERCENTILE))
        rows = _rank(np.flatnonzero(lengths >= limit), lengths, descending=True)
        return _Ranked("longest", rows, lengths[rows].astype(np.float64),
                       {"min_chars": _round(limit)})

    def _rare_label(self, pool: ChallengePool) -> _Ranked | str:
        if C.LABEL not in pool.candidates.column_names:
            return "no label field mapped"
        if pool.train.num_rows == 0 or C.LABEL not in pool.train.column_names:
            return "no train rows to measure label shares on"
        counts = pc.value_counts(pool.train.column(C.LABEL).drop_null()).to_pylist()
        share = {c["values"]: c["counts"] / pool.train.num_rows for c in counts}
        labels = pool.candidates.column(C.LABEL).to_pylist()
        shares = np.array([np.nan if v is None else share.get(v, 0.0) for v in labels])
        with np.errstate(invalid="ignore"):
            rare = shares < self.config.rare_label_share
        rows = _rank(np.flatnonzero(rare), shares, descending=False)
        rare_labels = sorted({str(labels[r]): _round(shares[r]) for r in rows}.items())
        return _Ranked("rare_label", rows, shares[rows],
                       {"below_share": self.config.rare_label_share,
                        "labels": dict(rare_labels)})

    def _rare_words(self, pool: ChallengePool) -> _Ranked | str:
        if pool.train.num_rows == 0:
            return "no train rows to measure word rarity on"
        means = TrainWords(pool.train.column(C.NORM)).mean_idf(pool.candidates.column(C.NORM))
        finite = np.isfinite(means)
        if not finite.any():
            return "no candidate has words"
        limit = float(np.percentile(means[finite], HIGH_PERCENTILE))
        keys = np.where(finite, means, -np.inf)
        rows = _rank(np.flatnonzero(finite & (means >= limit)), keys, descending=True)
        return _Ranked("rare_words", rows, means[rows], {"min_mean_idf": _round(limit)})

    def _unusual_chars(self, pool: ChallengePool) -> _Ranked:
        features = unusual_features(pool.candidates.column(C.TEXT))
        count = np.sum([features[name] for name in FEATURES], axis=0).astype(np.int64)
        rows = _rank(np.flatnonzero(count > 0), count, descending=True)
        return _Ranked("unusual_chars", rows, count[rows].astype(np.float64),
                       {"features": {name: int(features[name].sum()) for name in FEATURES}})
