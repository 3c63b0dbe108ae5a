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
