"""The frozen control set: written apart, never in a split, its copies removed from the data."""

import json

import pyarrow.parquet as pq

from splitforge import build
from tests.conftest import REPO, real_data, write_jsonl, write_recipe


def data_rows():
    lines = (REPO / "data" / "gsm8k_train_2k.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines[:800]]


def control_rows(data):
    test = [json.loads(line) for line in
            real_data("eval/gsm8k_test.jsonl").read_text(encoding="utf-8").splitlines()]
    rows = [{"idx": f"ctl-{i:02d}", "question": data[i * 10]["question"],
             "answer": data[i * 10]["answer"]} for i in range(20)]  # verbatim copies
    for i in range(20, 25):  # near copies: one word changed
        words = data[i * 10]["question"].split()
        words[len(words) // 2] = "indeed"
        rows.append({"idx": f"ctl-{i:02d}", "question": " ".join(words), "answer": ""})
    rows += [{"idx": f"ctl-{i:02d}", "question": test[i]["question"], "answer": ""}
             for i in range(25, 30)]  # new items
    return rows


def make(tmp_path, name, data, control):
    folder = tmp_path / name
    folder.mkdir()
    src = write_jsonl(folder / "data.jsonl", data)
    ctl = tmp_path / "control.jsonl"  # one file, one path (sf_source records the path)
    if not ctl.exists():
        write_jsonl(ctl, control)
    recipe = write_recipe(folder, sources=[{"path": str(src)}], control={"path": str(ctl)},
                          fields={"id": "idx", "text": "question"},
                          dedup={"exact": True, "minhash": {}},
                          split={"method": "random",
                                 "ratios": {"train": 0.8, "val": 0.1, "test": 0.1}})
    return build(recipe, out=folder / "out")


def test_control_items_stay_apart_and_their_copies_leave_the_data(tmp_path):
    data = data_rows()
    control = control_rows(data)
    result = make(tmp_path, "a", data, control)
    folder = result.path
    written = pq.read_table(folder / "control.parquet").column("sf_id").to_pylist()
    assert written == sorted(r["idx"] for r in control)
    in_splits = {r["sf_id"] for s in ("train", "val", "test")
                 for r in pq.read_table(folder / f"{s}.parquet").to_pylist()}
    assert not in_splits & set(written)
    copied = {str(data[i * 10]["idx"]) for i in range(25)}  # verbatim and near copies
    assert not in_splits & copied
    removed = {r["sf_id"]: r for r in pq.read_table(folder / "removed.parquet").to_pylist()}
    for row_id in copied:
        assert removed[row_id]["sf_reason"] == "control_duplicate"
        assert removed[row_id]["sf_kept_id"].startswith("ctl-")
    assert not set(written) & set(removed)
    info = result.manifest["control"]
    assert info["rows"] == 30 and info["data_rows_removed"] == 25 and len(info["sha256"]) == 64
    audit = result.manifest["stages"]["audit"]
    assert audit["eval_sets"]["control"] == 30
    assert "Control set: 30 items" in (folder / "report.md").read_text(encoding="utf-8")


def test_control_file_is_byte_identical_across_versions_while_unchanged(tmp_path):
    data = data_rows()
    control = control_rows(data)
    first = make(tmp_path, "a", data, control).path
    more = data + [json.loads(line) for line in (REPO / "data" / "gsm8k_train_2k.jsonl").read_text(
        encoding="utf-8").splitlines()[800:900]]
    second = make(tmp_path, "b", more, control).path
    assert first.name != second.name  # a new version of the data
    assert (first / "control.parquet").read_bytes() == (second / "control.parquet").read_bytes()


def test_control_ids_that_name_data_rows_and_a_missing_control_file_are_bad_input(tmp_path):
    import pytest

    from splitforge.errors import InputError, RecipeError

    data = data_rows()
    clash = [{"idx": data[0]["idx"], "question": "a control item reusing a data id"}]
    with pytest.raises(InputError, match="control ids also name rows of the sources"):
        make(tmp_path, "a", data, clash)
    folder = tmp_path / "b"
    folder.mkdir()
    src = write_jsonl(folder / "data.jsonl", data)
    recipe = write_recipe(folder, sources=[{"path": str(src)}],
                          control={"path": str(folder / "missing.jsonl")},
                          fields={"id": "idx", "text": "question"})
    with pytest.raises(RecipeError, match="control.path: no such file"):
        build(recipe)


def test_a_verbatim_control_copy_with_content_hash_ids_is_removed_not_rejected(tmp_path):
    data = [{"question": r["question"], "answer": r["answer"]} for r in data_rows()[:300]]
    src = write_jsonl(tmp_path / "data.jsonl", data)
    ctl = write_jsonl(tmp_path / "control.jsonl", [data[7]])  # same record, so same content id
    recipe = write_recipe(tmp_path, sources=[{"path": str(src)}], control={"path": str(ctl)},
                          fields={"text": "question"}, dedup={"exact": True},
                          split={"method": "random",
                                 "ratios": {"train": 0.8, "val": 0.1, "test": 0.1}})
    result = build(recipe, out=tmp_path / "out")
    control = pq.read_table(result.path / "control.parquet").to_pylist()
    assert len(control) == 1 and control[0]["sf_id"].startswith("control:")
    assert result.manifest["counts"]["removed_by_reason"]["dedup:control_duplicate"] == 1
    in_splits = [r["question"] for s in ("train", "val", "test")
                 for r in pq.read_table(result.path / f"{s}.parquet").to_pylist()]
    assert data[7]["question"] not in in_splits
