"""`splitforge diff` reports exactly the planted changes between two builds."""

import json

from typer.testing import CliRunner

from splitforge import build
from splitforge.cli import app
from tests.conftest import REPO, write_jsonl, write_recipe

runner = CliRunner()


def gsm8k():
    lines = (REPO / "data" / "gsm8k_train_2k.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines]


def built(tmp_path, name, rows):
    folder = tmp_path / name
    folder.mkdir()
    data = write_jsonl(folder / "data.jsonl", rows)
    recipe = write_recipe(folder, sources=[{"path": str(data)}],
                          fields={"id": "idx", "text": "question"},
                          split={"method": "random", "ratios": {"train": 0.8, "val": 0.1,
                                                                "test": 0.1}},
                          challenge={"size": 40})
    return build(recipe, out=folder / "out").path


def test_diff_reports_exactly_the_planted_ten_percent(tmp_path):
    rows = gsm8k()
    old_rows = rows[:1000]
    new_rows = [dict(r) for r in old_rows[40:]] + [dict(r) for r in rows[1000:1040]]
    changed = {str(r["idx"]) for r in new_rows[:20]}
    for r in new_rows[:20]:
        r["answer"] = r["answer"] + " (corrected)"  # same id and question, new content
    old = built(tmp_path, "old", old_rows)
    new = built(tmp_path, "new", new_rows)
    result = runner.invoke(app, ["diff", str(old), str(new), "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    items = report["items"]
    assert items["removed"]["count"] == 40
    assert items["added"]["count"] == 40
    assert items["changed"]["count"] == 20
    assert set(items["changed"]["examples"]) <= changed
    assert items["moved"]["count"] == 0  # hash-based splits: nothing else moves
    assert items["unchanged"] == 1000 - 40 - 20
    assert sum(s["added"] for s in report["splits"].values()) == 40
    assert set(report["challenge"]) == {"edge", "ood", "temporal", "adversarial"}
    same = json.loads(runner.invoke(app, ["diff", str(old), str(old), "--json"]).output)
    assert all(same["items"][k]["count"] == 0 for k in ("added", "removed", "moved", "changed"))
    shown = runner.invoke(app, ["diff", str(old), str(new)])
    assert shown.exit_code == 0 and "changed" in shown.output and "40" in shown.output
    missing = runner.invoke(app, ["diff", str(old), str(tmp_path)])
    assert missing.exit_code == 2 and "no manifest.json" in missing.output


def test_a_new_field_on_one_row_does_not_change_the_others_and_moves_are_reported(tmp_path):
    rows = gsm8k()[:300]
    old = built(tmp_path, "old", rows)
    new_rows = [dict(r) for r in rows]
    new_rows[0]["note"] = "added field"  # null in every other row of the new build
    new = built(tmp_path, "new", new_rows)
    report = json.loads(runner.invoke(app, ["diff", str(old), str(new), "--json"]).output)
    assert report["items"]["changed"]["count"] == 1
    assert report["items"]["changed"]["examples"] == [str(rows[0]["idx"])]
    folder = tmp_path / "moved"
    folder.mkdir()
    recipe = write_recipe(folder, sources=[{"path": str(folder.parent / "old" / "data.jsonl")}],
                          fields={"id": "idx", "text": "question"},
                          split={"method": "random", "ratios": {"train": 0.5, "val": 0.1,
                                                                "test": 0.4}})
    moved = build(recipe, out=folder / "out").path
    report = json.loads(runner.invoke(app, ["diff", str(old), str(moved), "--json"]).output)
    by_move = report["items"]["moved"]["by_move"]
    assert report["items"]["moved"]["count"] == sum(by_move.values()) > 0
    assert by_move.get("train->test", 0) > 0


def test_diff_of_a_build_with_a_deleted_split_file_is_input_error(tmp_path):
    old = built(tmp_path, "old", gsm8k()[:200])
    (old / "val.parquet").unlink()
    result = runner.invoke(app, ["diff", str(old), str(old)])
    assert result.exit_code == 2 and "the build's files differ from its manifest (val.parquet)" \
        in result.output and "splitforge verify" in result.output


def test_redistributed_edge_items_are_counted_per_rule(tmp_path):
    # no time field: temporal falls short and its share goes to the other kinds in more rounds
    path = built(tmp_path, "b", gsm8k())
    info = json.loads((path / "manifest.json").read_text(encoding="utf-8"))["stages"]["challenge"]
    edge = info["kinds"]["edge"]
    assert info["picked"]["temporal"] == 0 and edge.get("rounds", 1) > 1
    per_rule = sum(r["picked"] for r in edge["rules"].values())
    assert per_rule == info["picked"]["edge"]
