"""MinHash: datasketch-equal signatures, CJK shingles, verified LSH pairs, merged clusters."""

import datasketch
import numpy as np
import pyarrow as pa
import pytest

from splitforge import columns as C
from splitforge.dedup import MinHashDeduper, deduplicate
from splitforge.dedup.minhash import candidate_pairs
from splitforge.normalize import normalize_text
from splitforge.normalize.shingles import is_cjk, shingle_hashes
from splitforge.recipe import DedupConfig, MinHashConfig
from splitforge.signatures import lsh_params, permutations, signatures
from tests.dedup.conftest import table_of

SENTENCE = ("the model was fine tuned on customer support tickets and evaluated on a held out "
            "set of newer tickets from the same product line")


@pytest.mark.parametrize(("num_perm", "seed"), [(128, 1), (64, 42), (256, 7)])
def test_signatures_equal_datasketch(num_perm, seed):
    rng = np.random.default_rng(seed)
    docs = [rng.integers(0, 2**32, rng.integers(0, 50), dtype=np.uint64).astype(np.uint32)
            for _ in range(30)]
    values = np.concatenate(docs)
    offsets = np.concatenate(([0], np.cumsum([len(d) for d in docs])))
    a, b = permutations(num_perm, seed)
    ours = signatures(values, offsets, a, b)
    for doc, sig in zip(docs, ours, strict=True):
        reference = datasketch.MinHash(num_perm=num_perm, seed=seed, hashfunc=int)
        for v in doc:
            reference.update(v)
        assert np.array_equal(reference.hashvalues, sig)


def test_shingles_of_text_match_datasketch_through_the_deduper():
    config = MinHashConfig()
    texts = [normalize_text(SENTENCE), "short", "", "请问如何评估微调后的模型"]
    sig = MinHashDeduper(config).signatures(pa.array(texts))
    shingles = shingle_hashes(texts, config.ngram, config.char_ngram)
    for i in range(len(texts)):
        reference = datasketch.MinHash(num_perm=config.num_perm, seed=config.seed, hashfunc=int)
        reference.update_batch(shingles.of(i).tolist())
        assert np.array_equal(reference.hashvalues, sig[i])
    assert len(shingles.of(1)) == 1  # shorter than one shingle: still one
    assert len(shingles.of(2)) == 0


def test_word_and_char_shingles():
    one = shingle_hashes(["a b c d"], 2, 2)
    assert len(one.of(0)) == 3
    same = shingle_hashes(["x a b y", "a b"], 2, 2)
    assert same.of(0)[1] == same.of(1)[0]  # "a b" hashes the same wherever it stands
    assert is_cjk("请问如何评估微调后的模型") and not is_cjk("how to evaluate a model")
    cjk = shingle_hashes(["请问如何评估", "请问 如何评估"], 2, 2)
    assert np.array_equal(cjk.of(0), cjk.of(1))  # spaces do not matter between characters
    assert len(cjk.of(0)) == 5


def test_one_character_edit_of_chinese_is_found():
    texts = ["请问如何评估微调后的模型", "请问如何评估微调後的模型", "今天天气很好我们去公园散步"]
    result = deduplicate(table_of(texts), DedupConfig(exact=True, minhash=MinHashConfig()))
    assert result.removed.column(C.ID).to_pylist() == ["r001"]
    assert result.removed.column("sf_reason").to_pylist() == ["near_duplicate"]


def test_word_edits_are_found_and_unrelated_texts_are_not():
    words = SENTENCE.split()
    edited = words[:5] + ["newly"] + words[6:20] + words[21:]  # ~8% of the words changed
    texts = [SENTENCE, " ".join(edited), "a completely different sentence about cooking pasta "
             "with garlic olive oil and fresh basil leaves from the garden"]
    result = deduplicate(table_of(texts), DedupConfig(exact=False, minhash=MinHashConfig()))
    assert result.removed.column(C.ID).to_pylist() == ["r001"]
    assert result.removed.column("sf_kept_id").to_pylist() == ["r000"]


def test_candidates_are_verified_so_buckets_do_not_chain():
    # Rows 0-1 and 2-3 agree on the first band only; verification must reject the cross pairs.
    sig = np.zeros((4, 8), dtype=np.uint32)
    sig[:, :2] = 7
    sig[0, 2:], sig[1, 2:] = 1, 1
    sig[2, 2:], sig[3, 2:] = 2, 2
    left, right = candidate_pairs(sig, bands=4, rows=2)
    assert {(0, 1), (2, 3)} <= set(zip(left.tolist(), right.tolist(), strict=True))
    table = table_of(["w"] * 4)
    deduper = MinHashDeduper(MinHashConfig(threshold=0.6, num_perm=16))  # bands of 4 rows
    deduper.signatures = lambda texts, advance=None: np.repeat(sig, 2, axis=1)  # fixed input
    links = deduper.find_links(table)
    pairs = set(zip(links.left.tolist(), links.right.tolist(), strict=True))
    assert pairs == {(0, 1), (2, 3)}
    assert links.score.tolist() == [1.0, 1.0]


def test_lsh_params_are_datasketchs():
    assert lsh_params(0.5, 128) == (datasketch.MinHashLSH(threshold=0.5, num_perm=128).b,
                                    datasketch.MinHashLSH(threshold=0.5, num_perm=128).r)


def test_exact_and_minhash_clusters_merge_and_dedup_is_idempotent():
    words = SENTENCE.split()
    near = " ".join(words[:-1] + ["lines"])
    texts = [SENTENCE, SENTENCE.upper(), near, "unrelated text about the weather in spring time"]
    config = DedupConfig(exact=True, minhash=MinHashConfig())
    result = deduplicate(table_of(texts), config)
    assert sorted(result.removed.column("sf_reason").to_pylist()) == ["exact_duplicate",
                                                                      "near_duplicate"]
    assert set(result.removed.column("sf_kept_id").to_pylist()) == {"r000"}
    again = deduplicate(result.kept.drop_columns([C.CLUSTER]), config)
    assert again.removed.num_rows == 0


def test_signatures_do_not_depend_on_processes(monkeypatch):
    texts = pa.array([normalize_text(f"{SENTENCE} number {i}") for i in range(300)])
    one = MinHashDeduper(MinHashConfig(num_proc=1)).signatures(texts)
    monkeypatch.setattr(MinHashDeduper, "parallel_above", 0)
    monkeypatch.setattr(MinHashDeduper, "batch_rows", 64)
    two = MinHashDeduper(MinHashConfig(num_proc=2)).signatures(texts)
    assert np.array_equal(one, two)


def test_lsh_pairs_do_not_depend_on_threads():
    texts = pa.array([normalize_text(f"{SENTENCE} {'again ' * (i % 4)}{i // 4}")
                      for i in range(400)])
    sig = MinHashDeduper(MinHashConfig(num_proc=1)).signatures(texts)
    bands, rows = lsh_params(0.5, 128)
    left1, right1 = candidate_pairs(sig, bands, rows, threads=1)
    left2, right2 = candidate_pairs(sig, bands, rows, threads=2)
    assert len(left1) > 0
    assert np.array_equal(left1, left2) and np.array_equal(right1, right2)
