"""faiss neighbours: IVF recall against exact search; the GPU path where a GPU exists."""

import json

import numpy as np
import pytest

from splitforge.embed import TfidfEmbedder, build_index, gpu_available, l2_normalize, nearest
from tests.conftest import real_data


@pytest.fixture(scope="module")
def vectors():
    rows = [json.loads(line) for line in real_data("eval/gsm8k_test.jsonl").open()]
    texts = [r["question"] for r in rows] + [r["answer"] for r in rows]
    return TfidfEmbedder(dim=64, seed=0).fit(texts).embed(texts)


def test_embeddings_are_unit_vectors_and_deterministic(vectors):
    assert vectors.dtype == np.float32 and vectors.shape[1] == 64
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1, atol=1e-4)
    rows = [json.loads(line)["question"] for line in real_data("eval/gsm8k_test.jsonl").open()][:50]
    again = TfidfEmbedder(dim=16, seed=3).fit(rows)
    assert np.array_equal(again.embed(rows), TfidfEmbedder(dim=16, seed=3).fit(rows).embed(rows))


def test_ivf_recall_at_10_against_exact(vectors):
    exact = nearest(vectors, vectors, 10, exact_below=10**9)
    approx = nearest(vectors, vectors, 10, exact_below=0)  # default nprobe
    assert exact.kind == "flat" and approx.kind.startswith("ivf")
    recall = np.mean([len(set(a) & set(e)) / 10 for a, e in zip(approx.index, exact.index,
                                                                 strict=True)])
    assert recall >= 0.9, recall
    assert (approx.index[:, 0] == np.arange(len(vectors))).mean() > 0.99  # each finds itself
    # What dedup needs: every neighbour at the default threshold that exact search finds.
    close = exact.scores >= 0.92
    found = [exact.index[i, j] in set(approx.index[i]) for i, j in zip(*np.nonzero(close),
                                                                        strict=True)]
    assert close[:, 1:].sum() > 0 and np.mean(found) == 1.0


def test_cpu_index_finds_exact_copies():
    base = l2_normalize(np.random.default_rng(0).normal(size=(200, 32)))
    found = nearest(base, base[:5], 1, device="cpu")
    assert found.index[:, 0].tolist() == [0, 1, 2, 3, 4]
    assert np.allclose(found.scores[:, 0], 1, atol=1e-5)


def test_gpu_index_matches_cpu():
    if not gpu_available():
        pytest.skip("faiss sees no GPU here (CI never has one); test_cpu_index_finds_exact_copies "
                    "covers the same search on the CPU")
    base = l2_normalize(np.random.default_rng(0).normal(size=(200, 32)))
    index, kind = build_index(base, device="gpu")
    assert kind.endswith("@gpu")
    found = nearest(base, base[:5], 1, device="gpu")
    assert found.index[:, 0].tolist() == [0, 1, 2, 3, 4]


def test_tfidf_vectors_do_not_depend_on_processes(monkeypatch):
    texts = [f"how do i reset device {i} after the {i % 13} update failed" for i in range(600)]
    one = TfidfEmbedder(dim=32, fit_rows=300, num_proc=1).fit(texts).embed(texts)
    monkeypatch.setattr(TfidfEmbedder, "parallel_above", 0)
    two = TfidfEmbedder(dim=32, fit_rows=300, num_proc=2).fit(texts).embed(texts)
    assert one.shape == (600, 32)
    np.testing.assert_allclose(one, two, rtol=0, atol=1e-6)
