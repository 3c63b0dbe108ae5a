import gzip
import json
import random

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from splitforge.audit import (
    ExactCheck,
    MinHashCheck,
    NgramOverlapCheck,
    iter_training_batches,
    read_eval,
    scan_training,
)
from splitforge.errors import InputError
from tests.audit.conftest import norm_all
from tests.conftest import real_data, write_jsonl

VOCAB = [f"v{i}" for i in range(25)]  # a tiny vocabulary: n-grams recur, ties are common


def corpus(seed: int = 0):
    rng = random.Random(seed)
    evals = [" ".join(rng.choices(VOCAB, k=rng.randint(1, 30))) for _ in range(40)]
    evals += ["中华人民共和国成立于一九四九年", ""]
    train = [" ".join(rng.choices(VOCAB, k=rng.randint(0, 60))) for _ in range(300)]
    for i in range(0, 40, 4):  # verbatim inside longer texts, some twice
        train[rng.randrange(300)] = "pre " + evals[i] + " post"
        train[rng.randrange(300)] = evals[i]
    train[5] = "他说中华人民共和国成立于一九四九年十月"
    ids = [f"id{rng.randrange(10**4)}" for _ in train]  # string order differs from row order
    ids[7] = ids[8]  # a repeated id
    return norm_all(evals), ids, train


def checks(evals):
    return [ExactCheck(evals, n=3), NgramOverlapCheck(evals, n=3), NgramOverlapCheck(evals),
            MinHashCheck(evals, threshold=0.3)]


def batched(ids, train, size, order=None):
    starts = list(range(0, len(train), size))
    if order is not None:
        random.Random(order).shuffle(starts)
    return [(ids[s:s + size], pa.array(train[s:s + size])) for s in starts]


def scan(checks_, batches, **kwargs):
    kwargs.setdefault("num_proc", 1)
    return scan_training(checks_, batches, **kwargs)


def tables(results):
    return [(r.to_table(), r.summary) for r in results]


def test_one_batch_many_batches_and_shuffled_batches_agree():
    evals, ids, train = corpus()
    whole = tables(scan(checks(evals), batched(ids, train, len(train))))
    assert whole[0][1]["n_contained"] > 5  # the planted copies
    for size, order, piece in ((7, None, 1 << 20), (1, None, 1 << 20), (13, 1, 1 << 20),
                               (50, 2, 1 << 20), (len(train), None, 200)):
        parts = tables(scan(checks(evals), batched(ids, train, size, order),
                                     batch_bytes=piece))
        for (table, summary), (expected, expected_summary) in zip(parts, whole, strict=True):
            assert table.equals(expected), (size, order)
            assert summary == expected_summary


def test_row_order_inside_the_corpus_does_not_matter():
    evals, ids, train = corpus(1)
    rows = list(range(len(train)))
    random.Random(3).shuffle(rows)
    expected = tables(scan(checks(evals), batched(ids, train, 64)))
    shuffled = tables(scan(checks(evals), batched([ids[r] for r in rows],
                                                           [train[r] for r in rows], 64)))
    for (table, _), (want, _) in zip(shuffled, expected, strict=True):
        assert table.equals(want)


@pytest.mark.filterwarnings("error::RuntimeWarning")  # no silent fallback to one process
def test_worker_processes_give_the_single_process_result():
    evals, ids, train = corpus(2)
    single = tables(scan(checks(evals), batched(ids, train, 40), num_proc=1))
    parallel = tables(scan(checks(evals), batched(ids, train, 40), num_proc=2))
    assert parallel == single


def test_iter_training_batches_reads_jsonl_gzip_parquet_and_tables(tmp_path):
    rows = [{"id": 10, "text": "a"}, {"text": "b"}, {"id": 12, "text": "c", "x": [1]},
            {"id": 13, "text": None}]
    plain = write_jsonl(tmp_path / "train.jsonl", rows)
    packed = tmp_path / "more.jsonl.gz"
    packed.write_bytes(gzip.compress(plain.read_bytes() + b"\n"))
    parquet = tmp_path / "p.parquet"
    pq.write_table(pa.table({"id": ["p1", "p2", "p3"], "text": ["x", "y", "z"]}), parquet)
    table = pa.table({"text": ["t1", "t2"], "id": pa.array([None, 7], pa.int64())})
    got = list(iter_training_batches([plain, packed, parquet, table], "text", "id",
                                     batch_rows=3))
    assert [ids for ids, _ in got] == [["10", "train:2", "12"], ["13"], ["10", "more:2", "12"],
                                       ["13"], ["p1", "p2", "p3"], ["table3:1", "7"]]
    assert got[0][1].to_pylist() == ["a", "b", "c"] and got[1][1].to_pylist() == [None]
    no_ids = list(iter_training_batches(plain, "text"))
    assert no_ids[0][0] == ["train:1", "train:2", "train:3", "train:4"]


def test_iter_training_batches_reports_bad_fields(tmp_path):
    plain = write_jsonl(tmp_path / "train.jsonl", [{"body": "a"}])
    with pytest.raises(InputError, match="field 'text': no such field"):
        list(iter_training_batches(plain, "text"))
    with pytest.raises(InputError, match="'id'"):
        list(iter_training_batches(plain, "body", "id"))
    parquet = tmp_path / "p.parquet"
    pq.write_table(pa.table({"body": ["x"]}), parquet)
    with pytest.raises(InputError, match="no such field"):
        list(iter_training_batches(parquet, "text"))
    with pytest.raises(InputError, match="not found"):
        list(iter_training_batches(tmp_path / "missing.jsonl", "text"))


def test_a_template_builds_the_training_text_from_several_fields(tmp_path):
    rows = [{"id": 1, "instruction": "Add 2 and 3.", "output": "5"},
            {"id": 2, "instruction": "Name a colour.", "output": None},
            {"id": 3, "instruction": "Say hi."}]
    template = "Q: {instruction}\nA: {output}"
    plain = write_jsonl(tmp_path / "train.jsonl", rows)
    parquet = tmp_path / "train.parquet"
    pq.write_table(pa.Table.from_pylist(rows), parquet)
    for source in (plain, parquet, pa.Table.from_pylist(rows)):
        (ids, texts), = iter_training_batches(source, template, "id")
        assert ids == ["1", "2", "3"]
        assert texts.to_pylist() == ["Q: Add 2 and 3.\nA: 5", "Q: Name a colour.\nA: ",
                                     "Q: Say hi.\nA: "]
    with pytest.raises(InputError, match="'answer'"):
        list(iter_training_batches(plain, "{instruction} {answer}"))
    with pytest.raises(InputError, match="template"):
        list(iter_training_batches(plain, "{instruction!r}"))
    # an eval item that spans the two fields is found only with the template
    check = ExactCheck(["add 2 and 3. a: 5"], n=13)
    scan_training([check], iter_training_batches(plain, template, "id"), num_proc=1)
    assert check.result().flagged.tolist() == [True]


def test_gsm8k_test_questions_planted_in_train_are_all_found(tmp_path):
    eval_ids, evals = read_eval(real_data("eval/gsm8k_test.jsonl"), "question")
    with gzip.open(real_data("eval/gsm8k_train.jsonl.gz"), "rt", encoding="utf-8") as handle:
        train = [json.loads(line) for line in handle]
    rng = random.Random(0)
    planted = dict(zip(rng.sample(range(len(evals)), 20), rng.sample(range(len(train)), 20),
                       strict=True))
    test_rows = [json.loads(line) for line in real_data("eval/gsm8k_test.jsonl").open()]
    for test_row, train_row in planted.items():
        train[train_row]["question"] += " " + test_rows[test_row]["question"]
    path = write_jsonl(tmp_path / "train.jsonl", train)
    exact, ngram = ExactCheck(evals), NgramOverlapCheck(evals)
    scan([exact, ngram], iter_training_batches(path, "question", "idx", 2000))
    for test_row, train_row in planted.items():
        expected = str(train[train_row]["idx"])
        assert exact.result().contained[test_row], eval_ids[test_row]
        assert exact.result().contained_id[test_row] == expected
        assert not exact.result().matched[test_row]
        assert ngram.result().coverage[test_row] == 1.0
        assert ngram.result().evidence_id[test_row] == expected
    assert exact.result().summary["train_rows"] == len(train)
    assert exact.result().summary["n_contained"] == 20


def test_bad_training_files_name_the_line_and_field(tmp_path):
    rows = [json.dumps({"id": i, "text": f"row {i}"}) for i in range(3000)]
    rows[1500] = '{"id": 1500, "text": "broken'  # line 1501
    broken = tmp_path / "broken.jsonl"
    broken.write_text("\n".join(rows) + "\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"broken.jsonl:1501: .*invalid JSON"):
        list(iter_training_batches(broken, "text", "id"))
    typed = write_jsonl(tmp_path / "typed.jsonl", [{"text": "a"}, {"text": 5}])
    with pytest.raises(InputError, match=r"typed.jsonl:2: .*'text' holds int"):
        list(iter_training_batches(typed, "text"))
    for first, second, kind in ((1, 2, "int64"), (1.5, 2, "double")):  # an int fits a float
        ids = write_jsonl(tmp_path / "ids.jsonl", [{"id": first, "text": "a"},
                                                   {"id": second, "text": "b"},
                                                   {"id": "c", "text": "c"}])
        with pytest.raises(InputError, match=rf"ids.jsonl:3: .*'id' holds str here, but ids "
                                             rf"are read as {kind}"):
            list(iter_training_batches(ids, "text", "id"))
    ids = write_jsonl(tmp_path / "ids.jsonl", [{"id": "a", "text": "a"}, {"id": {"k": 1},
                                                                           "text": "b"}])
    with pytest.raises(InputError, match=r"ids.jsonl:2: .*'id' holds dict here"):
        list(iter_training_batches(ids, "text", "id"))
    good = write_jsonl(tmp_path / "big.jsonl", [{"text": "x " * 100} for _ in range(20000)])
    batches = iter_training_batches(good, "txet", batch_rows=1000)
    with pytest.raises(InputError, match="'txet'.*first rows"):
        next(batches)  # at once, not after reading the whole file


def test_files_with_the_same_name_get_distinct_fallback_ids(tmp_path):
    (tmp_path / "d1").mkdir()
    (tmp_path / "d2").mkdir()
    a = write_jsonl(tmp_path / "d1" / "train.jsonl", [{"text": "a"}])
    b = write_jsonl(tmp_path / "d2" / "train.jsonl", [{"text": "b"}])
    ids = [i for batch_ids, _ in iter_training_batches([a, b], "text") for i in batch_ids]
    assert len(set(ids)) == 2 and ids[0].endswith("d1/train.jsonl:1")
    assert [i for i, _ in iter_training_batches(a, "text")] == [["train:1"]]


def test_a_chat_training_field_is_read_with_the_roles_asked(tmp_path):
    from splitforge.audit.scan import iter_training_batches
    from tests.conftest import write_jsonl

    path = write_jsonl(tmp_path / "chat.jsonl", [
        {"m": [{"role": "system", "content": "S"}, {"role": "user", "content": "U"}]},
        {"m": []},
        {"m": [{"from": "human", "value": "H"}, {"from": "gpt", "value": "G"}]}])
    [(_, default)] = list(iter_training_batches(path, "m"))
    assert default.to_pylist() == ["user: U", "", "human: H\ngpt: G"]
    [(_, asked)] = list(iter_training_batches(path, "m", roles=["system", "user"]))
    assert asked.to_pylist() == ["system: S\nuser: U", "", "human: H"]


def test_similarity_texts_handed_over_as_they_are_scan_like_raw_texts():
    """A build hands its own rows over normalized and stripped (``SimilarBatch``): same result."""
    import pickle

    import numpy as np

    from splitforge.audit.base import NgramIndex, NormalizedTexts, SharedTexts, eval_lengths
    from splitforge.audit.scan import SimilarBatch
    from splitforge.normalize.boilerplate import detect_boilerplate
    from splitforge.normalize.shingles import text_buffers
    from splitforge.normalize.text import normalize_buffers

    with gzip.open(real_data("eval/gsm8k_train.jsonl.gz"), "rt", encoding="utf-8") as f:
        questions = [json.loads(line)["question"] for _, line in zip(range(700), f, strict=False)]
    template = "Below is a math problem. Solve it step by step.\n\n### Problem:\n{}\n### Answer:"
    evals, train = questions[:60], [template.format(q) for q in questions[60:]]
    for k in range(0, 60, 3):  # planted: verbatim, and with the last word gone
        train[k] = template.format(evals[k] if k % 2 else evals[k].rsplit(" ", 1)[0])
    ids = [f"t{i}" for i in range(len(train))]
    norm, hashes = normalize_buffers(*text_buffers(pa.array(train)))
    found = detect_boilerplate(norm)
    assert not found.empty  # the template
    eval_sim = found.strip_texts(norm_all([template.format(q) for q in evals]))
    for boilerplate, texts, given in ((found, found.strip(norm), None),
                                      (found.__class__((), {}), norm, hashes)):
        raw = tables(scan(checks(eval_sim), [(ids, pa.array(train))], boilerplate=boilerplate))
        pieces = [SimilarBatch(ids[s:s + 100], texts[s:s + 100],
                               None if given is None else given[s:s + 100])
                  for s in range(0, len(ids), 100)]  # several pieces: over worker processes
        similar = tables(scan(checks(NormalizedTexts(eval_sim)), pieces, num_proc=2,
                              boilerplate=boilerplate))
        assert similar == raw
    assert int(raw[0][0].column("exact_contained").to_numpy().sum()) >= 10
    shared = NormalizedTexts(eval_sim)
    ExactCheck(shared)
    assert shared.__dict__["_memo"]  # its shingles, kept for the next check
    lengths = eval_lengths(shared)  # kept with the shingles (MinHashCheck asks for them)
    copy = pickle.loads(pickle.dumps(shared, protocol=5))  # as a worker gets it
    assert copy.lengths is not None and np.array_equal(copy.lengths, lengths)
    assert type(copy) is SharedTexts and list(copy) == eval_sim and len(copy) == len(eval_sim)
    assert copy[7] == eval_sim[7] and copy[-1] == eval_sim[-1] and copy[2:4] == eval_sim[2:4]
    assert pickle.loads(pickle.dumps(NormalizedTexts(["a b"]))).lengths is None
    assert eval_lengths(pickle.loads(pickle.dumps(NormalizedTexts(["a b"])))).tolist() == [2]
    keys = np.random.default_rng(0).integers(0, 2**63, 50_000, dtype=np.uint64)
    index = NgramIndex(keys, np.full(len(keys), 13))
    assert index._may_hold(keys).all()  # the bit table has no false negatives
    slots = np.zeros(1 << (64 - int(index.shift)), dtype=bool)
    slots[index.keys >> index.shift] = True  # the table is these bits, packed in order
    assert np.array_equal(index.table, np.packbits(slots, bitorder="little"))
    others = np.random.default_rng(1).integers(0, 2**63, 50_000, dtype=np.uint64)
    assert index._may_hold(others).mean() < 0.1  # and stops most windows that match no key


def test_the_callers_checks_end_merged_whatever_the_processes():
    """Over workers the checks carry on with copies of the shared file: the caller's see it."""
    import pickle

    from splitforge.audit import CHECKS
    from splitforge.audit.base import NormalizedTexts, SharedTexts

    batches = [(["t1"], ["we add 2 and 3 to get 5 today"]), (["t2"], ["something else"])]
    for processes in (1, 2):
        checks = (ExactCheck(["add 2 and 3 to get 5"], n=3),)  # a tuple: nothing to replace
        returned = scan_training(checks, iter(batches), num_proc=processes, batch_bytes=8)
        assert returned[0].flagged.tolist() == checks[0].result().flagged.tolist() == [True]
        assert checks[0].train_rows == 2
    assert {"exact", "ngram_overlap", "minhash", "embedding"} <= set(CHECKS.names())
    odd = NormalizedTexts(["abc \ud800 def"])  # no valid UTF-8: pickled as the list it is
    assert type(pickle.loads(pickle.dumps(odd))) is NormalizedTexts
    assert type(pickle.loads(pickle.dumps(NormalizedTexts(["abc"])))) is SharedTexts
