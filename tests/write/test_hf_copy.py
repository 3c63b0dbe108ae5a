"""`output.formats: [hf]` adds a save_to_disk copy that datasets loads, byte-identical per build."""

import json

import datasets
import pyarrow.parquet as pq

from splitforge import build
from tests.conftest import REPO, folder_bytes, write_recipe


def test_hf_copy_loads_and_is_deterministic(tmp_path):
    def make(name):
        folder = tmp_path / name
        folder.mkdir()
        recipe = write_recipe(folder, sources=[{"path": str(REPO / "data" /
                                                            "gsm8k_train_2k.jsonl")}],
                              fields={"id": "idx", "text": "question"},
                              output={"dir": str(folder / "out"), "formats": ["parquet", "hf"]})
        return build(recipe).path

    first, second = make("a"), make("b")
    loaded = datasets.load_from_disk(str(first / "hf"))
    assert set(loaded) == {"train", "validation", "test"}
    assert loaded["test"]["sf_id"] == pq.read_table(first / "test.parquet").column(
        "sf_id").to_pylist()
    assert folder_bytes(first / "hf") == folder_bytes(second / "hf")
    manifest = json.loads((first / "manifest.json").read_text(encoding="utf-8"))
    hf_files = [path for path in manifest["outputs"] if path.startswith("hf/")]
    assert "hf/dataset_dict.json" in hf_files and len(hf_files) >= 7  # hashed like the rest
