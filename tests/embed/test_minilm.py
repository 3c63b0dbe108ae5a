"""The NumPy MiniLM encoder gives sentence-transformers' vectors, without PyTorch."""

import json
from pathlib import Path

import numpy as np
import pytest

from splitforge.embed import EMBEDDERS, MiniLMEmbedder
from splitforge.errors import InputError

REFERENCE = Path(__file__).parents[1] / "data" / "minilm_reference.npz"


def test_vectors_match_sentence_transformers():
    # written by scripts/minilm_reference.py with sentence-transformers + PyTorch
    reference = np.load(REFERENCE)
    texts = json.loads(str(reference["texts"]))
    vectors = MiniLMEmbedder().embed(texts)
    assert vectors.shape == reference["vectors"].shape == (len(texts), 384)
    assert np.abs(vectors - reference["vectors"]).max() < 1e-4
    assert (vectors * reference["vectors"]).sum(axis=1).min() > 0.9999


def test_batching_and_padding_do_not_change_a_vector():
    texts = ["short", "a somewhat longer sentence about cats and dogs", "x " * 300, "中文句子"]
    whole = MiniLMEmbedder(batch_size=4).embed(texts)
    one_by_one = np.concatenate([MiniLMEmbedder(batch_size=1).embed([t]) for t in texts])
    np.testing.assert_allclose(whole, one_by_one, atol=1e-5)
    assert np.allclose(np.linalg.norm(whole, axis=1), 1.0, atol=1e-5)


def test_similar_sentences_are_closer_than_unrelated_ones():
    v = MiniLMEmbedder().embed(["How do I bake bread at home?", "What is a recipe for homemade "
                                "bread?", "The stock market fell sharply on Monday."])
    assert v[0] @ v[1] > 0.6 > v[0] @ v[2]


def test_registered_and_a_bad_model_folder_is_input_error(tmp_path):
    assert EMBEDDERS.get("minilm") is MiniLMEmbedder
    (tmp_path / "config.json").write_text("{}")
    with pytest.raises(InputError, match="tokenizer.json, model.safetensors missing"):
        MiniLMEmbedder(str(tmp_path))


def test_token_vectors_are_per_word_piece_and_do_not_depend_on_the_batch():
    texts = ["short", "a somewhat longer sentence about cats and dogs", "x " * 300]
    model = MiniLMEmbedder(batch_size=3)
    together = model.token_vectors(texts)
    for text, got in zip(texts, together, strict=True):
        pieces = len(model._bert.tokenizer.encode(text).ids) - 2  # [CLS] and [SEP] left out
        assert got.shape == (pieces, 384)
        np.testing.assert_allclose(got, model.token_vectors([text])[0], atol=1e-5)
        assert np.allclose(np.linalg.norm(got, axis=1), 1.0, atol=1e-5)
    assert len(together[2]) == 254  # truncated at the model's 256 tokens


@pytest.fixture(scope="module")
def reference_texts():
    return json.loads(str(np.load(REFERENCE)["texts"]))


def test_onnx_encoder_matches_the_numpy_reference(reference_texts):
    fast = MiniLMEmbedder(backend="onnx", cache=False)
    slow = MiniLMEmbedder(backend="numpy", cache=False)
    assert fast.backend == "onnx" and MiniLMEmbedder(cache=False).backend == "onnx"  # the default
    a, b = fast.embed(reference_texts), slow.embed(reference_texts)
    assert np.abs(a - b).max() < 1e-5
    reference = np.load(REFERENCE)["vectors"]
    assert (a * reference).sum(axis=1).min() > 0.9999  # and sentence-transformers' vectors
    ta, tb = fast.token_vectors(reference_texts[:4]), slow.token_vectors(reference_texts[:4])
    for x, y in zip(ta, tb, strict=True):
        assert x.shape == y.shape and (not len(x) or np.abs(x - y).max() < 1e-4)


def test_a_vector_does_not_depend_on_the_texts_batched_with_it(reference_texts):
    model = MiniLMEmbedder(cache=False)
    whole = model.embed(reference_texts)
    for part in (reference_texts[::3], reference_texts[1::2][::-1], reference_texts[5:6]):
        got = model.embed(part)
        want = whole[[reference_texts.index(t) for t in part]]
        assert np.array_equal(got, want)  # bit for bit: what makes the cache safe


def test_int8_backend_is_close_but_not_the_reference(reference_texts):
    a = MiniLMEmbedder(backend="onnx-int8", cache=False).embed(reference_texts)
    b = MiniLMEmbedder(backend="numpy", cache=False).embed(reference_texts)
    cosines = (a * b).sum(axis=1)
    assert cosines.min() > 0.95 and np.abs(a - b).max() > 1e-4


def test_vector_cache_is_keyed_by_content_and_model(tmp_path, reference_texts):
    import sqlite3

    from safetensors.numpy import load_file, save_file

    from splitforge.embed.minilm import model_folder

    def stored():
        db = sqlite3.connect(tmp_path / "cache" / "embeddings.sqlite")
        return db.execute("SELECT model, COUNT(*) FROM vectors GROUP BY model").fetchall()

    texts = reference_texts[:6]
    first = MiniLMEmbedder(cache=tmp_path / "cache")
    vectors = first.embed(texts)
    assert stored() == [(first.key, 6)]
    counted = []
    again = MiniLMEmbedder(cache=tmp_path / "cache").embed(texts + ["a text never seen"],
                                                           advance=counted.append)
    assert np.array_equal(again[:6], vectors)  # served from the cache, bit for bit
    assert counted[0] == 6 and stored() == [(first.key, 7)]  # hits first, then the one miss
    # another model (same files, one weight changed) misses
    other = tmp_path / "other_model"
    other.mkdir()
    source = model_folder()
    for name in ("config.json", "tokenizer.json", "sentence_bert_config.json"):
        (other / name).write_bytes((source / name).read_bytes())
    weights = load_file(str(source / "model.safetensors"))
    name = next(k for k in weights if k.endswith("pooler.dense.bias") or k.endswith("bias"))
    weights[name] = weights[name] + 1
    save_file(weights, str(other / "model.safetensors"))
    changed = MiniLMEmbedder(str(other), cache=tmp_path / "cache")
    assert changed.key != first.key
    changed.embed(texts)
    assert dict(stored()) == {first.key: 7, changed.key: 6}
    numpy_backend = MiniLMEmbedder(backend="numpy", cache=tmp_path / "cache")
    assert numpy_backend.key != first.key  # another runtime: its own vectors


def test_cache_off_writes_nothing(tmp_path, monkeypatch, reference_texts):
    monkeypatch.setenv("SPLITFORGE_CACHE", "off")
    MiniLMEmbedder().embed(reference_texts[:2])
    monkeypatch.setenv("SPLITFORGE_CACHE", str(tmp_path / "c"))
    MiniLMEmbedder().embed(reference_texts[:2])
    assert (tmp_path / "c" / "embeddings.sqlite").is_file()
    assert len(list((tmp_path / "c" / "models").glob("*.onnx"))) == 1


def test_short_batches_are_filled_only_as_far_as_the_runtime_needs(reference_texts):
    model = MiniLMEmbedder(cache=False)
    assert model._onnx.least_rows(8) == 2  # measured here: 2 rows or more give the bits of 8
    seen, rows_run = [], 0
    for rows, ids in model._bert.buckets(reference_texts, 8, 2):
        assert 2 <= len(ids) <= 8 and len(rows) <= len(ids)
        assert (ids[len(rows):] == ids[0]).all()  # the filling: copies of the first text
        seen += rows.tolist()
        rows_run += len(ids)
    assert sorted(seen) == list(range(len(reference_texts)))
    filled = sum(len(ids) for _, ids in model._bert.buckets(reference_texts, 8))
    assert rows_run < filled  # fewer copies than filling every batch up to 8
    whole = model.token_vectors(reference_texts)
    for k in (0, len(reference_texts) - 1):
        alone = model.token_vectors(reference_texts[k:k + 1])[0]
        assert np.array_equal(alone, whole[k])


def test_a_runtime_whose_bits_depend_on_the_batch_keeps_full_batches():
    from splitforge.embed.onnx_bert import OnnxBert

    class BatchDependent(OnnxBert):  # stands for a provider whose kernels vary with the batch
        def _both(self, ids):
            return [out + np.float32(1e-7) * len(ids) for out in super()._both(ids)]

    model = MiniLMEmbedder(cache=False)
    other = BatchDependent.__new__(BatchDependent)
    other.session, other.providers, other._least = model._onnx.session, model._onnx.providers, {}
    assert other.least_rows(8) == 8 and model._onnx.least_rows(8) == 2


def test_equal_texts_are_embedded_once(reference_texts):
    model = MiniLMEmbedder(cache=False)
    texts = reference_texts[:3] + reference_texts[:2]
    counted, run = [], []
    pooled = model._pooled
    model._pooled = lambda ids: run.append(len(ids)) or pooled(ids)
    vectors = model.embed(texts, advance=counted.append)
    assert sum(counted) == len(texts)
    distinct = model.embed(reference_texts[:3])
    assert sum(run[:len(run) // 2]) == sum(run[len(run) // 2:])  # the copies cost nothing
    assert np.array_equal(vectors[3:], vectors[:2])
    assert np.array_equal(vectors[:3], distinct)
