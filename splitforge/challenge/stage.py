"""The challenge stage: carve edge, OOD, temporal and adversarial sets out of held-out rows.

The pool is the rows of the splits named in ``challenge.from`` (never train); a candidate whose
duplicate cluster or group has a train row is refused outright (the split keeps clusters and
groups whole, so this only fires on a bug). ``challenge.size`` is divided by ``challenge.mix``
with largest-remainder rounding, so the targets add up to the size exactly. Kinds run in the
order edge, ood, temporal, adversarial, each on the rows the kinds before it did not take, so no
held-out row appears twice. A kind that finds fewer candidates than its target leaves the rest to
the kinds that filled theirs, in proportion to their shares, and the report says so.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa

from splitforge import columns as C
from splitforge.challenge.adversarial import AdversarialChallenge
from splitforge.challenge.base import CHALLENGES, ChallengeKind, ChallengePool, Picked
from splitforge.errors import LeakageError, RecipeError
from splitforge.progress import NO_PROGRESS, Progress
from splitforge.recipe import ChallengeConfig
from splitforge.tables import take_rows, take_table
from splitforge.write.files import output_table

KINDS = ("edge", "ood", "temporal", "adversarial")
ALL = "all"


@dataclass
class ChallengeResult:
    """Each kind's output table (and ``all``), and what happened, for the manifest and report."""

    tables: dict[str, pa.Table]
    info: dict[str, Any] = field(default_factory=dict)


def targets(size: int, shares: dict[str, float]) -> dict[str, int]:
    """``size`` divided by ``shares`` with largest-remainder rounding (ties: earlier kind).

    Example:
        >>> targets(10, {"edge": 0.3, "ood": 0.3, "temporal": 0.2, "adversarial": 0.2})
        {'edge': 3, 'ood': 3, 'temporal': 2, 'adversarial': 2}
    """
    names = list(shares)
    exact = np.array([size * shares[k] for k in names])
    base = np.floor(exact + 1e-9).astype(int)
    order = sorted(range(len(names)), key=lambda i: (-(exact[i] - base[i]), i))
    for i in order[:size - int(base.sum())]:
        base[i] += 1
    return {k: int(v) for k, v in zip(names, base, strict=True)}


def challenge_pool(table: pa.Table, rows: np.ndarray, codes: np.ndarray,
                   from_splits: list[str], seed: int) -> ChallengePool:
    """The held-out rows of the named splits and the train rows, each sorted by ``sf_id``.

    Raises:
        LeakageError: A candidate's duplicate cluster or group has a row in train.
    """
    names = ("train", "val", "test")
    wanted = [names.index(s) for s in from_splits]
    train_rows = rows[codes == 0]
    candidate_rows = rows[np.isin(codes, wanted)]
    candidate_codes = codes[np.isin(codes, wanted)]
    candidates = take_table(table, candidate_rows)
    candidates = candidates.append_column(
        C.SPLIT, pa.array([names[c] for c in candidate_codes.tolist()], pa.string()))
    train = take_table(table, train_rows)
    for key in (C.CLUSTER, C.GROUP):
        if key in table.column_names and candidates.num_rows and train.num_rows:
            shared = np.isin(take_rows(table.column(key), candidate_rows).to_numpy(
                zero_copy_only=False), take_rows(table.column(key), train_rows).to_numpy(
                zero_copy_only=False))
            if shared.any():
                raise LeakageError(f"{int(shared.sum())} challenge candidates share their {key} "
                                   f"with train rows; the split broke its guarantee")
    return ChallengePool(candidates.sort_by([(C.ID, "ascending")]),
                         train.sort_by([(C.ID, "ascending")]), seed)


def make_kinds(config: ChallengeConfig, text_template: str | None) -> dict[str, ChallengeKind]:
    """The four kinds, configured from the recipe."""
    kinds: dict[str, ChallengeKind] = {}
    for name in KINDS:
        if name == "adversarial":
            kinds[name] = AdversarialChallenge(config.adversarial, text_template)
        else:
            kinds[name] = CHALLENGES.get(name)(getattr(config, name))
    return kinds


def run_challenges(pool: ChallengePool, config: ChallengeConfig, text_template: str | None,
                   progress: Progress = NO_PROGRESS,
                   kinds: dict[str, ChallengeKind] | None = None,
                   kept: dict[str, pa.Table] | None = None) -> ChallengeResult:
    """Pick every kind's items, redistribute shortfalls, and build the output tables.

    ``kept`` holds, per kind, items of an earlier build to keep as they are (``carry_over``):
    they count toward their kind's share and their source rows are not picked again.
    """
    kinds = kinds or make_kinds(config, text_template)
    problems = [p for kind in kinds.values()
                for p in kind.check_fields(pool.candidates.column_names)]
    if problems:  # before any picks: a kind with nothing to pick still checks its config
        raise RecipeError(problems)
    why: dict[str, str] = {}  # a kind that had nothing to pick at all, and why
    for kind in KINDS:
        reason = kinds[kind].unavailable(pool)
        if reason:
            why[kind] = reason
    requested = targets(config.size, {k: getattr(config.mix, k) for k in KINDS})
    shares = {k: 0.0 if k in why else getattr(config.mix, k) for k in KINDS}
    if not any(shares.values()):
        shares = {k: getattr(config.mix, k) for k in KINDS}
    # a pool smaller than size: the mix applies to the rows there are, so no kind takes all
    wanted = targets(min(config.size, pool.candidates.num_rows), shares)
    goal = dict(wanted)
    advance = progress.task("challenge sets", config.size)
    taken = np.zeros(pool.candidates.num_rows, dtype=bool)
    picked: dict[str, list[tuple[np.ndarray, Picked]]] = {k: [] for k in KINDS}
    got = dict.fromkeys(KINDS, 0)
    kept = kept or {}
    if kept:
        ids = pool.candidates.column(C.ID).to_numpy(zero_copy_only=False)
        for kind, table in kept.items():
            taken |= np.isin(ids, np.asarray(table.column(C.SOURCE_ID).to_pylist(), dtype=object))
            got[kind] += table.num_rows
    notes: list[str] = []

    def run(kind: str, n: int) -> int:
        if n <= 0:
            return 0
        free = np.flatnonzero(~taken)
        sub = ChallengePool(pool.candidates.take(pa.array(free)), pool.train, pool.seed)
        result = kinds[kind].pick(sub, n)
        rows = free[result.rows]
        if not len(rows):  # an empty round adds nothing (and has no extra columns)
            if result.info.get("skipped"):
                why.setdefault(kind, str(result.info["skipped"]))
            return 0
        taken[rows] = True
        picked[kind].append((rows, result))
        got[kind] += len(rows)
        advance(len(rows))
        return len(rows)

    for kind in KINDS:
        run(kind, goal[kind] - got[kind])
    while True:
        short = config.size - sum(got.values())
        full = [k for k in KINDS if got[k] >= goal[k] and shares[k] > 0]
        if short <= 0 or not full or taken.all():
            break
        extra = targets(short, {k: shares[k] / sum(shares[x] for x in full) for k in full})
        added = 0
        for kind in full:
            before = got[kind]
            run(kind, extra[kind])
            goal[kind] += extra[kind]
            added += got[kind] - before
        if added == 0:
            break
    if pool.candidates.num_rows < config.size:
        notes.append(f"size {config.size} is more than the {pool.candidates.num_rows} held-out "
                     f"candidates (challenge.from): the mix was applied to "
                     f"{pool.candidates.num_rows}")
    for kind in KINDS:
        if got[kind] < requested[kind]:
            cause = why.get(kind, "too few candidates") if not got[kind] else \
                "too few candidates"
            notes.append(f"{kind}: {got[kind]} of {requested[kind]} items ({cause}); the rest "
                         f"went to the other kinds")
    tables = {kind: _with_kept(_kind_table(pool, kind, picked[kind], kinds[kind]), kept.get(kind))
              for kind in KINDS}
    tables[ALL] = pa.concat_tables([tables[k] for k in KINDS]).sort_by([(C.ID, "ascending")])
    info = {
        "size": config.size,
        "from": list(config.from_),
        "candidates": pool.candidates.num_rows,
        "targets": requested,
        "picked": {k: got[k] for k in KINDS},
        "redistributed": notes,
        "kinds": {k: {"skipped": why[k]} if k in why and not picked[k]
                  else kinds[k].merge_info([p.info for _, p in picked[k]]) for k in KINDS},
    }
    return ChallengeResult(tables, info)


def _with_kept(table: pa.Table, kept: pa.Table | None) -> pa.Table:
    """A kind's new items and the earlier build's items kept, as one table sorted by id."""
    if kept is None or not kept.num_rows:
        return table
    both = pa.concat_tables([kept, table], promote_options="permissive")
    order = table.column_names + [c for c in kept.column_names if c not in table.column_names]
    return both.select(order).sort_by([(C.ID, "ascending")])


def _kind_table(pool: ChallengePool, kind: str, parts: list[tuple[np.ndarray, Picked]],
                picker: ChallengeKind) -> pa.Table:
    """Output rows of one kind: original fields, then the challenge columns."""
    rows = np.concatenate([r for r, _ in parts]) if parts else np.zeros(0, np.int64)
    reasons = [reason for _, p in parts for reason in p.reasons]
    scores = np.concatenate([p.scores for _, p in parts]) if parts else np.zeros(0)
    base = pool.candidates.take(pa.array(rows, pa.int64()))
    source_ids = base.column(C.ID)
    n = base.num_rows
    adversarial = isinstance(picker, AdversarialChallenge)
    perturbation: list[Any] = [None] * n
    seeds: list[Any] = [None] * n
    distances: list[Any] = [None] * n
    originals: list[Any] = [None] * n
    if adversarial and n:
        extra = {key: [v for _, p in parts for v in p.extra[key]] for key in parts[0][1].extra}
        originals = base.column(C.TEXT).to_pylist()
        for f in picker.fields:
            base = base.set_column(base.schema.get_field_index(f), f,
                                   pa.array(extra[f], base.schema.field(f).type))
        perturbation, seeds = extra[C.PERTURBATION], extra[C.SEED]
        distances = extra[C.EDIT_DISTANCE]
        ids = [f"{sid}#{p}" for sid, p in zip(source_ids.to_pylist(), perturbation, strict=True)]
        base = base.set_column(base.schema.get_field_index(C.ID), C.ID, pa.array(ids, pa.string()))
    columns = {
        C.SOURCE_ID: pa.array(source_ids.to_pylist(), pa.string()),
        C.CHALLENGE: pa.array([kind] * n, pa.string()),
        C.REASON: pa.array(reasons, pa.string()),
        C.SCORE: pa.array(scores, pa.float64(), from_pandas=True),
        C.PERTURBATION: pa.array(perturbation, pa.string()),
        C.SEED: pa.array(seeds, pa.uint64()),
        C.EDIT_DISTANCE: pa.array(distances, pa.int64()),
        C.ORIGINAL_TEXT: pa.array(originals, pa.string()),
    }
    base = output_table(base.drop_columns([c for c in columns if c in base.column_names]))
    for name, values in columns.items():
        base = base.append_column(name, values)
    return base.sort_by([(C.ID, "ascending")])
