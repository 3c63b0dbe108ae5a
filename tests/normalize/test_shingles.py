"""Shingles hashed from Arrow buffers: one value per word (or character) n-gram, equal iff equal."""

import numpy as np
import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from splitforge.normalize.shingles import buffer_batches, shingle_hashes, text_buffers

WORDS = ["a", "bb", "ccc", "dddddddd", "eeeeeeeee", "ffffffffffffffffffff", "x1", "yy,", "请问",
         "abcdefgh", "abcdefgi", "ab", "ba"]


def word_grams(text: str, n: int) -> list[str]:
    words = text.split()
    if not words:
        return []
    if len(words) < n:
        return [" ".join(words)]
    return [" ".join(words[i:i + n]) for i in range(len(words) - n + 1)]


@settings(max_examples=150, deadline=None)
@given(st.lists(st.lists(st.sampled_from(WORDS), max_size=10).map(" ".join), min_size=1,
                max_size=25), st.integers(1, 3))
def test_one_hash_per_word_ngram_and_equal_exactly_when_the_ngrams_are(texts, n):
    shingles = shingle_hashes(texts, n, 2, unit="word")
    seen: dict[str, int] = {}
    for i, text in enumerate(texts):
        grams, values = word_grams(text, n), shingles.of(i).tolist()
        assert len(values) == len(grams)
        for gram, value in zip(grams, values, strict=True):
            assert seen.setdefault(gram, value) == value
    assert len(set(seen.values())) == len(seen)  # distinct n-grams, distinct hashes


def test_arrow_slices_chunks_and_lists_give_the_same_shingles():
    texts = [" ".join(WORDS[(i + j) % len(WORDS)] for j in range(i % 9)) for i in range(200)]
    expected = shingle_hashes(texts[50:150], 2, 2)
    sliced = shingle_hashes(pa.array(texts).slice(50, 100), 2, 2)
    assert np.array_equal(sliced.values, expected.values)
    assert np.array_equal(sliced.offsets, expected.offsets)
    chunked = pa.chunked_array([texts[:70], texts[70:]])
    batches = list(buffer_batches(chunked, 32))
    assert sum(len(offsets) - 1 for _, offsets in batches) == 200
    joined = np.concatenate([shingle_hashes(b, 2, 2).values for b in batches])
    assert np.array_equal(joined, shingle_hashes(texts, 2, 2).values)


def test_nulls_and_large_strings_are_read():
    data, offsets = text_buffers(pa.array(["ab cd", None, "请问"], pa.large_string()))
    assert offsets.tolist() == [0, 5, 5, 11]
    assert bytes(data).decode() == "ab cd请问"
    shingles = shingle_hashes((data, offsets), 2, 2)
    assert [len(shingles.of(i)) for i in range(3)] == [1, 0, 1]


def test_long_inputs_cut_into_pieces_give_the_arrays_of_one_pass(monkeypatch):
    import gzip
    import json

    import splitforge.normalize.shingles as shingles
    from splitforge.normalize import normalize_text
    from tests.conftest import real_data

    with gzip.open(real_data("eval/gsm8k_train.jsonl.gz"), "rt", encoding="utf-8") as f:
        texts = [normalize_text(json.loads(line)["question"])
                 for _, line in zip(range(300), f, strict=False)]
    texts[5:5] = ["", "请问 今天 天气 怎么样", "x" * 5000]  # empty, CJK, one text over a piece
    whole = shingles.shingle_hashes64(texts, 5, 3)
    lengths = shingles.reading_lengths(texts)
    monkeypatch.setattr(shingles, "PIECE_BYTES", 1000)
    assert len(shingles.piece_bounds(text_buffers(texts)[1])) > 10
    cut = shingles.shingle_hashes64(texts, 5, 3)
    for name in ("values", "offsets", "char_mode", "tokens"):
        assert np.array_equal(getattr(cut, name), getattr(whole, name)), name
    assert np.array_equal(shingles.reading_lengths(texts), lengths)
