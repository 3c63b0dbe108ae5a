"""The Python API: the same build, audit and dedup as the commands, on files or tables in memory."""

import json

import datasets
import pandas as pd
import pyarrow as pa
import pytest

import splitforge
from splitforge.errors import InputError
from tests.conftest import real_data

ROWS = json.loads(real_data("formats/llamafactory/alpaca_en_demo.json").read_text())


def _recipe(tmp_path, source, **extra):
    return {"name": "api", "sources": [source], "output": {"dir": str(tmp_path / "out")},
            **extra}


def test_build_a_dataframe_and_get_the_manifest_also_when_nothing_changed(tmp_path):
    frame = pd.DataFrame(ROWS)
    first = splitforge.build(_recipe(tmp_path, {"data": frame, "formatting": "alpaca",
                                                "name": "alpaca"}))
    assert first.status == "built"
    assert sum(first.manifest["counts"]["splits"].values()) + first.manifest["stages"][
        "dedup"]["rows_removed"] <= len(ROWS)
    staged = first.manifest["inputs"][0]["path"]
    assert ".cache/inputs/" in staged and not staged.startswith("/")
    elsewhere = splitforge.build(_recipe(tmp_path, {"data": frame, "formatting": "alpaca",
                                                    "name": "alpaca"}), out=tmp_path / "o2")
    assert elsewhere.build_id == first.build_id  # the staged file's folder is not the data
    again = splitforge.build(_recipe(tmp_path, {"data": frame.copy(), "formatting": "alpaca",
                                                "name": "alpaca"}))
    assert (again.status, again.build_id) == ("unchanged", first.build_id)
    assert again.manifest == first.manifest
    # an Arrow table of the same rows, named the same, is the same version
    table = pa.Table.from_pandas(frame, preserve_index=False)
    arrow = splitforge.build(_recipe(tmp_path, {"data": table, "formatting": "alpaca",
                                                "name": "alpaca"}))
    assert arrow.build_id == first.build_id
    rows = pd.read_parquet(first.path / "train.parquet")
    assert set(rows["sf_source"]) == {"alpaca"}


def test_datasets_sources_and_a_dataset_dict_needs_its_split(tmp_path):
    data = datasets.DatasetDict({"train": datasets.Dataset.from_list(ROWS[:60])})
    with pytest.raises(InputError, match="say which one to read"):
        splitforge.build(_recipe(tmp_path, {"data": data, "formatting": "alpaca"}))
    result = splitforge.build(_recipe(tmp_path, {"data": data, "split": "train",
                                                 "formatting": "alpaca"}))
    assert result.manifest["counts"]["rows_loaded"] == 60
    assert result.manifest["recipe"]["sources"][0]["name"] == "dataset-0"
    with pytest.raises(InputError, match="sources.0..data: expected a pandas DataFrame"):
        splitforge.build(_recipe(tmp_path, {"data": [1, 2], "formatting": "alpaca"}))


def test_audit_and_dedup_take_tables(tmp_path):
    frame = pd.DataFrame(ROWS)
    import splitforge.audit.run  # noqa: F401  the subpackage's name stays callable
    result = splitforge.audit(train=frame.iloc[:80], eval=frame.iloc[70:],
                              text="{instruction}\n{input}\n{output}")
    verdicts = dict(zip(result.table.column("eval_id").to_pylist(),
                        result.table.column("verdict").to_pylist(), strict=True))
    assert sum(v == "contaminated" for v in verdicts.values()) >= 10
    assert result.summary["verdicts"]["contaminated"] == sum(
        v == "contaminated" for v in verdicts.values())
    doubled = pd.concat([frame.iloc[:30], frame.iloc[:10]])
    deduped = splitforge.dedup(doubled, text="instruction", out=tmp_path / "dd")
    assert deduped.stats["rows_removed"] == 10
