"""The command line as a user meets it: exit codes, messages, no tracebacks."""

import json

import yaml
from typer.testing import CliRunner

from splitforge.cli import app, parse_overrides
from tests.conftest import write_jsonl, write_recipe

runner = CliRunner()
ROWS = [{"id": f"r{i}", "q": f"question number {i}", "t": f"2024-01-{1 + i % 28:02d}"}
        for i in range(60)]


def recipe(tmp_path, **extra):
    write_jsonl(tmp_path / "d.jsonl", ROWS)
    return write_recipe(tmp_path, sources=[{"path": "d.jsonl"}], fields={"id": "id", "text": "q"},
                        **extra)


def test_build_prints_summary_and_output_path(tmp_path):
    result = runner.invoke(app, ["build", str(recipe(tmp_path))])
    assert result.exit_code == 0, result.output
    assert "train" in result.stdout and "output:" in result.stdout
    again = runner.invoke(app, ["build", str(recipe(tmp_path))])
    assert again.exit_code == 0 and "nothing changed" in again.stdout


def test_build_dry_run_and_overrides(tmp_path):
    path = recipe(tmp_path)
    result = runner.invoke(app, ["build", str(path), "--dry-run", "--seed", "5",
                                 "--split.ratios.train=0.7", "--split.ratios.val", "0.2"])
    assert result.exit_code == 0, result.output
    assert "dry run" in result.stdout and not (tmp_path / "out").exists()


def test_validate_lists_every_problem_with_exit_2(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump({"name": "x", "sources": [{"path": "nope.jsonl"}],
                                    "fields": {"txt": "q"},
                                    "split": {"ratios": {"train": 0.8, "val": 0.2, "test": 0.1}}}))
    result = runner.invoke(app, ["validate", str(path)])
    assert result.exit_code == 2
    text = result.stderr
    assert "fields.txt: unknown key; did you mean 'text'?" in text
    assert "split.ratios: must sum to 1, got 1.1" in text
    assert "sources[0].path: no such file or folder: nope.jsonl" in text
    assert "Traceback" not in result.output


def test_validate_ok(tmp_path):
    result = runner.invoke(app, ["validate", str(recipe(tmp_path))])
    assert result.exit_code == 0 and "valid recipe" in result.stdout


def test_bad_data_names_file_line_and_exits_2(tmp_path):
    write_jsonl(tmp_path / "d.jsonl", ROWS)
    with open(tmp_path / "d.jsonl", "a") as handle:
        handle.write('{"id": "zz", "q": "fine", "t": "not a date"}\n')
    path = write_recipe(tmp_path, sources=[{"path": "d.jsonl"}],
                        fields={"id": "id", "text": "q", "time": "t"},
                        split={"method": "temporal"})
    result = runner.invoke(app, ["build", str(path)])
    assert result.exit_code == 2
    assert "d.jsonl:61" in result.stderr and "'t'" in result.stderr
    assert "Traceback" not in result.output
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").rglob("*.parquet"))


def test_missing_recipe_file_exits_2(tmp_path):
    result = runner.invoke(app, ["build", str(tmp_path / "none.yaml")])
    assert result.exit_code == 2 and "recipe file not found" in result.stderr


def test_init_writes_a_valid_starter_and_refuses_to_overwrite(tmp_path):
    target = tmp_path / "recipe.yaml"
    assert runner.invoke(app, ["init", str(target)]).exit_code == 0
    from splitforge.recipe import validate_recipe

    validate_recipe(yaml.safe_load(target.read_text()))  # the starter is a valid recipe
    again = runner.invoke(app, ["init", str(target)])
    assert again.exit_code == 2 and "already exists" in again.stderr


def test_schema_is_json_with_descriptions():
    result = runner.invoke(app, ["schema"])
    schema = json.loads(result.stdout)
    assert schema["title"] == "Recipe"
    assert "description" in schema["$defs"]["SplitConfig"]["properties"]["gap"]


def test_parse_overrides():
    assert parse_overrides(["--a.b", "1", "--c=x", "--d", "[1, 2]"]) == {
        "a.b": 1, "c": "x", "d": [1, 2]}
    # a field name in braces is text, not a YAML mapping; a real mapping stays one
    assert parse_overrides(["--fields.group", "{user}", "--split.ratios",
                            "{train: 0.8, val: 0.1, test: 0.1}"]) == {
        "fields.group": "{user}", "split.ratios": {"train": 0.8, "val": 0.1, "test": 0.1}}


def test_dedup_command_on_real_gsm8k(tmp_path):
    from tests.conftest import real_data

    out = tmp_path / "dd"
    result = runner.invoke(app, ["dedup", str(real_data("eval/gsm8k_train.jsonl.gz")), "--text",
                                 "question", "--id", "idx", "--out", str(out)])
    assert result.exit_code == 0, result.output
    import pyarrow.parquet as pq

    kept = pq.read_table(out / "deduplicated.parquet")
    removed = pq.read_table(out / "removed.parquet")
    clusters = pq.read_table(out / "dedup_clusters.parquet")
    assert kept.num_rows + removed.num_rows == 7473
    assert removed.num_rows > 0  # GSM8K train holds templated near-copies (numbers changed)
    assert set(removed["sf_kept_id"].to_pylist()) <= set(kept["sf_id"].to_pylist())
    assert clusters.num_rows == removed.num_rows + len(set(removed["sf_kept_id"].to_pylist()))
    again = runner.invoke(app, ["dedup", str(out / "deduplicated.parquet"), "--text", "question",
                                "--id", "idx", "--out", str(tmp_path / "again")])
    assert again.exit_code == 0 and "0 removed" in again.stdout  # idempotent
    exists = runner.invoke(app, ["dedup", str(real_data("eval/gsm8k_test.jsonl")), "--text",
                                 "question", "--out", str(out)])
    assert exists.exit_code == 2 and "already exists" in exists.stderr
    bad = runner.invoke(app, ["dedup", str(real_data("eval/gsm8k_test.jsonl")), "--text",
                              "question", "--method", "fuzzy", "--out", str(tmp_path / "x")])
    assert bad.exit_code == 2 and "unknown fuzzy" in bad.stderr


def test_every_recipe_key_has_a_description():
    from splitforge.recipe import recipe_schema

    schema = recipe_schema()
    models = {"Recipe": schema, **schema["$defs"]}
    missing = [f"{name}.{key}" for name, model in models.items()
               for key, prop in model.get("properties", {}).items() if "description" not in prop]
    assert missing == []


def test_the_console_entry_point_gives_usage_errors_exit_2_without_a_traceback(tmp_path):
    # CliRunner calls the app, not main(): run the real entry point.
    import subprocess
    import sys

    for args in (["nosuch"], ["audit"], ["build", str(tmp_path / "r.yaml"), "--bogus"]):
        proc = subprocess.run([sys.executable, "-m", "splitforge", *args], capture_output=True,
                              text=True, cwd=tmp_path)
        assert proc.returncode == 2, (args, proc.stderr)
        assert "Traceback" not in proc.stderr and "Error" in proc.stderr + proc.stdout, args
