"""Every input format, line numbers, type inference, and the fingerprint of each source."""

import gzip
import json

import datasets
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from splitforge import columns as C
from splitforge.fingerprint import sha256_path
from splitforge.load import load_sources
from splitforge.recipe import FieldsConfig, SourceConfig
from tests.conftest import real_data, write_jsonl
from tests.load.conftest import FIXTURES, load_one

ROWS = [{"n": i, "q": f"question {i}", "a": f"answer {i}", "day": f"2024-02-{i + 1:02d}"}
        for i in range(5)]
FIELDS = {"id": "n", "text": "{q} -> {a}", "time": "day"}


def _write(tmp_path, name):
    path = tmp_path / name
    if name.startswith("d.jsonl") or name == "d.ndjson":
        body = "".join(json.dumps(r) + "\n" for r in ROWS).encode()
    elif name.startswith("d.json"):
        body = json.dumps(ROWS).encode()
    elif name.startswith("d.csv"):
        body = ("n,q,a,day\n" + "".join(f"{r['n']},{r['q']},{r['a']},{r['day']}\n"
                                        for r in ROWS)).encode()
    elif name == "d.parquet":
        pq.write_table(pa.Table.from_pylist(ROWS), path)
        return path
    else:
        raise AssertionError(name)
    path.write_bytes(gzip.compress(body) if name.endswith(".gz") else body)
    return path


@pytest.mark.parametrize(("name", "fmt", "first_line"), [
    ("d.jsonl", "jsonl", 1), ("d.jsonl.gz", "jsonl", 1), ("d.ndjson", "jsonl", 1),
    ("d.json", "json", 1), ("d.json.gz", "json", 1), ("d.csv", "csv", 2), ("d.csv.gz", "csv", 2),
    ("d.parquet", "parquet", 1),
])
def test_each_file_format(tmp_path, name, fmt, first_line):
    path = _write(tmp_path, name)
    result = load_one(name, tmp_path, FIELDS)
    table = result.table
    assert result.sources[0].format == fmt
    assert result.sources[0].sha256 == sha256_path(path)
    assert (result.sources[0].rows_read, result.sources[0].rows_rejected) == (5, 0)
    assert table.column(C.ID).to_pylist() == ["0", "1", "2", "3", "4"]
    assert table.column(C.TEXT)[2].as_py() == "question 2 -> answer 2"
    assert table.column(C.TIME)[1].as_py().isoformat() == "2024-02-02T00:00:00+00:00"
    assert table.column(C.SOURCE).to_pylist() == [name] * 5
    assert table.column(C.LINE).to_pylist() == list(range(first_line, first_line + 5))
    # the original fields are kept as read: the date strings are not turned into timestamps
    assert table.column("day").to_pylist() == [r["day"] for r in ROWS]
    assert table.column("n").type == pa.int64()


def test_format_override_reads_an_unknown_extension(tmp_path):
    (tmp_path / "rows.txt").write_text("".join(json.dumps(r) + "\n" for r in ROWS))
    result = load_one("rows.txt", tmp_path, FIELDS, format="jsonl")
    assert result.table.num_rows == 5 and result.sources[0].format == "jsonl"


def test_datasets_folder(tmp_path):
    datasets.Dataset.from_dict({"q": ["a", "b", "c"], "n": [7, 8, 9]}).save_to_disk(
        str(tmp_path / "ds"))
    result = load_one("ds", tmp_path, {"id": "n", "text": "q"})
    assert result.sources[0].format == "datasets"
    assert result.sources[0].sha256 == sha256_path(tmp_path / "ds")
    assert result.table.column(C.ID).to_pylist() == ["7", "8", "9"]
    assert result.table.column(C.LINE).to_pylist() == [1, 2, 3]


def test_datasets_dict_takes_the_named_split(tmp_path):
    datasets.DatasetDict({
        "train": datasets.Dataset.from_dict({"q": ["t1", "t2"]}),
        "test": datasets.Dataset.from_dict({"q": ["x1", "x2", "x3"]}),
    }).save_to_disk(str(tmp_path / "dd"))
    result = load_one("dd", tmp_path, split="test")
    assert result.table.column("q").to_pylist() == ["x1", "x2", "x3"]


def test_json_object_holding_one_list(tmp_path):
    result = load_one(FIXTURES / "wrapped.json", tmp_path,
                      {"id": "id", "text": "{prompt} {completion}", "time": "created"})
    table = result.table
    assert table.column(C.TEXT).to_pylist() == ["Translate 'cat' to French. chat",
                                                "Translate 'dog' to French. chien"]
    assert [t.isoformat() for t in table.column(C.TIME).to_pylist()] == [
        "2023-05-01T10:00:00+00:00", "2023-05-02T00:00:00+00:00"]
    assert table.column(C.LINE).to_pylist() == [1, 2]


def test_json_file_holding_json_lines_is_read_as_lines(tmp_path):
    # a .json name on a JSON Lines file is a common slip (BELLE's eval_set.json is one)
    (tmp_path / "rows.json").write_text("".join(json.dumps(r) + "\n" for r in ROWS))
    result = load_one("rows.json", tmp_path, FIELDS)
    assert result.sources[0].format == "jsonl"
    assert result.table.column(C.LINE).to_pylist() == [1, 2, 3, 4, 5]


def test_csv_line_numbers_with_quoted_newlines_and_blank_lines(tmp_path):
    result = load_one(FIXTURES / "quoted.csv", tmp_path, {"id": "id", "text": "question"})
    table = result.table
    assert table.column(C.LINE).to_pylist() == [2, 3, 6]
    assert table.column("question").to_pylist() == [
        "What is 2+2?", "A question\nspanning two lines", 'Say "hi"']
    assert table.column("answer").to_pylist() == ["4", "yes", "hi"]
    assert table.column("score").type == pa.float64()


def test_jsonl_line_numbers_count_blank_lines(tmp_path):
    (tmp_path / "b.jsonl").write_text('\n{"q": "a"}\n\n  \n{"q": "b"}\r\n{"q": "c"}')
    result = load_one("b.jsonl", tmp_path)
    assert result.table.column(C.LINE).to_pylist() == [2, 5, 6]
    assert result.sources[0].rows_read == 3


def test_fields_that_only_later_rows_have_are_kept(tmp_path):
    rows = [{"q": "a"}, {"q": "b", "extra": 1}]
    path = tmp_path / "late.json"
    path.write_text(json.dumps(rows))
    table = load_one("late.json", tmp_path).table
    assert table.column("extra").to_pylist() == [None, 1]
    write_jsonl(tmp_path / "late.jsonl", rows)
    assert load_one("late.jsonl", tmp_path).table.column("extra").to_pylist() == [None, 1]


def test_mixed_types_fall_back_to_text(tmp_path):
    rows = [{"q": "a", "v": 1}, {"q": "b", "v": "two"}, {"q": "c", "v": {"x": [3]}},
            {"q": "d", "v": None}]
    write_jsonl(tmp_path / "m.jsonl", rows)
    table = load_one("m.jsonl", tmp_path, {"text": "{q}={v}"}, on_error="skip").table
    # the null row is rejected (v is mapped); the others keep their values as text
    assert table.column("v").to_pylist() == ["1", "two", '{"x": [3]}']
    assert table.column(C.TEXT).to_pylist() == ["a=1", "b=two", 'c={"x": [3]}']


def test_mixed_types_after_a_rejected_line(tmp_path):
    path = tmp_path / "m.jsonl"
    path.write_text('{"q": "a", "v": 1}\n{"q": \n{"q": "c", "v": "x"}\n')
    result = load_one("m.jsonl", tmp_path, on_error="skip")
    assert result.table.column("v").to_pylist() == ["1", "x"]
    assert result.table.column(C.LINE).to_pylist() == [1, 3]
    assert [(r["line"], r["reason"]) for r in result.rejected] == [(2, "invalid_json")]


def test_several_sources_are_concatenated(tmp_path):
    write_jsonl(tmp_path / "a.jsonl", [{"q": "a1", "v": 1}, {"q": "a2", "v": 2}])
    write_jsonl(tmp_path / "b.jsonl", [{"q": "b1", "v": 1.5, "w": True}])
    write_jsonl(tmp_path / "c.jsonl", [{"q": "c1", "v": "text"}])
    sources = [SourceConfig(path=p) for p in ("a.jsonl", "b.jsonl")]
    table = load_sources(sources, FieldsConfig(text="q"), tmp_path).table
    assert table.column("v").type == pa.float64()  # int64 + double promote
    assert table.column("w").to_pylist() == [None, None, True]
    assert table.column(C.SOURCE).to_pylist() == ["a.jsonl", "a.jsonl", "b.jsonl"]
    sources.append(SourceConfig(path="c.jsonl"))
    table = load_sources(sources, FieldsConfig(text="q"), tmp_path).table
    assert table.column("v").to_pylist() == ["1", "2", "1.5", "text"]  # no common type: text


def test_real_gsm8k_test(tmp_path):
    result = load_one(real_data("eval/gsm8k_test.jsonl"), tmp_path,
                      {"id": "idx", "text": "{question}\n{answer}"})
    table = result.table
    assert table.num_rows == 1319
    assert table.column(C.ID)[0].as_py() == "0"
    first = json.loads(real_data("eval/gsm8k_test.jsonl").read_text().split("\n", 1)[0])
    assert table.column(C.TEXT)[0].as_py() == first["question"] + "\n" + first["answer"]
    assert result.sources[0].sha256 == sha256_path(real_data("eval/gsm8k_test.jsonl"))


def test_real_commits_with_offsets_and_groups(tmp_path):
    path = real_data("temporal/oss_commit_messages.jsonl.gz")
    result = load_one(path, tmp_path, {"id": "sha", "text": "{subject}\n{body}",
                                       "time": "author_date", "group": "repo"}, on_error="skip")
    table = result.table
    assert table.num_rows == 6_809  # of the slice's 6,810: line 1942, an empty message, is rejected
    assert table.column(C.TIME).null_count == 0
    # 2005-04-07T15:13:13-07:00 is 22:13:13 UTC
    assert table.column("author_date")[0].as_py() == "2005-04-07T15:13:13-07:00"
    assert table.column(C.TIME)[0].as_py().isoformat() == "2005-04-07T22:13:13+00:00"
    assert table.column(C.GROUP)[0].as_py() == "git/git"
    assert len(set(table.column(C.GROUP).to_pylist())) == 20
    assert result.sources[0].sha256 == sha256_path(path)
