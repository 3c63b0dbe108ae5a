"""Short items (#13 item 3): reposts with a prefix, a tag or other punctuation are copies; one
changed word of a short text is not evidence of one, for the audit and for MinHash dedup alike."""

import gzip
import json
import random

from splitforge import columns as C
from splitforge.audit.run import audit_files
from splitforge.dedup import deduplicate
from splitforge.normalize import normalize_text
from splitforge.normalize.affixes import affix_copies, strip_variants
from splitforge.recipe import DedupConfig, MinHashConfig
from tests.conftest import FAST_METHODS, real_data, write_jsonl
from tests.dedup.conftest import table_of


def _subjects() -> list[str]:
    rows = [json.loads(line) for line in gzip.open(real_data("temporal/oss_commit_messages"
                                                             ".jsonl.gz"), "rt")]
    seen, out = set(), []
    for r in rows:
        norm = normalize_text(r["subject"])
        if 3 <= len(norm.split()) <= 7 and norm not in seen:
            seen.add(norm)
            out.append(r["subject"])
    return out


REPOSTS = {
    "prefix": lambda s, rng: rng.choice(["Show HN: ", "Re: ", "[WIP] "]) + s,
    "tag": lambda s, rng: f"{s} ({rng.choice(['2019', '2021', '#1234'])})",
    "punct": lambda s, rng: s.rstrip(".!?") + rng.choice(["!", "?", " ..."]),
    "case": lambda s, rng: s.upper(),
}


def test_affix_variants():
    variants = strip_variants("show hn: fix typo (2019) ...")
    assert {"fix typo", "fix typo (2019)", "show hn: fix typo", "fix typo (2019) ..."} <= set(
        variants)
    assert "show hn: fix typo (2019) ..." not in variants and "" not in variants
    left = ["how to vote?", "a man is talking", "show hn: my app", "fix typo.", "请问:如何评估模型"]
    right = ["how to memorise?", "a man is laughing", "my app", "fix typo", "如何评估模型"]
    assert affix_copies(left, right).tolist() == [False, False, True, True, True]


def test_short_reposts_are_contaminated_and_one_changed_word_is_not(tmp_path):
    subjects = _subjects()
    rng = random.Random(5)
    train, rest = subjects[:2500], subjects[2500:]
    originals = rng.sample(train, 200)
    evals = [{"id": f"{kind}{i}", "text": make(s, rng)}
             for i, s in enumerate(originals) for kind, make in [list(REPOSTS.items())[i % 4]]]
    words = sorted({w for s in train for w in s.split() if w.isalpha()})
    changed = []
    for i, s in enumerate(originals[:100]):
        parts = s.split()
        parts[i % len(parts)] = rng.choice(words)
        changed.append({"id": f"word{i}", "text": " ".join(parts)})
    distinct = [{"id": f"new{i}", "text": s} for i, s in enumerate(rest[:600])]
    write_jsonl(tmp_path / "train.jsonl", [{"id": f"t{i}", "text": s}
                                           for i, s in enumerate(train)])
    write_jsonl(tmp_path / "eval.jsonl", evals + changed + distinct)
    result = audit_files([tmp_path / "train.jsonl"], [tmp_path / "eval.jsonl"], text="text",
                         id_field="id", fail_on="never", methods=FAST_METHODS)
    verdict = dict(zip(result.table.column("eval_id").to_pylist(),
                       result.table.column("verdict").to_pylist(), strict=True))
    for kind in REPOSTS:
        mine = [e["id"] for e in evals if e["id"].startswith(kind)]
        caught = sum(verdict[i] == "contaminated" for i in mine)
        assert caught >= 0.9 * len(mine), (kind, caught, len(mine))
    # One changed word of a short subject: a different commit as often as a repost.
    short_changed = [e["id"] for e in changed if len(e["text"].split()) < 8]
    assert all(verdict[i] != "contaminated" for i in short_changed)
    # Distinct real subjects: hardly ever called copies (generic ones like "Fix typo" recur).
    false = [i for i in (d["id"] for d in distinct) if verdict[i] == "contaminated"]
    assert len(false) <= 0.03 * len(distinct), false[:10]


def test_minhash_dedup_links_short_texts_only_as_affix_copies():
    texts = ["How to vote?", "How to Memorise?", "Show HN: fix the login page", "fix the login page",
             "Add support for python 3.12", "Add support for python 3.13"]
    result = deduplicate(table_of(texts), DedupConfig(exact=True,
                                                      minhash=MinHashConfig(threshold=0.3)))
    removed = dict(zip(result.removed.column(C.ID).to_pylist(),
                       result.removed.column("sf_kept_id").to_pylist(), strict=True))
    assert removed == {"r003": "r002"}
    long_enough = deduplicate(table_of(texts), DedupConfig(
        exact=True, minhash=MinHashConfig(threshold=0.3, min_tokens=1)))
    assert "r005" in long_enough.removed.column(C.ID).to_pylist()  # the old, coarse behaviour


def test_an_affix_copy_never_lowers_a_verdict():
    # A 9-word item: an edited copy gives Jaccard 0.8 (contaminated); adding a tagged repost
    # of it to training must not turn the item suspect (found in review).
    from splitforge.audit import MinHashCheck
    from tests.audit.conftest import norm_all, run

    item = "the quick brown fox jumps over the lazy dog"
    training = [(["a"], [item.replace("dog", "cat")]),
                (["b"], [f"ask hn: show hn: {item} (2019) (v2)"])]
    edited_only = run(MinHashCheck(norm_all([item])), training[:1])
    both = run(MinHashCheck(norm_all([item])), training)
    from splitforge.recipe import AuditThresholdsConfig

    thresholds = AuditThresholdsConfig()
    assert edited_only.levels(thresholds)[0] <= both.levels(thresholds)[0]
