"""Path confinement (#16 items 3, 4, 5; #24 item 8): tampered manifests and links never make a
command write outside its target folder, and ``verify`` sees an edited manifest."""

import json
import os
import shutil

import pytest
from typer.testing import CliRunner

from splitforge import build
from splitforge.write.manifest import SIDECAR
from tests.conftest import REPO, folder_bytes

runner = CliRunner()


def _app():
    from splitforge.cli import app

    return app


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    root = tmp_path_factory.mktemp("confine")
    return build(REPO / "recipes" / "gsm8k-random.yaml", out=root / "out").path


@pytest.fixture
def copy(built, tmp_path):
    """A private copy of the build, inside a sandbox whose every other byte is watched."""
    sandbox = tmp_path / "sandbox"
    folder = sandbox / "out" / "g" / built.name
    shutil.copytree(built, folder)
    (sandbox / "outside.txt").write_text("the user's file", encoding="utf-8")
    return folder


def _snapshot(sandbox, skip=()):
    return {k: v for k, v in folder_bytes(sandbox).items()
            if not any(k.startswith(s) for s in skip)}


def _edit_manifest(folder, **changes):
    path = folder / "manifest.json"
    manifest = json.loads(path.read_text(encoding="utf-8"))
    manifest.update(changes)
    path.write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n", encoding="utf-8")


def _commands(folder, tmp_path):
    train = tmp_path / "train.jsonl"
    train.write_text(json.dumps({"question": "How many apples does Ann have left?"}) + "\n",
                     encoding="utf-8")
    return [["verify", str(folder)], ["report", str(folder)],
            ["diff", str(folder), str(folder)],
            ["challenge", str(folder), "--out", str(tmp_path / "sets")],
            ["audit", "--methods", "exact,ngram,minhash", "--build", str(folder), "--train", str(train), "--train-text", "question"]]


@pytest.mark.parametrize("build_id", ["../../evil", "/tmp/evil", "..", "a/b", "abc\n"])
def test_a_build_id_that_is_a_path_is_refused_by_every_command(copy, tmp_path, build_id):
    _edit_manifest(copy, build_id=build_id)
    sandbox = copy.parents[2]
    before = _snapshot(sandbox)
    for args in _commands(copy, tmp_path):
        result = runner.invoke(_app(), args)
        assert result.exit_code == 2, (args, result.output)
        assert "is not a build id" in result.output, (args, result.output)
    assert _snapshot(sandbox) == before
    assert not (tmp_path / "evil").exists() and not (sandbox.parent / "evil").exists()


def test_an_output_path_outside_the_folder_is_refused(copy, tmp_path):
    path = copy / "manifest.json"
    manifest = json.loads(path.read_text(encoding="utf-8"))
    manifest["outputs"]["../../outside.txt"] = {"sha256": "0" * 64, "bytes": 1}
    path.write_text(json.dumps(manifest), encoding="utf-8")
    for args in _commands(copy, tmp_path):
        result = runner.invoke(_app(), args)
        assert result.exit_code == 2 and "lies outside the build folder" in result.output, args


def test_report_replaces_a_link_instead_of_writing_through_it(copy):
    sandbox = copy.parents[2]
    target = sandbox / "outside.txt"
    (copy / "report.html").unlink()
    (copy / "report.html").symlink_to(target)
    result = runner.invoke(_app(), ["report", str(copy)])
    assert result.exit_code == 0, result.output
    assert target.read_text(encoding="utf-8") == "the user's file"
    assert not (copy / "report.html").is_symlink()
    assert "<html" in (copy / "report.html").read_text(encoding="utf-8")


def test_report_writes_a_new_file_not_into_the_old_one(copy):
    # A hard link shares the file's bytes: writing in place would change both names.
    sandbox = copy.parents[2]
    os.link(copy / "report.md", sandbox / "kept-report.md")
    old = (sandbox / "kept-report.md").read_bytes()
    (copy / "report.md").write_text("stale", encoding="utf-8")  # both names now say "stale"
    result = runner.invoke(_app(), ["report", str(copy)])
    assert result.exit_code == 0, result.output
    assert (sandbox / "kept-report.md").read_text(encoding="utf-8") == "stale"
    assert (copy / "report.md").read_bytes() == old
    assert not [p for p in copy.iterdir() if ".tmp-" in p.name]


@pytest.mark.parametrize("edit", [{"seed": 99}, {"counts": {"rows_loaded": 1}},
                                  {"name": "other"}])
def test_verify_sees_an_edited_manifest(copy, edit):
    assert runner.invoke(_app(), ["verify", str(copy)]).exit_code == 0
    _edit_manifest(copy, **edit)
    result = runner.invoke(_app(), ["verify", str(copy)])
    assert result.exit_code == 1
    assert "manifest: manifest.json was edited after it was written" in result.output


def test_verify_recomputes_the_build_id_even_when_the_hash_was_rewritten(copy):
    from splitforge.fingerprint import sha256_file

    _edit_manifest(copy, build_id="0123456789ab", seed=5)
    (copy / SIDECAR).write_text(f"{sha256_file(copy / 'manifest.json')}  manifest.json\n",
                                encoding="utf-8")
    result = runner.invoke(_app(), ["verify", str(copy)])
    assert result.exit_code == 1
    assert "the build_id '0123456789ab' is not the id" in " ".join(result.output.split())


def test_verify_misses_no_sidecar(copy):
    (copy / SIDECAR).unlink()
    result = runner.invoke(_app(), ["verify", str(copy)])
    assert result.exit_code == 1 and "manifest.sha256 is missing" in result.output


def test_a_corrupted_parquet_is_a_message_for_every_reader(copy, tmp_path):
    # #16 item 6: report, diff, challenge and audit --build check the hashes before reading.
    data = bytearray((copy / "test.parquet").read_bytes())
    data[len(data) // 2] ^= 0xFF
    (copy / "test.parquet").write_bytes(bytes(data))
    for args in _commands(copy, tmp_path)[1:]:
        result = runner.invoke(_app(), args)
        assert result.exit_code == 2, (args, result.output)
        assert "differ from its manifest (test.parquet)" in result.output, args
        assert result.exception is None or isinstance(result.exception, SystemExit), args
    assert runner.invoke(_app(), ["verify", str(copy)]).exit_code == 1


def test_an_output_entry_that_is_no_record_is_a_message(copy, tmp_path):
    path = copy / "manifest.json"
    manifest = json.loads(path.read_text(encoding="utf-8"))
    manifest["outputs"]["train.parquet"] = "abc"
    path.write_text(json.dumps(manifest), encoding="utf-8")
    for args in _commands(copy, tmp_path):
        result = runner.invoke(_app(), args)
        assert result.exit_code == 2 and "has no sha256" in result.output, (args, result.output)

