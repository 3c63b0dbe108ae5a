"""Input that used to be misread silently: epoch units, odd times, blank texts, a file that
changes while the build reads it (#16.2, #16.10, #24.1, #24.4)."""

import json
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from splitforge.cli import app
from splitforge.errors import InputError
from splitforge.pipeline import audit_files, build
from splitforge.progress import NO_PROGRESS
from tests.conftest import real_data, write_jsonl, write_recipe

runner = CliRunner()


def commits(n=400):
    """Real commit messages (subject, body, author date) as rows with epoch-second times."""
    import gzip

    rows = []
    with gzip.open(real_data("temporal/oss_commit_messages.jsonl.gz"), "rt", encoding="utf-8") as f:
        for line in f:
            r = json.loads(line)
            if (r["subject"] or "").strip():
                when = datetime.fromisoformat(r["author_date"]).astimezone(UTC)
                rows.append({"sha": r["sha"], "subject": r["subject"], "body": r["body"] or "",
                             "t": int(when.timestamp())})
            if len(rows) == n:
                return rows
    return rows


FIELDS = {"id": "sha", "text": "{subject}\n{body}", "time": "t"}


def _build(tmp_path, rows, **fields):
    write_jsonl(tmp_path / "c.jsonl", rows)
    recipe = write_recipe(tmp_path, sources=[{"path": "c.jsonl"}], fields={**FIELDS, **fields},
                          split={"method": "temporal"})
    return runner.invoke(app, ["build", str(recipe)])


def test_a_column_mixing_epoch_seconds_and_milliseconds_is_refused_at_the_odd_line(tmp_path):
    rows = commits()
    rows[57]["t"] = rows[57]["t"] * 1000  # one value in milliseconds
    result = _build(tmp_path, rows)
    assert result.exit_code == 2, result.output
    assert "c.jsonl:58: field 't'" in result.stderr and "milliseconds" in result.stderr
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").rglob("*.parquet"))


def test_a_year_9999_outlier_no_longer_moves_the_column_to_1970(tmp_path):
    rows = commits()
    rows[120]["t"] = 253402300799  # 9999-12-31 in seconds: above 1e11, so read as ms
    result = _build(tmp_path, rows)
    assert result.exit_code == 2 and "c.jsonl:121" in result.stderr, result.output


def test_a_time_far_ahead_of_the_rest_is_refused_unless_allowed(tmp_path):
    rows = commits()
    newest = max(r["t"] for r in rows)
    rows[9]["t"] = newest + int(timedelta(days=3650).total_seconds())  # 2034 for 2024
    result = _build(tmp_path, rows)
    assert result.exit_code == 2 and "c.jsonl:10" in result.stderr, result.output
    assert "fields.allow_any_time" in result.stderr
    allowed = _build(tmp_path, rows, allow_any_time=True)
    assert allowed.exit_code == 0, allowed.output
    test = pq.read_table(next((tmp_path / "out").rglob("test.parquet")))
    assert rows[9]["sha"] in test.column("sha").to_pylist()  # the newest row, as allowed


def test_times_before_1971_are_refused_and_skip_drops_them(tmp_path):
    rows = commits(100)
    rows[3]["t"] = 0
    write_jsonl(tmp_path / "c.jsonl", rows)
    recipe = write_recipe(tmp_path, sources=[{"path": "c.jsonl", "on_error": "skip"}],
                          fields=FIELDS, split={"method": "temporal"})
    built = build(recipe)
    rejected = [json.loads(line) for line in (built.path / "rejected.jsonl").open()]
    assert [(r["line"], r["reason"]) for r in rejected] == [(4, "odd_timestamp")]
    assert built.manifest["counts"]["rows_loaded"] == 99


def test_an_out_of_range_integer_time_is_reported_at_its_own_line(tmp_path):
    rows = commits(10)
    rows[6]["t"] = 10 ** 18  # beyond any timestamp in either unit
    result = _build(tmp_path, rows)
    assert result.exit_code == 2 and "c.jsonl:7: field 't': cannot parse" in result.stderr


def test_blank_texts_are_refused_or_skipped(tmp_path):
    rows = commits(50)
    rows[4].update(subject=" \u200b ", body="\n")
    result = _build(tmp_path, rows)
    assert result.exit_code == 2
    assert "c.jsonl:5: field 'subject, body': the text is empty" in result.stderr
    recipe = write_recipe(tmp_path, sources=[{"path": "c.jsonl", "on_error": "skip"}],
                          fields=FIELDS, split={"method": "temporal"})
    built = build(recipe)
    rejected = [json.loads(line) for line in (built.path / "rejected.jsonl").open()]
    assert [(r["line"], r["reason"]) for r in rejected] == [(5, "empty_text")]


def test_blank_eval_items_are_refused_by_the_audit(tmp_path):
    lines = real_data("eval/gsm8k_test.jsonl").read_text(encoding="utf-8").splitlines()
    train = tmp_path / "train.jsonl"
    train.write_text("\n".join(lines[:100]) + "\n", encoding="utf-8")
    items = [json.loads(line) for line in lines[100:110]]
    items[3]["question"] = "   "
    write_jsonl(tmp_path / "eval.jsonl", items)
    result = runner.invoke(app, ["audit", "--train", str(train), "--eval",
                                 str(tmp_path / "eval.jsonl"), "--text", "question"])
    assert result.exit_code == 2 and "eval.jsonl:4: field 'question': the text is empty" in (
        result.stderr)


class AppendWhenLoading:
    """A reporter that appends rows to a file as a stage starts: a writer racing the build."""

    def __init__(self, path, stage, rows):
        self.path, self.when, self.rows = path, stage, rows

    @contextmanager
    def stage(self, name):
        if name == self.when:
            with open(self.path, "a", encoding="utf-8") as handle:
                handle.writelines(json.dumps(r) + "\n" for r in self.rows)
        yield NO_PROGRESS


@pytest.mark.parametrize("extra", [1, 5000])
def test_a_source_that_grows_during_the_build_is_refused(tmp_path, extra):
    rows = commits(300)
    source = write_jsonl(tmp_path / "c.jsonl", rows[:200])
    original = source.read_bytes()
    recipe = write_recipe(tmp_path, sources=[{"path": "c.jsonl"}], fields=FIELDS)
    late = [dict(rows[200 + i % 100], sha=f"late{i}") for i in range(extra)]
    with pytest.raises(InputError, match="c.jsonl: the source changed during the build"):
        build(recipe, reporter=AppendWhenLoading(source, "load", late))
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").rglob("*.parquet"))
    source.write_bytes(original)  # cut back to exactly the hashed bytes
    built = build(recipe)
    assert built.status == "built" and built.manifest["counts"]["rows_loaded"] == 200


def test_a_training_file_that_grows_during_the_audit_is_refused(tmp_path):
    lines = real_data("eval/gsm8k_test.jsonl").read_text(encoding="utf-8").splitlines()
    train = tmp_path / "train.jsonl"
    train.write_text("\n".join(lines[:300]) + "\n", encoding="utf-8")
    write_jsonl(tmp_path / "eval.jsonl", [json.loads(line) for line in lines[300:320]])
    more = [json.loads(line) for line in lines[320:340]]
    with pytest.raises(InputError, match="train.jsonl: the source changed during the audit"):
        audit_files([train], [tmp_path / "eval.jsonl"], text="question",
                    reporter=AppendWhenLoading(train, "scan training", more))


@pytest.mark.parametrize(("content", "said"), [
    (b"cut", "a damaged, truncated or not really .gz file"),
    (b"plain", "a damaged, truncated or not really .gz file"),
])
def test_a_bad_gz_training_file_is_a_message_not_a_traceback(tmp_path, content, said):
    real = real_data("eval/gsm8k_train.jsonl.gz").read_bytes()
    lines = real_data("eval/gsm8k_test.jsonl").read_text(encoding="utf-8").splitlines()
    bad = tmp_path / "train.jsonl.gz"
    bad.write_bytes(real[:len(real) // 3] if content == b"cut" else
                    "\n".join(lines[:50]).encode("utf-8"))
    write_jsonl(tmp_path / "eval.jsonl", [json.loads(line) for line in lines[50:60]])
    result = runner.invoke(app, ["audit", "--train", str(bad), "--eval",
                                 str(tmp_path / "eval.jsonl"), "--text", "question"])
    assert result.exit_code == 2 and said in result.stderr and "Traceback" not in result.output
    recipe = write_recipe(tmp_path, sources=[{"path": "train.jsonl.gz"}],
                          fields={"text": "question"})
    built = runner.invoke(app, ["build", str(recipe)])
    expected = "damaged or truncated gzip" if content == b"cut" else "not a gzip file"
    assert built.exit_code == 2 and expected in built.stderr, built.output
