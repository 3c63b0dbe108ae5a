"""Bad input: each problem is an InputError naming the file, and the line and field where known."""

import json

import datasets
import pytest

from splitforge import columns as C
from splitforge.errors import InputError
from splitforge.fingerprint import canonical_json
from tests.conftest import real_data, write_jsonl
from tests.load.conftest import FIXTURES, load_one


def _raises(path, base, fields=None, match=None, **source) -> InputError:
    with pytest.raises(InputError, match=match) as info:
        load_one(path, base, fields, **source)
    return info.value


# -- files -------------------------------------------------------------------------------------


def test_missing_file(tmp_path):
    error = _raises("nope.jsonl", tmp_path, match="no such file or folder")
    assert error.path == "nope.jsonl"


@pytest.mark.parametrize("content", [b"", b"\n\n  \n"])
@pytest.mark.parametrize("name", ["e.jsonl", "e.json", "e.csv"])
def test_empty_file(tmp_path, name, content):
    if name == "e.json" and content:
        content = b"[]"
    (tmp_path / name).write_bytes(content)
    error = _raises(name, tmp_path, match="no rows")
    assert error.path == name


def test_every_row_rejected(tmp_path):
    (tmp_path / "bad.jsonl").write_text("{oops\n[1]\n")
    _raises("bad.jsonl", tmp_path, match="no rows: every row was rejected", on_error="skip")


@pytest.mark.parametrize("name", ["notes.docx", "data.parquet.gz", "archive.tar"])
def test_unsupported_extension_lists_the_supported_ones(tmp_path, name):
    (tmp_path / name).write_bytes(b"x")
    error = _raises(name, tmp_path, match="cannot tell the format")
    assert ".jsonl" in str(error) and ".parquet" in str(error) and "datasets folder" in str(error)
    assert name in str(error)


def test_folder_that_is_not_a_datasets_folder(tmp_path):
    (tmp_path / "plain").mkdir()
    (tmp_path / "plain" / "x.txt").write_text("hi")
    _raises("plain", tmp_path, match=r"plain: not a datasets folder")


def test_datasets_dict_without_or_with_a_wrong_split(tmp_path):
    datasets.DatasetDict({"train": datasets.Dataset.from_dict({"q": ["a"]}),
                          "validation": datasets.Dataset.from_dict({"q": ["b"]})}).save_to_disk(
        str(tmp_path / "dd"))
    _raises("dd", tmp_path, match=r"several splits \(train, validation\); choose one with "
                                  r"sources\[\]\.split")
    _raises("dd", tmp_path, match=r"no split 'test'; available: train, validation", split="test")


def test_parquet_that_is_not_parquet(tmp_path):
    (tmp_path / "x.parquet").write_text("not parquet")
    _raises("x.parquet", tmp_path, match="x.parquet: not a readable Parquet file")


# -- UTF-8 -------------------------------------------------------------------------------------


def test_non_utf8_jsonl_fail_and_skip(tmp_path):
    (tmp_path / "l.jsonl").write_bytes(b'{"q": "ok"}\n{"q": "caf\xe9"}\n{"q": "fine"}\n')
    error = _raises("l.jsonl", tmp_path, match=r"l.jsonl:2: not valid UTF-8 at byte 10")
    assert error.line == 2
    result = load_one("l.jsonl", tmp_path, on_error="skip")
    assert result.table.column("q").to_pylist() == ["ok", "fine"]
    assert [(r["line"], r["reason"]) for r in result.rejected] == [(2, "invalid_utf8")]
    assert result.rejected[0]["raw"] == '{"q": "caf\ufffd"}'


@pytest.mark.parametrize(("name", "content", "line"), [
    ("l.csv", b"q,a\nok,1\ncaf\xe9,2\n", 3),
    ("l.json", b'[{"q": "ok"},\n {"q": "caf\xe9"}]', 2),
])
def test_non_utf8_csv_and_json(tmp_path, name, content, line):
    (tmp_path / name).write_bytes(content)
    error = _raises(name, tmp_path, match="not valid UTF-8")
    assert (error.path, error.line) == (name, line)


# -- malformed JSON Lines ----------------------------------------------------------------------


def test_malformed_lines_fail_at_the_first(tmp_path):
    error = _raises(FIXTURES / "broken.jsonl", tmp_path, {"text": "q"})
    assert error.line == 3
    assert "invalid JSON: Expecting property name enclosed in double quotes at column 24" in str(
        error)


def test_malformed_lines_skipped(tmp_path):
    result = load_one(FIXTURES / "broken.jsonl", tmp_path, {"text": "q"}, on_error="skip")
    assert result.table.column("q").to_pylist() == ["first", "third"]
    assert result.table.column(C.LINE).to_pylist() == [1, 5]
    assert [(r["line"], r["reason"], r["field"]) for r in result.rejected] == [
        (3, "invalid_json", None), (4, "not_an_object", None)]
    assert result.rejected[1]["raw"] == '["not", "an", "object"]'
    assert result.rejected[1]["detail"] == "expected a JSON object, got a list"
    assert (result.sources[0].rows_read, result.sources[0].rows_rejected) == (4, 2)


@pytest.mark.parametrize(("line", "kind"), [("null", "null"), ('"text"', "a string"),
                                            ("42", "a number"), ("[1, 2]", "a list")])
def test_a_line_that_is_not_an_object(tmp_path, line, kind):
    (tmp_path / "d.jsonl").write_text(f'{{"q": "a"}}\n{line}\n{{"q": "b"}}\n')
    error = _raises("d.jsonl", tmp_path, match=f"d.jsonl:2: expected a JSON object, got {kind}$")
    assert error.line == 2
    result = load_one("d.jsonl", tmp_path, on_error="skip")
    assert result.table.column(C.LINE).to_pylist() == [1, 3]
    assert result.rejected[0]["raw"] == line


def test_two_objects_on_one_line_is_an_error(tmp_path):
    (tmp_path / "two.jsonl").write_text('{"q": "a"}\n{"q": "b"} {"q": "c"}\n')
    error = _raises("two.jsonl", tmp_path, match="invalid JSON: Extra data")
    assert error.line == 2


def test_real_instructionwild_fail_and_skip(tmp_path):
    path = real_data("instruct/instructionwild_v2_user_1-3.raw.jsonl")
    bad_lines, total = [], 0
    for number, raw in enumerate(path.read_bytes().split(b"\n"), start=1):
        if raw.strip():
            total += 1
            try:
                json.loads(raw)
            except ValueError:
                bad_lines.append(number)
    assert len(bad_lines) == 5 and total == 878
    error = _raises(path, tmp_path, {"text": "instruction"})
    assert error.line == bad_lines[0] and "invalid JSON" in str(error)
    result = load_one(path, tmp_path, {"text": "instruction"}, on_error="skip")
    assert result.table.num_rows == 873
    assert [r["line"] for r in result.rejected] == bad_lines
    assert {r["reason"] for r in result.rejected} == {"invalid_json"}
    assert (result.sources[0].rows_read, result.sources[0].rows_rejected) == (878, 5)
    assert bad_lines[0] not in result.table.column(C.LINE).to_pylist()


# -- malformed JSON and CSV documents ----------------------------------------------------------


def test_json_document_errors(tmp_path):
    (tmp_path / "a.json").write_text('[{"q": "a"},\n {"q": "b"')
    assert _raises("a.json", tmp_path, match="invalid JSON").line == 2
    (tmp_path / "b.json").write_text('{"train": [{"q": "a"}], "test": [{"q": "b"}]}')
    _raises("b.json", tmp_path, match="exactly one list of records.*'train', 'test'")
    (tmp_path / "c.json").write_text('[{"q": "a"}, "b"]')
    assert _raises("c.json", tmp_path, match="record 2: expected a JSON object").line == 2
    result = load_one("c.json", tmp_path, on_error="skip")
    assert [(r["line"], r["reason"]) for r in result.rejected] == [(2, "not_an_object")]


def test_csv_malformed_row_fail_and_skip(tmp_path):
    (tmp_path / "m.csv").write_text('q,a\nfine,1\n"x, y",2,extra\nalso fine,3\n')
    error = _raises("m.csv", tmp_path, match="malformed CSV row: expected 2 fields")
    assert (error.path, error.line) == ("m.csv", 3)
    result = load_one("m.csv", tmp_path, on_error="skip")
    assert result.table.column("q").to_pylist() == ["fine", "also fine"]
    assert result.table.column(C.LINE).to_pylist() == [2, 4]
    assert result.rejected == [{"source": "m.csv", "line": 3, "reason": "malformed_row",
                                "field": None, "detail": "expected 2 fields (as in the header), got 3",
                                "raw": '"x, y",2,extra'}]


# -- mapped fields -----------------------------------------------------------------------------


def test_template_field_not_in_the_data(tmp_path):
    write_jsonl(tmp_path / "d.jsonl", [{"question": "q", "answer": "a"}])
    error = _raises("d.jsonl", tmp_path, {"text": "{question}\n{answr}"})
    assert error.field == "answr"
    assert "field 'answr': is not in the data (did you mean 'answer'?); fields are: question, " \
           "answer" in str(error)
    assert "d.jsonl" in str(error)


def test_missing_or_null_field_fail_and_skip(tmp_path):
    rows = [{"id": 1, "question": "a", "answer": "x"}, {"id": 2, "question": "b"},
            {"id": 3, "question": None, "answer": "z"}, {"id": 4, "question": "d", "answer": "w"}]
    write_jsonl(tmp_path / "d.jsonl", rows)
    fields = {"id": "id", "text": "{question}\n{answer}"}
    error = _raises("d.jsonl", tmp_path, fields)
    assert (error.line, error.field) == (2, "answer")
    assert str(error) == "d.jsonl:2: field 'answer': missing or null"
    result = load_one("d.jsonl", tmp_path, fields, on_error="skip")
    assert result.table.column(C.ID).to_pylist() == ["1", "4"]
    assert [(r["line"], r["reason"], r["field"]) for r in result.rejected] == [
        (2, "missing_field", "answer"), (3, "missing_field", "question")]
    assert json.loads(result.rejected[0]["raw"]) == {"id": 2, "question": "b", "answer": None}
    assert result.rejected[1]["raw"] == canonical_json(rows[2])


def test_bad_timestamp_fail_and_skip(tmp_path):
    rows = [{"q": "a", "t": "2024-01-01"}, {"q": "b", "t": "yesterday"}, {"q": "c", "t": None}]
    write_jsonl(tmp_path / "d.jsonl", rows)
    error = _raises("d.jsonl", tmp_path, {"text": "q", "time": "t"})
    assert (error.line, error.field) == (2, "t")
    assert str(error) == ("d.jsonl:2: field 't': cannot parse 'yesterday' as a timestamp "
                          "(ISO 8601, date, or epoch seconds/ms)")
    result = load_one("d.jsonl", tmp_path, {"text": "q", "time": "t"}, on_error="skip")
    assert [(r["line"], r["reason"]) for r in result.rejected] == [
        (2, "bad_timestamp"), (3, "missing_field")]
    assert result.table.column("q").to_pylist() == ["a"]


def test_messages_that_are_not_a_list(tmp_path):
    rows = [{"c": [{"role": "user", "content": "hi"}]}, {"c": "just text"}, {"c": None}]
    write_jsonl(tmp_path / "d.jsonl", rows)
    error = _raises("d.jsonl", tmp_path, {"messages": "c"})
    assert (error.line, error.field) == (2, "c") and "got 'just text'" in str(error)
    result = load_one("d.jsonl", tmp_path, {"messages": "c"}, on_error="skip")
    assert result.table.column(C.TEXT).to_pylist() == ["user: hi"]
    assert [(r["line"], r["reason"]) for r in result.rejected] == [
        (2, "bad_messages"), (3, "missing_field")]


def test_messages_without_role_keys(tmp_path):
    write_jsonl(tmp_path / "d.jsonl", [{"c": [{"speaker": "a", "text": "b"}]}])
    _raises("d.jsonl", tmp_path, {"messages": "c"},
            match="need role/content or from/value keys, found speaker, text")


# -- reserved names ----------------------------------------------------------------------------


def test_input_column_with_the_reserved_prefix(tmp_path):
    write_jsonl(tmp_path / "d.jsonl", [{"q": "a", "sf_mine": 1}])
    error = _raises("d.jsonl", tmp_path, match="column 'sf_mine': names starting with 'sf_' are "
                                                "reserved")
    assert error.path == "d.jsonl"


def test_a_builds_own_columns_are_dropped_but_cannot_be_mapped(tmp_path):
    write_jsonl(tmp_path / "d.jsonl", [{"q": "a", "sf_id": "old", "sf_split": "test"}])
    table = load_one("d.jsonl", tmp_path).table
    assert "sf_split" not in table.column_names and table.column(C.ID)[0].as_py() != "old"
    _raises("d.jsonl", tmp_path, {"text": "q", "group": "sf_split"},
            match="field 'sf_split': names starting with 'sf_'")
