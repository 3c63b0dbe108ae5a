"""OOD challenge: GSM8K questions planted among real commit messages, plus small synthetic cases."""

import gzip
import itertools
import json

import numpy as np
import pyarrow as pa

from splitforge.challenge.base import CHALLENGES, ChallengePool
from splitforge.challenge.ood import OodChallenge, knn_scores
from splitforge.normalize import normalize_text
from splitforge.recipe import OodConfig
from tests.conftest import real_data


def table(texts, split, prefix):
    return pa.table({
        "sf_id": [f"{prefix}{i:05d}" for i in range(len(texts))],
        "sf_text": texts,
        "sf_norm": [normalize_text(t) for t in texts],
        "sf_split": [split] * len(texts),
    })


def ood(method="knn", k=5):
    return OodChallenge(OodConfig(method=method, k=k))


def test_registered_under_its_recipe_name():
    assert CHALLENGES.get("ood") is OodChallenge


# -- real data ------------------------------------------------------------------------------------


def commits_with_planted_gsm8k(seed=0, n_train=3000, n_cand=1000, n_foreign=50):
    """Commit messages as train and candidates; n_foreign candidates replaced by GSM8K items."""
    with gzip.open(real_data("temporal/oss_commit_messages.jsonl.gz"), "rb") as f:
        lines = f.read().splitlines()
    rng = np.random.default_rng(seed)
    chosen = np.sort(rng.choice(len(lines), n_train + n_cand, replace=False))
    records = [json.loads(lines[i]) for i in chosen]
    texts = [r["subject"] + "\n" + r["body"] for r in records]
    order = rng.permutation(len(texts))
    train = [texts[i] for i in order[:n_train]]
    candidates = [texts[i] for i in order[n_train:]]
    with open(real_data("eval/gsm8k_test.jsonl"), encoding="utf-8") as f:
        questions = [json.loads(line)["question"] for line in f]
    slots = np.sort(rng.choice(n_cand, n_foreign, replace=False))
    for slot, q in zip(slots, rng.choice(len(questions), n_foreign, replace=False), strict=True):
        candidates[slot] = questions[q]
    foreign = np.zeros(n_cand, dtype=bool)
    foreign[slots] = True
    pool = ChallengePool(table(candidates, "test", "c"), table(train, "train", "t"), seed=0)
    return pool, foreign


def test_knn_finds_planted_gsm8k_questions_among_commit_messages():
    pool, foreign = commits_with_planted_gsm8k()
    picked = ood().pick(pool, 100)
    top50 = int(foreign[picked.rows[:50]].sum())
    top100 = int(foreign[picked.rows[:100]].sum())
    print(f"\nOOD knn, 3000 train commits, 1000 candidates with 50 GSM8K questions: "
          f"{top50} of the top 50 and {top100} of the top 100 are GSM8K")
    assert top50 >= 45  # at least 90% of the top 50
    assert top100 >= 45  # nearly all 50 planted items within the top 100
    assert picked.reasons == ["knn"] * 100
    assert np.all(np.diff(picked.scores) <= 0)
    assert picked.info["k"] == 5 and picked.info["train_rows"] == 3000
    json.dumps(picked.info)


# -- synthetic ------------------------------------------------------------------------------------


CITIES = ["paris", "berlin", "madrid", "rome", "vienna", "lisbon"]
WEATHER = ["sunny", "rainy", "cloudy", "windy", "foggy"]
SEASONS = ["spring", "summer", "autumn", "winter"]
WEATHER_TEXTS = [f"the weather in {c} is {w} this {s} and people stay {'in' if w != 'sunny' else 'out'}"
                 for c, w, s in itertools.product(CITIES, WEATHER, SEASONS)]  # 120 texts
SQL = ["SELECT id, total FROM invoices WHERE paid = 0 ORDER BY total DESC",
       "SELECT name FROM vendors WHERE id IN (SELECT vendor FROM invoices WHERE paid = 0)"]


def synthetic_pool(extra=()):
    """80 weather sentences as train; 40 more of the same kind, then the extra texts, held out."""
    train = [t for i, t in enumerate(WEATHER_TEXTS) if i % 3]
    candidates = [t for i, t in enumerate(WEATHER_TEXTS) if not i % 3] + list(extra)
    return ChallengePool(table(candidates, "test", "c"), table(train, "train", "t"), seed=7)


def test_isolation_forest_ranks_obvious_outliers_first():
    picked = ood("isolation_forest").pick(synthetic_pool(SQL), 5)
    assert sorted(picked.rows[:2].tolist()) == [40, 41]  # the two SQL queries
    assert picked.reasons == ["isolation_forest"] * 5
    assert np.all(np.diff(picked.scores) <= 0)
    assert picked.info["method"] == "isolation_forest" and "n_estimators" in picked.info


def test_knn_ranks_obvious_outliers_first_and_never_picks_blank_text():
    picked = ood().pick(synthetic_pool(SQL + ["  "]), 50)
    assert sorted(picked.rows[:2].tolist()) == [40, 41]
    assert 42 not in picked.rows.tolist()  # the blank row
    assert len(picked.rows) == 42 and picked.info["scored"] == 42


def test_a_row_with_only_unknown_words_gets_the_top_score():
    unique = "Zwölf Boxkämpfer jagen Viktor quer über den großen Sylter Deich"
    for method, top in (("knn", 1.0), ("isolation_forest", 1.0)):
        picked = ood(method).pick(synthetic_pool([unique]), 3)
        assert picked.rows[0] == 40 and picked.scores[0] == top
        assert picked.info["unembedded"] == 1


def test_knn_excess_counts_held_out_neighbours_beyond_their_expected_share():
    train = np.eye(4, dtype=np.float32)[[0, 0, 1, 1]]
    candidates = np.eye(4, dtype=np.float32)[[2, 2, 0]]
    far, excess = knn_scores(train, candidates, k=1)
    assert far.tolist() == [1.0, 1.0, 0.0]
    expected = (3 - 1) / (4 + 3 - 1)
    # rows 0 and 1 are each other's neighbour (held out); row 2's is a train row
    np.testing.assert_allclose(excess, [1 - expected, 1 - expected, 0 - expected])


def test_fewer_than_two_train_rows_picks_nothing_and_says_why():
    pool = ChallengePool(table(["a question"], "test", "c"), table(["one row"], "train", "t"), 0)
    picked = ood().pick(pool, 3)
    assert picked.rows.tolist() == []
    assert "at least 2" in picked.info["skipped"]


def test_same_pool_twice_gives_identical_picks():
    for method in ("knn", "isolation_forest"):
        first = ood(method).pick(synthetic_pool(SQL), 8)
        second = ood(method).pick(synthetic_pool(SQL), 8)
        assert first.rows.tolist() == second.rows.tolist()
        np.testing.assert_array_equal(first.scores, second.scores)
        assert json.dumps(first.info, sort_keys=True) == json.dumps(second.info, sort_keys=True)
