"""Long training documents: the embedding check reads them as passages (issue #23)."""

import gzip
import json
from pathlib import Path

import numpy as np
import pytest

from splitforge.audit import EmbeddingCheck, scan_training
from splitforge.audit.embedding import WINDOW_FROM, window_size, windows
from splitforge.normalize.text import normalize_text
from tests.conftest import real_data

VARIANTS = Path(__file__).parents[1] / "data" / "gsm8k_variants.jsonl"


def _answers(n):
    with gzip.open(real_data("instruct/alpaca_en_zh_52k.jsonl.gz"), "rt", encoding="utf-8") as f:
        rows = (json.loads(line)["en_output"] for line in f)
        return [r for r in rows if len(r.split()) >= 20][:n]


def _documents(answers, words=600):
    docs, current = [], []
    for answer in answers:
        current.append(answer)
        if sum(len(p.split()) for p in current) >= words:
            docs.append(current)
            current = []
    return docs


def test_windows_start_at_sentences_cover_the_text_and_stay_bounded():
    answers = _answers(2000)  # the shipped slice's answers, read over until 50k words
    text = normalize_text(" ".join(answers * (1 + 50_000 // sum(len(a.split()) for a in answers))))
    words = len(text.split())
    assert words > 50_000
    size = 48
    spans = windows(text, size)
    assert len(spans) <= 4 * words / size + 1  # the bound the docstring promises
    assert spans[0][0] == 0 and spans[-1][1] == len(text)
    for (a, b), (c, _) in zip(spans, spans[1:], strict=False):
        assert c > a and c <= b  # in order, overlapping: no word falls between two windows
    assert all(len(text[a:b].split()) <= size for a, b in spans)
    # every sentence has a window that starts with it or at most size // 4 words before it
    starts = np.array([len(text[:a].split()) for a, _ in spans])
    sentences = [k + 1 for k, w in enumerate(text.split())  # the last window runs to the end
                 if w[-1] in ".!?;:" and k + 1 <= starts[-1]]
    behind = np.array(sentences) - starts[np.searchsorted(starts, sentences, "right") - 1]
    assert behind.max() < size // 4 and (behind == 0).mean() > 0.3
    assert windows("a short text of a few words", size) == [(0, 27)]
    assert windows(" ".join(["word"] * WINDOW_FROM), size) == [(0, 5 * WINDOW_FROM - 1)]


def test_window_size_follows_the_eval_items():
    assert window_size(["one two three"] * 5) == 16
    assert window_size([" ".join(["w"] * 40)] * 3) == 50
    assert window_size([" ".join(["w"] * 400)]) == 128


@pytest.fixture(scope="module")
def planted():
    """GSM8K test questions' hand-written paraphrases, each in the middle of a 600-word document."""
    variants = [json.loads(line) for line in open(VARIANTS, encoding="utf-8")]
    paraphrase = [v for v in variants if v["kind"] == "paraphrase"][:6]
    with open(real_data("eval/gsm8k_test.jsonl"), encoding="utf-8") as f:
        test = {r["idx"]: r["question"] for r in map(json.loads, f)}
    docs = _documents(_answers(700))[:60]
    train, where = [], {}
    for d, parts in enumerate(docs):
        if d < len(paraphrase):
            before = " ".join(parts[:len(parts) // 2])
            text = " ".join([before, paraphrase[d]["text"], *parts[len(parts) // 2:]])
            norm = normalize_text(text)
            start = len(normalize_text(before)) + 1
            where[d] = (start, start + len(normalize_text(paraphrase[d]["text"])))
            train.append((f"doc-{d}", norm))
        else:
            train.append((f"doc-{d}", normalize_text(" ".join(parts))))
    evals = [test[p["idx"]] for p in paraphrase] + [test[i] for i in sorted(test)[300:330]]
    return train, evals, where


def _run(check, train):
    return scan_training([check], [([i for i, _ in train], [t for _, t in train])],
                         num_proc=1)[0]


def test_a_rephrase_in_the_middle_of_a_document_is_found_with_its_span(planted):
    train, evals, where = planted
    result = _run(EmbeddingCheck([normalize_text(e) for e in evals], eval_texts=evals), train)
    found = 0
    for d, (start, end) in where.items():
        if not result.flagged[d]:
            continue
        found += 1
        assert result.evidence_id[d] == f"doc-{d}"  # the document's id, not a window's key
        a, b = map(int, result.span[d].split("-"))
        overlap = min(b, end) - max(a, start)
        assert overlap >= 0.6 * (end - start)  # the span is the passage, not the opening
        assert result.matched_text[d] == train[d][1][a:b][:300]
    assert found >= 4
    assert not result.flagged[len(where):].any()
    assert result.summary["long_texts"] == len(train) and result.summary["windows"] > len(train)
    # read whole (the version before windows), the same documents hide every rephrase
    whole = _run(EmbeddingCheck([normalize_text(e) for e in evals], eval_texts=evals,
                                window_from=10**6), train)
    assert not whole.flagged[:len(where)].any() and whole.summary["windows"] == 0
    assert all(s is None for s in whole.span)


def test_windows_do_not_depend_on_batching(planted):
    train, evals, _ = planted
    norm = [normalize_text(e) for e in evals]
    one = _run(EmbeddingCheck(norm, eval_texts=evals), train)
    check = EmbeddingCheck(norm, eval_texts=evals)
    batches = [([i for i, _ in train[k:k + 7]], [t for _, t in train[k:k + 7]])
               for k in range(0, len(train), 7)]
    many = scan_training([check], batches[::-1], num_proc=2)[0]
    assert one.evidence_id == many.evidence_id and one.span == many.span
    np.testing.assert_array_equal(one.score, many.score)
    np.testing.assert_array_equal(one.flagged, many.flagged)


def test_the_cli_report_names_the_passage(planted, tmp_path):
    import pyarrow.parquet as pq
    from typer.testing import CliRunner

    from splitforge.cli import app
    from tests.conftest import write_jsonl

    train, evals, where = planted
    write_jsonl(tmp_path / "train.jsonl", [{"id": i, "text": t} for i, t in train])
    write_jsonl(tmp_path / "eval.jsonl", [{"id": f"q{k}", "text": t} for k, t in enumerate(evals)])
    out = CliRunner().invoke(app, ["audit", "--train", str(tmp_path / "train.jsonl"), "--eval",
                                   str(tmp_path / "eval.jsonl"), "--text", "text", "--id", "id",
                                   "--methods", "embedding", "--fail-on", "never",
                                   "--report", str(tmp_path / "report")])
    assert out.exit_code == 0, out.output
    rows = pq.read_table(tmp_path / "report" / "audit.parquet").to_pylist()
    hits = [r for r in rows if r["verdict"] != "clean"]
    assert hits and all(r["embedding_span"] for r in hits)
    first = hits[0]
    a, b = map(int, first["embedding_span"].split("-"))
    document = dict(train)[first["evidence_id"]]
    assert first["matched_text"] == document[a:b][:300]
    report = (tmp_path / "report" / "audit.md").read_text(encoding="utf-8")
    assert f"{first['evidence_id']} (characters {first['embedding_span']})" in report


def test_a_text_whose_windows_fall_in_two_parts_counts_once(planted, monkeypatch):
    import splitforge.audit.embedding as embedding

    train, evals, _ = planted
    norm = [normalize_text(e) for e in evals]
    whole = _run(EmbeddingCheck(norm, eval_texts=evals), train)
    monkeypatch.setattr(embedding, "_SIM_BYTES", 1)  # parts of 64 rows: ~40 windows a text
    check = EmbeddingCheck(norm, eval_texts=evals)
    parted = _run(check, train)
    assert whole.evidence_id == parted.evidence_id and whole.span == parted.span
    np.testing.assert_array_equal(whole.score, parted.score)
    np.testing.assert_array_equal(whole.margin, parted.margin)
    for v in range(len(check.views)):  # each training text at most once among a view's five
        docs = [check._doc(k) for k, s in zip(check._id[v], check._score[v], strict=True)
                if s > 0]
        assert len(docs) == len(set(docs))
