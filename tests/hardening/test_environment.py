"""Environment errors (#24 item 7, #16 item 6): a folder that cannot be written, a full disk, a
file that cannot be read and a lone surrogate are exit 2 with a message, and leave nothing."""

import errno

import pytest
from typer.testing import CliRunner

from splitforge import build
from splitforge.cli import app
from tests.conftest import REPO, write_jsonl, write_recipe

runner = CliRunner()
# /proc takes no new folders, whoever runs the tests (root ignores a read-only mode bit).
UNWRITABLE = "/proc/splitforge-test"


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    return build(REPO / "recipes" / "gsm8k-random.yaml",
                 out=tmp_path_factory.mktemp("env") / "out").path


def _no_traceback(result):
    return result.exception is None or isinstance(result.exception, SystemExit)


def test_every_command_refuses_an_unwritable_output_folder(tmp_path, built):
    rows = [{"text": f"question {i} about the weather on day {i}"} for i in range(30)]
    data = write_jsonl(tmp_path / "d.jsonl", rows)
    recipe = write_recipe(tmp_path, sources=[{"path": "d.jsonl"}], fields={"text": "text"},
                          output={"dir": UNWRITABLE})
    for args in (["build", str(recipe)],
                 ["dedup", str(data), "--text", "text", "--out", f"{UNWRITABLE}/d"],
                 ["challenge", str(built), "--out", f"{UNWRITABLE}/c"],
                 ["audit", "--methods", "exact,ngram,minhash", "--train", str(data), "--eval", str(data), "--text", "text",
                  "--report", f"{UNWRITABLE}/a"]):
        result = runner.invoke(app, args)
        assert result.exit_code == 2, (args, result.output)
        assert "/proc" in result.output and _no_traceback(result), (args, result.output)


def test_a_full_disk_while_writing_is_exit_2_and_leaves_no_staging(tmp_path, monkeypatch):
    rows = [{"text": f"question {i} about the weather on day {i}"} for i in range(30)]
    write_jsonl(tmp_path / "d.jsonl", rows)
    recipe = write_recipe(tmp_path, sources=[{"path": "d.jsonl"}], fields={"text": "text"})

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device", str(tmp_path / "out"))

    monkeypatch.setattr("splitforge.pipeline.write_card", full)
    result = runner.invoke(app, ["build", str(recipe)])
    assert result.exit_code == 2 and "No space left on device" in result.output, result.output
    assert _no_traceback(result)
    out = tmp_path / "out"
    assert not [p for p in out.rglob("*") if p.is_file() and p.name != ".lock"
                and ".cache" not in p.relative_to(out).parts]  # whole cache entries may stay
    assert not [p for p in out.rglob(".tmp-*")]


def test_a_full_disk_for_the_audit_report_is_exit_2(tmp_path, monkeypatch):
    data = write_jsonl(tmp_path / "d.jsonl", [{"text": "how do I reset my password"}])

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device", str(tmp_path / "r"))

    monkeypatch.setattr("splitforge.audit.run.write_audit_report", full)
    result = runner.invoke(app, ["audit", "--methods", "exact,ngram,minhash", "--train", str(data), "--eval", str(data), "--text",
                                 "text", "--report", str(tmp_path / "r"), "--fail-on", "never"])
    assert result.exit_code == 2 and "No space left" in result.output, result.output
    assert not (tmp_path / "r").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".tmp-")]


def test_an_unreadable_source_fails_validate(tmp_path, monkeypatch):
    import os

    write_jsonl(tmp_path / "d.jsonl", [{"text": "alpha"}])
    recipe = write_recipe(tmp_path, sources=[{"path": "d.jsonl"}], fields={"text": "text"})
    real = os.access
    # The tests may run as root, whom no mode bit stops: the permission check itself is faked.
    monkeypatch.setattr(os, "access", lambda p, mode: False if str(p).endswith("d.jsonl")
                        else real(p, mode))
    result = runner.invoke(app, ["validate", str(recipe)])
    assert result.exit_code == 2 and "d.jsonl cannot be read (permission denied)" in \
        result.output


@pytest.mark.parametrize("on_error", ["fail", "skip"])
def test_a_lone_surrogate_is_a_bad_row(tmp_path, on_error):
    (tmp_path / "d.jsonl").write_text(
        '{"id": "a", "text": "hello world"}\n{"id": "b", "text": "bad \\ud800 here"}\n'
        '{"id": "c", "text": "fine text"}\n', encoding="utf-8")
    recipe = write_recipe(tmp_path, sources=[{"path": "d.jsonl", "on_error": on_error}],
                          fields={"id": "id", "text": "text"})
    result = runner.invoke(app, ["build", str(recipe)])
    if on_error == "fail":
        assert result.exit_code == 2 and "d.jsonl:2" in result.output
        assert "lone surrogate" in result.output
    else:
        assert result.exit_code == 0, result.output
        assert "rejected" in result.output
    assert _no_traceback(result)


def test_a_lone_surrogate_in_a_json_document_is_a_bad_record(tmp_path):
    (tmp_path / "s.json").write_text('[{"text": "hello \\ud800 world"}, {"text": "fine"}]',
                                     encoding="utf-8")
    result = runner.invoke(app, ["dedup", str(tmp_path / "s.json"), "--text", "text", "--out",
                                 str(tmp_path / "d")])
    assert result.exit_code == 2 and "lone surrogate" in result.output, result.output
    assert _no_traceback(result)


def test_a_lone_surrogate_in_a_training_file_is_named_at_its_line(tmp_path):
    (tmp_path / "t.jsonl").write_text('{"text": "hello world"}\n{"text": "bad \\ud800 x"}\n',
                                      encoding="utf-8")
    write_jsonl(tmp_path / "e.jsonl", [{"text": "alpha beta gamma"}])
    result = runner.invoke(app, ["audit", "--methods", "exact,ngram,minhash", "--train", str(tmp_path / "t.jsonl"), "--eval",
                                 str(tmp_path / "e.jsonl"), "--text", "text"])
    assert result.exit_code == 2 and "t.jsonl:2" in result.output and "lone surrogate" in \
        result.output, result.output
