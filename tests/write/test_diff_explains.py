"""`splitforge diff` explains a new version: new rows kept or removed (by reason), rows between
a split and removed.parquet, the fields changed items differ in, and the split's cutoff moves.

Real builds of the quickstart recipe (real commit messages, temporal split with a 7-day gap): a
build on the first 95% of the lines, then a 5% refresh with a few rows edited (no challenge
sets and parquet only, to keep each build to a few seconds)."""

import json

import pyarrow.parquet as pq
import pytest
import yaml
from typer.testing import CliRunner

from splitforge import build
from splitforge.cli import app
from tests.conftest import REPO

runner = CliRunner()
DATA = REPO / "data" / "oss_commits_sample.jsonl"


def recipe_for(folder, lines):
    folder.mkdir()
    data = folder / "data.jsonl"
    data.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    recipe = yaml.safe_load((REPO / "recipes" / "quickstart.yaml").read_text(encoding="utf-8"))
    recipe["sources"] = [{"path": str(data)}]
    recipe["output"] = {"dir": str(folder / "out"), "formats": ["parquet"]}
    del recipe["challenge"]  # compared by tests/write/test_diff.py; here it only costs seconds
    path = folder / "recipe.yaml"
    path.write_text(yaml.safe_dump(recipe, sort_keys=False), encoding="utf-8")
    return path


def ids(path):
    return set(pq.read_table(path, columns=["sf_id"]).column("sf_id").to_pylist())


def reasons(build_dir):
    table = pq.read_table(build_dir / "removed.parquet", columns=["sf_id", "sf_stage",
                                                                  "sf_reason"]).to_pylist()
    return {r["sf_id"]: f"{r['sf_stage']}:{r['sf_reason']}" for r in table}


def manifest(build_dir):
    return json.loads((build_dir / "manifest.json").read_text(encoding="utf-8"))


def diff_json(old, new):
    result = runner.invoke(app, ["diff", str(old), str(new), "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


@pytest.fixture(scope="module")
def refresh(tmp_path_factory):
    root = tmp_path_factory.mktemp("refresh")
    lines = DATA.read_text(encoding="utf-8").splitlines()
    cut = len(lines) * 95 // 100
    old = build(recipe_for(root / "old", lines[:cut]), out=root / "old" / "out").path
    # edit three authors and two commit dates (not the text or time: dedup and split unchanged)
    early = sorted(ids(old / "train.parquet"))[:4]
    rows = [json.loads(line) for line in lines]
    edited = {"author": set(early[:3]), "commit_date": set(early[2:4])}
    for row in rows:
        if row["sha"] in edited["author"]:
            row["author"] += " (mailmap)"
        if row["sha"] in edited["commit_date"]:
            row["commit_date"] = "2000-01-01T00:00:00+00:00"
    new_lines = [json.dumps(r, ensure_ascii=False) for r in rows]
    new = build(recipe_for(root / "new", new_lines), out=root / "new" / "out").path
    fresh = {json.loads(line)["sha"] for line in lines[cut:]}
    return old, new, fresh, edited


def test_added_rows_are_told_apart_new_kept_new_removed_and_back_from_removed(refresh):
    old, new, fresh, _ = refresh
    report = diff_json(old, new)
    items, new_rows, moves = report["items"], report["new_rows"], report["transitions"]
    old_removed, new_removed = reasons(old), reasons(new)
    # every appended line is a new row of the data: in a split of NEW or in its removed.parquet
    assert new_rows["count"] == len(fresh) == new_rows["kept"]["count"] + \
        new_rows["removed"]["count"]
    assert set(new_rows["kept"]["examples"]) <= fresh
    assert set(new_rows["removed"]["examples"]) <= fresh
    assert new_rows["removed"]["count"] == sum(1 for i in fresh if i in new_removed)
    assert new_rows["removed"]["by_reason"] == {
        k: sum(1 for i in fresh if new_removed.get(i) == k) for k in set(new_removed.values())
        if any(new_removed.get(i) == k for i in fresh)}
    assert sum(new_rows["kept"]["by_split"].values()) == new_rows["kept"]["count"]
    # "added" = new rows that got in + old rows that OLD removed and NEW keeps
    assert items["added"]["new_in_data"] == new_rows["kept"]["count"]
    assert items["added"]["was_removed"] == moves["removed_to_kept"]["count"] > 0
    assert items["added"]["count"] == items["added"]["new_in_data"] + \
        items["added"]["was_removed"]
    back = moves["removed_to_kept"]
    assert set(back["examples"]) <= set(old_removed) - fresh
    assert sum(back["by_reason"].values()) == back["count"]
    assert back["by_reason"].get("split:temporal_gap", 0) > 0  # the gap before a moved cutoff
    # the refresh drops no old row from the data: all removed items went to removed.parquet
    gone = moves["kept_to_removed"]
    assert items["removed"]["gone_from_data"] == moves["gone_from_data"]["count"] == 0
    assert items["removed"]["now_removed"] == gone["count"] == items["removed"]["count"] > 0
    assert all(new_removed[i] == "split:temporal_gap" for i in gone["examples"])
    assert gone["by_reason"] == {"split:temporal_gap": gone["count"]}


def test_changed_items_are_counted_per_field(refresh):
    old, new, _, edited = refresh
    changed = diff_json(old, new)["items"]["changed"]
    assert changed["by_field"] == {"author": 3, "commit_date": 2}
    assert changed["count"] == 4 and set(changed["examples"]) == edited["author"] | \
        edited["commit_date"]


def test_cutoff_moves_are_reported_and_explain_the_moves(refresh):
    old, new, _, _ = refresh
    report = diff_json(old, new)
    before = manifest(old)["stages"]["split"]["cutoffs"]
    after = manifest(new)["stages"]["split"]["cutoffs"]
    assert before["val"] != after["val"]
    split = report["split"]
    assert split["old"]["method"] == split["new"]["method"] == "temporal"
    assert split["changed"]["cutoffs.val"] == {"old": before["val"], "new": after["val"]}
    assert ("cutoffs.test" in split["changed"]) == (before["test"] != after["test"])
    assert "gap" not in split["changed"] and "method" not in split["changed"]
    moved = report["items"]["moved"]
    assert sum(moved["by_cause"].values()) == moved["count"] > 0
    # cutoffs moved later: the rows between the old and new val cutoff went val -> train
    assert moved["by_cause"].get("val cutoff", 0) == moved["by_move"].get("val->train", 0) > 0
    shown = runner.invoke(app, ["diff", str(old), str(new)])
    assert shown.exit_code == 0, shown.output
    text = " ".join(shown.output.split())
    assert f"split cutoffs.val: {before['val']} -> {after['val']}" in text
    assert "changed fields: author 3, commit_date 2" in text
    assert f"new rows in the data: {report['new_rows']['count']:,}" in text
    assert f"{report['items']['added']['new_in_data']:,} new in the data" in text
    assert "by cause: " in text and "val cutoff" in text


def test_a_wider_gap_on_the_same_data_is_a_gap_change_with_no_new_rows(refresh, tmp_path):
    old, _, _, _ = refresh
    recipe = manifest(old)["recipe"]
    lines = (old.parents[2] / "data.jsonl").read_text(encoding="utf-8").splitlines()
    wider = build(recipe_for(tmp_path / "gap", lines), out=tmp_path / "out",
                  overrides={"split.gap": "21d"}).path
    assert recipe["split"]["gap"] == "7d"
    report = diff_json(old, wider)
    assert report["split"]["changed"]["gap"] == {"old": "7d", "new": "21d"}
    assert report["new_rows"]["count"] == 0 and report["items"]["added"]["new_in_data"] == 0
    assert report["items"]["removed"]["gone_from_data"] == 0
    gone = report["transitions"]["kept_to_removed"]
    assert gone["count"] == report["items"]["removed"]["count"] > 0
    assert gone["by_reason"].get("split:temporal_gap", 0) > 0
    shown = runner.invoke(app, ["diff", str(old), str(wider)])
    assert "split gap: 7d -> 21d" in " ".join(shown.output.split())
