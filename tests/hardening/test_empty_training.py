"""An empty training file is bad input (exit 2) in every format, never a passed gate (#16.8)."""

import gzip

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from splitforge.cli import app
from tests.conftest import write_jsonl, write_recipe


def _empty(path):
    if path.suffix == ".parquet":
        pq.write_table(pa.table({"text": pa.array([], pa.string())}), path)
    elif path.suffix == ".gz":
        with gzip.open(path, "wt") as handle:
            handle.write("")
    else:
        path.write_text("", encoding="utf-8")
    return path


@pytest.mark.parametrize("name", ["train.parquet", "train.jsonl", "train.jsonl.gz"])
def test_an_empty_training_file_fails_the_audit_with_a_message(tmp_path, name):
    train = _empty(tmp_path / name)
    evals = write_jsonl(tmp_path / "eval.jsonl", [{"text": "how do I reset my password"}])
    result = CliRunner().invoke(app, ["audit", "--methods", "exact,ngram,minhash", "--train", str(train), "--eval", str(evals),
                                      "--text", "text"])
    assert result.exit_code == 2, result.output
    assert name in result.output and ("no rows" in result.output or "Empty" in result.output)


def test_an_empty_audit_against_file_fails_the_build(tmp_path):
    rows = [{"id": f"r{i}", "text": f"ticket number {i} about a login problem on day {i}"}
            for i in range(30)]
    write_jsonl(tmp_path / "d.jsonl", rows)
    _empty(tmp_path / "corpus.parquet")
    recipe = write_recipe(tmp_path, sources=[{"path": "d.jsonl"}],
                          fields={"id": "id", "text": "text"},
                          audit={"against": ["corpus.parquet"]})
    result = CliRunner().invoke(app, ["build", str(recipe)])
    assert result.exit_code == 2, result.output
    assert "corpus.parquet: holds no rows" in result.output
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").rglob("manifest.json"))
