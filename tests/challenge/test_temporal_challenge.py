"""Temporal challenge: newest held-out rows, the after-date filter, and the comparison with train."""

import json
from datetime import UTC, date, datetime

import numpy as np
import pyarrow as pa
import pytest

from splitforge.challenge.base import CHALLENGES, ChallengePool
from splitforge.challenge.temporal import TemporalChallenge, after_label, epoch_micros
from splitforge.normalize import normalize_text
from splitforge.recipe import TemporalChallengeConfig

TIME = pa.timestamp("us", tz="UTC")


def at(*args):
    return datetime(*args, tzinfo=UTC)


def table(texts, times, split, prefix, labels=None):
    columns = {
        "sf_id": [f"{prefix}{i:03d}" for i in range(len(texts))],
        "sf_text": texts,
        "sf_norm": [normalize_text(t) for t in texts],
        "sf_split": [split] * len(texts),
    }
    if times is not None:
        columns["sf_time"] = pa.array(times, TIME)
    if labels is not None:
        columns["sf_label"] = labels
    return pa.table(columns)


TRAIN = table(
    ["the cat sat on the mat", "the dog sat", "a cat and a dog", "the mat"],
    [at(2023, 1, 1), at(2023, 3, 1), at(2023, 6, 1), at(2023, 9, 30)],
    "train", "tr", labels=["pets", "pets", "pets", "home"],
)
CANDIDATE_TEXTS = [
    "the cat sat",                    # 0
    "a new llama model",              # 1
    "the dog and the cat",            # 2
    "gpu prices fell",                # 3
    "no time for this one",           # 4 (null time)
    "the llama sat on the gpu",       # 5
]
CANDIDATE_TIMES = [at(2023, 11, 5), at(2024, 3, 1), at(2024, 1, 1), at(2024, 3, 1), None,
                   at(2024, 2, 10, 12, 30)]
CANDIDATE_LABELS = ["pets", "ai", "pets", "ai", "pets", "ai"]


def pool(times=CANDIDATE_TIMES, labels=CANDIDATE_LABELS, train=TRAIN):
    candidates = table(CANDIDATE_TEXTS, times, "test", "te", labels)
    return ChallengePool(candidates, train, seed=3)


def temporal(after=None):
    return TemporalChallenge(TemporalChallengeConfig(after=after))


def test_registered_under_its_recipe_name():
    assert CHALLENGES.get("temporal") is TemporalChallenge


def test_newest_first_with_ties_by_id_and_rows_without_time_left_out():
    picked = temporal().pick(pool(), 10)
    assert picked.rows.tolist() == [1, 3, 5, 2, 0]  # rows 1 and 3 share a time: smaller id first
    assert picked.reasons == ["newest"] * 5
    expected = [at(2024, 3, 1), at(2024, 3, 1), at(2024, 2, 10, 12, 30), at(2024, 1, 1),
                at(2023, 11, 5)]
    assert picked.scores.tolist() == [t.timestamp() for t in expected]
    assert picked.info["candidates"] == 5 and picked.info["picked"] == 5


def test_n_newest():
    picked = temporal().pick(pool(), 2)
    assert picked.rows.tolist() == [1, 3]


def test_after_keeps_rows_strictly_later_than_the_date():
    picked = temporal(after=date(2024, 1, 1)).pick(pool(), 10)
    # row 2 is exactly at midnight on 2024-01-01: not strictly after
    assert picked.rows.tolist() == [1, 3, 5]
    assert picked.reasons == ["after:2024-01-01"] * 3
    assert all(s > at(2024, 1, 1).timestamp() for s in picked.scores)


def test_after_a_time_of_day_and_nothing_left():
    picked = temporal(after="2024-02-10T12:30:00Z").pick(pool(), 10)
    assert picked.rows.tolist() == [1, 3]
    assert picked.reasons == ["after:2024-02-10T12:30:00Z"] * 2
    none = temporal(after=date(2030, 1, 1)).pick(pool(), 10)
    assert none.rows.tolist() == [] and none.info["candidates"] == 0


def test_after_label_writes_dates_plainly():
    assert after_label(at(2024, 1, 1)) == "2024-01-01"
    assert after_label(at(2024, 1, 1, 6)) == "2024-01-01T06:00:00Z"


def test_skipped_without_a_time_field():
    picked = temporal().pick(pool(times=None), 3)
    assert picked.rows.tolist() == []
    assert picked.info == {"skipped": "the recipe maps no time field: set fields.time"}


def test_info_compares_the_picked_rows_with_train():
    picked = temporal(after=date(2024, 1, 1)).pick(pool(), 10)
    info = picked.info
    assert info["time_range"] == {
        "picked": ["2024-02-10T12:30:00Z", "2024-03-01T00:00:00Z"],
        "train": ["2023-01-01T00:00:00Z", "2023-09-30T00:00:00Z"],
    }
    compared = info["compared_with_train"]
    picked_texts = [CANDIDATE_TEXTS[r] for r in (1, 3, 5)]
    train_texts = TRAIN.column("sf_text").to_pylist()
    assert compared["mean_chars"] == {
        "picked": round(np.mean([len(t) for t in picked_texts]), 4),
        "train": round(np.mean([len(t) for t in train_texts]), 4),
    }
    # the picked rows are all "ai", a label train never has
    assert compared["label_shares"] == {"picked": {"ai": 1.0}, "train": {"ai": 0.0}}
    train_words = {w for t in train_texts for w in normalize_text(t).split()}
    words = [w for t in picked_texts for w in normalize_text(t).split()]
    unseen = sum(w not in train_words for w in words) / len(words)
    assert compared["unseen_word_share"] == round(unseen, 4)
    json.dumps(info)


def test_label_shares_are_left_out_without_labels():
    candidates = table(CANDIDATE_TEXTS, CANDIDATE_TIMES, "test", "te")
    train = table(["old text"], [at(2020, 1, 1)], "train", "tr")
    picked = temporal().pick(ChallengePool(candidates, train, 0), 2)
    assert "label_shares" not in picked.info["compared_with_train"]


def test_other_units_and_zones_are_read_as_utc_instants():
    column = pa.chunked_array([pa.array([0, 1_500_000_000, None], pa.timestamp("ms",
                                                                               "Asia/Tokyo"))])
    micros, present = epoch_micros(column)
    assert micros.tolist()[:2] == [0, 1_500_000_000_000] and present.tolist() == [True, True,
                                                                                   False]


@pytest.mark.parametrize("after", [None, date(2024, 1, 1)])
def test_same_pool_twice_gives_identical_picks(after):
    first, second = temporal(after).pick(pool(), 4), temporal(after).pick(pool(), 4)
    assert first.rows.tolist() == second.rows.tolist()
    assert first.reasons == second.reasons
    np.testing.assert_array_equal(first.scores, second.scores)
    assert json.dumps(first.info, sort_keys=True) == json.dumps(second.info, sort_keys=True)
