"""Adversarial perturbations: real nlpaug and OpenCC, real Chinese data, pinned determinism."""

import json
import os
import random
import re
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from splitforge.challenge import (
    PERTURBATIONS,
    KeyboardTypoPerturbation,
    NotApplicableError,
    Perturbed,
    ZhCharDropPerturbation,
    applicable,
    edit_distance,
    get_perturbation,
    item_seed,
    perturb,
    perturb_record,
    regenerate,
    script_of,
)
from splitforge.errors import InputError, RecipeError, SplitforgeError
from tests.conftest import real_data

LATIN = ["keyboard_typo", "ocr", "char_insert", "char_swap", "char_delete", "word_drop",
         "word_swap", "spelling"]
CJK = ["zh_traditional", "zh_fullwidth_punct", "zh_char_drop", "zh_char_swap"]
EN = ("Which planet in our solar system is the largest, and why doesn't it have a solid "
      "surface?\nAnswer in 2 sentences, then list 3 of its moons.")
ZH = "请你写出一个可以生成五个不同随机数的 Python 程序，并解释为什么要这样做？"


def sample(name: str) -> str:
    return EN if name in LATIN else ZH


def reference_distance(a: str, b: str) -> int:
    row = list(range(len(b) + 1))
    for i, x in enumerate(a, 1):
        prev, row[0] = row[0], i
        for j, y in enumerate(b, 1):
            prev, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, prev + (x != y))
    return row[-1]


def test_registry_holds_every_required_perturbation():
    assert PERTURBATIONS.names() == sorted(LATIN + CJK)
    for name in LATIN + CJK:
        cls = PERTURBATIONS.get(name)
        assert cls.name == name
        assert cls.script == ("latin" if name in LATIN else "cjk")


def test_unknown_name_is_a_recipe_error_listing_the_choices():
    with pytest.raises(RecipeError, match=r"unknown perturbation 'typo'; available: char_delete"):
        perturb(EN, "typo", seed=1, source_id="a")
    with pytest.raises(RecipeError, match="unknown perturbation"):
        applicable("typo", EN)


@pytest.mark.parametrize("name", LATIN + CJK)
def test_each_perturbation_really_changes_its_sample(name):
    text = sample(name)
    out = perturb(text, name, seed=3, source_id="item-1")
    assert isinstance(out, Perturbed)
    assert out.text != text and out.text.split() != text.split()
    assert out.perturbation == name
    assert out.edit_distance == edit_distance(text, out.text) > 0
    assert out.params == get_perturbation(name).params
    assert 1 <= out.attempts <= 5
    assert out.seed == item_seed(3, "item-1", name, out.attempts)


@pytest.mark.parametrize("name", LATIN)
def test_latin_perturbations_keep_numbers_punctuation_and_line_breaks(name):
    for sid in ("a", "b", "c", "d", "e"):
        out = perturb(EN, name, seed=0, source_id=sid)
        assert out is not None
        words = re.findall(r"\w+", out.text)
        assert words.count("2") == 1 and words.count("3") == 1  # OCR may add digits, never edit
        assert out.text.count("\n") == 1
        assert re.sub(r"[\w ]", "", out.text) == re.sub(r"[\w ]", "", EN)


@pytest.mark.parametrize("name", LATIN)
def test_latin_perturbations_leave_the_chinese_part_of_mixed_text_alone(name):
    text = "请把下面的句子翻译成中文。\nI have a dream that one day this nation will rise up and live out the true meaning of its creed."
    assert script_of(text) == "latin"
    out = perturb(text, name, seed=1, source_id="mixed")
    assert out.text.split("\n")[0] == "请把下面的句子翻译成中文。"


def test_word_drop_never_drops_a_negation_and_merges_separators():
    text = "I do not like green eggs, and I don't like ham.\nThey never taste good."
    for sid in map(str, range(20)):
        out = perturb(text, "word_drop", seed=1, source_id=sid).text
        assert "not" in out and "don't" in out and "never" in out
        assert "  " not in out and " ," not in out and " ." not in out
        assert out.count("\n") == 1


@pytest.mark.parametrize("name", CJK)
def test_cjk_perturbations_are_not_applicable_to_english(name):
    assert script_of(EN) == "latin"
    assert not applicable(name, EN)
    with pytest.raises(NotApplicableError, match=rf"'{name}' applies only to CJK .* is latin"):
        perturb(EN, name, seed=1, source_id="q7")


@pytest.mark.parametrize("name", LATIN)
def test_latin_perturbations_are_not_applicable_to_chinese(name):
    assert script_of(ZH) == "cjk"
    assert not applicable(name, ZH)
    with pytest.raises(NotApplicableError, match=r"source id 'q7' is CJK") as err:
        perturb(ZH, name, seed=1, source_id="q7")
    assert isinstance(err.value, InputError) and isinstance(err.value, SplitforgeError)
    assert "zh_traditional" in str(err.value)  # names the perturbations that would apply


def test_keyboard_typo_never_runs_on_chinese_and_blank_text_is_not_applicable():
    with pytest.raises(NotApplicableError):
        perturb("今天天气很好，我们去公园散步吧。", "keyboard_typo", seed=1, source_id="x")
    with pytest.raises(NotApplicableError):
        regenerate(ZH, "keyboard_typo", 123)
    for name in LATIN + CJK:
        assert not applicable(name, "  \n")
    assert applicable("keyboard_typo", EN) and applicable("zh_char_swap", ZH)


@pytest.mark.parametrize("name", LATIN + CJK)
def test_same_inputs_give_the_same_text(name):
    text = sample(name)
    first = perturb(text, name, seed=11, source_id="abc")
    assert perturb(text, name, seed=11, source_id="abc") == first
    assert regenerate(text, name, first.seed) == first.text


@pytest.mark.parametrize("name", [n for n in LATIN + CJK if n != "zh_traditional"])
def test_different_source_ids_give_different_noise(name):
    text = sample(name)
    outs = {perturb(text, name, seed=11, source_id=f"id{i}").text for i in range(6)}
    assert len(outs) >= 2
    other_seed = {perturb(text, name, seed=s, source_id="id0").text for s in range(6)}
    assert len(other_seed) >= 2


def test_one_item_regenerates_alone_whatever_else_was_perturbed():
    texts = {f"r{i}": f"Item {i}: please summarise the following paragraph about rivers and "
                      f"mountains in plain language." for i in range(6)}
    batch = {sid: perturb(t, "char_swap", seed=5, source_id=sid) for sid, t in texts.items()}
    reversed_batch = {sid: perturb(texts[sid], "char_swap", seed=5, source_id=sid)
                      for sid in reversed(list(texts))}
    assert batch == reversed_batch
    alone = perturb(texts["r3"], "char_swap", seed=5, source_id="r3")
    assert alone == batch["r3"]
    assert regenerate(texts["r3"], "char_swap", batch["r3"].seed) == batch["r3"].text


def test_global_random_states_are_restored():
    random.seed(42)
    np.random.seed(42)
    expected = (random.random(), np.random.random())
    random.seed(42)
    np.random.seed(42)
    for name in LATIN:
        perturb(EN, name, seed=1, source_id="g")
    assert (random.random(), np.random.random()) == expected


def test_output_does_not_depend_on_pythonhashseed():
    code = (
        "import json; from splitforge.challenge import perturb\n"
        f"EN, ZH = {EN!r}, {ZH!r}\n"
        f"names = {LATIN + CJK!r}\n"
        "out = {n: [perturb(EN if n in names[:8] else ZH, n, seed=9, source_id=s).text"
        " for s in ('a', 'b', 'c')] for n in names}\n"
        "print(json.dumps(out, ensure_ascii=False))"
    )
    procs = [subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True,
                              env={**os.environ, "PYTHONHASHSEED": seed})
             for seed in ("1", "12345")]  # run side by side: each one imports nlpaug
    runs = [proc.communicate(timeout=60)[0] for proc in procs]
    assert [proc.returncode for proc in procs] == [0, 0]
    assert runs[0] == runs[1]
    here = {n: [perturb(sample(n), n, seed=9, source_id=s).text for s in ("a", "b", "c")]
            for n in LATIN + CJK}
    assert json.loads(runs[0]) == here


def test_unconvertible_or_traditional_text_gives_none_not_a_fake_perturbation():
    assert perturb("我是大人。", "zh_traditional", seed=1, source_id="a") is None
    assert perturb("這是一個測試，請回答。", "zh_traditional", seed=1, source_id="a") is None
    # "123。" is not CJK text (no CJK character), so Chinese noise does not apply to it at all.
    assert script_of("123。") == "latin"
    with pytest.raises(NotApplicableError):
        perturb("123。", "zh_traditional", seed=1, source_id="a")


def test_text_with_nothing_to_perturb_gives_none_after_all_attempts():
    assert perturb("Pay 100 or 2000 now", "keyboard_typo", seed=1, source_id="a") is None
    assert perturb("Hello", "word_drop", seed=1, source_id="a") is None
    assert perturb("好。", "zh_char_drop", seed=1, source_id="a") is None  # never drops all
    assert perturb("好好好好", "zh_char_swap", seed=1, source_id="a") is None
    assert perturb("没有标点的句子", "zh_fullwidth_punct", seed=1, source_id="a") is None


def test_unchanged_attempt_is_retried_with_the_next_seed():
    text = "The cat sat on the mat."
    retried = None
    for i in range(60):
        out = perturb(text, "ocr", seed=2, source_id=f"s{i}")
        if out is not None and out.attempts > 1:
            retried = (f"s{i}", out)
            break
    assert retried is not None
    sid, out = retried
    assert out.seed == item_seed(2, sid, "ocr", out.attempts)
    first = regenerate(text, "ocr", item_seed(2, sid, "ocr", 1))
    assert first.split() == text.split()
    assert regenerate(text, "ocr", out.seed) == out.text
    assert perturb(text, "ocr", seed=2, source_id=sid, max_attempts=out.attempts - 1) is None


def test_max_attempts_below_one_is_rejected():
    with pytest.raises(RecipeError, match="max_attempts must be an integer of at least 1, got 0"):
        perturb(EN, "ocr", seed=1, source_id="a", max_attempts=0)


def test_bad_parameters_are_recipe_errors():
    with pytest.raises(RecipeError, match="aug_word_p must be in \\(0, 1\\], got 1.5"):
        KeyboardTypoPerturbation(aug_word_p=1.5)
    with pytest.raises(RecipeError, match="aug_char_max must be at least 1, got 0"):
        ZhCharDropPerturbation(aug_char_max=0)


def test_configured_instance_records_its_parameters():
    heavy = KeyboardTypoPerturbation(aug_word_p=0.5)
    out = perturb(EN, heavy, seed=1, source_id="a")
    light = perturb(EN, "keyboard_typo", seed=1, source_id="a")
    assert out.params["aug_word_p"] == 0.5 and light.params["aug_word_p"] == 0.1
    assert out.edit_distance > light.edit_distance
    assert regenerate(EN, heavy, out.seed) == out.text


def test_fullwidth_punct_switches_both_ways_and_spares_numbers():
    half = perturb("价格是3.5元, 对吗? 请在10:30前回答!", "zh_fullwidth_punct", seed=1,
                   source_id="a")
    assert half is not None
    assert "3.5" in half.text and "10:30" in half.text
    assert set(half.text) & set("，？！") and half.edit_distance <= 3
    full = perturb("你好，今天天气怎么样？我们去哪里（公园）玩！", "zh_fullwidth_punct", seed=1,
                   source_id="a", max_attempts=1)
    assert set(full.text) & set(",?()!")
    assert full.edit_distance == sum(a != b for a, b in zip(full.text, "你好，今天天气怎么样？我们去哪里（公园）玩！", strict=True))


def test_perturb_record_touches_only_the_named_fields():
    record = {"id": "q1", "question": EN, "answer": "Jupiter, because it is a gas giant.",
              "label": 1, "meta": {"src": "x"}}
    snapshot = json.loads(json.dumps(record))
    new, info = perturb_record(record, ["question"], "char_delete", seed=4, source_id="q1")
    assert record == snapshot  # input not mutated
    assert {k: v for k, v in new.items() if k != "question"} == \
        {k: v for k, v in record.items() if k != "question"}
    assert new["question"] != EN
    assert info.fields == ("question",) and info.not_applicable == ()
    assert info.edit_distance == edit_distance(EN, new["question"]) == info.edit_distances["question"]
    assert regenerate(EN, "char_delete", info.seed, field="question") == new["question"]
    again = perturb_record(record, ["question"], "char_delete", seed=4, source_id="q1")
    assert again == (new, info)


def test_perturb_record_sums_fields_and_skips_the_other_script():
    record = {"id": "z", "instruction": ZH, "input": "请把下面的句子翻译成英文：我喜欢读书。",
              "context": "An English passage that must stay as it is.", "output": "I like reading."}
    new, info = perturb_record(record, ["instruction", "input", "context"], "zh_char_drop",
                               seed=1, source_id="z")
    assert info.not_applicable == ("context",)
    assert new["context"] == record["context"] and new["output"] == record["output"]
    assert set(info.fields) <= {"instruction", "input"} and info.fields
    assert info.edit_distance == sum(edit_distance(record[f], new[f]) for f in info.fields)
    unchanged = {"instruction", "input"} - set(info.fields)
    assert all(new[f] == record[f] for f in unchanged)


def test_perturb_record_rejects_bad_fields():
    record = {"id": "a", "question": EN, "n": 3}
    with pytest.raises(InputError, match="field 'prompt': not in the record of source id 'a'"):
        perturb_record(record, ["prompt"], "ocr", seed=1, source_id="a")
    with pytest.raises(InputError, match="field 'n': must be text to be perturbed, got int"):
        perturb_record(record, ["n"], "ocr", seed=1, source_id="a")
    with pytest.raises(RecipeError, match="at least one input field"):
        perturb_record(record, [], "ocr", seed=1, source_id="a")
    with pytest.raises(NotApplicableError):
        perturb_record(record, ["question"], "zh_traditional", seed=1, source_id="a")
    assert perturb_record({"q": "我是大人。"}, ["q"], "zh_traditional", seed=1, source_id="a") is None


@pytest.mark.parametrize(("a", "b", "expected"), [
    ("", "", 0), ("abc", "abc", 0), ("", "abc", 3), ("abc", "", 3), ("kitten", "sitting", 3),
    ("flaw", "lawn", 2), ("intention", "execution", 5), ("ab", "ba", 2), ("中文", "中国文", 1),
    ("可以生成", "以可成生", 3), ("你好，世界", "你好,世界", 1), ("a" * 300, "b" * 300, 300),
])
def test_edit_distance_on_known_pairs(a, b, expected):
    assert edit_distance(a, b) == expected == edit_distance(b, a)


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet="abc中文 ", max_size=12), st.text(alphabet="abc中文 ", max_size=12))
def test_edit_distance_matches_the_textbook_recurrence(a, b):
    assert edit_distance(a, b) == reference_distance(a, b)


@pytest.fixture(scope="module")
def belle_questions():
    with real_data("eval/belle_eval_set_zh.jsonl").open(encoding="utf-8") as f:
        rows = [json.loads(line) for _, line in zip(range(50), f, strict=False)]
    return [(str(r["idx"]), r["question"]) for r in rows]


@pytest.mark.parametrize("name", CJK)
def test_real_chinese_questions_are_perturbed(name, belle_questions):
    done, not_applicable = 0, 0
    for sid, question in belle_questions:
        if not applicable(name, question):
            # One question is a Chinese instruction around a longer English sentence: not CJK.
            assert script_of(question) == "latin"
            not_applicable += 1
            continue
        assert not applicable("keyboard_typo", question)
        out = perturb(question, name, seed=2024, source_id=sid)
        if out is None:
            continue
        done += 1
        assert out.text != question and out.edit_distance > 0
        assert out.edit_distance == edit_distance(question, out.text)
    assert not_applicable <= 2
    assert done >= 0.9 * len(belle_questions)
