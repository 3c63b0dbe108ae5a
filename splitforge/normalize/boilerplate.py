"""Boilerplate: spans that recur in a large share of the rows, left out of every similarity test.

A prompt template ("Below is an instruction that describes a task. ... ### Instruction:"), a
system prompt, a license header or a signature repeats in many rows. Read as content, it makes
distinct rows look alike (the audit called most eval rows of templated data contaminated), and it
makes matching cost grow with the square of the rows: every row shares its n-grams with every
other. Here it is found from the data, and left out of the *similarity text* that near-duplicate
dedup, leak links and the audit's exact, n-gram and MinHash checks read (and the training side of
the embedding check, whose eval sentences are cut from the raw text). The output rows keep their
text unchanged.

**Detection.** Every run of ``ngram`` consecutive words, and every run of ``char_ngram``
non-space characters (the two units of ``normalize.shingles``), is counted once per row, over the
rows or a sample of at most ``sample_rows`` of them (those with the smallest text hashes, so the
input's row order changes nothing); every row counts in both units, so an English template over
Chinese and English rows is as frequent in characters as in words. A run held by at least
``min_share`` of those rows (and at least ``min_rows`` rows) is *hot*. Natural text rarely
repeats four words in 5% of its rows; a template repeats all of its runs in every row that
carries it. A second round of detection reads the texts the first one stripped (see
``Boilerplate.rounds``).

**Stripping.** A token covered by a hot run, or by a run of a span the recipe names
(``boilerplate.ignore``), is dropped; the rest of the row is its similarity text (words joined by
single spaces; for CJK rows the remaining characters). A row that would lose every token keeps
them all: it *is* the boilerplate, and only equal rows should match it. Rows without a hot run
keep their text byte for byte, so data without boilerplate compares exactly as before.

Stripping reads one hash lookup per token (no Python call per row, except CJK rows that lose a
span), so its cost follows the size of the text, never how alike the rows are. It is a pure
function of a text and the hot runs: the same row is stripped the same way wherever it is read.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa

from splitforge.normalize.shingles import (
    _COMBINE,
    _char_token_hashes,
    _decode,
    _select,
    char_codes,
    char_positions,
    char_units,
    text_buffers,
    word_tokens,
)
from splitforge.normalize.text import _buffer_hashes, normalize_text
from splitforge.parallel import map_batches, resolve_processes

VERSION = "1"
_CHAR_SALT = np.uint64(0x5851F42D4C957F2D)  # char runs never equal word runs
_EDGE = np.uint64(0x2545F4914F6CDD1D)  # the start and the end of a row, as a token
TOP_SPANS = 10
_PREVIEW = 200


@dataclass(frozen=True)
class BoilerplateSettings:
    """How boilerplate is found: see the module docstring (``boilerplate`` in the recipe)."""

    detect: bool = True
    min_share: float = 0.05
    min_rows: int = 10
    ngram: int = 4
    char_ngram: int = 6
    ignore: tuple[str, ...] = ()
    sample_rows: int = 20_000


Hot = dict[tuple[bool, int], np.ndarray]


@dataclass(frozen=True)
class Boilerplate:
    """Hot runs of tokens, by unit and run length, and what stripping them left out.

    Attributes:
        rounds: Per round, ``(char unit, run length) -> sorted uint64 run hashes``. The second
            round is found on the texts the first one stripped: a short text whose template is
            gone can change unit (a Chinese answer under an English template is cut into
            characters only once the template is out), and its leftovers ("### Response:") are
            runs of that unit.
        summary: ``rows``, ``rows_sampled``, ``rows_with_boilerplate``, ``tokens_left_out``
            (share of all tokens), ``hot_runs`` and ``spans``: the most common spans left out,
            each ``{"text", "rows"}`` (text cut at 200 characters).
    """

    rounds: tuple[Hot, ...]
    summary: dict[str, Any] = field(default_factory=dict)

    @property
    def empty(self) -> bool:
        """Nothing is hot: stripping returns every text as it is."""
        return not any(len(v) for hot in self.rounds for v in hot.values())

    def strip(self, texts: pa.Array | pa.ChunkedArray | Sequence[str]) -> pa.Array:
        """The similarity texts of normalized texts: hot runs left out (see the module)."""
        array = _as_array(texts)
        if self.empty or not len(array):
            return array
        pieces = []
        for start in range(0, len(array), PIECE_ROWS):  # memory follows the piece
            piece = array.slice(start, PIECE_ROWS)
            for hot in self.rounds:
                piece = _strip(piece, hot)[0]
            pieces.append(piece)
        return pieces[0] if len(pieces) == 1 else pa.concat_arrays(pieces)

    def strip_and_measure(self, texts: pa.Array | pa.ChunkedArray | Sequence[str],
                          num_proc: int | None = None) -> tuple[pa.Array | pa.ChunkedArray,
                                                                Boilerplate]:
        """``strip(texts)``, and this boilerplate with its summary counted over ``texts``.

        Rows are stripped in pieces of ``PIECE_ROWS`` (so memory follows the piece, not the
        input), over ``num_proc`` worker processes from ``PARALLEL_ABOVE`` rows up (default:
        every core); the result never depends on either.
        """
        if isinstance(texts, pa.ChunkedArray):
            texts = texts.fill_null("") if texts.null_count else texts
        else:
            texts = _as_array(texts)
        if self.empty or not len(texts):
            return texts, self
        stripped, counts = _measure(texts, self.rounds, num_proc)
        return stripped, Boilerplate(self.rounds, {**self.summary, **counts})

    def strip_texts(self, texts: Sequence[str]) -> list[str]:
        """``strip`` of Python strings, as Python strings."""
        if self.empty:
            return list(texts)
        return self.strip(pa.array(list(texts), pa.large_string())).to_pylist()


NO_BOILERPLATE = Boilerplate((), {"rows": 0, "rows_with_boilerplate": 0, "spans": []})
ROUNDS = 2


def detect_boilerplate(norm: pa.Array | pa.ChunkedArray | Sequence[str],
                       settings: BoilerplateSettings = BoilerplateSettings(),
                       measure: bool = True) -> Boilerplate:
    """Find the hot runs of normalized texts (and the ``ignore`` spans) and measure them.

    Args:
        norm: Normalized texts (``normalize_text`` form).
        settings: Detection settings; ``detect=False`` keeps only the ``ignore`` spans.
        measure: Strip ``norm`` to count what is left out (``strip_and_measure`` does both at
            once for a caller that needs the stripped texts too).

    Returns:
        The hot runs, with a summary of what stripping them leaves out of ``norm``.
    """
    array = _as_array(norm)
    n = len(array)
    rows = _sample(array, settings.sample_rows)
    sample = array.take(pa.array(rows)) if len(rows) < n else array
    rounds: list[Hot] = []
    for number in range(ROUNDS if settings.detect else 1):
        hot = _detect(sample, settings) if settings.detect and n else {}
        if number == 0:
            for span in settings.ignore:
                for key, values in _span_runs(span, settings).items():
                    hot[key] = np.union1d(hot.get(key, values[:0]), values)
        hot = {key: values for key, values in hot.items() if len(values)}
        if not hot:
            break
        rounds.append(hot)
        sample = _strip(sample, hot)[0]
    summary: dict[str, Any] = {"rows": n, "rows_sampled": len(rows) if settings.detect else 0,
                               "min_share": settings.min_share, "min_rows": settings.min_rows,
                               "ngram": settings.ngram, "char_ngram": settings.char_ngram,
                               "ignore": list(settings.ignore), "detect": settings.detect,
                               "hot_runs": int(sum(len(v) for h in rounds for v in h.values()))}
    summary.update({"rows_with_boilerplate": 0, "tokens_left_out": 0.0, "spans": []})
    found = Boilerplate(tuple(rounds), summary)
    return found.strip_and_measure(array)[1] if measure else found


def _sample(array: pa.Array, size: int) -> np.ndarray:
    """The rows whose text hashes are the ``size`` smallest (all rows when fewer).

    Chosen by content, not position, so the input's row order changes nothing.
    """
    if len(array) <= size:
        return np.arange(len(array))
    hashes = _buffer_hashes(*text_buffers(array))
    return np.sort(np.lexsort((np.arange(len(array)), hashes))[:size])


def _detect(sample: pa.Array, settings: BoilerplateSettings) -> Hot:
    """The runs of ``ngram`` words (``char_ngram`` characters) held by enough sampled rows."""
    data, offsets = text_buffers(sample)
    floor = max(settings.min_rows, math.ceil(settings.min_share * len(sample)))
    hot: Hot = {}
    for char in (False, True):
        # every row is counted in both units: a template under Chinese and English rows alike
        # is as frequent in characters as in words, whichever unit each row is compared in
        tokens, doc = _unit_tokens(data, offsets, np.full(len(sample), char), char)
        tokens, doc, _ = _with_edges(tokens, doc)
        k = settings.char_ngram if char else settings.ngram
        runs, owner = _runs(tokens, doc, k, char)
        hot[(char, k)] = _frequent(runs, owner, floor)
    return hot


PIECE_ROWS = 65_536
PARALLEL_ABOVE = 100_000
_WORKER_ROUNDS: list[Sequence[Hot]] = []


def _measure(texts: pa.Array | pa.ChunkedArray, rounds: Sequence[Hot],
             num_proc: int | None = None) -> tuple[pa.ChunkedArray, dict[str, Any]]:
    """``texts`` stripped by every round, and what that left out: rows, token share, spans.

    Stripping is a function of each row alone, so pieces of rows are stripped apart and their
    counts added up (a row, and so each of its spans, lies in one piece).
    """
    n = len(texts)
    processes = resolve_processes(num_proc) if n >= PARALLEL_ABOVE else 1
    pieces = (text_buffers(texts.slice(start, PIECE_ROWS)) for start in range(0, n, PIECE_ROWS))
    stripped: list[pa.Array] = []
    rows_with, lost_tokens, total = 0, 0, 0
    spans: dict[int, int] = {}
    span_texts: dict[int, str] = {}
    for start, (piece, counts) in zip(range(0, n, PIECE_ROWS), map_batches(
            _measure_piece, pieces, processes, initializer=_keep_rounds, initargs=(rounds,)),
            strict=True):
        if piece is None:  # no row changed: the piece is the input's, not a copy
            same = texts.slice(start, PIECE_ROWS)
            stripped.extend(same.chunks if isinstance(same, pa.ChunkedArray) else [same])
        else:
            stripped.append(piece.cast(texts.type) if piece.type != texts.type else piece)
        rows_with += counts["rows"]
        lost_tokens += counts["lost"]
        total += counts["tokens"]
        for h, members in counts["spans"].items():
            spans[h] = spans.get(h, 0) + members
            span_texts.setdefault(h, counts["texts"][h])
    top = sorted(spans, key=lambda h: (-spans[h], span_texts[h]))[:TOP_SPANS]
    return pa.chunked_array(stripped, texts.type), {
        "rows_with_boilerplate": rows_with,
        "tokens_left_out": round(lost_tokens / max(1, total), 4),
        "spans": [{"text": span_texts[h], "rows": spans[h]} for h in top]}


def _keep_rounds(rounds: Sequence[Hot]) -> None:
    """In a worker (or here): the hot runs every piece is stripped of."""
    _WORKER_ROUNDS[:] = [rounds]


def _measure_piece(data: np.ndarray, offsets: np.ndarray
                   ) -> tuple[pa.Array | None, dict[str, Any]]:
    """One piece of rows (``text_buffers``) stripped by every round, and its counts.

    The stripped piece is None when no row changed (the caller keeps its own).
    """
    rounds = _WORKER_ROUNDS[0]
    array = pa.Array.from_buffers(pa.large_string(), len(offsets) - 1,
                                  [None, pa.py_buffer(offsets), pa.py_buffer(data)])
    array, first = _strip(array, rounds[0], spans=True)
    total = first["tokens"]
    lost_rows = first["lost"]
    spans = first["span_counts"]
    texts = first["span_texts"]
    for hot in rounds[1:]:
        array, more = _strip(array, hot, spans=True)
        lost_rows = lost_rows + more["lost"]
        for h, members in more["span_counts"].items():
            spans.setdefault(h, set()).update(members)
            texts.setdefault(h, more["span_texts"][h])
    counts = {"rows": int((lost_rows > 0).sum()), "lost": int(lost_rows.sum()),
              "tokens": total, "spans": {h: len(m) for h, m in spans.items()},
              "texts": {h: texts[h] for h in spans}}
    return (array if lost_rows.any() else None), counts


def _as_array(texts: pa.Array | pa.ChunkedArray | Sequence[str]) -> pa.Array:
    if isinstance(texts, pa.ChunkedArray):
        texts = texts.combine_chunks() if texts.num_chunks != 1 else texts.chunk(0)
    if not isinstance(texts, pa.Array):
        texts = pa.array(list(texts), pa.large_string())
    return texts.fill_null("") if texts.null_count else texts


def _unit_tokens(data: np.ndarray, offsets: np.ndarray, char_mode: np.ndarray, char: bool
                 ) -> tuple[np.ndarray, np.ndarray]:
    """Token hashes of the rows in one unit, with each token's row (numbered among all rows)."""
    rows = np.flatnonzero(char_mode == char)
    if not len(rows):
        return np.zeros(0, np.uint64), np.zeros(0, np.int64)
    if char:
        tokens, doc = _char_token_hashes([_decode(data, offsets, int(i)) for i in rows])
        return tokens ^ _CHAR_SALT, rows[doc]
    if len(rows) == len(char_mode):
        tokens, doc, _, _ = word_tokens(data, offsets)
        return tokens, doc
    tokens, doc, _, _ = word_tokens(*_select(data, offsets, rows))
    return tokens, rows[doc]


def _runs(tokens: np.ndarray, doc: np.ndarray, k: int, char: bool) -> tuple[np.ndarray,
                                                                          np.ndarray]:
    """Hash of every run of ``k`` tokens inside one row, and its row."""
    full = len(tokens) - k + 1
    if full <= 0:
        return np.zeros(0, np.uint64), np.zeros(0, np.int64)
    acc = tokens[:full].copy()
    for j in range(1, k):
        acc *= _COMBINE
        acc += tokens[j:j + full]
    inside = doc[:full] == doc[k - 1:k - 1 + full]
    return acc[inside], doc[:full][inside]


def _frequent(runs: np.ndarray, owner: np.ndarray, floor: int) -> np.ndarray:
    """Run hashes held by at least ``floor`` distinct rows."""
    if not len(runs):
        return runs
    order = np.lexsort((owner, runs))
    runs, owner = runs[order], owner[order]
    distinct = np.r_[True, (runs[1:] != runs[:-1]) | (owner[1:] != owner[:-1])]
    runs = runs[distinct]
    starts = np.flatnonzero(np.r_[True, runs[1:] != runs[:-1]])
    counts = np.diff(np.r_[starts, len(runs)])
    return runs[starts[counts >= floor]]


def _span_runs(span: str, settings: BoilerplateSettings) -> Hot:
    """The runs of a named span: its ``ngram``-token runs, or the whole span when shorter."""
    norm = normalize_text(span)
    if not norm:
        return {}
    data, offsets = text_buffers([norm])
    found: Hot = {}
    for char in (False, True):  # a span is left out of word rows and character rows alike
        tokens, doc = _unit_tokens(data, offsets, np.array([char]), char)
        if not len(tokens):
            continue
        k = min(settings.char_ngram if char else settings.ngram, len(tokens))
        found[(char, k)] = _runs(tokens, doc, k, char)[0]
    return found


def _with_edges(tokens: np.ndarray, doc: np.ndarray) -> tuple[np.ndarray, np.ndarray,
                                                               np.ndarray]:
    """Tokens with an edge token before and after each row's own, and which ones are real.

    A span shorter than a run at a row's start or end ("### Response: yes" closing every row)
    makes runs with the edge, so it is found like a longer one.
    """
    if not len(tokens):
        return tokens, doc, np.zeros(0, dtype=bool)
    present = np.flatnonzero(np.bincount(doc)) if len(doc) else doc
    rank = np.searchsorted(present, doc)
    position = np.arange(len(tokens)) + 2 * rank + 1
    size = len(tokens) + 2 * len(present)
    out = np.full(size, _EDGE, dtype=np.uint64)
    owner = np.empty(size, dtype=np.int64)
    real = np.zeros(size, dtype=bool)
    out[position], real[position] = tokens, True
    first = np.searchsorted(doc, present, "left")
    last = np.searchsorted(doc, present, "right") - 1
    owner[position] = doc
    owner[position[first] - 1] = present
    owner[position[last] + 1] = present
    return out, owner, real


def _covered(tokens: np.ndarray, doc: np.ndarray, hot: dict[int, np.ndarray]) -> np.ndarray:
    """Per token, whether some hot run (of any length in ``hot``, edges counted) covers it."""
    tokens, doc, real = _with_edges(tokens, doc)
    return _covered_runs(tokens, doc, hot)[real]


def _covered_runs(tokens: np.ndarray, doc: np.ndarray, hot: dict[int, np.ndarray]) -> np.ndarray:
    """Per token, whether some hot run covers it (tokens as given)."""
    cover = np.zeros(len(tokens) + 1, dtype=np.int32)
    if not len(tokens):
        return cover[:0].astype(bool)
    acc = tokens.copy()
    for length in range(1, max(hot) + 1):
        if length > 1:
            if length > len(tokens):
                break
            acc = acc[:-1] * _COMBINE + tokens[length - 1:]
        values = hot.get(length)
        if values is None or not len(values):
            continue
        position = np.minimum(np.searchsorted(values, acc), len(values) - 1)
        start = np.flatnonzero((values[position] == acc) & (doc[:len(acc)] == doc[length - 1:]))
        np.add.at(cover, start, 1)
        np.add.at(cover, start + length, -1)
    return np.cumsum(cover[:-1], dtype=np.int32) > 0


def _strip(array: pa.Array, hot: Hot, spans: bool = False
           ) -> tuple[pa.Array, dict[str, Any]]:
    """Strip hot runs from every row; with ``spans``, also count what was left out."""
    data, offsets = text_buffers(array)
    n = len(offsets) - 1
    char_mode = char_units(data, offsets)
    texts: list[Any] = [None] * n  # a replacement per row that changed
    lost = np.zeros(n, dtype=np.int64)
    total_tokens = 0
    span_rows: dict[int, set[int]] = {}
    span_text: dict[int, str] = {}
    for char in (False, True):
        by_length = {length: values for (c, length), values in hot.items() if c == char}
        rows = np.flatnonzero(char_mode == char)
        if not len(rows):
            continue
        if char:
            decoded = [_decode(data, offsets, int(i)) for i in rows]
            tokens, local = _char_token_hashes(decoded)
            tokens ^= _CHAR_SALT
            full, position, _ = char_positions(decoded)  # where each token sits
        else:
            sub = (data, offsets) if len(rows) == n else _select(data, offsets, rows)
            tokens, local, starts, ends = word_tokens(*sub)
        total_tokens += len(tokens)
        if not by_length:
            continue
        drop = _covered(tokens, local, by_length)
        per_row = np.bincount(local, minlength=len(rows))
        dropped = np.bincount(local[drop], minlength=len(rows))
        changed = (dropped > 0) & (dropped < per_row)  # a row of nothing but boilerplate stays
        keep = ~drop | ~changed[local]
        lost[rows[changed]] = dropped[changed]
        if spans:
            _count_spans(tokens, local, drop & changed[local], rows, span_rows, span_text,
                         decoded if char else (sub, starts, ends), char)
        changed_rows = np.flatnonzero(changed)
        if not len(changed_rows):
            continue
        if char:
            # cut the dropped characters out of the text; its spaces and punctuation stay
            gone = np.zeros(len(full), dtype=bool)
            gone[position[~keep]] = True
            pieces = full[~gone].tobytes().decode("utf-32-le").split("\n")
            for r in changed_rows.tolist():
                texts[int(rows[r])] = " ".join(pieces[r].split())
        else:
            for r, text in zip(changed_rows.tolist(),
                               _join_words(sub[0], starts, ends, local, keep, changed_rows),
                               strict=True):
                texts[int(rows[r])] = text
    if lost.any():
        values = array.to_pylist()
        for i in np.flatnonzero(lost).tolist():
            values[i] = texts[i]
        array = pa.array(values, array.type)
    stats: dict[str, Any] = {}
    if spans:
        stats = {"lost": lost, "tokens": total_tokens, "span_counts": span_rows,
                 "span_texts": span_text}
    return array, stats


def _join_words(data: np.ndarray, starts: np.ndarray, ends: np.ndarray, local: np.ndarray,
                keep: np.ndarray, rows: np.ndarray) -> list[str]:
    """The kept words of ``rows`` (numbered as in ``local``), each row's joined by spaces."""
    wanted = np.isin(local, rows) & keep
    s, e, owner = starts[wanted], ends[wanted], local[wanted]
    lengths = e - s + 1  # the word and one separator
    out_starts = np.r_[0, np.cumsum(lengths)[:-1]]
    take = np.repeat(s - out_starts, lengths) + np.arange(int(lengths.sum()))
    padded = np.concatenate((data, np.zeros(1, np.uint8)))
    joined = padded[np.minimum(take, len(data))]
    joined[out_starts + lengths - 1] = 32
    bounds = np.searchsorted(owner, rows, "left"), np.searchsorted(owner, rows, "right")
    text = joined.tobytes()
    return [text[out_starts[a]:out_starts[b - 1] + lengths[b - 1] - 1].decode("utf-8")
            for a, b in zip(*bounds, strict=True)]


def _count_spans(tokens: np.ndarray, local: np.ndarray, drop: np.ndarray, rows: np.ndarray,
                 span_rows: dict[int, set[int]], span_text: dict[int, str], source: Any,
                 char: bool) -> None:
    """Add each maximal run of dropped tokens to the span counts (keyed by its tokens' hash)."""
    idx = np.flatnonzero(drop)
    if not len(idx):
        return
    begins = np.r_[True, (idx[1:] != idx[:-1] + 1) | (local[idx[1:]] != local[idx[:-1]])]
    run_id = np.cumsum(begins) - 1
    first, last = idx[begins], idx[np.r_[begins[1:], True]]
    key = np.zeros(len(first), dtype=np.uint64)
    np.add.at(key, run_id, tokens[idx] * (np.uint64(1) + np.uint64(2) * (idx - first[run_id]
                                                                     ).astype(np.uint64)))
    counts: dict[int, set[int]] = {}
    where: dict[int, tuple[int, int]] = {}
    for h, a, b in zip(key.tolist(), first.tolist(), last.tolist(), strict=True):
        counts.setdefault(h, set()).add(int(local[a]))
        where.setdefault(h, (a, b))
    for h, members in counts.items():
        span_rows.setdefault(h, set()).update(int(rows[m]) for m in members)
        if h not in span_text:
            a, b = where[h]
            if char:
                r = int(local[a])
                first_token = int(np.searchsorted(local, r))
                chars = [chr(c) for c in char_codes([source[r]])[0].tolist()]
                span_text[h] = "".join(chars[a - first_token:b - first_token + 1])[:_PREVIEW]
            else:
                (data, _), starts, ends = source
                span_text[h] = data[starts[a]:ends[b]].tobytes().decode("utf-8")[:_PREVIEW]
