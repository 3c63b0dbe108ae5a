"""Hashed shingles of normalized text, computed in NumPy without a Python call per token.

Word shingles: the normalized text (``sf_norm``: single spaces, no newlines) is split on spaces
and every run of ``n`` consecutive words is one shingle. Character shingles, used for Chinese and
Japanese text (``unit: auto`` picks them when at least a third of a text's non-space characters
are CJK) or when asked for (``unit: char``): every run of ``n`` characters, spaces dropped.
A text shorter than one shingle gets one shingle made of all its tokens, so it still has a
signature; an empty text has no shingles.

Punctuation does not count: a word is hashed without its leading and trailing punctuation
("pounds." and "pounds。" are one word; "###" stays itself), and punctuation characters are no
character tokens, so a re-punctuated copy has the shingles of its original.

Words are hashed straight from the UTF-8 buffer of an Arrow string array: each word's bytes are
read eight at a time as uint64 lanes and folded through MurmurHash3's ``fmix64``, so there is no
Python call per text or per word (only texts with non-ASCII bytes are decoded, to test for CJK).
A shingle's hash combines its tokens' hashes by a multiply-add chain. Everything is deterministic
across runs and machines; the 32-bit shingle value is the top half of a 64-bit hash.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import pyarrow as pa

VERSION = "2"  # 2: punctuation at word edges and punctuation characters are not hashed
_COMBINE = np.uint64(0x9E3779B97F4A7C15)
_SPACE, _NEWLINE = 32, 10
CJK_RANGES = ((0x3040, 0x30FF), (0x3400, 0x4DBF), (0x4E00, 0x9FFF), (0xF900, 0xFAFF),
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
    for low, high in CJK_RANGES:
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


_LANE_MASKS = np.array([(1 << (8 * r)) - 1 for r in range(8)] + [(1 << 64) - 1],
                       dtype=np.uint64)


TextBuffers = tuple[np.ndarray, np.ndarray]


def text_buffers(texts: Sequence[str] | pa.Array | pa.ChunkedArray) -> TextBuffers:
    """The UTF-8 bytes of texts laid end to end, and each text's ``[start, end)`` offsets.

    Arrow string arrays give their buffers without a copy per text; a null counts as empty.
    """
    if isinstance(texts, pa.ChunkedArray):
        texts = texts.combine_chunks() if texts.num_chunks != 1 else texts.chunk(0)
    if not isinstance(texts, pa.Array):
        texts = pa.array(list(texts), pa.large_string())
    if texts.null_count:
        texts = texts.fill_null("")
    if pa.types.is_string(texts.type):
        offset_type = np.int32
    elif pa.types.is_large_string(texts.type):
        offset_type = np.int64
    else:
        raise TypeError(f"text_buffers needs string values, got Arrow type {texts.type}")
    _, offset_buf, data_buf = texts.buffers()
    n = len(texts)
    offsets = np.frombuffer(offset_buf, dtype=offset_type)[texts.offset:texts.offset + n + 1]
    offsets = offsets.astype(np.int64)
    if data_buf is None or not n:
        return np.zeros(0, np.uint8), np.zeros(n + 1, np.int64)
    data = np.frombuffer(data_buf, dtype=np.uint8)[offsets[0]:offsets[-1]]
    return data, offsets - offsets[0]


def buffer_batches(texts: pa.Array | pa.ChunkedArray, rows: int) -> Iterator[TextBuffers]:
    """``text_buffers`` of consecutive batches of at most ``rows`` texts, chunk by chunk."""
    chunks = texts.chunks if isinstance(texts, pa.ChunkedArray) else [texts]
    for chunk in chunks:
        for start in range(0, len(chunk), rows):
            yield text_buffers(chunk.slice(start, rows))


def _word_token_hashes(data: np.ndarray, offsets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Hash of every space-separated word and the index of the text it belongs to.

    A word's hash folds its bytes eight at a time (read as little-endian uint64 lanes straight
    from the buffer) through ``fmix64``, seeded by its length; most words take one lane.
    """
    hashes, doc, _, _ = word_tokens(data, offsets)
    return hashes, doc


def word_tokens(data: np.ndarray, offsets: np.ndarray
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``_word_token_hashes`` with each word's ``[start, end)`` byte positions in ``data``."""
    if not len(data):
        empty = np.zeros(0, np.int64)
        return np.zeros(0, np.uint64), empty, empty, empty
    inside = data > _SPACE  # spaces and control characters separate words
    starts_mask = inside.copy()
    starts_mask[1:] &= ~inside[:-1]
    ends_mask = inside.copy()
    ends_mask[:-1] &= ~inside[1:]
    doc_starts = offsets[:-1][offsets[:-1] < len(data)]
    starts_mask[doc_starts] = inside[doc_starts]
    doc_ends = offsets[1:][offsets[1:] > 0] - 1
    ends_mask[doc_ends] = inside[doc_ends]
    word_starts = np.flatnonzero(starts_mask)
    word_ends = np.flatnonzero(ends_mask) + 1
    padded = np.concatenate((data, np.zeros(8, np.uint8)))
    starts, ends = _trim_punctuation(padded, word_starts, word_ends)
    lanes = np.ndarray((len(data),), dtype="<u8", buffer=padded, strides=(1,))
    length = ends - starts
    first = lanes[starts]
    first &= _LANE_MASKS[np.minimum(length, 8)]
    first ^= length.astype(np.uint64) * _COMBINE
    hashes = fmix64(first)
    live, lane = np.flatnonzero(length > 8), 1
    while len(live):  # words longer than eight bytes, one more lane per round
        left = length[live] - 8 * lane
        chunk = lanes[starts[live] + 8 * lane] & _LANE_MASKS[np.minimum(left, 8)]
        hashes[live] = fmix64(hashes[live] ^ chunk)
        live, lane = live[left > 8], lane + 1
    per_doc = np.diff(np.searchsorted(word_starts, offsets))
    return hashes, np.repeat(np.arange(len(offsets) - 1), per_doc), word_starts, word_ends


# Sentence punctuation, quotes and brackets: what a re-punctuated copy changes. Not #, +, -, $,
# %, & or @, which make "C#", "C++", "-3" and "$5" other words than "C" and "3".
_TRIM_ASCII = np.zeros(256, dtype=bool)
_TRIM_ASCII[[ord(c) for c in ".,;:!?\"'()[]{}"]] = True
_PUNCT_RANGES = ((0x21, 0x22), (0x27, 0x29), (0x2C, 0x2C), (0x2E, 0x2E), (0x3A, 0x3B),
                 (0x3F, 0x3F), (0x5B, 0x5B), (0x5D, 0x5D), (0x7B, 0x7B), (0x7D, 0x7D),
                 (0xA1, 0xA1), (0xAB, 0xAB), (0xB7, 0xB7), (0xBB, 0xBB), (0xBF, 0xBF),
                 (0x2010, 0x2027), (0x2030, 0x203A), (0x3001, 0x3003), (0x3008, 0x3011),
                 (0x3014, 0x301F))


def _wide_punctuation(b0: np.ndarray, b1: np.ndarray, b2: np.ndarray) -> tuple[np.ndarray,
                                                                              np.ndarray]:
    """Whether UTF-8 bytes start a 2-byte or a 3-byte character of ``_PUNCT_RANGES``."""
    two = (b0 == 0xC2) & np.isin(b1, (0xA1, 0xAB, 0xB7, 0xBB, 0xBF))
    general = (b0 == 0xE2) & (((b1 == 0x80) & (b2 >= 0x90) & (b2 <= 0xA7))
                              | ((b1 == 0x80) & (b2 >= 0xB0) & (b2 <= 0xBA)))
    cjk = (b0 == 0xE3) & (b1 == 0x80) & (((b2 >= 0x81) & (b2 <= 0x83))
                                         | ((b2 >= 0x88) & (b2 <= 0x91))
                                         | ((b2 >= 0x94) & (b2 <= 0x9F)))
    return two, general | cjk


def _trim_punctuation(padded: np.ndarray, starts: np.ndarray, ends: np.ndarray
                      ) -> tuple[np.ndarray, np.ndarray]:
    """Word bounds without leading and trailing punctuation (``_PUNCT_RANGES``).

    So "pounds." and "pounds。" hash alike; a word of nothing but punctuation ("...", "?!")
    keeps it all.
    """
    s, e = starts.copy(), ends.copy()
    first, last = padded[s], padded[np.maximum(e - 1, 0)]
    # only a word whose first or last byte may be punctuation can change
    live = np.flatnonzero(_TRIM_ASCII[first] | (first >= 0xC2) | _TRIM_ASCII[last]
                          | (last >= 0x80))
    while len(live):  # one character off each side per round, on the words still changing
        ls, le = s[live], e[live]
        size = le - ls
        one = _TRIM_ASCII[padded[ls]] & (size >= 1)
        two, three = _wide_punctuation(padded[ls], padded[ls + 1], padded[ls + 2])
        front = np.where(one, 1, np.where(two & (size >= 2), 2,
                                          np.where(three & (size >= 3), 3, 0)))
        ls = ls + front
        size = le - ls
        last = np.maximum(le - 1, 0)
        one = _TRIM_ASCII[padded[last]] & (size >= 1)
        back2, back3 = np.maximum(le - 2, 0), np.maximum(le - 3, 0)
        two = _wide_punctuation(padded[back2], padded[back2 + 1], padded[back2 + 1])[0]
        three = _wide_punctuation(padded[back3], padded[back3 + 1], padded[back3 + 2])[1]
        back = np.where(one, 1, np.where(two & (size >= 2), 2,
                                         np.where(three & (size >= 3), 3, 0)))
        le = le - back
        s[live], e[live] = ls, le
        live = live[(front > 0) | (back > 0)]
    empty = e <= s
    s[empty], e[empty] = starts[empty], ends[empty]
    return s, e


def _char_token_hashes(texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """Hash of every non-space, non-punctuation character and the text it belongs to."""
    codes, doc = char_codes(texts)
    return fmix64(codes.astype(np.uint64)), doc


def char_codes(texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """The code points that are character tokens, and their text: spaces and punctuation out.

    Punctuation ("。", "?", "、") is no token, so that a Chinese text re-punctuated reads the same;
    a text of nothing but punctuation keeps it.
    """
    full, position, doc = char_positions(texts)
    return full[position], doc


def char_positions(texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The texts joined by newlines as code points, where its character tokens are, their text."""
    full = np.frombuffer("\n".join(texts).encode("utf-32-le"), dtype=np.uint32)
    is_newline = full == _NEWLINE
    owner = np.cumsum(is_newline, dtype=np.int32 if len(full) < 2**31 else np.int64)
    token = ~is_newline & (full != _SPACE)
    punct = np.zeros(len(full), dtype=bool)
    for low, high in _PUNCT_RANGES:
        punct |= (full >= low) & (full <= high)
    punct &= token
    if punct.any():
        kept = np.bincount(owner[token & ~punct], minlength=len(texts))
        token &= ~punct | (kept[owner] == 0)  # all punctuation: keep it
    position = np.flatnonzero(token)
    return full, position, owner[position].astype(np.int64)


def _combine(tokens: np.ndarray, doc: np.ndarray, n_docs: int, n: int) -> tuple[np.ndarray,
                                                                                   np.ndarray]:
    """Shingle hashes (uint64) of every n consecutive tokens of a text, and each one's text.

    Token hashes are already avalanched, so the multiply-add chain spreads every token over the
    high 32 bits that become the shingle value.
    """
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
    if len(parts) == 1:
        return parts[0], owners[0]
    values, owner = np.concatenate(parts), np.concatenate(owners)
    order = np.argsort(owner, kind="stable")
    return values[order], owner[order]


def shingle_hashes(texts: Sequence[str] | pa.Array | pa.ChunkedArray | TextBuffers,
                   n_word: int, n_char: int, unit: str = "auto") -> Shingles:
    """Hashed word (or, for CJK text, character) shingles of normalized texts.

    Args:
        texts: Normalized texts (``sf_norm``): strings, an Arrow string array, or the
            ``(data, offsets)`` of ``text_buffers``.
        n_word: Words per shingle.
        n_char: Characters per shingle for CJK text.
        unit: ``auto`` (characters for CJK text, words otherwise), ``word`` or ``char``.

    Returns:
        The 32-bit shingle hashes, grouped by text.
    """
    wide = shingle_hashes64(texts, n_word, n_char, unit)
    return Shingles((wide.values >> np.uint64(32)).astype(np.uint32), wide.offsets)


@dataclass(frozen=True)
class Shingles64:
    """Full 64-bit shingle hashes of a batch of texts, in text order, with each text's unit.

    Attributes:
        values: uint64 hash of each shingle, in the order the shingles occur in their text.
        offsets: text i's shingles are ``values[offsets[i]:offsets[i + 1]]``.
        char_mode: per text, whether it was cut into characters (else words).
        tokens: per text, its number of tokens (words, or non-space characters).
    """

    values: np.ndarray
    offsets: np.ndarray
    char_mode: np.ndarray
    tokens: np.ndarray

    def of(self, i: int) -> np.ndarray:
        """The shingle hashes of text ``i``."""
        return self.values[self.offsets[i]:self.offsets[i + 1]]


def shingle_hashes64(texts: Sequence[str] | pa.Array | pa.ChunkedArray | TextBuffers,
                     n_word: int, n_char: int, unit: str = "auto") -> Shingles64:
    """``shingle_hashes`` with the whole 64-bit values, for exact n-gram lookups.

    ``shingle_hashes`` keeps the top 32 bits of these values (what a MinHash is updated with);
    64 bits make accidental collisions negligible when n-grams are matched by value. Within a
    text the shingles keep their order, so shingle ``j`` starts at token ``j``; a text shorter
    than one shingle has a single shingle of all its tokens.

    Args:
        texts: Normalized texts, as for ``shingle_hashes``.
        n_word: Words per shingle.
        n_char: Characters per shingle for CJK text.
        unit: ``auto`` (characters for CJK text, words otherwise), ``word`` or ``char``.

    Returns:
        The uint64 shingle hashes grouped by text, each text's unit and its token count.
    """
    data, offsets = texts if isinstance(texts, tuple) else text_buffers(texts)
    if len(data) <= PIECE_BYTES or len(offsets) <= 2:
        return _shingles64(data, offsets, n_word, n_char, unit)
    parts = [_shingles64(*piece, n_word, n_char, unit) for piece in pieces(data, offsets)]
    starts = np.cumsum([0] + [p.offsets[-1] for p in parts[:-1]])
    return Shingles64(
        np.concatenate([p.values for p in parts]),
        np.concatenate([[0]] + [p.offsets[1:] + start for p, start in zip(parts, starts,
                                                                           strict=True)]
                       ).astype(np.int64),
        np.concatenate([p.char_mode for p in parts]),
        np.concatenate([p.tokens for p in parts]))


PIECE_BYTES = 8 << 20  # longer inputs are cut into pieces of about this much text (``pieces``)


def piece_bounds(offsets: np.ndarray, max_bytes: int | None = None) -> list[tuple[int, int]]:
    """``[lo, hi)`` runs of consecutive texts of about ``max_bytes`` of text each.

    A run starts at each text that starts past the next multiple of ``max_bytes``, so a long
    text makes its run longer. Texts are cut one by one, so the pieces' results laid end to end
    equal the whole input's; the working memory (tens of times the text) then follows a piece,
    not all the texts. ``max_bytes`` defaults to ``PIECE_BYTES``.
    """
    size = PIECE_BYTES if max_bytes is None else max(1, max_bytes)
    cuts = np.flatnonzero(np.diff(offsets[:-1] // size)) + 1
    bounds = [0, *cuts.tolist(), len(offsets) - 1]
    return [(lo, hi) for lo, hi in zip(bounds[:-1], bounds[1:], strict=True) if hi > lo]


def pieces(data: np.ndarray, offsets: np.ndarray, max_bytes: int | None = None
           ) -> Iterator[TextBuffers]:
    """The text buffers of each ``piece_bounds`` run."""
    for lo, hi in piece_bounds(offsets, max_bytes):
        yield data[offsets[lo]:offsets[hi]], offsets[lo:hi + 1] - offsets[lo]


def _shingles64(data: np.ndarray, offsets: np.ndarray, n_word: int, n_char: int, unit: str
                ) -> Shingles64:
    """``shingle_hashes64`` of one piece of text buffers."""
    n_docs = len(offsets) - 1
    char_mode = char_units(data, offsets, unit)
    values, owners = [], []
    tokens_per_doc = np.zeros(n_docs, dtype=np.int64)
    words = np.flatnonzero(~char_mode)
    if len(words):
        if len(words) == n_docs:
            tokens, doc = _word_token_hashes(data, offsets)
        else:
            tokens, doc = _word_token_hashes(*_select(data, offsets, words))
        tokens_per_doc[words] = np.bincount(doc, minlength=len(words))
        shingles, owner = _combine(tokens, doc, len(words), n_word)
        values.append(shingles)
        owners.append(words[owner])
    chars = np.flatnonzero(char_mode)
    if len(chars):
        tokens, doc = _char_token_hashes([_decode(data, offsets, i) for i in chars])
        tokens_per_doc[chars] = np.bincount(doc, minlength=len(chars))
        shingles, owner = _combine(tokens, doc, len(chars), n_char)
        values.append(shingles)
        owners.append(chars[owner])
    if len(values) > 1:
        all_values, all_owners = np.concatenate(values), np.concatenate(owners)
        order = np.argsort(all_owners, kind="stable")
        all_values, all_owners = all_values[order], all_owners[order]
    elif values:
        all_values, all_owners = values[0], owners[0]
    else:
        all_values, all_owners = np.zeros(0, np.uint64), np.zeros(0, np.int64)
    counts = np.bincount(all_owners, minlength=n_docs)
    bounds = np.concatenate(([0], np.cumsum(counts))).astype(np.int64)
    return Shingles64(all_values, bounds, char_mode, tokens_per_doc)


def char_units(data: np.ndarray, offsets: np.ndarray, unit: str = "auto") -> np.ndarray:
    """Per text, whether it is cut into characters: ``unit: auto`` does so for CJK text."""
    n_docs = len(offsets) - 1
    if unit == "char":
        return np.ones(n_docs, dtype=bool)
    if unit != "auto" or not len(data):
        return np.zeros(n_docs, dtype=bool)
    return cjk_texts(data, offsets)


_SPACES = np.array([*range(9, 14), *range(28, 33), 0x85, 0xA0, 0x1680, *range(0x2000, 0x200B),
                    0x2028, 0x2029, 0x202F, 0x205F, 0x3000])  # what str.isspace() accepts


_COUNTED_ASCII = np.zeros(256, dtype=np.uint8)  # ASCII bytes but spaces (str.isspace)
_COUNTED_ASCII[:0x80] = 1
_COUNTED_ASCII[[*range(9, 14), *range(28, 33)]] = 0


def _wide_characters(data: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every non-ASCII character of a UTF-8 buffer: its byte position, code point, CJK or not.

    CJK as ``is_cjk`` has it (the same ranges).
    """
    wide = np.flatnonzero(((data & 0xC0) != 0x80) & (data >= 0x80))
    padded = np.concatenate((data, np.zeros(3, np.uint8)))
    b0, b1, b2, b3 = (padded[wide + i].astype(np.int64) for i in range(4))
    code = np.where(b0 < 0xE0, ((b0 & 0x1F) << 6) | (b1 & 0x3F),
                    np.where(b0 < 0xF0, ((b0 & 0x0F) << 12) | ((b1 & 0x3F) << 6) | (b2 & 0x3F),
                             ((b0 & 0x07) << 18) | ((b1 & 0x3F) << 12) | ((b2 & 0x3F) << 6)
                             | (b3 & 0x3F)))
    cjk = np.zeros(len(code), dtype=bool)
    for low, high in CJK_RANGES:
        cjk |= (code >= low) & (code <= high)
    return wide, code, cjk


def cjk_texts(data: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """``is_cjk`` of every text of UTF-8 buffers, computed on the bytes (no Python per text).

    Each character's code point is decoded from its lead byte and continuation bytes; the CJK
    share is that of ``is_cjk`` (same ranges, spaces as ``str.isspace``), which a test checks.
    """
    n_docs = len(offsets) - 1
    if not len(data) or not (data >= 0x80).any():
        return np.zeros(n_docs, dtype=bool)
    # ASCII characters: counted unless a space; never CJK
    counted_ascii = np.zeros(n_docs, dtype=np.int64)
    nonempty = np.flatnonzero(offsets[1:] > offsets[:-1])
    counted_ascii[nonempty] = np.add.reduceat(_COUNTED_ASCII[data], offsets[nonempty],
                                              dtype=np.int64)
    wide, code, cjk = _wide_characters(data)
    counted = ~np.isin(code, _SPACES[_SPACES >= 0x80])
    doc = np.searchsorted(offsets, wide, "right") - 1
    chars = counted_ascii + np.bincount(doc[counted], minlength=n_docs)
    hits = np.bincount(doc[cjk & counted], minlength=n_docs)
    return (chars > 0) & (3 * hits >= chars)


def reading_lengths(texts: Sequence[str] | pa.Array | pa.ChunkedArray | TextBuffers
                    ) -> np.ndarray:
    """Per text, its length in words with every CJK character counted as a word.

    The length short-item rules read (``min_tokens``): a Chinese sentence is one space-separated
    "word" but many words of meaning, so a mixed text cut into words is not short for that.
    """
    data, offsets = texts if isinstance(texts, tuple) else text_buffers(texts)
    if len(data) <= PIECE_BYTES or len(offsets) <= 2:
        return _reading_lengths(data, offsets)
    return np.concatenate([_reading_lengths(*piece) for piece in pieces(data, offsets)])


def _reading_lengths(data: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """``reading_lengths`` of one piece of text buffers."""
    n_docs = len(offsets) - 1
    _, doc, starts, _ = word_tokens(data, offsets)
    words = np.bincount(doc, minlength=n_docs)
    if not len(data) or not (data >= 0x80).any():
        return words
    wide, _, cjk = _wide_characters(data)
    at = wide[cjk]
    word = np.searchsorted(starts, at, "right") - 1
    owner = np.searchsorted(offsets, at, "right") - 1
    holding = np.bincount(owner[np.r_[True, word[1:] != word[:-1]]] if len(word) else owner,
                          minlength=n_docs)
    return words + np.bincount(owner, minlength=n_docs) - holding


def _decode(data: np.ndarray, offsets: np.ndarray, i: int) -> str:
    return data[offsets[i]:offsets[i + 1]].tobytes().decode("utf-8")


def _select(data: np.ndarray, offsets: np.ndarray, rows: np.ndarray) -> TextBuffers:
    """The buffers of a subset of the texts, in the order of ``rows``.

    Rows in increasing order (``np.flatnonzero``) are taken through a mask of one byte per
    byte, not an index of eight.
    """
    lengths = offsets[rows + 1] - offsets[rows]
    new_offsets = np.concatenate(([0], np.cumsum(lengths))).astype(np.int64)
    if len(rows) < 2 or bool((np.diff(rows) > 0).all()):
        chosen = np.zeros(len(offsets) - 1, dtype=bool)
        chosen[rows] = True
        return data[offsets[0]:offsets[-1]][np.repeat(chosen, np.diff(offsets))], new_offsets
    take = np.repeat(offsets[rows] - new_offsets[:-1], lengths) + np.arange(new_offsets[-1])
    return data[take], new_offsets
