"""The build folder is a dataset: `datasets.load_dataset(folder)` reads its splits."""

import datasets
import pyarrow.parquet as pq
import yaml

from splitforge import build
from tests.conftest import REPO


def test_load_dataset_reads_the_build_folder_and_its_challenge_sets(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    folder = build(REPO / "recipes" / "quickstart.yaml", out=tmp_path / "out").path
    card = (folder / "README.md").read_text(encoding="utf-8")
    header = yaml.safe_load(card.split("---")[1])
    assert [c["config_name"] for c in header["configs"]] == ["default", "challenge"]
    assert "## Recipe" in card and "verify" in card
    loaded = datasets.load_dataset(str(folder), cache_dir=str(tmp_path / "cache"))
    assert set(loaded) == {"train", "validation", "test"}
    for split, name in (("train", "train"), ("validation", "val"), ("test", "test")):
        expected = pq.read_table(folder / f"{name}.parquet")
        assert loaded[split].num_rows == expected.num_rows
        assert loaded[split]["sf_id"] == expected.column("sf_id").to_pylist()
    challenge = datasets.load_dataset(str(folder), "challenge", cache_dir=str(tmp_path / "cache"))
    assert {k: v.num_rows for k, v in challenge.items()} == {
        "edge": 30, "ood": 30, "temporal": 20, "adversarial": 20, "all_sets": 100}
