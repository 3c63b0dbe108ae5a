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
