"""Verdicts: every eval item is ``contaminated``, ``suspect`` or ``clean``, with its evidence.

Each check's score gets its own thresholds (a shared 13-gram and a 0.5 MinHash Jaccard do not
mean the same thing), and the item takes the worst verdict any check gives it::

    check          contaminated                              suspect
    exact          the same normalized text in training;     contained, but shorter than
                   or contained in a training text (word     ``min_tokens`` tokens (a short
                   boundaries) and at least ``min_tokens``    phrase occurs almost anywhere)
    ngram_overlap  coverage >= ngram_contaminated (0.5)      coverage >= ngram_suspect (0.2);
                   (an item shorter than n words is one      a short item found whole
                   n-gram of all its words)
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
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from splitforge.audit.base import PREVIEW, CheckResult
from splitforge.recipe import AuditThresholdsConfig

VERDICTS = ("clean", "suspect", "contaminated")  # by level: CLEAN, SUSPECT, CONTAMINATED


# The recipe's model is the one definition of the thresholds and their defaults.
Thresholds = AuditThresholdsConfig


def verdict_table(ids: list[str], texts: list[str], results: list[CheckResult],
                  thresholds: Thresholds) -> pa.Table:
    """One row per eval item: id, verdict, evidence, then every check's own columns."""
    n = len(ids)
    levels = np.zeros(n, dtype=np.int8)
    source = np.full(n, -1, dtype=np.int64)
    for index, result in enumerate(results):
        level = result.levels(thresholds)
        better = level > levels
        levels[better], source[better] = level[better], index
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
    })
    for fields in (result.to_table() for result in results):
        for name, column in zip(fields.column_names, fields.columns, strict=True):
            table = table.append_column(name, column)
    return table


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
