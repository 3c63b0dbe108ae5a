"""Input that used to be misread silently: epoch units, odd times, blank texts, a file that
changes while the build reads it (#16.2, #16.10, #24.1, #24.4)."""

import json
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from splitforge.audit.run import audit_files
from splitforge.cli import app
from splitforge.errors import InputError
from splitforge.pipeline import build
from splitforge.progress import NO_PROGRESS
from tests.conftest import FAST_METHODS, real_data, write_jsonl, write_recipe

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
    result = runner.invoke(app, ["audit", "--methods", "exact,ngram,minhash", "--train", str(train), "--eval",
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
                    reporter=AppendWhenLoading(train, "scan training", more), methods=FAST_METHODS)


@pytest.mark.parametrize(("content", "said"), [
    (b"cut", "a damaged or truncated gzip file"),
    (b"plain", "not a gzip file, though its name ends in .gz"),
])
def test_a_bad_gz_training_file_is_a_message_not_a_traceback(tmp_path, content, said):
    real = real_data("eval/gsm8k_train.jsonl.gz").read_bytes()
    lines = real_data("eval/gsm8k_test.jsonl").read_text(encoding="utf-8").splitlines()
    bad = tmp_path / "train.jsonl.gz"
    bad.write_bytes(real[:len(real) // 3] if content == b"cut" else
                    "\n".join(lines[:50]).encode("utf-8"))
    write_jsonl(tmp_path / "eval.jsonl", [json.loads(line) for line in lines[50:60]])
    result = runner.invoke(app, ["audit", "--methods", "exact,ngram,minhash", "--train", str(bad), "--eval",
                                 str(tmp_path / "eval.jsonl"), "--text", "question"])
    assert result.exit_code == 2 and said in result.stderr and "Traceback" not in result.output
    recipe = write_recipe(tmp_path, sources=[{"path": "train.jsonl.gz"}],
                          fields={"text": "question"})
    built = runner.invoke(app, ["build", str(recipe)])  # the same message from the loader
    assert built.exit_code == 2 and said in built.stderr, built.output


class ChangeAt:
    """A reporter that runs ``change`` when a stage starts, or when the stage starts a task
    named ``task``: another process rewriting an input while splitforge reads it."""

    def __init__(self, stage, change, task=None):
        self.when, self.change, self.task_name = stage, change, task

    @contextmanager
    def stage(self, name):
        if name == self.when and self.task_name is None:
            self.change()
        yield self

    def task(self, description, total):
        if description == self.task_name:
            self.change()
        return lambda _: None


def _write(path, rows):
    """Rows in the format that ``path``'s extension names."""
    import csv
    import gzip

    import pyarrow as pa

    if path.suffix == ".csv":
        with open(path, "w", encoding="utf-8", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)
    elif path.suffix == ".parquet":
        pq.write_table(pa.Table.from_pylist(rows), path)
    elif path.suffix == ".json":
        path.write_text(json.dumps(rows), encoding="utf-8")
    elif path.suffix == ".gz":
        path.write_bytes(gzip.compress("".join(json.dumps(r) + "\n" for r in rows).encode()))
    else:
        write_jsonl(path, rows)
    return path


@pytest.mark.parametrize("name", ["c.csv", "c.parquet", "c.json", "c.jsonl.gz"])
def test_a_source_of_any_format_rewritten_during_the_build_is_refused(tmp_path, name):
    rows = commits(240)
    source = _write(tmp_path / name, rows[:200])
    recipe = write_recipe(tmp_path, sources=[{"path": name}], fields=FIELDS)
    with pytest.raises(InputError, match=f"{name}: the source changed during the build"):
        build(recipe, reporter=ChangeAt("load", lambda: _write(source, rows)))


def test_a_control_file_rewritten_during_the_build_is_refused(tmp_path):
    rows = commits(240)
    write_jsonl(tmp_path / "c.jsonl", rows[:200])
    control = write_jsonl(tmp_path / "control.jsonl", rows[200:220])
    recipe = write_recipe(tmp_path, sources=[{"path": "c.jsonl"}], fields=FIELDS,
                          control={"path": "control.jsonl"})
    with pytest.raises(InputError, match="control.jsonl: the source changed during the build"):
        build(recipe, reporter=ChangeAt("load", lambda: write_jsonl(control, rows[200:240])))


def test_an_against_corpus_rewritten_during_the_build_audit_is_refused(tmp_path):
    rows = commits(300)
    write_jsonl(tmp_path / "c.jsonl", rows[:200])
    against = write_jsonl(tmp_path / "ext.jsonl", rows[200:250])
    recipe = write_recipe(tmp_path, sources=[{"path": "c.jsonl"}], fields=FIELDS,
                          audit={"fail_on": "never", "against": ["ext.jsonl"]})
    change = ChangeAt("audit", lambda: write_jsonl(against, rows[200:300]),
                      task="audit: training rows")
    with pytest.raises(InputError, match="ext.jsonl: the source changed during the audit"):
        build(recipe, reporter=change)


@pytest.mark.parametrize("side", ["eval", "parquet training"])
def test_an_eval_or_parquet_training_file_rewritten_during_the_audit_is_refused(tmp_path, side):
    lines = real_data("eval/gsm8k_test.jsonl").read_text(encoding="utf-8").splitlines()
    rows = [json.loads(line) for line in lines[:360]]
    train = _write(tmp_path / ("train.parquet" if side != "eval" else "train.jsonl"), rows[:300])
    evals = write_jsonl(tmp_path / "eval.jsonl", rows[300:320])
    if side == "eval":
        change, name = ChangeAt("load eval", lambda: write_jsonl(evals, rows[300:360])), "eval"
    else:
        change = ChangeAt("scan training", lambda: _write(train, rows), task="audit: training rows")
        name = "train.parquet"
    with pytest.raises(InputError, match=f"{name}[.a-z]*: the source changed during the audit"):
        audit_files([train], [evals], text="question", reporter=change, methods=FAST_METHODS)


def test_times_from_2200_are_refused_and_a_short_column_has_no_jump_rule(tmp_path):
    rows = commits(120)
    rows[30]["t"] = int(datetime(2200, 1, 1, tzinfo=UTC).timestamp())
    result = _build(tmp_path, rows)
    assert result.exit_code == 2 and "c.jsonl:31" in result.stderr and "2200" in result.stderr
    few = commits(60)  # under 100 rows: a row a decade after the rest is not a slip to refuse
    few[5]["t"] = max(r["t"] for r in few) + int(timedelta(days=3650).total_seconds())
    (tmp_path / "few").mkdir()
    assert _build(tmp_path / "few", few).exit_code == 0


def test_mixed_epoch_units_are_skipped_with_on_error_skip(tmp_path):
    rows = commits(150)
    rows[7]["t"] *= 1000
    write_jsonl(tmp_path / "c.jsonl", rows)
    recipe = write_recipe(tmp_path, sources=[{"path": "c.jsonl", "on_error": "skip"}],
                          fields=FIELDS, split={"method": "temporal"})
    rejected = [json.loads(line) for line in (build(recipe).path / "rejected.jsonl").open()]
    assert [(r["line"], r["reason"]) for r in rejected] == [(8, "mixed_epoch_units")]


def test_a_training_folder_is_a_message_not_a_traceback(tmp_path):
    lines = real_data("eval/gsm8k_test.jsonl").read_text(encoding="utf-8").splitlines()
    (tmp_path / "train.jsonl").mkdir()
    write_jsonl(tmp_path / "eval.jsonl", [json.loads(line) for line in lines[:10]])
    result = runner.invoke(app, ["audit", "--methods", "exact,ngram,minhash", "--train", str(tmp_path / "train.jsonl"), "--eval",
                                 str(tmp_path / "eval.jsonl"), "--text", "question"])
    assert result.exit_code == 2 and "train.jsonl: is a folder" in result.stderr, result.output


def test_blank_eval_texts_that_bypass_the_loader_are_refused_by_id():
    from splitforge.audit.run import _scan_audit
    from splitforge.audit.verdict import Thresholds

    with pytest.raises(InputError, match=r"1 eval item\(s\) have an empty or blank text \(b\)"):
        _scan_audit(["a", "b"], ["a real question about models", "\u200b \v"], [],
                    methods=["exact"], ngram=13, thresholds=Thresholds(), model="minilm",
                    fail_on="contaminated", progress=NO_PROGRESS)


def test_a_commit_after_a_quiet_year_is_not_an_odd_time(tmp_path):
    # Real history: among the shipped slice's first 3,000 git commits, one was committed in
    # 2013, more than a year after all the others (2005-2011): late, but no typing slip.
    import gzip

    with gzip.open(real_data("temporal/oss_commit_messages.jsonl.gz"), "rt") as handle:
        rows = [r for r in map(json.loads, handle) if r["subject"].strip()][:3000]
    rows = [{"sha": r["sha"], "subject": r["subject"], "body": r["body"],
             "t": int(datetime.fromisoformat(r["commit_date"]).timestamp())} for r in rows]
    times = sorted(r["t"] for r in rows)
    assert times[-1] - times[-2] > 365 * 86_400  # more than a year ahead of the rest
    result = _build(tmp_path, rows)
    assert result.exit_code == 0, result.output


def test_a_mixed_iso_and_epoch_column_names_the_odd_kind_not_a_parse_failure(tmp_path):
    rows = commits(60)
    for r in rows:
        r["t"] = datetime.fromtimestamp(r["t"], UTC).isoformat()
    rows[7]["t"] = 1117000000  # an epoch number among ISO strings
    result = _build(tmp_path, rows)
    assert result.exit_code == 2 and "c.jsonl:8" in result.stderr
    message = " ".join(result.stderr.split())
    assert "'1117000000' is an epoch number, but the column holds ISO 8601 text too" in message


@pytest.mark.parametrize("on_error", ["fail", "skip"])
def test_a_line_over_max_line_mb_is_a_bad_row_read_in_bounded_memory(tmp_path, on_error):
    # #24 item 11: one 50 MB line took 926 MB; lines are bounded by sources[].max_line_mb.
    rows = commits(50)
    rows[20]["body"] = " ".join(rows[i % 50]["subject"] for i in range(60_000))  # ~2 MB
    write_jsonl(tmp_path / "c.jsonl", rows)
    recipe = write_recipe(tmp_path, sources=[{"path": "c.jsonl", "on_error": on_error,
                                              "max_line_mb": 1}],
                          fields=FIELDS, split={"method": "temporal"})
    result = runner.invoke(app, ["build", str(recipe)])
    if on_error == "fail":
        assert result.exit_code == 2 and "c.jsonl:21" in result.stderr
        assert "more than sources[].max_line_mb (1 MB)" in " ".join(result.stderr.split())
    else:
        assert result.exit_code == 0, result.output
        rejected = [json.loads(line) for line in
                    next((tmp_path / "out").rglob("rejected.jsonl")).read_text().splitlines()]
        assert [(r["line"], r["reason"]) for r in rejected] == [(21, "line_too_long")]
        assert len(rejected[0]["raw"]) < 2000  # not the whole line again
