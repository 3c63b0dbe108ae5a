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
    _refused(["audit", "--methods", "exact,ngram,minhash", "--train", str(data / "train.jsonl"), "--eval", str(data / "eval.jsonl"),
              "--text", "question", "--report", str(data), "--force"], "holds the input")
    assert folder_bytes(data) == before


def test_report_into_the_current_folder_is_refused(data, monkeypatch):
    monkeypatch.chdir(data)
    before = folder_bytes(data)
    _refused(["audit", "--methods", "exact,ngram,minhash", "--train", "train.jsonl", "--eval", "eval.jsonl", "--text", "question",
              "--report", str(data.parent), "--force"], "holds the input")
    other = data / "empty-here"
    other.mkdir()
    monkeypatch.chdir(other)
    _refused(["audit", "--methods", "exact,ngram,minhash", "--train", str(data / "train.jsonl"), "--eval", str(data / "eval.jsonl"),
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
    _refused(["dedup", str(data / "train.jsonl"), "--text", "question", "--out", str(mine)],
             "already exists and was not written by splitforge")
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
    versions = sorted(p.name for p in latest.parent.iterdir() if p.name not in ("latest", ".lock"))
    assert len(versions) == 2
    seed3 = latest.resolve().name
    again = runner.invoke(app, ["build", str(recipe)])  # the first version: nothing changed
    assert again.exit_code == 0 and "nothing changed" in again.stdout
    assert latest.resolve().name != seed3 and latest.resolve().name in versions


def _small_build(tmp_path):
    rows = [{"id": f"r{i}", "q": f"question number {i}"} for i in range(60)]
    write_jsonl(tmp_path / "d.jsonl", rows)
    recipe = write_recipe(tmp_path, sources=[{"path": "d.jsonl"}], fields={"id": "id", "text": "q"})
    result = runner.invoke(app, ["build", str(recipe)])
    assert result.exit_code == 0, result.output
    return recipe, (tmp_path / "out" / "t" / "latest").resolve()


def test_another_command_never_replaces_a_build_version(tmp_path):
    _, version = _small_build(tmp_path)
    before = folder_bytes(version)
    _refused(["dedup", str(tmp_path / "d.jsonl"), "--text", "q", "--out", str(version), "--force"],
             "holds splitforge build output, not dedup output")
    assert folder_bytes(version) == before
    assert runner.invoke(app, ["verify", str(version)]).exit_code == 0


def test_a_build_version_from_before_the_marker_can_still_be_forced(tmp_path):
    recipe, version = _small_build(tmp_path)
    (version / MARKER).unlink()  # as an older splitforge wrote it: manifest.json only
    again = runner.invoke(app, ["build", str(recipe), "--force"])
    assert again.exit_code == 0, again.output
    assert (version / MARKER).read_text().startswith("splitforge build\n")


def test_an_input_reached_through_a_link_inside_the_target_is_protected(data, tmp_path):
    out = tmp_path / "o1"
    out.mkdir()
    (out / MARKER).write_text("splitforge dedup\n")
    (out / "link.jsonl").symlink_to(data / "train.jsonl")
    _refused(["dedup", str(out / "link.jsonl"), "--text", "question", "--out", str(out),
              "--force"], "holds the input")
    assert (out / "link.jsonl").is_symlink()


def test_challenge_out_onto_a_folder_splitforge_did_not_write_is_refused(tmp_path):
    _, version = _small_build(tmp_path)
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("keep")
    _refused(["challenge", str(version), "--out", str(mine), "--force"],
             "was not written by splitforge")
    assert (mine / "notes.txt").read_text() == "keep"


def test_an_output_inside_a_datasets_folder_input_is_refused(tmp_path):
    import datasets

    folder = tmp_path / "ds"
    datasets.Dataset.from_dict({"q": [f"question number {i}" for i in range(30)]}).save_to_disk(
        str(folder))
    _refused(["dedup", str(folder), "--text", "q", "--out", str(folder / "out")],
             "lies inside the input")


def test_a_nothing_changed_build_leaves_a_real_latest_folder_alone(tmp_path):
    recipe, version = _small_build(tmp_path)
    latest = version.parent / "latest"
    latest.unlink()
    latest.mkdir()
    (latest / "keep.txt").write_text("mine")
    again = runner.invoke(app, ["build", str(recipe)])
    assert again.exit_code == 0 and "nothing changed" in again.stdout
    assert (latest / "keep.txt").read_text() == "mine"
