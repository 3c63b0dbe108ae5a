"""What the load converts it says (#16 items 9, 10): mixed id types, numbers as text, NaN labels."""

import pytest

from splitforge.errors import InputError
from splitforge.load import load_sources
from splitforge.recipe import FieldsConfig, SourceConfig
from tests.conftest import write_jsonl


def _load(tmp_path, rows, on_error="fail", **fields):
    write_jsonl(tmp_path / "d.jsonl", rows)
    return load_sources([SourceConfig(path="d.jsonl", on_error=on_error)],
                        FieldsConfig(**{"text": "text", **fields}), tmp_path)


def test_ids_mixing_numbers_and_strings_are_converted_and_said(tmp_path):
    loaded = _load(tmp_path, [{"id": 1, "text": "alpha beta"}, {"id": "b", "text": "gamma"}],
                   id="id")
    [note] = loaded.sources[0].notes
    assert "field 'id' mixes kinds of values (a number, a string): written as text" in note
    assert loaded.table.column("id").to_pylist() == ["1", "b"]


def test_uniform_ids_keep_their_type_and_say_nothing(tmp_path):
    loaded = _load(tmp_path, [{"id": 1, "text": "alpha beta"}, {"id": 2, "text": "gamma"}],
                   id="id")
    assert loaded.sources[0].notes == ()
    assert loaded.table.column("id").to_pylist() == [1, 2]


def test_a_number_used_as_text_is_said(tmp_path):
    loaded = _load(tmp_path, [{"text": 42}, {"text": 7}])
    [note] = loaded.sources[0].notes
    assert "field 'text' is used as text but holds int64 values" in note
    assert loaded.table.column("text").to_pylist() == [42, 7]  # the original field as read


def test_text_mixing_strings_and_lists_is_said(tmp_path):
    loaded = _load(tmp_path, [{"text": "alpha beta"}, {"text": ["a", "b"]}])
    [note] = loaded.sources[0].notes
    assert "field 'text' mixes kinds of values (a list, a string)" in note


def test_sources_with_clashing_types_say_so(tmp_path):
    write_jsonl(tmp_path / "a.jsonl", [{"id": 1, "text": "alpha beta"}])
    write_jsonl(tmp_path / "b.jsonl", [{"id": "x", "text": "gamma delta"}])
    loaded = load_sources([SourceConfig(path="a.jsonl"), SourceConfig(path="b.jsonl")],
                          FieldsConfig(id="id", text="text"), tmp_path)
    for info in loaded.sources:
        assert any("'id'" in n and "different types in different sources" in n
                   for n in info.notes)


def test_a_nan_label_is_no_class(tmp_path):
    rows = [{"text": "alpha beta", "label": 1.0}, {"text": "gamma delta", "label": float("nan")}]
    with pytest.raises(InputError, match=r"d.jsonl:2: field 'label': NaN, which is no value"):
        _load(tmp_path, rows, label="label")
    skipped = _load(tmp_path, rows, on_error="skip", label="label")
    assert skipped.table.num_rows == 1 and skipped.rejected[0]["line"] == 2
    mixed = [{"text": "alpha beta", "label": "x"}, {"text": "gamma delta", "label": float("nan")}]
    with pytest.raises(InputError, match=r"d.jsonl:2: field 'label': missing or null"):
        _load(tmp_path, mixed, label="label")


def test_absolute_source_paths_stay_out_of_the_output(tmp_path):
    # The same data under two absolute folders: the split files are byte-identical (#16.13).
    from splitforge import build
    from tests.conftest import folder_bytes, write_recipe

    rows = [{"id": f"r{i}", "text": f"ticket {i} says the login page fails after update {i}"}
            for i in range(40)]
    built = []
    for place in ("home/alice/data", "srv/shared/data"):
        folder = tmp_path / place
        folder.mkdir(parents=True)
        write_jsonl(folder / "d.jsonl", rows)
        recipe = write_recipe(tmp_path / place.split("/")[0], name="abs",
                              sources=[{"path": str(folder / "d.jsonl")}],
                              fields={"id": "id", "text": "text"},
                              output={"dir": str(tmp_path / place.split("/")[0] / "out")})
        built.append(build(recipe).path)
    a, b = (folder_bytes(p) for p in built)
    split_files = [f for f in a if f.endswith(".parquet")]
    assert split_files and all(a[f] == b[f] for f in split_files)
    assert b"alice" not in a["train.parquet"] and b"data/d.jsonl" in a["train.parquet"]


def test_the_build_prints_and_records_what_it_converted(tmp_path):
    from typer.testing import CliRunner

    from splitforge.cli import app
    from tests.conftest import write_recipe

    rows = [{"id": i if i % 2 else f"t{i}", "text": f"ticket {i}: the export button fails {i}"}
            for i in range(30)]
    write_jsonl(tmp_path / "d.jsonl", rows)
    recipe = write_recipe(tmp_path, sources=[{"path": "d.jsonl"}],
                          fields={"id": "id", "text": "text"})
    result = CliRunner().invoke(app, ["build", str(recipe)])
    assert result.exit_code == 0, result.output
    assert "note: d.jsonl: field 'id' mixes kinds of values" in " ".join(result.output.split())
    folder = (tmp_path / "out" / "t" / "latest").resolve()
    report = (folder / "report.md").read_text(encoding="utf-8")
    assert "Converted while reading:" in report and "field 'id' mixes kinds" in report


def test_absolute_sources_that_end_alike_keep_distinct_names(tmp_path):
    from splitforge.load.sources import source_names

    assert source_names(["/A/x/data/train.jsonl", "/A/y/data/train.jsonl", "rel/t.jsonl"]) == [
        "x/data/train.jsonl", "y/data/train.jsonl", "rel/t.jsonl"]
    for folder in ("x", "y"):
        (tmp_path / folder / "data").mkdir(parents=True)
        write_jsonl(tmp_path / folder / "data" / "train.jsonl", [{"id": "1", "text": "alpha"}])
    sources = [SourceConfig(path=str(tmp_path / f / "data" / "train.jsonl")) for f in "xy"]
    with pytest.raises(InputError) as error:
        load_sources(sources, FieldsConfig(id="id", text="text"), tmp_path)
    message = str(error.value)
    assert "x/data/train.jsonl:1 and y/data/train.jsonl:1" in message and "id_prefix" in message
