"""Verdicts: every eval item is ``contaminated``, ``suspect`` or ``clean``, with its evidence.

Each check's score gets its own thresholds (a shared 13-gram and a 0.5 MinHash Jaccard do not
mean the same thing), and the item takes the worst verdict any check gives it::

    check          contaminated                              suspect
    exact          the same normalized text in training;     contained, but shorter than
                   or contained in a training text (word     ``min_tokens`` tokens (a short
                   boundaries) and at least ``min_tokens``    phrase occurs almost anywhere)
    ngram_overlap  coverage >= ngram_contaminated (0.5)      coverage >= ngram_suspect (0.2),
                   (an item shorter than n words is one      or 40% of its words inside found
                   n-gram of all its words)                  n-grams (ngram_token_suspect); a
                                                             short item found whole
    minhash        Jaccard >= minhash_contaminated (0.6:     Jaccard >= minhash_suspect (0.4);
                   about 12% of the words edited, or less)   an item shorter than min_tokens
                   and at least ``min_tokens`` tokens; a     at any Jaccard
                   shorter item only as an affix copy (the
                   same words but for a prefix or a tag)
    embedding      cosine >= embedding_contaminated (0.9)    cosine >= embedding_suspect (0.85),
                   with a retrieved training text, tokens    or >= embedding_floor (0.7) and
                   aligned as for suspect                    embedding_margin (0.1) above the
                                                             next-best training text; and a
                                                             BERTScore F1 >= embedding_alignment
                                                             (0.68) or a margin >=
                                                             embedding_standout (0.5)

Each check's result applies its own row (``CheckResult.levels``; a check registered without a
row here counts its flag as contaminated). The evidence is the training id, check, score and
matched text (``CheckResult.evidence_text``) of the check that gave the verdict; checks are
tried in the order exact, ngram_overlap, minhash, embedding, so the most direct proof wins a tie.

Variant families: ``evidence_ids`` lists every training id that a check flagged the item at
(each check whose own level for the item is suspect or contaminated, by its ``evidence_id``: the
``<check>_evidence_id`` column). Flagged items are linked through those training ids, and a
family is a connected component of that graph that holds two or more eval items: several eval
items match one training text (or two training texts that a third item matches), so they are
variants of one another, or duplicates inside the eval set. ``family`` is the component's
smallest training id (string order), ``family_size`` its number of items (0 outside a family)
and ``variant_of`` the other members' eval ids, sorted. Nothing depends on hashing or on the
order of the checks or training rows. ``MinHashCheck`` counts a training text for one eval item
only, so its evidence alone rarely links two items; ``exact`` and ``ngram_overlap`` link every
item they find in a text, and the embedding check each variant it judges on its own.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from splitforge.audit.base import CLEAN, PREVIEW, CheckResult
from splitforge.recipe import AuditThresholdsConfig

VERDICTS = ("clean", "suspect", "contaminated")  # by level: CLEAN, SUSPECT, CONTAMINATED


# The recipe's model is the one definition of the thresholds and their defaults.
Thresholds = AuditThresholdsConfig


def verdict_table(ids: list[str], texts: list[str], results: list[CheckResult],
                  thresholds: Thresholds) -> pa.Table:
    """One row per eval item: id, verdict, evidence, its family, then every check's own columns.

    Rows that share an eval id are one item (an input and its answer): its family comes from
    its first row's ``evidence_ids`` (see the module docstring; a short answer such as "72" is
    inside countless training texts, which makes no two items variants).
    """
    n = len(ids)
    levels = np.zeros(n, dtype=np.int8)
    source = np.full(n, -1, dtype=np.int64)
    flagged_at: list[set[str]] = [set() for _ in range(n)]
    for index, result in enumerate(results):
        level = result.levels(thresholds)
        better = level > levels
        levels[better], source[better] = level[better], index
        for item in np.flatnonzero(level > CLEAN).tolist():
            if result.evidence_id[item] is not None:
                flagged_at[item].add(result.evidence_id[item])
    evidence_id, method, score, matched = [], [], [], []
    for item in range(n):
        if source[item] < 0:
            evidence_id.append(None)
            method.append(None)
            score.append(None)
            matched.append(None)
            continue
        result = results[source[item]]
        evidence_id.append(result.evidence_id[item])
        method.append(result.name)
        score.append(float(result.score[item]))
        matched.append(result.evidence_text(item, texts[item]))
    table = pa.table({
        "eval_id": pa.array(ids, pa.string()),
        "verdict": pa.array([VERDICTS[v] for v in levels], pa.string()),
        "evidence_id": pa.array(evidence_id, pa.string()),
        "evidence_method": pa.array(method, pa.string()),
        "evidence_score": pa.array(score, pa.float64()),
        "matched_text": pa.array(matched, pa.string()),
        "eval_text": pa.array([t[:PREVIEW] for t in texts], pa.string()),
        "evidence_ids": pa.array([sorted(t) for t in flagged_at], pa.list_(pa.string())),
    })
    table = with_families(table)
    for fields in (result.to_table() for result in results):
        for name, column in zip(fields.column_names, fields.columns, strict=True):
            table = table.append_column(name, column)
    return table


FAMILY_COLUMNS = ("family", "family_size", "variant_of")


def variant_families(eval_ids: list[str], evidence_ids: list[list[str]]
                     ) -> list[tuple[str | None, int, list[str]]]:
    """Each row's family, family size and the other members' ids (None, 0, [] outside one).

    Rows that share an eval id are one item, linked by its first row's training ids. Every
    component is named by its smallest training id (the root of a union that keeps the smaller
    id), so the result depends on neither hashing nor the order of the rows.

    Examples:
        >>> variant_families(["a", "b", "c", "d"], [["t2"], ["t1", "t2"], ["t9"], []])
        [('t1', 2, ['b']), ('t1', 2, ['a']), (None, 0, []), (None, 0, [])]
    """
    parent: dict[str, str] = {}

    def root(training_id: str) -> str:
        while parent[training_id] != training_id:
            parent[training_id] = parent[parent[training_id]]
            training_id = parent[training_id]
        return training_id

    first: dict[str, int] = {}
    for row, eval_id in enumerate(eval_ids):
        first.setdefault(eval_id, row)
    for row in first.values():
        links = evidence_ids[row] or []
        for training_id in links:
            parent.setdefault(training_id, training_id)
        for training_id in links[1:]:
            a, b = root(links[0]), root(training_id)
            parent[max(a, b)] = min(a, b)
    members: dict[str, list[str]] = {}
    family_of: dict[str, str] = {}
    for eval_id, row in first.items():
        if evidence_ids[row]:
            family_of[eval_id] = root(evidence_ids[row][0])
            members.setdefault(family_of[eval_id], []).append(eval_id)
    out: list[tuple[str | None, int, list[str]]] = []
    for eval_id in eval_ids:
        family = family_of.get(eval_id)
        if family is None or len(members[family]) < 2:
            out.append((None, 0, []))
        else:
            out.append((family, len(members[family]),
                        sorted(m for m in members[family] if m != eval_id)))
    return out


def with_families(table: pa.Table) -> pa.Table:
    """``table`` with its ``family``, ``family_size`` and ``variant_of`` columns (re)computed.

    They are read from the ``eval_id`` and ``evidence_ids`` columns over the whole table, so a
    table stitched from several scans (a build's audit) gets the families of all its rows; the
    columns follow ``evidence_ids``, or replace those already there.
    """
    found = variant_families(table.column("eval_id").to_pylist(),
                             table.column("evidence_ids").to_pylist())
    columns = {
        "family": pa.array([f for f, _, _ in found], pa.string()),
        "family_size": pa.array([s for _, s, _ in found], pa.int64()),
        "variant_of": pa.array([v for _, _, v in found], pa.list_(pa.string())),
    }
    at = table.column_names.index("evidence_ids") + 1
    for name, column in columns.items():
        if name in table.column_names:
            table = table.set_column(table.column_names.index(name), name, column)
        else:
            table = table.add_column(at, name, column)
        at += 1
    return table


def family_counts(table: pa.Table) -> dict[str, int]:
    """``families`` (variant families) and ``items_in_families`` (their rows) of ``table``."""
    families = [f for f in table.column("family").to_pylist() if f is not None]
    return {"families": len(set(families)), "items_in_families": len(families)}


def verdict_counts(table: pa.Table) -> dict[str, int]:
    """Items per verdict, every verdict listed."""
    verdicts = table.column("verdict").to_pylist()
    return {v: verdicts.count(v) for v in reversed(VERDICTS)}


def fails(table: pa.Table, fail_on: str) -> bool:
    """Whether any item reaches the ``fail_on`` level (``contaminated``, ``suspect``, ``never``)."""
    if fail_on == "never":
        return False
    worst = VERDICTS.index(fail_on)
    return any(VERDICTS.index(v) >= worst for v in table.column("verdict").to_pylist())
