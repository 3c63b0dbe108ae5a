import pyarrow as pa

from splitforge import columns as C
from splitforge.normalize import add_normalized, normalize_text, text_hashes


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
