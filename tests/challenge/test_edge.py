"""Edge challenge: each rule and slice predicate on small hand-made pools with known answers."""

import json
import math

import numpy as np
import pyarrow as pa
import pytest

from splitforge.challenge.base import CHALLENGES, ChallengePool, Picked
from splitforge.challenge.edge import (
    EdgeChallenge,
    TrainWords,
    mixed_scripts,
    unusual_features,
    word_counts,
)
from splitforge.errors import RecipeError
from splitforge.normalize import normalize_text
from splitforge.recipe import EdgeConfig, EdgeSlice, SliceWhere


def table(texts, split="test", prefix=None, **fields):
    prefix = prefix or split[:2]
    return pa.table({
        "sf_id": [f"{prefix}{i:03d}" for i in range(len(texts))],
        "sf_text": texts,
        "sf_norm": [normalize_text(t) for t in texts],
        "sf_split": [split] * len(texts),
        **fields,
    })


TRAIN_TEXTS = [f"the model answers question number {i} about the weather" for i in range(40)]


def pool(candidates, train=None, seed=0):
    return ChallengePool(candidates, train if train is not None else table(TRAIN_TEXTS, "train"),
                         seed)


def edge(rules=(), slices=(), **options):
    return EdgeChallenge(EdgeConfig(rules=list(rules), slices=list(slices), **options))


def a_slice(name, **where):
    return EdgeSlice(name=name, where=SliceWhere(**where))


def assert_consistent(picked: Picked, candidates: pa.Table, n: int):
    """Rows are distinct candidates, at most n, with one reason and one score each."""
    assert len(picked.rows) <= n
    assert len(set(picked.rows.tolist())) == len(picked.rows)
    assert all(0 <= r < candidates.num_rows for r in picked.rows)
    assert len(picked.reasons) == len(picked.rows) == len(picked.scores)
    json.dumps(picked.info)  # JSON-safe


def test_registered_under_its_recipe_name():
    assert CHALLENGES.get("edge") is EdgeChallenge
    assert EdgeChallenge.name == "edge"


# -- shortest / longest ---------------------------------------------------------------------------


LENGTHS = list(range(1, 41))
BY_LENGTH = table(["x" * n for n in reversed(LENGTHS)])  # row i has length 40 - i


def test_shortest_takes_rows_at_or_below_the_5th_percentile_ascending():
    picked = edge(["shortest"]).pick(pool(BY_LENGTH), 10)
    # np.percentile(1..40, 5) = 2.95: lengths 1 and 2 qualify, shortest first
    assert picked.rows.tolist() == [39, 38]
    assert picked.reasons == ["shortest", "shortest"]
    assert picked.scores.tolist() == [1.0, 2.0]
    assert picked.info["rules"]["shortest"] == {"candidates": 2, "picked": 2, "max_chars": 2.95}
    assert_consistent(picked, BY_LENGTH, 10)


def test_longest_takes_rows_at_or_above_the_95th_percentile_descending():
    picked = edge(["longest"]).pick(pool(BY_LENGTH), 10)
    assert picked.rows.tolist() == [0, 1]  # lengths 40 and 39 (95th percentile: 38.05)
    assert picked.scores.tolist() == [40.0, 39.0]
    assert picked.info["rules"]["longest"] == {"candidates": 2, "picked": 2, "min_chars": 38.05}


def test_length_ties_go_to_the_smaller_id_and_n_caps_the_rows():
    candidates = table(["ab", "a", "a", "a"] + ["x" * 50] * 36)
    picked = edge(["shortest"]).pick(pool(candidates), 2)
    assert picked.rows.tolist() == [1, 2]


# -- rare_label -----------------------------------------------------------------------------------


def labelled_pool():
    train_labels = ["math"] * 60 + ["code"] * 38 + ["poetry"] * 2  # poetry: 2% of train
    train = table([f"train text {i}" for i in range(100)], "train", sf_label=train_labels)
    # Among the candidates poetry is common and math rare; only train's shares count.
    cand_labels = ["poetry"] * 6 + ["math", "code", "code", "legal", None, "code"]
    candidates = table([f"held out {i}" for i in range(12)], sf_label=cand_labels)
    return pool(candidates, train)


def test_rare_label_uses_train_shares_and_counts_unseen_labels_as_zero():
    picked = edge(["rare_label"]).pick(labelled_pool(), 20)
    # legal (absent from train, share 0) first, then the six poetry rows (share 0.02) by id
    assert picked.rows.tolist() == [9, 0, 1, 2, 3, 4, 5]
    assert picked.scores.tolist() == [0.0] + [0.02] * 6
    assert set(picked.reasons) == {"rare_label"}
    info = picked.info["rules"]["rare_label"]
    assert info["candidates"] == 7 and info["picked"] == 7
    assert info["labels"] == {"legal": 0.0, "poetry": 0.02}


def test_rare_label_threshold_follows_the_config():
    picked = edge(["rare_label"], rare_label_share=0.5).pick(labelled_pool(), 20)
    # code (0.38) is now rare too; math (0.6) is not
    assert sorted(picked.rows.tolist()) == [0, 1, 2, 3, 4, 5, 7, 8, 9, 11]


def test_rare_label_is_skipped_without_a_label_field():
    picked = edge(["rare_label", "shortest"]).pick(pool(BY_LENGTH), 5)
    assert picked.info["rules"]["rare_label"] == {
        "candidates": 0, "picked": 0, "skipped": "no label field mapped"}
    assert set(picked.reasons) == {"shortest"}


# -- rare_words -----------------------------------------------------------------------------------


def smooth_idf(n_docs, df):
    return math.log((1 + n_docs) / (1 + df)) + 1


def test_rare_words_ranks_by_mean_idf_against_train():
    common = [f"the model answers question number {i} about the weather" for i in range(19)]
    candidates = table(common + ["zebra quokka answers"])
    picked = edge(["rare_words"]).pick(pool(candidates), 5)
    assert picked.rows.tolist()[0] == 19
    n = len(TRAIN_TEXTS)
    # zebra and quokka never occur in train (df 0); "answers" is in every train text
    expected = (2 * smooth_idf(n, 0) + smooth_idf(n, n)) / 3
    assert picked.scores[0] == pytest.approx(expected)
    assert np.all(np.diff(picked.scores) <= 0)
    assert picked.info["rules"]["rare_words"]["candidates"] == len(picked.rows)


def test_train_words_document_frequencies_and_cjk_characters():
    words = TrainWords(["a b a", "b c", "猫狗"])
    # "a" occurs twice in one text: df 1, not 2
    assert words.mean_idf(["a"])[0] == pytest.approx(smooth_idf(3, 1))
    assert words.mean_idf(["b"])[0] == pytest.approx(smooth_idf(3, 2))
    # CJK text is split into characters: 猫 is known, 鱼 is not
    assert words.mean_idf(["猫鱼"])[0] == pytest.approx((smooth_idf(3, 1) + smooth_idf(3, 0)) / 2)
    assert math.isnan(words.mean_idf([""])[0])
    assert words.unseen_share(["a z", "猫鱼"]) == pytest.approx(2 / 4)


def test_rare_words_is_skipped_without_train_rows():
    empty_train = table([], "train")
    picked = edge(["rare_words", "longest"]).pick(pool(BY_LENGTH, empty_train), 3)
    assert picked.info["rules"]["rare_words"]["skipped"].startswith("no train rows")
    assert set(picked.reasons) == {"longest"}


# -- unusual_chars --------------------------------------------------------------------------------


UNUSUAL = [
    "An ordinary sentence about the weather.",                   # 0: nothing
    "Great job 🎉 see you",                                        # 1: emoji
    "Привет мир, hello world",                                      # 2: mixed scripts
    "def area(r):\n    return 3.14 * r * r",                        # 3: code
    "Docs at https://example.com/page",                             # 4: url
    "Order 123456789012 shipped",                                   # 5: long number
    "Look 😀 at http://x.org and call 5550001234567",              # 6: emoji, url, long number
    "请你写出一个可以生成五个不同随机数的 Python 程序",             # 7: CJK with one English word
    "if (x > 0) { y = 1; }",                                        # 8: code (braces + semicolon)
    "Phone 555-0100 and 123456789",                                 # 9: short numbers only
    "Use <b>bold</b> here",                                         # 10: code (closing tag)
]


def test_unusual_features_flag_each_kind():
    features = unusual_features(pa.chunked_array([UNUSUAL]))
    flagged = {name: np.flatnonzero(values).tolist() for name, values in features.items()}
    assert flagged == {"emoji": [1, 6], "mixed_scripts": [2], "code": [3, 8, 10],
                       "url": [4, 6], "long_number": [5, 6]}


def test_mixed_scripts_needs_a_real_share_of_each_script():
    texts = pa.chunked_array([["我在用 Python 和 JavaScript 写代码", "纯中文句子没有外文",
                               "café naïve résumé", "Ελληνικά και English words"]])
    assert mixed_scripts(texts).tolist() == [True, False, False, True]


def test_unusual_chars_scores_by_feature_count():
    candidates = table(UNUSUAL)
    picked = edge(["unusual_chars"]).pick(pool(candidates), 20)
    assert picked.rows.tolist() == [6, 1, 2, 3, 4, 5, 8, 10]
    assert picked.scores.tolist() == [3.0] + [1.0] * 7
    assert set(picked.reasons) == {"unusual_chars"}
    assert picked.info["rules"]["unusual_chars"]["features"] == {
        "emoji": 2, "mixed_scripts": 1, "code": 3, "url": 2, "long_number": 2}


# -- slices ---------------------------------------------------------------------------------------


SLICE_TEXTS = [
    "Translate this sentence into French",        # 0: 5 words, 35 chars
    "What is 2 + 2?",                              # 1
    "translate: good morning",                     # 2
    "Summarize the following article in three sentences please",  # 3: 8 words
    "你好世界",                                     # 4: CJK, 4 characters = 4 words
    "Short",                                        # 5
]
SLICE_FIELDS = {
    "category": ["translation", "math", "translation", "summary", "greeting", None],
    "difficulty": [3, 1, 2, 3, 1, 2],
    "source": ["forum-en", "exam", "forum-fr", "news", "forum-zh", "exam"],
}


def slice_pool():
    return pool(table(SLICE_TEXTS, **SLICE_FIELDS))


def slice_rows(**where):
    picked = edge(slices=[a_slice("s", **where)]).pick(slice_pool(), 10)
    assert set(picked.reasons) <= {"slice:s"}
    assert np.isnan(picked.scores).all()
    return picked.rows.tolist()


def test_slice_text_matches_is_a_case_insensitive_search():
    assert slice_rows(text_matches=r"^translate") == [0, 2]
    assert slice_rows(text_matches=r"\d \+ \d") == [1]


def test_slice_field_equals_compares_the_original_field():
    assert slice_rows(field="category", equals="translation") == [0, 2]
    assert slice_rows(field="difficulty", equals=3) == [0, 3]
    assert slice_rows(field="difficulty", equals="3") == [0, 3]  # compared as text
    assert slice_rows(field="category", equals="missing") == []


def test_slice_field_matches_searches_the_field():
    assert slice_rows(field="source", matches=r"^forum-") == [0, 2, 4]
    assert slice_rows(field="source", matches=r"^FORUM") == []  # case-sensitive
    assert slice_rows(field="category", matches=r"(?i)^TRANS") == [0, 2]  # nulls never match


def test_slice_min_and_max_chars():
    assert slice_rows(min_chars=35) == [0, 3]
    assert slice_rows(max_chars=5) == [4, 5]
    assert slice_rows(min_chars=14, max_chars=23) == [1, 2]


def test_slice_min_and_max_words_count_cjk_characters():
    assert word_counts(SLICE_TEXTS).tolist() == [5, 5, 3, 8, 4, 1]
    assert slice_rows(min_words=6) == [3]
    assert slice_rows(max_words=3) == [2, 5]
    assert slice_rows(min_words=4, max_words=4) == [4]


def test_slice_conditions_must_all_hold():
    assert slice_rows(text_matches="translate", field="source", equals="forum-fr") == [2]
    assert slice_rows(field="difficulty", equals=3, max_words=5) == [0]


def test_slice_naming_an_unknown_field_is_a_recipe_error():
    kind = edge(slices=[a_slice("ok", min_chars=1), a_slice("bad", field="topic", equals="x"),
                        a_slice("worse", field="lang", matches="en")])
    with pytest.raises(RecipeError) as error:
        kind.pick(slice_pool(), 5)
    problems = error.value.problems
    assert len(problems) == 2
    assert problems[0].startswith("challenge.edge.slices[1].where.field: no field 'topic'")
    assert problems[1].startswith("challenge.edge.slices[2].where.field: no field 'lang'")
    assert "available fields: category, difficulty, source" in problems[0]


# -- combining ------------------------------------------------------------------------------------


def mixed_pool():
    texts = ["x" * n for n in range(1, 41)]
    texts[0] = "x translate"  # length 11: neither shortest nor longest
    texts[1] = "t"            # shortest (1 char) and matches the slice
    texts[39] = "translate " + "y" * 60  # longest, and matches the slice
    return pool(table(texts))


def test_rows_are_dealt_round_robin_and_the_first_rule_keeps_a_shared_row():
    kind = edge(["shortest", "longest"], [a_slice("tr", text_matches="^(x )?t")])
    picked = kind.pick(mixed_pool(), 5)
    # shortest (5th percentile 3.95): rows 1 (1 char), 2 (3 chars); longest: rows 39 (70
    # chars), 38 (39 chars); slice: rows 0, 1, 39
    assert picked.rows.tolist() == [1, 39, 0, 2, 38]
    assert picked.reasons == ["shortest", "longest", "slice:tr", "shortest", "longest"]
    assert picked.info == {
        "rules": {"shortest": {"candidates": 2, "picked": 2, "max_chars": 3.95},
                  "longest": {"candidates": 2, "picked": 2, "min_chars": 38.05}},
        "slices": {"tr": {"candidates": 3, "picked": 1}},
    }


def test_each_rule_gets_its_fair_share():
    candidates = table(UNUSUAL + [f"plain text number {i} here" for i in range(29)])
    kind = edge(["shortest", "longest", "unusual_chars"])
    picked = kind.pick(pool(candidates), 6)
    counts = {r: picked.reasons.count(r) for r in ("shortest", "longest", "unusual_chars")}
    assert counts == {"shortest": 2, "longest": 2, "unusual_chars": 2}


def test_reasons_and_scores_align_with_the_rule_that_took_the_row():
    candidates = table(UNUSUAL + [f"plain text number {i} here" for i in range(29)],
                       sf_label=["a"] * 39 + ["b"])
    train = table(TRAIN_TEXTS, "train", sf_label=["a"] * 40)
    picked = edge().pick(pool(candidates, train), 12)
    lengths = [len(t) for t in candidates.column("sf_text").to_pylist()]
    assert_consistent(picked, candidates, 12)
    for row, reason, score in zip(picked.rows, picked.reasons, picked.scores, strict=True):
        if reason in ("shortest", "longest"):
            assert score == lengths[row]
        elif reason == "rare_label":
            assert row == 39 and score == 0.0  # label b never occurs in train
        elif reason == "rare_words":
            assert score > 0
        else:
            assert reason == "unusual_chars" and score >= 1


def test_same_pool_twice_gives_identical_picks():
    candidates = table(UNUSUAL + SLICE_TEXTS + [f"row {i} of the pool" for i in range(20)])
    kind = edge(slices=[a_slice("t", text_matches="translate")])
    first = kind.pick(pool(candidates), 9)
    second = edge(slices=[a_slice("t", text_matches="translate")]).pick(pool(candidates), 9)
    assert first.rows.tolist() == second.rows.tolist()
    assert first.reasons == second.reasons
    np.testing.assert_array_equal(first.scores, second.scores)
    assert json.dumps(first.info, sort_keys=True) == json.dumps(second.info, sort_keys=True)
