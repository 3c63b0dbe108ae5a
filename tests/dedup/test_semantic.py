"""Semantic dedup with the default embedder, and the optional sentence-transformers embedder."""

import json

import pytest

from splitforge import columns as C
from splitforge.dedup import SemanticDeduper, deduplicate
from splitforge.embed import SentenceTransformerEmbedder
from splitforge.errors import MissingDependencyError, RecipeError
from splitforge.recipe import DedupConfig, SemanticConfig, validate_recipe
from tests.conftest import real_data
from tests.dedup.conftest import table_of


def gsm_questions(n=400):
    return [json.loads(line)["question"] for line in real_data("eval/gsm8k_test.jsonl").open()][:n]


def test_reworded_copy_is_linked_and_unrelated_rows_are_not():
    texts = gsm_questions()
    planted = texts[10].replace("How many", "How much").replace(".", " .")
    table = table_of(texts + [planted])
    deduper = SemanticDeduper(SemanticConfig())
    links = deduper.find_links(table)
    pairs = set(zip(links.left.tolist(), links.right.tolist(), strict=True))
    assert (10, len(texts)) in pairs
    assert (links.score >= 0.92).all()
    assert len(pairs) < 10  # a handful of real GSM8K template twins at most
    assert deduper.index_kind == "flat"


def test_semantic_clusters_merge_with_exact_and_are_deterministic():
    texts = gsm_questions(200)
    texts = texts + [texts[5].upper(), texts[5] + " Show your work."]
    config = DedupConfig(exact=True, semantic=SemanticConfig())
    one = deduplicate(table_of(texts), config)
    two = deduplicate(table_of(texts), config)
    assert one.removed.column(C.ID).to_pylist() == two.removed.column(C.ID).to_pylist()
    assert {"r200", "r201"} <= set(one.removed.column(C.ID).to_pylist())
    assert set(one.removed.column("sf_reason").to_pylist()) >= {"exact_duplicate",
                                                                 "semantic_duplicate"}


def test_sentence_transformers_needs_its_extra_or_a_model(tmp_path):
    try:
        import sentence_transformers  # noqa: F401
    except ImportError:
        with pytest.raises(MissingDependencyError, match=r"pip install 'splitforge\[semantic\]'"):
            SentenceTransformerEmbedder(str(tmp_path))
    with pytest.raises(RecipeError, match="needs model"):
        validate_recipe({"name": "x", "sources": [{"path": "a"}], "fields": {"text": "q"},
                         "dedup": {"semantic": {"embedder": "sentence-transformers"}}})
