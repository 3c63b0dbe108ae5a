"""Every fix the build's audit gate prints works when applied as printed (#13 item 7)."""

import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from splitforge import build
from splitforge.cli import app
from tests.audit.test_build_audit import recipe
from tests.conftest import write_jsonl


def _leaky_corpus(tmp_path):
    """A web page holding one test question whole and a third of another's 13-grams (suspect)."""
    built = build(recipe(tmp_path, {}), out=tmp_path / "first")
    test_rows = pq.read_table(built.path / "test.parquet").to_pylist()
    words = max((r["question"].split() for r in test_rows[1:]), key=len)
    part = " ".join(words[: 12 + round(0.35 * (len(words) - 12))])
    return write_jsonl(tmp_path / "web.jsonl", [
        {"question": "scraped page: " + test_rows[0]["question"] + " and more text around it"},
        {"question": "another page quoting " + part + " before it moves on to other things"},
    ])


def _build(path, *overrides):
    return CliRunner().invoke(app, ["build", str(path), *overrides])


@pytest.mark.parametrize(("audit", "fixes"), [
    ({"on_contaminated": "fail"}, [
        ("set audit.on_contaminated: remove", ["--audit.on_contaminated", "remove"]),
        ("on_contaminated: keep with audit.fail_on: never",
         ["--audit.on_contaminated", "keep", "--audit.fail_on", "never"])]),
    ({"on_contaminated": "keep", "fail_on": "contaminated"}, [
        ("set audit.on_contaminated: remove", ["--audit.on_contaminated", "remove"]),
        ("audit.fail_on: never", ["--audit.fail_on", "never"])]),
    ({"on_contaminated": "remove", "fail_on": "suspect"}, [
        ("raise audit.fail_on to contaminated", ["--audit.fail_on", "contaminated"]),
        ("or set it to never", ["--audit.fail_on", "never"])]),
])
def test_each_printed_fix_makes_the_build_pass(tmp_path, audit, fixes):
    web = _leaky_corpus(tmp_path)
    path = recipe(tmp_path, {"against": [str(web)], **audit})
    failed = _build(path)
    assert failed.exit_code == 1, failed.output
    message = " ".join(failed.output.split())
    for phrase, overrides in fixes:
        assert phrase in message, (phrase, message)
        fixed = _build(path, *overrides)
        assert fixed.exit_code == 0, (overrides, fixed.output)
        assert "output:" in fixed.output
