"""split.folds and multi-label stratification: what users of sklearn splitters expect."""

import json

import numpy as np
import pyarrow.parquet as pq
import pytest
import yaml

from splitforge.errors import RecipeError
from splitforge.pipeline import build
from splitforge.recipe import validate_recipe
from splitforge.split.base import TRAIN, SplitFrame
from splitforge.split.folds import assign_folds
from tests.conftest import real_data


def _frame(n, groups=None, labels=None):
    ids = np.array([f"r{i:05d}" for i in range(n)], dtype=object)
    return SplitFrame(ids, ids.copy(), groups=groups, labels=labels)


def test_groups_sit_in_one_fold_and_adding_rows_moves_none():
    groups = np.array([f"g{i // 3}" for i in range(3000)], dtype=object)
    codes = np.zeros(3000, dtype=np.int8)
    folds, info = assign_folds(_frame(3000, groups), codes, 5, seed=7, stratified=False)
    per_group = {}
    for g, f in zip(groups, folds, strict=True):
        per_group.setdefault(g, set()).add(f)
    assert all(len(v) == 1 for v in per_group.values())
    assert info["k"] == 5 and sum(info["rows"]) == 3000 and min(info["rows"]) > 500
    more = np.concatenate([groups, np.array([f"new{i}" for i in range(500)], dtype=object)])
    folds_more, _ = assign_folds(_frame(3500, more), np.zeros(3500, np.int8), 5, 7, False)
    assert np.array_equal(folds_more[:3000], folds)  # stable: a row's fold is its unit's hash
    other_seed, _ = assign_folds(_frame(3000, groups), codes, 5, seed=8, stratified=False)
    assert not np.array_equal(other_seed, folds)


def test_stratified_folds_hold_each_label_within_one_unit_and_skip_held_out_rows():
    labels = np.array(["a"] * 103 + ["b"] * 37 + ["c"] * 11, dtype=object)
    codes = np.where(np.arange(151) % 10 == 0, 2, TRAIN).astype(np.int8)
    folds, _ = assign_folds(_frame(151, labels=labels), codes, 4, seed=1, stratified=True)
    assert (folds[codes != TRAIN] == -1).all()
    for label in ("a", "b", "c"):
        mine = folds[(labels == label) & (codes == TRAIN)]
        counts = np.bincount(mine, minlength=4)
        assert counts.max() - counts.min() <= 1, (label, counts)


def test_a_build_writes_sf_fold_on_train_rows(tmp_path):
    recipe = tmp_path / "r.yaml"
    recipe.write_text(yaml.safe_dump({
        "name": "cv", "sources": [{"path": str(real_data(
            "formats/llamafactory/alpaca_en_demo.json")), "formatting": "alpaca"}],
        "split": {"method": "random", "folds": 3}, "output": {"dir": str(tmp_path / "out")}}))
    folder = build(recipe).path
    train = pq.read_table(folder / "train.parquet")
    folds = train.column("sf_fold").to_pylist()
    assert set(folds) == {0, 1, 2}
    assert set(pq.read_table(folder / "test.parquet").column("sf_fold").to_pylist()) <= {None}
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["stages"]["split"]["folds"]["rows"] == [folds.count(k) for k in range(3)]
    clusters = {}
    for cluster, fold in zip(train.column("sf_cluster").to_pylist(), folds, strict=True):
        clusters.setdefault(cluster, set()).add(fold)
    assert all(len(v) == 1 for v in clusters.values())


def test_folds_are_not_for_temporal_splits():
    with pytest.raises(RecipeError, match="folds are for random, stratified and group"):
        validate_recipe({"name": "t", "sources": [{"path": "d.jsonl"}],
                         "fields": {"text": "q", "time": "t"},
                         "split": {"method": "temporal", "folds": 5}})


def test_multi_label_rows_are_stratified_by_their_combination(tmp_path):
    import json as _json

    rows = [{"id": f"r{i}", "q": f"question number {i} about topic {i % 7}",
             "tags": [["math"], ["code"], ["math", "code"], ["code", "math"], []][i % 5]}
            for i in range(500)]
    (tmp_path / "d.jsonl").write_text("".join(_json.dumps(r) + "\n" for r in rows))
    recipe = tmp_path / "r.yaml"
    recipe.write_text(yaml.safe_dump({
        "name": "ml", "sources": [{"path": "d.jsonl"}],
        "fields": {"id": "id", "text": "q", "label": "tags"},
        "split": {"method": "stratified"}, "audit": {"fail_on": "never"}}))
    result = build(recipe, out=tmp_path / "out")
    labels = result.manifest["stages"]["split"]["labels"]
    for label, n in (("math", 300), ("code", 300)):
        counts = labels[label]
        assert sum(counts.values()) == n
        assert abs(counts["test"] - 0.1 * n) <= 2 and abs(counts["val"] - 0.1 * n) <= 2
    test = pq.read_table(result.path / "test.parquet")
    assert set(test.column("sf_label").to_pylist()) == {"math", "code", "code|math", ""}
    assert test.column("tags").type.value_type == "string"  # the output keeps the list


def test_rows_the_audit_links_across_folds_are_joined_into_one_fold(tmp_path):
    from splitforge.audit.run import fold_leak_links  # noqa: F401  the check the build runs
    from tests.conftest import REPO

    recipe = tmp_path / "r.yaml"
    recipe.write_text(yaml.safe_dump({
        "name": "cvlinks", "sources": [{"path": str(REPO / "data" / "oss_commits_sample.jsonl")}],
        "fields": {"id": "sha", "text": "{subject}\n{body}"}, "dedup": {"exact": True},
        "split": {"method": "random", "folds": 5}, "output": {"dir": str(tmp_path / "out")}}))
    result = build(recipe)
    info = result.manifest["stages"]["split"]["folds"]
    # exact dedup alone leaves near copies ("Update README.md" and friends) in other units:
    # the audit of each fold against the others finds them, and they are joined
    assert info["leak_links_joined"] > 0 and info["leak_links_left"] == 0
    train = pq.read_table(result.path / "train.parquet")
    assert sum(info["rows"]) == train.num_rows
    without = build(recipe, overrides={"audit.methods": []}).manifest["stages"]["split"]["folds"]
    assert without["leak_links_joined"] == 0  # no audit, no links: the plain unit hash
