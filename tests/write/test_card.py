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
    build_id = folder.name
    assert [c["config_name"] for c in header["configs"]] == [build_id, f"challenge-{build_id}"]
    assert "## Recipe" in card and "verify" in card
    loaded = datasets.load_dataset(str(folder), cache_dir=str(tmp_path / "cache"))
    assert set(loaded) == {"train", "validation", "test"}
    for split, name in (("train", "train"), ("validation", "val"), ("test", "test")):
        expected = pq.read_table(folder / f"{name}.parquet")
        assert loaded[split].num_rows == expected.num_rows
        assert loaded[split]["sf_id"] == expected.column("sf_id").to_pylist()
    challenge = datasets.load_dataset(str(folder), f"challenge-{build_id}",
                                      cache_dir=str(tmp_path / "cache"))
    assert {k: v.num_rows for k, v in challenge.items()} == {
        "edge": 30, "ood": 30, "temporal": 20, "adversarial": 20, "all_sets": 100}


def test_two_builds_loaded_through_latest_in_one_cache_stay_apart(tmp_path, monkeypatch):
    """datasets caches a local folder by its name: every `latest` once read as the first one."""
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    cache = str(tmp_path / "cache")
    rows = {}
    for name, train in (("first", 0.8), ("second", 0.6)):
        recipe = tmp_path / f"{name}.yaml"
        quickstart = yaml.safe_load((REPO / "recipes" / "quickstart.yaml").read_text())
        quickstart["name"] = name
        quickstart["split"]["ratios"] = {"train": train, "val": (1 - train) / 2,
                                         "test": (1 - train) / 2}
        quickstart.pop("challenge", None)
        for source in quickstart["sources"]:
            source["path"] = str(REPO / "recipes" / source["path"])
        recipe.write_text(yaml.safe_dump(quickstart))
        folder = build(recipe, out=tmp_path / "out").path
        loaded = datasets.load_dataset(str(folder.parent / "latest"), cache_dir=cache)
        expected = pq.read_table(folder / "train.parquet").column("sf_id").to_pylist()
        assert loaded["train"]["sf_id"] == expected
        rows[name] = expected
    assert rows["first"] != rows["second"]


def test_the_card_has_schema_sources_license_and_paths_that_resolve_from_the_build(tmp_path):
    import os

    quickstart = yaml.safe_load((REPO / "recipes" / "quickstart.yaml").read_text())
    quickstart.pop("challenge")
    quickstart["output"] = {"dir": "out", "license": "cc-by-4.0"}
    quickstart["sources"] = [{"path": os.path.relpath(REPO / "data" / "oss_commits_sample.jsonl",
                                                      tmp_path)}]
    recipe = tmp_path / "r.yaml"
    recipe.write_text(yaml.safe_dump(quickstart))
    folder = build(recipe).path
    card = (folder / "README.md").read_text(encoding="utf-8")
    header = yaml.safe_load(card.split("---")[1])
    assert header["license"] == "cc-by-4.0" and "License: cc-by-4.0." in card
    schema = card.split("## Schema", 1)[1].split("##", 1)[0]
    for column in pq.read_schema(folder / "train.parquet").names:
        assert f"| `{column}` |" in schema
    recipe_yaml = yaml.safe_load(card.split("```yaml", 1)[1].split("```", 1)[0])
    path = recipe_yaml["sources"][0]["path"]
    assert not os.path.isabs(path) and (folder / path).resolve() == (
        REPO / "data" / "oss_commits_sample.jsonl").resolve()
    assert "dir" not in recipe_yaml["output"]
    import re

    assert not re.search(r"(?<![.\w])/(tmp|work|root|home)/", card)  # no absolute path
