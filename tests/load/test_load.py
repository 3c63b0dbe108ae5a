"""Loading every format, mapping fields, and every kind of bad input."""

import gzip
import json
from pathlib import Path

import datasets
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from splitforge import columns as C
from splitforge.errors import InputError
from splitforge.load import load_sources
from splitforge.recipe import FieldsConfig, SourceConfig
from tests.conftest import real_data, write_jsonl

ROWS = [{"qid": i, "question": f"What is {i} + {i}?", "answer": str(2 * i),
         "when": f"2024-03-{1 + i:02d}T10:00:00+02:00", "user": f"u{i % 3}", "cat": "math"}
        for i in range(12)]


def load(tmp_path, path, fields=None, **source):
    fields = fields or {"id": "qid", "text": "{question}\n{answer}"}
    return load_sources([SourceConfig(path=str(path), **source)], FieldsConfig(**fields), tmp_path)


def write_as(tmp_path: Path, fmt: str) -> Path:
    if fmt == "jsonl":
        return write_jsonl(tmp_path / "d.jsonl", ROWS)
    if fmt == "jsonl.gz":
        path = tmp_path / "d.jsonl.gz"
        with gzip.open(path, "wt", encoding="utf-8") as handle:
            handle.writelines(json.dumps(r) + "\n" for r in ROWS)
        return path
    if fmt == "json":
        path = tmp_path / "d.json"
        path.write_text(json.dumps({"data": ROWS}))
        return path
    if fmt == "csv":
        path = tmp_path / "d.csv"
        keys = list(ROWS[0])
        path.write_text(",".join(keys) + "\n" + "".join(
            ",".join(f'"{r[k]}"' for k in keys) + "\n" for r in ROWS))
        return path
    if fmt == "parquet":
        path = tmp_path / "d.parquet"
        pq.write_table(pa.Table.from_pylist(ROWS), path)
        return path
    if fmt == "datasets":
        path = tmp_path / "ds"
        datasets.Dataset.from_list(ROWS).save_to_disk(str(path))
        return path
    raise AssertionError(fmt)


@pytest.mark.parametrize("fmt", ["jsonl", "jsonl.gz", "json", "csv", "parquet", "datasets"])
def test_every_format_maps_the_same(tmp_path, fmt):
    result = load(tmp_path, write_as(tmp_path, fmt),
                  {"id": "qid", "text": "{question}\n{answer}", "time": "when", "group": "user",
                   "label": "cat"})
    table = result.table
    assert table.num_rows == 12
    assert table.column(C.ID).to_pylist()[:2] == ["0", "1"]
    assert table.column(C.TEXT)[3].as_py() == "What is 3 + 3?\n6"
    assert table.column(C.TIME)[0].as_py().isoformat() == "2024-03-01T08:00:00+00:00"
    assert table.column(C.GROUP)[4].as_py() == "u1"
    assert result.sources[0].rows_read == 12


def test_original_fields_are_unchanged(tmp_path):
    table = load(tmp_path, write_as(tmp_path, "jsonl"), {"text": "question", "time": "when"}).table
    assert table.column("when")[0].as_py() == "2024-03-01T10:00:00+02:00"
    assert table.column("qid").type == pa.int64()


def test_datasetdict_needs_a_split(tmp_path):
    path = tmp_path / "dd"
    datasets.DatasetDict({"train": datasets.Dataset.from_list(ROWS[:8]),
                          "test": datasets.Dataset.from_list(ROWS[8:])}).save_to_disk(str(path))
    with pytest.raises(InputError, match=r"several splits \(test, train\)"):
        load(tmp_path, path)
    assert load(tmp_path, path, split="test").table.num_rows == 4


@pytest.mark.parametrize("shape", [("role", "content"), ("from", "value")])
def test_chat_messages_are_flattened(tmp_path, shape):
    role, content = shape
    rows = [{"id": "c1", "conv": [{role: "user", content: "Hi"}, {role: "assistant", content: "Hello!"}]},
            {"id": "c2", "conv": []}]
    path = write_jsonl(tmp_path / "chat.jsonl", rows)
    with pytest.raises(InputError, match=r"chat.jsonl:2: field 'conv': the text is empty"):
        load(tmp_path, path, {"id": "id", "messages": "conv"})
    result = load(tmp_path, path, {"id": "id", "messages": "conv"}, on_error="skip")
    assert result.table.column(C.TEXT).to_pylist() == ["user: Hi\nassistant: Hello!"]
    assert [(r["line"], r["reason"]) for r in result.rejected] == [(2, "empty_text")]


@pytest.mark.parametrize(("values", "expected"), [
    (["2024-01-02", "2024-01-03"], "2024-01-02T00:00:00+00:00"),
    (["2024-01-02T03:04:05", "2024-01-03T00:00:00Z"], "2024-01-02T03:04:05+00:00"),
    ([1704164645, 1704164646], "2024-01-02T03:04:05+00:00"),
    ([1704164645123, 1704164646000], "2024-01-02T03:04:05.123000+00:00"),
])
def test_time_formats(tmp_path, values, expected):
    rows = [{"id": i, "t": v, "x": "a"} for i, v in enumerate(values)]
    path = write_jsonl(tmp_path / "t.jsonl", rows)
    table = load(tmp_path, path, {"id": "id", "text": "x", "time": "t"}).table
    assert table.column(C.TIME)[0].as_py().isoformat() == expected


def test_content_ids_are_stable_and_unique(tmp_path):
    rows = [{"q": "same"}, {"q": "other"}, {"q": "same"}]
    a = load(tmp_path, write_jsonl(tmp_path / "a.jsonl", rows), {"text": "q"}).table
    b = load(tmp_path, write_jsonl(tmp_path / "b.jsonl", rows[::-1]), {"text": "q"}).table
    ids_a = a.column(C.ID).to_pylist()
    assert len(set(ids_a)) == 3
    assert sorted(ids_a) == sorted(b.column(C.ID).to_pylist())
    assert ids_a[2] == ids_a[0] + "-2"


def test_id_prefix_and_duplicate_ids_across_sources(tmp_path):
    write_jsonl(tmp_path / "a.jsonl", ROWS[:3])
    write_jsonl(tmp_path / "b.jsonl", ROWS[:3])
    fields = FieldsConfig(id="qid", text="question")
    with pytest.raises(InputError, match=r"id '0' is not unique: it appears at a.jsonl:1 and "
                                         r"b.jsonl:1; give each source its own sources\[\].id_prefix"):
        load_sources([SourceConfig(path="a.jsonl"), SourceConfig(path="b.jsonl")], fields, tmp_path)
    result = load_sources([SourceConfig(path="a.jsonl", id_prefix="a/"),
                           SourceConfig(path="b.jsonl", id_prefix="b/")], fields, tmp_path)
    assert result.table.column(C.ID).to_pylist() == ["a/0", "a/1", "a/2", "b/0", "b/1", "b/2"]


def test_malformed_line_is_named(tmp_path):
    path = tmp_path / "d.jsonl"
    path.write_text('{"qid": 1, "question": "a", "answer": "b"}\n\n{"qid": 2, "question": oops}\n')
    with pytest.raises(InputError) as info:
        load(tmp_path, path)
    assert info.value.line == 3 and "invalid JSON" in str(info.value)


def test_real_malformed_file_fail_and_skip(tmp_path):
    src = real_data("instruct/instructionwild_v2_user_1-3.raw.jsonl")
    bad_lines = []
    for number, raw in enumerate(src.read_bytes().split(b"\n"), start=1):
        if raw.strip():
            try:
                json.loads(raw)
            except ValueError:
                bad_lines.append(number)
    assert len(bad_lines) == 5
    with pytest.raises(InputError) as info:
        load(tmp_path, src, {"text": "instruction"})
    assert info.value.line == bad_lines[0]
    result = load(tmp_path, src, {"text": "instruction"}, on_error="skip")
    assert result.table.num_rows == 873
    assert [r["line"] for r in result.rejected] == bad_lines
    assert result.sources[0].rows_rejected == 5 and result.sources[0].rows_read == 878


def test_missing_value_and_bad_timestamp_name_line_and_field(tmp_path):
    rows = [dict(r) for r in ROWS[:4]]
    rows[2].pop("answer")
    rows[3]["when"] = "yesterday"
    path = write_jsonl(tmp_path / "d.jsonl", rows)
    with pytest.raises(InputError) as info:
        load(tmp_path, path, {"id": "qid", "text": "{question}\n{answer}", "time": "when"})
    assert (info.value.line, info.value.field) == (3, "answer")
    rows[2]["answer"] = "x"
    path = write_jsonl(tmp_path / "d.jsonl", rows)
    with pytest.raises(InputError, match="cannot parse 'yesterday' as a timestamp") as info:
        load(tmp_path, path, {"id": "qid", "text": "question", "time": "when"})
    assert (info.value.line, info.value.field) == (4, "when")
    result = load(tmp_path, path, {"id": "qid", "text": "question", "time": "when"},
                  on_error="skip")
    assert result.table.num_rows == 3
    assert [(r["line"], r["reason"], r["field"]) for r in result.rejected] == [
        (4, "bad_timestamp", "when")]


def test_unknown_field_suggests_the_right_one(tmp_path):
    path = write_as(tmp_path, "jsonl")
    with pytest.raises(InputError, match=r"field 'answr': is not in the data \(did you mean "
                                         r"'answer'\?\)"):
        load(tmp_path, path, {"text": "{question} {answr}"})


@pytest.mark.parametrize(("name", "content", "message"), [
    ("empty.jsonl", b"", "no rows: the source is empty"),
    ("latin1.jsonl", '{"q": "caf\u00e9"}\n'.encode("latin-1"), "not valid UTF-8"),
    ("data.docx", b"hello", "cannot tell the format"),
    ("list.jsonl", b"[1, 2]\n", "expected a JSON object"),
])
def test_bad_files(tmp_path, name, content, message):
    (tmp_path / name).write_bytes(content)
    with pytest.raises(InputError, match=message) as info:
        load(tmp_path, tmp_path / name, {"text": "q"})
    assert name in str(info.value)


def test_missing_file_and_reserved_columns(tmp_path):
    with pytest.raises(InputError, match="no such file"):
        load(tmp_path, tmp_path / "none.jsonl", {"text": "q"})
    path = write_jsonl(tmp_path / "r.jsonl", [{"q": "a", "sf_id": "x", "sf_split": "test"}])
    table = load(tmp_path, path, {"text": "q"}).table  # a build's own columns are dropped
    assert "sf_split" not in table.column_names and table.column(C.ID)[0].as_py() != "x"
    with pytest.raises(InputError, match="splitforge's own columns"):
        load(tmp_path, path, {"text": "q", "id": "sf_id"})


def test_mixed_types_are_kept_as_text(tmp_path):
    path = write_jsonl(tmp_path / "m.jsonl", [{"q": "a", "v": 1}, {"q": "b", "v": "two"},
                                              {"q": "c", "v": [3]}])
    table = load(tmp_path, path, {"text": "q"}).table
    assert table.column("v").to_pylist() == ["1", "two", "[3]"]
    assert table.num_rows == 3


def test_real_gsm8k_and_commits(tmp_path):
    gsm = load(tmp_path, real_data("eval/gsm8k_test.jsonl"), {"id": "idx", "text": "{question}\n{answer}"})
    assert gsm.table.num_rows == 1319
    commits = load(tmp_path, real_data("temporal/oss_commit_messages.jsonl.gz"),
                   {"id": "sha", "text": "{subject}\n{body}", "time": "author_date", "group": "repo"},
                   on_error="skip")
    # one real commit has neither subject nor body: refused as empty text, kept in rejected
    assert [(r["line"], r["reason"]) for r in commits.rejected] == [(1942, "empty_text")]
    assert commits.table.num_rows == 6_809  # the shipped slice: 6,810 lines
    assert commits.table.column(C.TIME).null_count == 0


def test_non_utf8_line_is_rejected_in_skip_mode(tmp_path):
    path = tmp_path / "d.jsonl"
    path.write_bytes(b'{"q": "ok"}\n{"q": "caf\xe9"}\n{"q": "fine"}\n')
    with pytest.raises(InputError, match="d.jsonl:2: not valid UTF-8"):
        load(tmp_path, path, {"text": "q"})
    result = load(tmp_path, path, {"text": "q"}, on_error="skip")
    assert result.table.column("q").to_pylist() == ["ok", "fine"]
    assert result.rejected[0]["line"] == 2
