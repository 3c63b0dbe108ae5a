from pathlib import Path

import pytest
import yaml

from splitforge.errors import RecipeError
from splitforge.recipe import (
    apply_overrides,
    load_recipe,
    parse_duration,
    validate_recipe,
)
from splitforge.templates import template_fields

BASE = {"name": "r", "sources": [{"path": "a.jsonl"}], "fields": {"text": "q"}}


def problems(data):
    with pytest.raises(RecipeError) as info:
        validate_recipe(data)
    return info.value.problems


def with_(**changes):
    data = {**BASE}
    data.update(changes)
    return data


def test_minimal_recipe_gets_defaults():
    recipe = validate_recipe(BASE)
    assert recipe.split.method == "random"
    assert recipe.split.resolved_ratios.train == 0.8
    assert recipe.dedup.exact is True
    assert recipe.output.formats == ["parquet"]


def test_every_problem_is_reported_at_once_with_its_path():
    found = problems({
        "name": "bad name",
        "sources": [{"path": "a", "on_eror": "skip"}],
        "fields": {"text": "q", "tiem": "t"},
        "split": {"ratios": {"train": 0.8, "val": 0.2, "test": 0.1}, "gap": "7d"},
        "dedup": {"exakt": True},
    })
    assert "sources[0].on_eror: unknown key; did you mean 'on_error'?" in found
    assert "fields.tiem: unknown key; did you mean 'time'?" in found
    assert "dedup.exakt: unknown key; did you mean 'exact'?" in found
    assert "split.ratios: must sum to 1, got 1.1" in found
    assert any(p.startswith("name: must be letters") for p in found)
    assert len(found) == 5


def test_misspelt_choice_suggests_the_right_one():
    found = problems(with_(split={"method": "ranom"}))
    assert found == ["split.method: Input should be 'random', 'stratified', 'group' or 'temporal', "
                     "got 'ranom'; did you mean 'random'?"]


@pytest.mark.parametrize(("split", "role"), [
    ({"method": "temporal"}, "time"), ({"method": "stratified"}, "label"),
    ({"method": "group"}, "group"),
])
def test_methods_need_their_field(split, role):
    assert problems(with_(split=split)) == [
        f"fields.{role}: split.method {split['method']} needs fields.{role}; name the input "
        f"field that holds the {role}"
    ]


def test_gap_and_cutoffs_only_for_temporal():
    assert problems(with_(split={"method": "random", "gap": "7d"})) == [
        "split: gap only applies to method: temporal, not random"]
    assert "split: give either ratios or cutoffs, not both" in problems(with_(
        fields={"text": "q", "time": "t"},
        split={"method": "temporal", "ratios": {"train": 1, "val": 0, "test": 0},
               "cutoffs": {"test": "2024-01-01"}}))


def test_cutoffs_are_utc_and_ordered():
    recipe = validate_recipe(with_(fields={"text": "q", "time": "t"}, split={
        "method": "temporal", "cutoffs": {"val": "2024-01-01", "test": "2024-06-01T02:00:00+02:00"},
        "gap": "12h"}))
    assert recipe.split.cutoffs.test.isoformat() == "2024-06-01T00:00:00+00:00"
    assert recipe.split.gap_delta.total_seconds() == 43200
    assert any("must be before test" in p for p in problems(with_(
        fields={"text": "q", "time": "t"},
        split={"method": "temporal", "cutoffs": {"val": "2025-01-01", "test": "2024-01-01"}})))


def test_text_xor_messages():
    assert problems(with_(fields={"text": "q", "messages": "m"})) == [
        "fields: give exactly one of 'text' (a field or template) or 'messages'"]
    missing = problems(with_(fields={"id": "x"}))
    assert len(missing) == 1 and missing[0].startswith("fields.text: sources[0] has no "
                                                       "formatting, so name its text")


def test_formatting_and_fields_text_exclude_each_other():
    source = {"path": "data.jsonl", "formatting": "alpaca"}
    assert problems(with_(sources=[source], fields={"text": "q"})) == [
        "sources[0].formatting: the formatting maps the text, so fields.text and "
        "fields.messages are not given; remove them, or the formatting"]
    assert validate_recipe(with_(sources=[source], fields={})).sources[0].formatting == "alpaca"
    assert problems(with_(sources=[{**source, "columns": {"promt": "q"}}], fields={})) == [
        "sources[0].columns: unknown column role 'promt'; did you mean 'prompt'? known: "
        "prompt, query, response, history, messages, system, tools, images, videos, audios, "
        "chosen, rejected, kto_tag, completion, label"]
    assert problems(with_(sources=[{"path": "d.jsonl", "tags": {"role_tag": "r"}}],
                          fields={"text": "q"}))[0].startswith(
        "sources[0]: columns, tags and ranking describe a formatting")


def test_templates_and_durations():
    assert template_fields("{question}\n{answer}") == ["question", "answer"]
    assert template_fields("question") == ["question"]
    with pytest.raises(ValueError):
        template_fields("{q:>10}")
    assert parse_duration("7d").days == 7
    assert parse_duration(90).total_seconds() == 90
    with pytest.raises(ValueError):
        parse_duration("7 days")


def test_load_recipe_reports_missing_sources_with_schema_errors(tmp_path: Path):
    path = tmp_path / "r.yaml"
    path.write_text(yaml.safe_dump({**BASE, "seed": "x"}))
    with pytest.raises(RecipeError) as info:
        load_recipe(path)
    assert info.value.problems == ["seed: expected an integer, got the string 'x'",
                                   "sources[0].path: no such file or folder: a.jsonl"]


def test_load_recipe_resolves_against_its_folder_and_applies_overrides(tmp_path: Path):
    (tmp_path / "a.jsonl").write_text('{"q": "x"}\n')
    path = tmp_path / "r.yaml"
    path.write_text(yaml.safe_dump(BASE))
    recipe = load_recipe(path, {"split.method": "group", "fields.group": "q", "seed": 3})
    assert recipe.split.method == "group" and recipe.seed == 3


def test_broken_yaml_names_the_line(tmp_path: Path):
    path = tmp_path / "r.yaml"
    path.write_text("name: x\nsources: [\n")
    with pytest.raises(RecipeError) as info:
        load_recipe(path)
    assert "line 3" in str(info.value) and "invalid YAML" in str(info.value)


def test_overrides_create_nested_keys():
    assert apply_overrides({}, {"a.b.c": 1}) == {"a": {"b": {"c": 1}}}


def test_challenge_slice_names_must_be_unique_and_regexes_compile():
    from splitforge.recipe import validate_recipe

    base = {"name": "t", "sources": [{"path": "x.jsonl"}], "fields": {"text": "q"}}
    bad = {**base, "challenge": {"edge": {"slices": [
        {"name": "a", "where": {"text_matches": "refund"}},
        {"name": "a", "where": {"text_matches": "(unclosed"}}]}}}
    with pytest.raises(RecipeError) as caught:
        validate_recipe(bad)
    said = "\n".join(caught.value.problems)
    assert "not a valid regular expression" in said
    good = {**base, "challenge": {"edge": {"slices": [
        {"name": "a", "where": {"text_matches": "refund"}},
        {"name": "a", "where": {"min_chars": 10}}]}}}
    with pytest.raises(RecipeError, match="repeated: a"):
        validate_recipe(good)
