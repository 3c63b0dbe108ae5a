"""challenge.keep_from: the challenge sets of a version survive a data refresh."""

import json

import pyarrow.parquet as pq
import yaml
from typer.testing import CliRunner

from splitforge.cli import app
from splitforge.pipeline import build
from tests.conftest import REPO


def _recipe(tmp_path, data, name, **challenge):
    recipe = yaml.safe_load((REPO / "recipes" / "quickstart.yaml").read_text())
    recipe["sources"] = [{"path": str(data)}]
    recipe["name"] = name
    recipe["challenge"] = {**recipe["challenge"], "from": ["val", "test"], **challenge}
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(recipe))
    return path


def test_items_whose_source_rows_stay_held_out_are_kept_as_they_were(tmp_path):
    lines = (REPO / "data" / "oss_commits_sample.jsonl").read_text().splitlines(keepends=True)
    first = tmp_path / "first.jsonl"
    first.write_text("".join(lines[: int(len(lines) * 0.95)]))
    full = tmp_path / "full.jsonl"
    full.write_text("".join(lines))
    old = build(_recipe(tmp_path, first, "old"), out=tmp_path / "out").path
    fixed = _recipe(tmp_path, full, "new", keep_from=str(old))
    new = build(fixed, out=tmp_path / "out")
    info = new.manifest["stages"]["challenge"]["kept_from"]
    assert info["build"] == old.name and sum(info["kept"].values()) > 0
    old_items = {r["sf_id"]: r for r in pq.read_table(old / "challenge" / "all.parquet")
                 .to_pylist()}
    new_items = {r["sf_id"]: r for r in pq.read_table(new.path / "challenge" / "all.parquet")
                 .to_pylist()}
    same = [i for i in new_items if i in old_items and new_items[i] == old_items[i]]
    assert len(same) == sum(info["kept"].values())  # kept byte for byte: id, perturbation, seed
    assert len(same) + sum(info["dropped"].values()) == len(old_items)
    assert len(new_items) == 100  # the rest of size filled with new picks
    held_out = {r["sf_id"] for s in ("val", "test")
                for r in pq.read_table(new.path / f"{s}.parquet").to_pylist()}
    assert {new_items[i]["sf_source_id"] for i in same} <= held_out
    # without keep_from, the refresh draws its sets anew: fewer items survive
    fresh = build(_recipe(tmp_path, full, "fresh"), out=tmp_path / "out").path
    fresh_items = {r["sf_id"] for r in pq.read_table(fresh / "challenge" / "all.parquet")
                   .to_pylist()}
    assert len(fresh_items & set(old_items)) < len(same)
    # the old build is an input: the same recipe gives the same id, and verify knows it
    assert build(fixed, out=tmp_path / "out").status == "unchanged"
    assert CliRunner().invoke(app, ["verify", str(new.path)]).exit_code == 0
    manifest = json.loads((new.path / "manifest.json").read_text())
    assert manifest["challenge_kept_from"]["path"] == str(old)
