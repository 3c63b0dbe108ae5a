"""`splitforge verify` catches a changed byte, a deleted file and an added file."""

import shutil

from typer.testing import CliRunner

from splitforge import build
from splitforge.cli import app
from tests.conftest import REPO

runner = CliRunner()


def test_verify_catches_changed_removed_and_added_files(tmp_path):
    folder = build(REPO / "recipes" / "gsm8k-random.yaml", out=tmp_path / "out").path
    copy = tmp_path / "copy"
    shutil.copytree(folder, copy)
    ok = runner.invoke(app, ["verify", str(copy)])
    assert ok.exit_code == 0 and "ok: build" in ok.output
    data = bytearray((copy / "test.parquet").read_bytes())
    data[len(data) // 2] ^= 1  # one bit of one byte
    (copy / "test.parquet").write_bytes(bytes(data))
    (copy / "removed.parquet").unlink()
    (copy / "notes.txt").write_text("added by hand", encoding="utf-8")
    bad = runner.invoke(app, ["verify", str(copy)])
    assert bad.exit_code == 1
    assert "changed: test.parquet" in bad.output
    assert "removed: removed.parquet" in bad.output
    assert "added: notes.txt" in bad.output
    assert runner.invoke(app, ["verify", str(folder)]).exit_code == 0  # the original is intact


def test_verify_of_a_folder_without_manifest_is_bad_input(tmp_path):
    result = runner.invoke(app, ["verify", str(tmp_path)])
    assert result.exit_code == 2 and "no manifest.json" in result.output
    (tmp_path / "manifest.json").write_text("{not json", encoding="utf-8")
    broken = runner.invoke(app, ["verify", str(tmp_path)])
    assert broken.exit_code == 2 and "not a splitforge manifest" in broken.output


def test_report_and_diff_of_a_broken_manifest_are_bad_input(tmp_path):
    (tmp_path / "manifest.json").write_text("{not json", encoding="utf-8")
    for args in (["report", str(tmp_path)], ["diff", str(tmp_path), str(tmp_path)]):
        result = runner.invoke(app, args)
        assert result.exit_code == 2, result.output
        assert "not a splitforge manifest" in result.output and "Traceback" not in result.output
