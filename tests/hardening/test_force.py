"""`--force` replaces only folders splitforge wrote, never a folder holding the inputs (#16.1)."""

import pytest
from typer.testing import CliRunner

from splitforge.cli import app
from splitforge.write import MARKER
from tests.conftest import folder_bytes, real_data, write_jsonl, write_recipe

runner = CliRunner()


@pytest.fixture
def data(tmp_path):
    """A folder d/ with real GSM8K rows as train and eval files."""
    d = tmp_path / "d"
    d.mkdir()
    lines = real_data("eval/gsm8k_test.jsonl").read_text(encoding="utf-8").splitlines()
    (d / "train.jsonl").write_text("\n".join(lines[:200]) + "\n", encoding="utf-8")
    (d / "eval.jsonl").write_text("\n".join(lines[150:250]) + "\n", encoding="utf-8")
    return d


def _refused(args, match):
    result = runner.invoke(app, args)
    assert result.exit_code == 2, result.output
    assert match in result.stderr
    assert "Traceback" not in result.output
    return result


def test_audit_report_into_the_inputs_folder_is_refused_and_loses_nothing(data):
    before = folder_bytes(data)
    _refused(["audit", "--train", str(data / "train.jsonl"), "--eval", str(data / "eval.jsonl"),
              "--text", "question", "--report", str(data), "--force"], "holds the input")
    assert folder_bytes(data) == before


def test_report_into_the_current_folder_is_refused(data, monkeypatch):
    monkeypatch.chdir(data)
    before = folder_bytes(data)
    _refused(["audit", "--train", "train.jsonl", "--eval", "eval.jsonl", "--text", "question",
              "--report", str(data.parent), "--force"], "holds the input")
    other = data / "empty-here"
    other.mkdir()
    monkeypatch.chdir(other)
    _refused(["audit", "--train", str(data / "train.jsonl"), "--eval", str(data / "eval.jsonl"),
              "--text", "question", "--report", str(other), "--force"],
             "is the current folder or a parent of it")
    assert other.is_dir()
    assert folder_bytes(data) == before


def test_dedup_out_onto_its_input_folder_is_refused(data):
    before = folder_bytes(data)
    _refused(["dedup", str(data / "train.jsonl"), "--text", "question", "--out", str(data),
              "--force"], "holds the input")
    assert folder_bytes(data) == before


def test_force_replaces_only_a_folder_splitforge_wrote(data, tmp_path):
    mine = tmp_path / "notes"
    mine.mkdir()
    (mine / "todo.txt").write_text("my own file")
    _refused(["dedup", str(data / "train.jsonl"), "--text", "question", "--out", str(mine),
              "--force"], f"has no {MARKER} marker")
    assert (mine / "todo.txt").read_text() == "my own file"
    out = tmp_path / "deduped"
    first = runner.invoke(app, ["dedup", str(data / "train.jsonl"), "--text", "question",
                                "--out", str(out)])
    assert first.exit_code == 0, first.output
    assert (out / MARKER).is_file()
    again = runner.invoke(app, ["dedup", str(data / "train.jsonl"), "--text", "question",
                                "--out", str(out), "--force"])
    assert again.exit_code == 0, again.output
    link = tmp_path / "link"
    link.symlink_to(out, target_is_directory=True)
    _refused(["dedup", str(data / "train.jsonl"), "--text", "question", "--out", str(link),
              "--force"], "is a symbolic link")
    assert (out / "deduplicated.parquet").is_file()


def test_a_real_latest_folder_is_refused_not_deleted(tmp_path):
    rows = [{"id": f"r{i}", "q": f"question number {i}"} for i in range(60)]
    write_jsonl(tmp_path / "d.jsonl", rows)
    recipe = write_recipe(tmp_path, sources=[{"path": "d.jsonl"}], fields={"id": "id", "text": "q"})
    latest = tmp_path / "out" / "t" / "latest"
    latest.mkdir(parents=True)
    (latest / "keep.txt").write_text("mine")
    _refused(["build", str(recipe)], "a real folder where splitforge keeps a link")
    assert (latest / "keep.txt").read_text() == "mine"
    assert not [p for p in latest.parent.iterdir() if p.name != "latest"]


def test_a_nothing_changed_build_still_points_latest_at_itself(tmp_path):
    rows = [{"id": f"r{i}", "q": f"question number {i}"} for i in range(60)]
    write_jsonl(tmp_path / "d.jsonl", rows)
    recipe = write_recipe(tmp_path, sources=[{"path": "d.jsonl"}], fields={"id": "id", "text": "q"})
    first = runner.invoke(app, ["build", str(recipe)])
    second = runner.invoke(app, ["build", str(recipe), "--seed", "3"])
    assert first.exit_code == second.exit_code == 0
    latest = tmp_path / "out" / "t" / "latest"
    versions = sorted(p.name for p in latest.parent.iterdir() if p.name != "latest")
    assert len(versions) == 2
    seed3 = latest.resolve().name
    again = runner.invoke(app, ["build", str(recipe)])  # the first version: nothing changed
    assert again.exit_code == 0 and "nothing changed" in again.stdout
    assert latest.resolve().name != seed3 and latest.resolve().name in versions
