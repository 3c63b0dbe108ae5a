"""Hashed shingles of normalized text, computed in NumPy without a Python call per token.

Word shingles: the normalized text (``sf_norm``: single spaces, no newlines) is split on spaces
and every run of ``n`` consecutive words is one shingle. Character shingles, used for Chinese and
Japanese text (``unit: auto`` picks them when at least a third of a text's non-space characters
are CJK) or when asked for (``unit: char``): every run of ``n`` characters, spaces dropped.
A text shorter than one shingle gets one shingle made of all its tokens, so it still has a
signature; an empty text has no shingles.

Token hashes come from a polynomial hash over the UTF-8 bytes computed with prefix sums
(uint64 arithmetic wraps modulo 2^64, and the base is odd, so it is invertible); a shingle's hash
combines its tokens' hashes the same way. Everything is deterministic across runs and machines.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

_BASE = np.uint64(0x100000001B3)  # odd: invertible modulo 2^64
_BASE_INV = np.uint64(pow(int(_BASE), -1, 1 << 64))
_COMBINE = np.uint64(0x9E3779B97F4A7C15)
_SPACE, _NEWLINE = 32, 10
_CJK_RANGES = ((0x3040, 0x30FF), (0x3400, 0x4DBF), (0x4E00, 0x9FFF), (0xF900, 0xFAFF),
               (0xAC00, 0xD7AF), (0x20000, 0x2FA1F))


def fmix64(x: np.ndarray) -> np.ndarray:
    """MurmurHash3's 64-bit finalizer: an avalanching bijection on uint64."""
    x = x ^ (x >> np.uint64(33))
    x = x * np.uint64(0xFF51AFD7ED558CCD)
    x = x ^ (x >> np.uint64(33))
    x = x * np.uint64(0xC4CEB9FE1A85EC53)
    return x ^ (x >> np.uint64(33))


def is_cjk(text: str) -> bool:
    """Whether at least a third of the non-space characters are Chinese, Japanese or Korean."""
    if text.isascii():
        return False
    chars = [ord(c) for c in text if not c.isspace()]
    if not chars:
        return False
    codes = np.array(chars)
    cjk = np.zeros(len(codes), dtype=bool)
    for low, high in _CJK_RANGES:
        cjk |= (codes >= low) & (codes <= high)
    return bool(cjk.mean() >= 1 / 3)


@dataclass(frozen=True)
class Shingles:
    """Shingle hashes of a batch of texts, grouped by text.

    Attributes:
        values: uint32 hash of each shingle (the value a MinHash is updated with).
        offsets: text i's shingles are ``values[offsets[i]:offsets[i + 1]]``.
    """

    values: np.ndarray
    offsets: np.ndarray

    def of(self, i: int) -> np.ndarray:
        """The shingle hashes of text ``i``."""
        return self.values[self.offsets[i]:self.offsets[i + 1]]


_POWER_CACHE: dict[int, np.ndarray] = {}


def _powers(base: np.uint64, count: int) -> np.ndarray:
    """base^0 .. base^(count-1) modulo 2^64, cached and grown as needed."""
    cached = _POWER_CACHE.get(int(base))
    if cached is None or len(cached) < count:
        size = max(count, 1 << 20, 2 * len(cached) if cached is not None else 0)
        powers = np.full(size, base, dtype=np.uint64)
        powers[0] = 1
        cached = np.cumprod(powers, dtype=np.uint64)
        _POWER_CACHE[int(base)] = cached
    return cached[:count]


def _token_hashes(texts: Sequence[str], char_mode: bool) -> tuple[np.ndarray, np.ndarray]:
    """Hash of every token and the index of the text it belongs to."""
    if char_mode:
        joined = "\n".join(t.replace(" ", "") for t in texts)
        codes = np.frombuffer(joined.encode("utf-32-le"), dtype=np.uint32)
        is_newline = codes == _NEWLINE
        doc = np.cumsum(is_newline)[~is_newline]
        return fmix64(codes[~is_newline].astype(np.uint64)), doc
    data = np.frombuffer("\n".join(texts).encode("utf-8"), dtype=np.uint8)
    if not len(data):
        return np.zeros(0, np.uint64), np.zeros(0, np.int64)
    sep = (data == _SPACE) | (data == _NEWLINE)
    inside = ~sep
    before = np.concatenate(([False], inside[:-1]))
    after = np.concatenate((inside[1:], [False]))
    starts = np.flatnonzero(inside & ~before)
    ends = np.flatnonzero(inside & ~after) + 1
    weighted = data.astype(np.uint64)
    np.multiply(weighted, _powers(_BASE, len(data)), out=weighted)
    prefix = np.empty(len(data) + 1, dtype=np.uint64)
    prefix[0] = 0
    np.cumsum(weighted, out=prefix[1:])
    inverse = _powers(_BASE_INV, len(data) + 1)
    tokens = (prefix[ends] - prefix[starts]) * inverse[starts]
    doc = np.cumsum(data == _NEWLINE)[starts]
    return fmix64(tokens ^ (ends - starts).astype(np.uint64)), doc


def _combine(tokens: np.ndarray, doc: np.ndarray, n_docs: int, n: int) -> tuple[np.ndarray,
                                                                                   np.ndarray]:
    """Shingle hashes (uint64) of every n consecutive tokens of a text, and each one's text."""
    counts = np.bincount(doc, minlength=n_docs)
    full = len(tokens) - n + 1
    parts, owners = [], []
    if full > 0:
        acc = np.zeros(full, dtype=np.uint64)
        for j in range(n):
            acc = acc * _COMBINE + tokens[j:j + full]
        valid = doc[:full] == doc[n - 1:n - 1 + full]
        parts.append(acc[valid])
        owners.append(doc[:full][valid])
    short = np.flatnonzero((counts > 0) & (counts < n))
    if len(short):
        starts = np.concatenate(([0], np.cumsum(counts)))[short]
        acc = np.zeros(len(short), dtype=np.uint64)
        for j in range(int(counts[short].max())):
            live = j < counts[short]
            acc[live] = acc[live] * _COMBINE + tokens[starts[live] + j]
        parts.append(acc)
        owners.append(short)
    if not parts:
        return np.zeros(0, np.uint64), np.zeros(0, np.int64)
    values, owner = np.concatenate(parts), np.concatenate(owners)
    order = np.argsort(owner, kind="stable")
    return fmix64(values[order]), owner[order]


def shingle_hashes(texts: Sequence[str], n_word: int, n_char: int, unit: str = "auto") -> Shingles:
    """Hashed word (or, for CJK text, character) shingles of normalized texts.

    Args:
        texts: normalized texts (``sf_norm``).
        n_word: words per shingle.
        n_char: characters per shingle for CJK text.
        unit: ``auto`` (characters for CJK text, words otherwise), ``word`` or ``char``.
    """
    n_docs = len(texts)
    if unit == "auto":
        char_mode = np.array([is_cjk(t) for t in texts], dtype=bool)
    else:
        char_mode = np.full(n_docs, unit == "char", dtype=bool)
    values, owners = [], []
    for mode, n in ((False, n_word), (True, n_char)):
        index = np.flatnonzero(char_mode == mode)
        if not len(index):
            continue
        tokens, doc = _token_hashes([texts[i] for i in index], mode)
        shingles, owner = _combine(tokens, doc, len(index), n)
        values.append(shingles)
        owners.append(index[owner])
    if values:
        all_values, all_owners = np.concatenate(values), np.concatenate(owners)
        order = np.argsort(all_owners, kind="stable")
        all_values, all_owners = all_values[order], all_owners[order]
    else:
        all_values, all_owners = np.zeros(0, np.uint64), np.zeros(0, np.int64)
    offsets = np.concatenate(([0], np.cumsum(np.bincount(all_owners, minlength=n_docs))))
    return Shingles((all_values >> np.uint64(32)).astype(np.uint32), offsets.astype(np.int64))
