"""Boilerplate: recurring spans found in real data, left out of similarity, kept in the output."""

import gzip
import hashlib
import json
from collections import Counter

import pyarrow as pa
import pytest

from splitforge.normalize import normalize_text
from splitforge.normalize.boilerplate import BoilerplateSettings, detect_boilerplate
from splitforge.normalize.shingles import char_codes, is_cjk
from tests.conftest import real_data

TEMPLATE = ("Below is an instruction that describes a task. Write a response that appropriately "
            "completes the request.\n\n### Instruction:\n{instruction}\n\n### Response:\n{output}")
SYSTEM = ("You are a helpful, respectful and honest assistant. Always answer as helpfully as "
          "possible, while being safe. Please ensure that your responses are socially unbiased "
          "and positive in nature.")


def alpaca() -> list[dict]:
    with gzip.open(real_data("instruct/alpaca_en_zh_52k.jsonl.gz"), "rt", encoding="utf-8") as f:
        return [json.loads(line) for line in f]


def gsm8k_questions(n: int) -> list[str]:
    with gzip.open(real_data("eval/gsm8k_train.jsonl.gz"), "rt", encoding="utf-8") as f:
        return [json.loads(line)["question"] for _, line in zip(range(n), f, strict=False)]


def tokens(norm: str) -> list[str]:
    """Words, or the characters of a CJK text that are tokens (punctuation is none)."""
    if is_cjk(norm):
        return [chr(c) for c in char_codes([norm])[0].tolist()]
    return norm.split(" ")


def left_out(full: list[str], content: list[str], stripped: list[str]) -> tuple[float, float]:
    """Share of the template's tokens left out, and share of the content's tokens left out."""
    template_total = template_out = content_total = content_out = 0
    for f, c, s in zip(full, content, stripped, strict=True):
        f, c, s = Counter(tokens(f)), Counter(tokens(c)), Counter(tokens(s))
        template, removed = f - c, f - s
        hit = sum(min(n, template[t]) for t, n in removed.items())
        template_total += sum(template.values())
        template_out += hit
        content_total += sum(c.values())
        content_out += sum(removed.values()) - hit
    return template_out / template_total, content_out / content_total


def halves(rows: list) -> tuple[list, list]:
    """Rows cut in two by a hash of their position: detection is tuned on neither."""
    first = [hashlib.sha256(str(i).encode()).digest()[0] % 2 == 0 for i in range(len(rows))]
    return ([r for r, f in zip(rows, first, strict=True) if f],
            [r for r, f in zip(rows, first, strict=True) if not f])


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_the_alpaca_template_is_found_on_both_halves_and_the_content_kept(lang):
    rows = [r for r in alpaca() if r[f"{lang}_output"].strip()]
    for half in halves(rows):
        full = [normalize_text(TEMPLATE.format(instruction=r[f"{lang}_instruction"],
                                               output=r[f"{lang}_output"])) for r in half]
        content = [normalize_text(f"{r[f'{lang}_instruction']}\n{r[f'{lang}_output']}")
                   for r in half]
        found = detect_boilerplate(full)
        recall, loss = left_out(full, content, found.strip_texts(full))
        assert recall >= 0.9, (lang, recall)  # "### response:" between the parts may stay
        assert loss <= 0.03, (lang, loss)
        assert found.summary["rows_with_boilerplate"] == len(half)
        spans = found.summary["spans"]
        assert any("describesatask" in s["text"].replace(" ", "") for s in spans[:3])


def test_a_system_prompt_in_the_text_is_found_and_natural_text_loses_almost_nothing():
    questions = gsm8k_questions(1200)
    chats = [normalize_text(f"system: {SYSTEM}\nuser: {q}") for q in questions]
    found = detect_boilerplate(chats)
    recall, loss = left_out(chats, [normalize_text(q) for q in questions],
                            found.strip_texts(chats))  # "user:" opens every row: boilerplate
    assert recall >= 0.95 and loss <= 0.02
    natural = detect_boilerplate([normalize_text(q) for q in questions])
    assert natural.summary["tokens_left_out"] < 0.01  # real questions share no 4-word run at 5%
    belle = [json.loads(line)["question"] for line in
             real_data("eval/belle_eval_set_zh.jsonl").open(encoding="utf-8")]
    assert detect_boilerplate([normalize_text(q) for q in belle]).summary["tokens_left_out"] < 0.01


def test_rows_without_boilerplate_keep_their_text_byte_for_byte_and_a_bare_template_stays():
    questions = [normalize_text(q) for q in gsm8k_questions(300)]
    chats = [f"system: {normalize_text(SYSTEM)} user: {q}" for q in questions]
    found = detect_boilerplate(chats)
    assert found.strip_texts(questions) == questions  # nothing of the template in them
    only = f"system: {normalize_text(SYSTEM)}"
    assert found.strip_texts([only]) == [only]  # all boilerplate: nothing else to compare
    stripped = found.strip_texts(chats)
    assert stripped[0] == "user: " + questions[0] or stripped[0].endswith(questions[0])


def test_stripping_does_not_depend_on_batching():
    questions = [normalize_text(q) for q in gsm8k_questions(400)]
    texts = [normalize_text(TEMPLATE.format(instruction=q, output="ok")) for q in questions]
    found = detect_boilerplate(texts)
    whole = found.strip_texts(texts)
    assert [found.strip_texts([t])[0] for t in texts[:50]] == whole[:50]
    chunked = pa.chunked_array([pa.array(texts[:123]), pa.array(texts[123:])])
    assert found.strip(chunked).to_pylist() == whole


def test_named_spans_are_left_out_and_detection_can_be_turned_off():
    questions = [normalize_text(q) for q in gsm8k_questions(300)]
    texts = [f"{q} ### response: yes" for q in questions]
    off = detect_boilerplate(texts, BoilerplateSettings(detect=False))
    assert off.empty and off.strip_texts(texts) == texts
    named = detect_boilerplate(texts, BoilerplateSettings(detect=False,
                                                           ignore=("### Response:",)))
    assert named.strip_texts(texts) == [f"{q} yes" for q in questions]
    assert named.summary["spans"][0] == {"text": "### response:", "rows": 300}
    with_detect = detect_boilerplate(texts)  # "### response: yes" recurs: found by itself
    assert all(s == q for s, q in zip(with_detect.strip_texts(texts), questions, strict=True))


def test_measuring_in_pieces_over_processes_counts_as_one_pass(monkeypatch):
    import splitforge.normalize.boilerplate as bp

    questions = [normalize_text(q) for q in gsm8k_questions(300)]
    texts = [normalize_text(TEMPLATE.format(instruction=q, output="ok")) for q in questions]
    texts += questions[:40]  # rows without boilerplate: their piece is the input's own
    found = detect_boilerplate(texts, measure=False)
    whole, measured = found.strip_and_measure(texts, num_proc=1)
    monkeypatch.setattr(bp, "PIECE_ROWS", 37)
    monkeypatch.setattr(bp, "PARALLEL_ABOVE", 0)
    pieces, measured_pieces = found.strip_and_measure(pa.chunked_array([texts[:100],
                                                                        texts[100:]]), num_proc=2)
    assert pieces.to_pylist() == whole.to_pylist() == found.strip_texts(texts)
    assert measured_pieces.summary == measured.summary
    assert measured.summary["rows_with_boilerplate"] == 300
    assert pieces.type == pa.string()  # the input's type, whatever the pieces were cut as
