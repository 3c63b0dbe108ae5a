"""The evidence shows the training text that matched (#14 part 4): MinHash's ``matched_text`` is
the start of its evidence row, exact's the passage of the containing row around the item, the
same whatever the batching and order of the training rows."""

import gzip
import json
import random

import pyarrow as pa
import pyarrow.parquet as pq

from splitforge.audit import ExactCheck, MinHashCheck
from splitforge.audit.base import PREVIEW
from splitforge.audit.run import audit_files
from splitforge.normalize import normalize_text
from tests.audit.conftest import norm_all, run
from tests.conftest import FAST_METHODS, real_data, write_jsonl


def _gsm8k(name: str) -> list[dict]:
    path = real_data(f"eval/{name}")
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as f:
        return [json.loads(line) for line in f]


def _edited(question: str) -> str:
    """A near copy: a prefix, and every tenth word replaced (no 13-gram survives, Jaccard ~0.65)."""
    words = question.split()
    return "Homework: " + " ".join("several" if k % 10 == 5 else w for k, w in enumerate(words))


def _subject() -> str:
    """A real commit subject of five to seven plain words."""
    with gzip.open(real_data("temporal/oss_commit_messages.jsonl.gz"), "rt",
                   encoding="utf-8") as f:
        subjects = (json.loads(line)["subject"] for line in f)
        return next(s for s in subjects if 5 <= len(s.split()) <= 7
                    and all(w.isalpha() for w in s.split()))


def _batches(rows: list[tuple[str, str]], size: int, seed: int | None):
    rows = rows[:]
    if seed is not None:
        random.Random(seed).shuffle(rows)
    return [([i for i, _ in rows[k:k + size]], pa.array([t for _, t in rows[k:k + size]]))
            for k in range(0, len(rows), size)]


def test_a_minhash_flag_shows_the_training_row_not_the_eval_item(tmp_path):
    tests = _gsm8k("gsm8k_test.jsonl")[:60]
    train = [{"id": f"train-{k}", "text": r["question"]}
             for k, r in enumerate(_gsm8k("gsm8k_train.jsonl.gz")[:1500])]
    planted = {f"test-{k}": _edited(tests[k]["question"]) for k in range(0, 60, 3)}
    train += [{"id": f"copy-of-{e}", "text": t} for e, t in planted.items()]
    write_jsonl(tmp_path / "train.jsonl", train)
    write_jsonl(tmp_path / "eval.jsonl", [{"id": f"test-{k}", "question": r["question"]}
                                          for k, r in enumerate(tests)])
    result = audit_files([tmp_path / "train.jsonl"], [tmp_path / "eval.jsonl"], train_text="text",
                         eval_text="question", id_field="id", fail_on="never",
                         report=tmp_path / "report", num_proc=1, methods=FAST_METHODS)
    rows = {r["eval_id"]: r for r in result.table.to_pylist()}
    for eval_id, text in planted.items():
        row = rows[eval_id]
        assert row["verdict"] != "clean", eval_id
        assert (row["evidence_method"], row["evidence_id"]) == ("minhash", f"copy-of-{eval_id}")
        training = normalize_text(text)
        assert row["matched_text"] == training[:PREVIEW]  # the training row's start ...
        assert row["matched_text"].startswith("homework: ")
        assert row["matched_text"] != row["eval_text"]  # ... not the item again
        assert row["matched_text"] != normalize_text(row["eval_text"])[:PREVIEW]
        assert row["minhash_matched_text"] == row["matched_text"]
    saved = pq.read_table(tmp_path / "report" / "audit.parquet")
    assert "minhash_matched_text" in saved.column_names
    md = (tmp_path / "report" / "audit.md").read_text(encoding="utf-8")
    assert md.count("| homework: ") >= len(planted)  # the matched column of audit.md


def _repeats_last_word(question: str) -> tuple[str, str] | None:
    """A question and a longer text with the same word bigrams (so the same signature), or None.

    When the last word also occurs earlier, repeating the words after that occurrence adds no
    new bigram.
    """
    words = normalize_text(question).split()
    if len(" ".join(words)) + 40 > PREVIEW or words[-1] not in words[:-1]:
        return None
    at = words.index(words[-1])
    return " ".join(words), " ".join(words + words[at + 1:])


def test_minhash_evidence_text_follows_the_evidence_id_whatever_the_batches():
    questions = [r["question"] for r in _gsm8k("gsm8k_test.jsonl")]
    same, longer = next(p for p in map(_repeats_last_word, questions) if p is not None)
    other = next(q for q in questions[200:] if 12 <= len(q.split()) <= 40)
    short = _subject()  # with a prefix in training: an affix copy, whose evidence is the copy
    evals = norm_all([same, other, short])
    rows = [("k2", same), ("k10", longer),  # equal signatures: "k10" < "k2" is the evidence
            ("dup", longer), ("dup", same),  # one id on two rows: the smaller text
            ("b-edit", _edited(other)), ("a-unrelated", questions[7]),
            ("z-copy", f"Show HN: {short}"), ("a-near", short.rsplit(" ", 1)[0] + " again")]
    rows += [(f"train-{k}", r["question"]) for k, r in
             enumerate(_gsm8k("gsm8k_train.jsonl.gz")[:300])]
    results = []
    for size in (1, 3, len(rows)):
        for seed in (None, 1, 2):
            results.append(run(MinHashCheck(evals), _batches(rows, size, seed)))
    first = results[0]
    assert first.score[0] == 1.0 and first.evidence_id[0] == "dup"  # "dup" < "k10" < "k2"
    assert first.matched_text[0] == normalize_text(same)  # dup's smaller text
    assert first.evidence_id[1] == "b-edit"
    assert first.matched_text[1] == normalize_text(_edited(other))[:PREVIEW]
    assert first.affix_copy[2] and first.evidence_id[2] == "z-copy"
    assert first.matched_text[2] == normalize_text(f"Show HN: {short}")
    for other_run in results[1:]:
        assert other_run.to_table().equals(first.to_table())
    # without the repeated id, the evidence is "k10", and its text with it
    no_dup = [r for r in rows if r[0] != "dup"]
    for size, seed in ((1, None), (2, 3), (len(no_dup), 4)):
        result = run(MinHashCheck(evals), _batches(no_dup, size, seed))
        assert result.evidence_id[0] == "k10" and result.matched_text[0] == normalize_text(longer)


def test_an_exact_containment_shows_the_passage_around_the_item(belle_questions):
    tests = [r["question"] for r in _gsm8k("gsm8k_test.jsonl")]
    answers = [r["answer"] for r in _gsm8k("gsm8k_train.jsonl.gz")[:40]]
    shortish = next(q for q in tests if 120 <= len(q) <= 200)
    long = next(q for q in tests if len(q) > PREVIEW + 50)
    chinese = next(q for q in belle_questions if 20 <= len(q) <= 80)
    equal = tests[3]
    evals = norm_all([shortish, long, chinese, equal])
    host = f"{answers[0]}\nQuestion: {shortish}\nAnswer: {answers[1]}"
    zh_host = f"以下是一段训练数据，前面有很多无关的内容。{chinese}后面还有一些别的文字，内容不同。"
    rows = [("host", host), ("host", f"Intro. {shortish}"),  # one id twice: the smaller passage
            ("long-host", f"{answers[2]} {long} {answers[3]}"), ("zh", zh_host),
            ("equal", equal), *((f"train-{k}", a) for k, a in enumerate(answers[4:]))]
    results = [run(ExactCheck(evals), _batches(rows, size, seed))
               for size in (1, 2, len(rows)) for seed in (None, 5, 6)]
    first = results[0]
    assert first.contained.tolist() == [True, True, True, True]
    assert first.contained_id == ["host", "long-host", "zh", "equal"]
    # the passage centres the item: text before and after it where the host has both
    in_host = run(ExactCheck(evals[:1]), [(["h"], [host])]).contained_text[0]
    at = in_host.index(evals[0])
    assert at > 20 and len(in_host) - at - len(evals[0]) > 20
    assert len(in_host) <= PREVIEW and in_host in normalize_text(host)
    passage = first.contained_text[0]
    assert passage == min(in_host, normalize_text(f"Intro. {shortish}"))
    assert first.contained_text[1] == evals[1][:PREVIEW]  # longer than the preview: its start
    assert evals[2].replace(" ", "") in first.contained_text[2].replace(" ", "")
    assert first.contained_text[2] in normalize_text(zh_host)
    assert first.contained_text[2] != evals[2]  # the text around it too
    for other in results[1:]:
        assert other.contained_text == first.contained_text
        assert other.contained_id == first.contained_id
    # what the verdict shows: the passage for a containing text, the item for an equal one
    assert first.evidence_text(0, shortish) == passage != shortish[:PREVIEW]
    assert first.evidence_text(3, equal) == equal[:PREVIEW]
