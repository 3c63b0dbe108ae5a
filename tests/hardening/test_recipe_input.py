"""Recipes that YAML or pydantic would read wrongly are refused with the key and what was expected
(hardening #16 items 6, 7, 14; #24 item 10)."""

import os

import pytest
from typer.testing import CliRunner

from splitforge.cli import app
from splitforge.errors import RecipeError
from splitforge.recipe import load_recipe

HEAD = "name: r\nsources: [{path: d.jsonl}]\nfields: {text: text}\n"


def _recipe(tmp_path, body: str):
    (tmp_path / "d.jsonl").write_text('{"text": "a"}\n', encoding="utf-8")
    path = tmp_path / "recipe.yaml"
    path.write_text(body, encoding="utf-8")
    return path


def _problems(tmp_path, body: str) -> str:
    with pytest.raises(RecipeError) as error:
        load_recipe(_recipe(tmp_path, body))
    return str(error.value)


def test_a_key_given_twice_names_both_lines(tmp_path):
    message = _problems(tmp_path, HEAD + "seed: 1\nsplit: {method: random}\nseed: 2\n")
    assert "key 'seed' appears twice in one mapping (lines 4 and 6)" in message
    nested = _problems(tmp_path, HEAD + "split:\n  method: random\n  method: group\n")
    assert "key 'method' appears twice" in nested and "lines 5 and 6" in nested


def test_deep_nesting_is_a_message_not_a_recursion_error(tmp_path):
    message = _problems(tmp_path, HEAD + "x: " + "[" * 3000 + "]" * 3000 + "\n")
    assert "nested more than 40 levels deep" in message
    mapping = _problems(tmp_path, HEAD + "x: " + "{a: " * 3000 + "1" + "}" * 3000 + "\n")
    assert "nested more than 40 levels deep" in mapping


@pytest.mark.parametrize(("body", "expected"), [
    ('seed: "7"\n', "seed: expected an integer, got the string '7' (write it without quotes)"),
    ('split: {ratios: {train: "0.8", val: 0.1, test: 0.1}}\n',
     "split.ratios.train: expected a number, got the string '0.8'"),
    ('dedup: {exact: "false"}\n', "dedup.exact: expected true or false, got the string 'false'"),
])
def test_quoted_numbers_are_refused_not_coerced(tmp_path, body, expected):
    assert expected in _problems(tmp_path, HEAD + body)


def test_unquoted_numbers_still_read(tmp_path):
    recipe = load_recipe(_recipe(tmp_path, HEAD + "seed: 7\nsplit: {ratios: {train: 1, val: 0, "
                                                   "test: 0}}\n"))
    assert recipe.seed == 7 and recipe.split.resolved_ratios.train == 1.0


def test_nan_and_infinite_ratios_say_so(tmp_path):
    for value in (".nan", ".inf"):
        message = _problems(tmp_path, HEAD + f"split: {{ratios: {{train: {value}, val: 0.1, "
                                             f"test: 0.1}}}}\n")
        assert "split.ratios.train: Input should be a finite number" in message


def test_a_sum_just_off_one_shows_its_digits(tmp_path):
    message = _problems(tmp_path, HEAD + "split: {ratios: {train: 0.80001, val: 0.1, "
                                         "test: 0.1}}\n")
    assert "must sum to 1, got 1.00001" in message


def test_a_long_name_fails_validate_not_the_os(tmp_path):
    path = _recipe(tmp_path, HEAD.replace("name: r", "name: " + "n" * 300))
    result = CliRunner().invoke(app, ["validate", str(path)])
    assert result.exit_code == 2
    assert "name: String should have at most 100 characters" in result.output


def test_an_output_dir_that_is_a_file_fails_validate(tmp_path):
    (tmp_path / "out").write_text("not a folder", encoding="utf-8")
    path = _recipe(tmp_path, HEAD + "output: {dir: out}\n")
    result = CliRunner().invoke(app, ["validate", str(path)])
    assert result.exit_code == 2
    assert "output.dir: out is a file, not a folder" in result.output
    assert (tmp_path / "out").read_text(encoding="utf-8") == "not a folder"


def _validate(tmp_path, sources: str):
    (tmp_path / "c.jsonl").write_text('{"text": "a b c"}\n', encoding="utf-8")
    path = tmp_path / "recipe.yaml"
    path.write_text(f"name: r\nsources: {sources}\nfields: {{text: text}}\n", encoding="utf-8")
    return CliRunner().invoke(app, ["validate", str(path)])


def test_a_source_listed_twice_is_named_as_such(tmp_path):
    result = _validate(tmp_path, "[{path: c.jsonl}, {path: ./c.jsonl}]")
    assert result.exit_code == 2
    assert "sources[1].path: ./c.jsonl is listed twice (also sources[0].path)" in result.output


def test_a_glob_says_globs_are_not_expanded(tmp_path):
    result = _validate(tmp_path, "[{path: '*.jsonl'}]")
    assert result.exit_code == 2 and "globs are not expanded" in result.output


def test_a_fifo_is_refused_before_anything_reads_it(tmp_path):
    os.mkfifo(tmp_path / "pipe.jsonl")
    result = _validate(tmp_path, "[{path: pipe.jsonl}]")  # would hang if opened
    assert result.exit_code == 2
    assert "pipe.jsonl is not a regular file or a folder" in result.output


def test_a_link_loop_and_a_broken_link_say_what_they_are(tmp_path):
    (tmp_path / "a.jsonl").symlink_to(tmp_path / "b.jsonl")
    (tmp_path / "b.jsonl").symlink_to(tmp_path / "a.jsonl")
    (tmp_path / "gone.jsonl").symlink_to(tmp_path / "nothing.jsonl")
    loop = _validate(tmp_path, "[{path: a.jsonl}]")
    assert loop.exit_code == 2 and "a.jsonl is a symbolic link loop" in loop.output
    broken = _validate(tmp_path, "[{path: gone.jsonl}]")
    assert broken.exit_code == 2 and "gone.jsonl is a broken symbolic link" in broken.output


def test_merge_keys_and_exponent_numbers_still_read(tmp_path):
    (tmp_path / "e.jsonl").write_text('{"text": "b"}\n', encoding="utf-8")
    body = ("name: r\nsources: [&s {path: d.jsonl, on_error: skip}, {<<: *s, path: e.jsonl}]\n"
            "fields: {text: text}\ndedup: {minhash: {threshold: 8e-1}}\n")
    recipe = load_recipe(_recipe(tmp_path, body))
    assert [s.on_error for s in recipe.sources] == ["skip", "skip"]
    assert recipe.dedup.minhash.threshold == 0.8
    result = CliRunner().invoke(app, ["validate", str(tmp_path / "recipe.yaml"),
                                      "--dedup.minhash.threshold", "1e-1"])
    assert result.exit_code == 0, result.output
