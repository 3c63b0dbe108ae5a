"""The runner of the ``splitforge audit`` command, and the build's own audit stage.

``audit_files`` audits eval files (or a stored build's eval rows) against training files;
``audit_build`` audits a build's val and test rows against its train rows, and ``drop_leaked``
takes the rows it removed out of the split.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from splitforge import columns as C
from splitforge.audit import CHECKS
from splitforge.audit.base import NormalizedTexts
from splitforge.audit.report import write_audit_report
from splitforge.audit.scan import SimilarBatch, iter_training_batches, scan_training
from splitforge.audit.verdict import (
    Thresholds,
    fails,
    family_counts,
    verdict_counts,
    verdict_table,
)
from splitforge.challenge import ChallengeResult
from splitforge.errors import InputError, LeakageError, RecipeError
from splitforge.fingerprint import fingerprint, sha256_path
from splitforge.load import load_sources
from splitforge.memory import release_memory
from splitforge.normalize import normalize_text
from splitforge.normalize.boilerplate import (
    NO_BOILERPLATE,
    Boilerplate,
    BoilerplateSettings,
    detect_boilerplate,
)
from splitforge.progress import NO_PROGRESS, Progress, Reporter, SilentReporter, Timed
from splitforge.recipe import (
    DEFAULT_AUDIT_METHODS,
    Recipe,
    SourceConfig,
    resolve_path,
    validate_fields,
)
from splitforge.split import SPLIT_NAMES
from splitforge.tables import take_rows
from splitforge.templates import template_fields
from splitforge.write import output_target, publish, staging_folder
from splitforge.write.build_folder import stored_build

AUDIT_METHODS = {"exact": "exact", "ngram": "ngram_overlap", "minhash": "minhash",
                 "embedding": "embedding"}


def audit_checks(norm: list[str], methods: Any, ngram: int, thresholds: Thresholds,
                 texts: list[str] | None = None, model: str = "minilm",
                 groups: list[int] | None = None,
                 shared_views: tuple[int, float] | None = None) -> list[Any]:
    """The audit checks named by ``methods``, indexed over the normalized eval texts.

    MinHash and embedding scores are kept down to their suspect thresholds, so both verdict
    levels see them; the embedding check cuts the raw ``texts`` into sentences, and ``groups``
    tells both which texts belong to one item (an input and its answer). The checks are built
    one after the other (exact and n-gram share the shingles of a ``NormalizedTexts``, dropped
    once no later check reads them): built in threads side by side, their working memory would
    add up (MinHash beside the others saved 3 s and cost 270 MB at 190k items).
    """
    options: dict[str, dict[str, Any]] = {
        "exact": {"n": ngram},
        "ngram": {"n": ngram},
        "minhash": {"threshold": thresholds.minhash_suspect, "groups": groups},
        "embedding": {"threshold": thresholds.embedding_suspect,
                      "margin": thresholds.embedding_margin, "floor": thresholds.embedding_floor,
                      "alignment": thresholds.embedding_alignment,
                      "standout": thresholds.embedding_standout,
                      "numbers": thresholds.embedding_numbers,
                      "window": thresholds.embedding_window,
                      "window_from": thresholds.embedding_window_from,
                      "model": model, "eval_texts": texts, "groups": groups,
                      "shared_views": shared_views},
    }
    methods, built = list(methods), []
    for k, method in enumerate(methods):
        built.append(CHECKS.get(AUDIT_METHODS[method])(norm, **options[method]))
        if isinstance(norm, NormalizedTexts) and not {"exact", "ngram"} & set(methods[k + 1:]):
            norm.forget_shingles()  # no check after this one reads them
    return built


@dataclass
class AuditRunResult:
    """An audit's per-item table, its summary, whether the gate failed, and the report folder."""

    table: pa.Table
    summary: dict[str, Any]
    failed: bool
    report: Path | None = None
    removed_rows: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    removed_reasons: np.ndarray = field(default_factory=lambda: np.zeros(0, object))
    removed_evidence: np.ndarray = field(default_factory=lambda: np.zeros(0, object))
    self_test: Any = None  # a SelfTestResult when the self-test ran (audit/selftest.py)


def audit_files(
    train: list[str | Path],
    eval_paths: list[str | Path],
    *,
    text: str | None = None,
    train_text: str | None = None,
    eval_text: str | None = None,
    id_field: str | None = None,
    answer: str | None = None,
    methods: tuple[str, ...] = DEFAULT_AUDIT_METHODS,
    ngram: int = 13,
    thresholds: Thresholds | None = None,
    embedding_model: str = "minilm",
    fail_on: Literal["contaminated", "suspect", "never"] = "contaminated",
    report: str | Path | None = None,
    force: bool = False,
    num_proc: int | None = None,
    reporter: Reporter | None = None,
    build_dir: str | Path | None = None,
    boilerplate: bool = True,
    ignore: Sequence[str] = (),
    self_test: bool = False,
    self_test_items: int = 200,
    self_test_rows: int = 2_000,
    seed: int | None = None,
) -> AuditRunResult:
    """Audit eval files against training files: a verdict and evidence per eval item.

    Spans that recur in the eval items (``normalize.boilerplate``: a prompt template, a system
    prompt; with ``build_dir``, found with the build recipe's ``boilerplate`` settings) and the
    ``ignore`` spans are left out of every check, on both sides; ``boilerplate=False`` finds
    none. A chat field is read as its turns without the system ones.

    With ``build_dir`` the eval items are a stored build's val, test and control rows (ids
    ``<set>:<sf_id>``, text from its recipe's ``fields``), and the report goes, unless ``report``
    says otherwise, to ``<name>/audits/<build_id>/<training fingerprint>/`` beside the version:
    a record of what that version was audited against, which leaves the version itself (and
    ``splitforge verify``) untouched.

    The eval side is read whole with the project's loader (any format, a template over fields);
    the training side is streamed in batches through indexes of the eval items, so memory follows
    the eval set. ``failed`` is True when an item reaches ``fail_on``.

    With ``answer`` (the eval field holding the reference answer), the answers are audited in
    the same scan as the inputs: ``answer_verdict`` beside ``verdict`` (the input's), and
    ``leaked`` says ``input and answer`` (a solved example is in training), ``input only`` or
    ``answer only`` (common with short answers), or ``nothing``.

    With ``self_test``, copies of up to ``self_test_items`` eval items (verbatim, edited and
    rule-based rephrases) are planted into a sample of up to ``self_test_rows`` training rows,
    taken while the training side streams past, and that sample is audited with the same
    settings (``audit.selftest``): ``result.self_test`` has the recall per kind and the false
    positive rate, ``self_test.json`` goes into the report and its brief into
    ``summary["self_test"]``. ``seed`` (default: the build recipe's seed with ``build_dir``,
    else 0) seeds it. The real audit's verdicts and gate do not depend on it.

    Raises:
        RecipeError: An unknown method, or no text field given.
        InputError: A missing or malformed file or field.
        OutputError: ``report`` exists and ``force`` is not set.
    """
    timed = Timed(reporter or SilentReporter())
    thresholds = thresholds or Thresholds()
    if self_test:
        from splitforge.audit.selftest import check_sizes

        check_sizes(self_test_items, self_test_rows)
    unknown = [m for m in methods if m not in AUDIT_METHODS]
    if unknown or not methods:
        raise RecipeError([f"--methods: unknown {', '.join(unknown) or '(none given)'}; valid: "
                           f"{', '.join(AUDIT_METHODS)}"])
    built = stored_build(Path(build_dir)) if build_dir is not None else None
    if built is not None:
        if eval_paths or eval_text:
            raise RecipeError(["--eval / --eval-text: not with --build, whose eval rows and "
                               "text come from the build and its recipe"])
        recipe_text = built["recipe"].fields.text
        text, eval_text = text or recipe_text, recipe_text or "-"
    train_field, eval_field = train_text or text, eval_text or text
    if not train_field or not eval_field:
        raise RecipeError(["--text: name the text field (or --train-text and --eval-text)"])
    try:
        template_fields(train_field)
    except ValueError as error:
        raise RecipeError([f"--train-text: {error}"]) from None
    read = [Path(p) for p in [*train, *eval_paths]]
    reads = Path(build_dir) if build_dir is not None else None
    target = None if report is None else output_target(report, force, read, "audit", reads)
    trained_on = [sha256_path(Path(p)) for p in train]
    eval_hashes = [sha256_path(Path(p)) for p in eval_paths]
    if built is not None and report is None:
        key = fingerprint(trained_on, train_field, list(methods), ngram, thresholds.model_dump(),
                          answer, *([embedding_model] if "embedding" in methods else []))
        # beside the version (resolved: `latest` or `.` name the same version), never in it
        report = Path(build_dir).resolve().parent / "audits" / built["build_id"] / key[:12]
        target = output_target(report, force, read, "audit", reads)
    with timed.stage("load eval"):
        if built is not None:
            loaded_table = built["table"]
        else:
            loaded_table = load_sources([SourceConfig(path=str(p)) for p in eval_paths],
                                        validate_fields({"id": id_field, "text": eval_field}),
                                        Path.cwd(), expected_sha256=eval_hashes,
                                        during="the audit").table
        ids = loaded_table.column(C.ID).to_pylist()
        texts = loaded_table.column(C.TEXT).to_pylist()
        if answer is not None:
            if answer not in loaded_table.column_names:
                present = [c for c in loaded_table.column_names if not c.startswith(C.PREFIX)]
                raise InputError(f"--answer: no field {answer!r} in the eval data (its fields: "
                                 f"{', '.join(present)})")
            answers = ["" if a is None else str(a)
                       for a in loaded_table.column(answer).to_pylist()]
            texts = texts + answers
    settings = built["recipe"].boilerplate.settings() if built is not None else \
        BoilerplateSettings()
    settings = replace(settings, detect=settings.detect and boilerplate,
                       ignore=(*settings.ignore, *ignore))
    with timed.stage("boilerplate"):
        found = detect_boilerplate([normalize_text(t) for t in texts[:len(ids)]], settings)
    batches: Iterable[tuple[Any, Any]] = iter_training_batches(
        [Path(p) for p in train], train_field, id_field, sha256=trained_on)
    sample = None
    if self_test:
        from splitforge.audit.selftest import TrainingSample

        if seed is None:
            seed = built["recipe"].seed if built is not None else 0
        sample = TrainingSample(self_test_rows, seed)
        batches = sample.wrap(batches)
    with timed.stage("scan training") as progress:
        table, summary = _scan_audit(
            ids, texts, batches, methods=methods, ngram=ngram, thresholds=thresholds,
            model=embedding_model, fail_on=fail_on, progress=progress, num_proc=num_proc,
            answers=answer is not None, boilerplate=found)
    summary["boilerplate"] = found.summary
    failed = summary["failed"]
    tested = None
    if sample is not None:
        from splitforge.audit.selftest import run_self_test

        with timed.stage("self-test"):
            tested = run_self_test(ids, texts[:len(ids)], sample, methods=methods, ngram=ngram,
                                   thresholds=thresholds, model=embedding_model,
                                   boilerplate=found, seed=int(seed or 0),
                                   items=self_test_items)
        summary["self_test"] = tested.brief()
    summary = {
        **summary,
        **({"answer": answer, "leaked": {k: table.column("leaked").to_pylist().count(k) for k in
                                          ("input and answer", "input only", "answer only",
                                           "nothing")}} if answer is not None else {}),
        **({"build_id": built["build_id"], "build_folder": str(build_dir)}
           if built is not None else {}),
        "inputs": {"train": [{"path": str(p), "sha256": h} for p, h in zip(train, trained_on,
                                                                          strict=True)],
                   "eval": [{"path": str(p), "sha256": h}
                            for p, h in zip(eval_paths, eval_hashes, strict=True)]},
    }
    if target is not None:
        with timed.stage("write"), staging_folder(target.parent, target.name, "audit") as staging:
            write_audit_report(staging, table, summary)
            if tested is not None:
                from splitforge.audit.selftest import write_self_test

                write_self_test(staging, tested)
            publish(staging, target, force, latest=False)
    return AuditRunResult(table, summary, failed, target, self_test=tested)


def audit_stage_info(summary: dict[str, Any]) -> dict[str, Any]:
    """What the manifest keeps of the build's audit (the per-check details stay in audit.json)."""
    keep = ("eval_items", "eval_sets", "train_rows", "checks", "verdicts", "fail_on", "failed",
            "on_contaminated", "removed", "rounds",
            "thresholds", "ngram", "against", "challenge_items_from_flagged_rows", "self_test")
    return {k: summary[k] for k in keep if k in summary}


def write_failed_report(target: Path, table: pa.Table, summary: dict[str, Any]) -> None:
    """The audit report of a build whose gate failed, at ``target`` (replaced if there).

    ``<name>/audits/<build_id>/gate/`` beside the versions: the build itself is not written,
    but the evidence a user needs to fix the data is.
    """
    from splitforge.write import publish, staging_folder

    with staging_folder(target.parent, target.name, "audit") as staging:
        write_audit_report(staging, table, summary)
        publish(staging, target, force=True, latest=False)


LEAK_LINK_REASON = "leak_link"
CONTAMINATED_REASON = "audit:contaminated"


def audit_build(table: pa.Table, rows: np.ndarray, codes: np.ndarray, recipe: Recipe, base: Path,
                progress: Progress = NO_PROGRESS,
                control_rows: np.ndarray | None = None,
                boilerplate: Boilerplate = NO_BOILERPLATE,
                failed_report: Path | None = None, gate: bool = True) -> AuditRunResult:
    """Audit the build's val and test rows against its train rows (and ``audit.against``).

    Every text, of both sides, is compared without the build's ``boilerplate``. With
    ``audit.on_contaminated: remove`` (the default) a contaminated val/test row is marked
    ``removed`` in the table's ``action`` column (``drop_leaked`` drops it from the split), and
    the verdict counts and the gate read the rows that stay, so the build's own audit reports 0
    contaminated; control rows are never removed.

    ``gate=False`` returns the audit before its gate (``apply_gate``), which ``fail_on`` alone
    decides: the stage cache keeps that.

    Raises:
        LeakageError: An item that stays reaches ``audit.fail_on``; the message names the first
            ones with their evidence, and nothing is written.
    """
    release_memory()  # what the stages before freed, for the indexes and the workers
    config = recipe.audit
    names = ("train", "val", "test")
    eval_rows: list[np.ndarray] = []
    eval_sets: list[str] = []
    for code in (1, 2):
        picked = rows[codes == code]
        eval_rows.append(picked)
        eval_sets += [names[code]] * len(picked)
    if control_rows is not None and len(control_rows):
        eval_rows.append(control_rows)
        eval_sets += ["control"] * len(control_rows)
    picked_rows = np.concatenate(eval_rows) if eval_rows else np.zeros(0, np.int64)
    eval_ids = take_rows(table.column(C.ID), picked_rows).to_pylist()
    # Arrow arrays, not Python strings: each scan makes strings of its own items when it needs them
    eval_texts = take_rows(table.column(C.TEXT), picked_rows)
    eval_similar = similar_texts(table, picked_rows)
    train_rows = rows[codes == 0]
    against = [resolve_path(base, p) for p in config.against]
    against_hashes = [sha256_path(p) for p in against]

    def batches() -> Iterator[Any]:
        yield from similar_batches(table, train_rows)
        if config.against:
            field_name = config.against_text or recipe.fields.text or ""
            yield from iter_training_batches(against, field_name, sha256=against_hashes,
                                             roles=recipe.fields.roles)

    labels = [f"{s}:{i}" for s, i in zip(eval_sets, eval_ids, strict=True)]
    sets = {s: eval_sets.count(s) for s in ("val", "test", "control")
            if s != "control" or s in eval_sets}
    options = {"methods": config.methods, "ngram": config.ngram,
               "thresholds": config.thresholds, "model": config.embedding_model,
               "fail_on": "never", "boilerplate": boilerplate}

    def scan(items: np.ndarray, progress: Progress = NO_PROGRESS) -> pa.Table:
        every = len(items) == n
        found, info = _scan_audit(
            [labels[i] for i in items], eval_texts if every else take_rows(eval_texts, items),
            batches(), progress=progress, total_rows=0 if config.against else len(train_rows),
            sets=sets, similar=eval_similar if every else take_rows(eval_similar, items), **options)
        scanned.append(info)
        return found

    n = len(labels)
    scanned: list[dict[str, Any]] = []
    held_out = np.array([s != "control" for s in eval_sets], dtype=bool)
    is_test = np.array([s == "test" for s in eval_sets], dtype=bool)
    removing = config.on_contaminated == "remove"
    remove = np.zeros(n, dtype=bool)
    evidence: list[Any] = [None] * n
    passes: list[pa.Table] = []  # each scan's table; an item's row comes from its last scan
    aside = np.zeros(n, dtype=np.int64)  # training texts attributed to another item
    source = np.zeros((n, 2), dtype=np.int64)
    own_rows = [train_rows]  # rows whose ids, as evidence, make a removal a leak link
    current = np.arange(n)
    found = scan(current, progress)
    rounds = 0
    while True:
        # A copy is removed; the rows that stay are scanned again, since a removed item may
        # have been the one a training text was attributed to (closest_group).
        rounds += 1
        passes.append(found)
        source[current, 0], source[current, 1] = len(passes) - 1, np.arange(len(current))
        verdict = found.column("verdict").to_pylist()
        found_id = found.column("evidence_id").to_pylist()
        aside[current] = sum((np.asarray(found.column(c).to_numpy(zero_copy_only=False),
                                         dtype=np.int64) for c in found.column_names
                              if c.endswith("_set_aside")), np.zeros(len(current), np.int64))
        fresh = 0
        for j, item in enumerate(current.tolist()):
            if removing and held_out[item] and verdict[j] == "contaminated":
                remove[item], evidence[item] = True, found_id[j]
                fresh += 1
        if removing:  # test rows linked to val rows: never in two splits
            fresh += _unlink_test_from_val(
                table, rows[codes == 1][~remove[:int(np.count_nonzero(codes == 1))]],
                np.flatnonzero(is_test & ~remove), labels, eval_texts, eval_similar, remove,
                evidence, options, own_rows)
        # only an item that lost a training text to another item can change: scanned alone,
        # the staying ones it lost to are out of the contest, so its score can only rise
        current = np.flatnonzero(~remove & (aside > 0))
        if not fresh or not len(current) or rounds >= MAX_LEAK_ROUNDS:
            break
        found = scan(current)
    summary = scanned[0]
    pieces = [passes[k].take(pa.array(source[source[:, 0] == k, 1])) for k in range(len(passes))]
    order = np.argsort(np.concatenate([np.flatnonzero(source[:, 0] == k)
                                       for k in range(len(passes))]), kind="stable")
    audited = pa.concat_tables(pieces, promote_options="permissive").take(pa.array(order))
    audited = audited.add_column(1, "eval_set", pa.array(eval_sets, pa.string()))
    action = np.where(remove, "removed", "kept")
    audited = audited.add_column(2, "action", pa.array(action.tolist(), pa.string()))
    audited = audited.add_column(3, "linked_id", pa.array(
        [e if r else None for e, r in zip(evidence, remove.tolist(), strict=True)], pa.string()))
    summary["rounds"] = rounds
    staying = audited.filter(pa.array(~remove))
    summary["verdicts"] = verdict_counts(staying)
    summary["on_contaminated"] = config.on_contaminated
    removed_evidence = [evidence[i] for i in np.flatnonzero(remove).tolist()]
    own = pc.is_in(pa.array(removed_evidence, pa.string()), value_set=take_rows(
        table.column(C.ID), np.concatenate(own_rows))).to_pylist() if removed_evidence else []
    reasons = [LEAK_LINK_REASON if mine or not config.against else CONTAMINATED_REASON
               for mine in own]
    summary["removed"] = {"leak_link": reasons.count(LEAK_LINK_REASON),
                          "contaminated": reasons.count(CONTAMINATED_REASON)}
    summary["against"] = [{"path": p, "sha256": h}
                          for p, h in zip(config.against, against_hashes, strict=True)]
    result = AuditRunResult(audited, summary, False, None, picked_rows[remove],
                            np.array(reasons, dtype=object),
                            np.array(removed_evidence, dtype=object))
    return apply_gate(result, config, failed_report) if gate else result


def apply_gate(result: AuditRunResult, config: Any, failed_report: Path | None = None
               ) -> AuditRunResult:
    """The build's gate on an audit: ``audit.fail_on`` (and ``on_contaminated: fail``).

    A failed gate writes the audit report to ``failed_report`` (when given) and raises.

    Raises:
        LeakageError: An item that stays reaches ``audit.fail_on``; the message names the first
            ones with their evidence.
    """
    audited = result.table
    summary = dict(result.summary)
    staying = audited.filter(pc.equal(audited.column("action"), "kept"))
    summary["failed"] = failed = fails(staying, config.fail_on) or (
        config.on_contaminated == "fail" and summary["verdicts"]["contaminated"] > 0)
    summary["fail_on"] = config.fail_on
    if failed:
        records = staying.to_pylist()
        worst = [r for r in records if r["verdict"] == "contaminated"] or \
            [r for r in records if r["verdict"] != "clean"]
        shown = "; ".join(f"{r['eval_id']} ~ train {r['evidence_id']} ({r['evidence_method']} "
                          f"{r['evidence_score']:.2f})" for r in worst[:5])
        fix = {"fail": "set audit.on_contaminated: remove to drop contaminated val/test rows "
                       "from the build (removed.parquet names each one's evidence), or "
                       "on_contaminated: keep with audit.fail_on: never to write the build and "
                       "read audit/audit.md",
               "keep": "set audit.on_contaminated: remove to drop contaminated val/test rows "
                       "from the build (removed.parquet names each one's evidence), or "
                       "audit.fail_on: never to write the build and read audit/audit.md",
               "remove": "raise audit.fail_on to contaminated (contaminated val/test rows are "
                         "removed already), or set it to never and read audit/audit.md"
               }[config.on_contaminated]
        where = "nothing was written"
        if failed_report is not None:
            write_failed_report(failed_report, audited, summary)
            where = (f"the build was not written; its audit report is in {failed_report} "
                     f"(audit.md)")
        raise LeakageError(f"the build's own audit found {summary['verdicts']['contaminated']} "
                           f"contaminated and {summary['verdicts']['suspect']} suspect eval "
                           f"items (fail_on: {config.fail_on}, on_contaminated: "
                           f"{config.on_contaminated}): {shown}; {where}. To go on, {fix}")
    return replace(result, summary=summary, failed=False)


MAX_LEAK_ROUNDS = 10


def fold_leak_links(table: pa.Table, rows: np.ndarray, folds: np.ndarray, recipe: Recipe,
                    boilerplate: Boilerplate = NO_BOILERPLATE, only: np.ndarray | None = None,
                    among: np.ndarray | None = None) -> list[tuple[int, int]]:
    """Train rows the audit calls contaminated by a row of another fold: (row, evidence row).

    Each fold is audited against the other folds, with the build's audit methods (but not
    ``embedding``), thresholds and boilerplate, as val and test are audited against train;
    ``rows`` are table rows and ``folds`` their folds (-1: not in train). ``only`` and
    ``among`` (masks over ``rows``) limit the rows audited and the rows they are audited
    against (within the other folds).
    """
    config = recipe.audit
    # every training row is an eval item here: the sentence encoder would cost minutes per 10k
    # rows, so fold links come from the copy checks only (rephrases across folds stay unlinked)
    methods = [m for m in config.methods if m != "embedding"]
    if not methods:
        return []
    options = {"methods": methods, "ngram": config.ngram,
               "thresholds": config.thresholds, "model": config.embedding_model,
               "fail_on": "never", "boilerplate": boilerplate}
    ids = table.column(C.ID)
    row_of = {}
    links: list[tuple[int, int]] = []
    for fold in sorted(set(folds[folds >= 0].tolist())):
        asked = (folds == fold) if only is None else (folds == fold) & only
        against = (folds >= 0) & (folds != fold)
        if among is not None:
            against &= among
        mine, others = rows[asked], rows[against]
        if not len(mine) or not len(others):
            continue
        other_ids = take_rows(ids, others).to_pylist()
        row_of.update(zip(other_ids, others.tolist(), strict=True))

        found, _ = _scan_audit(take_rows(ids, mine).to_pylist(),
                               take_rows(table.column(C.TEXT), mine),
                               similar_batches(table, others), progress=NO_PROGRESS,
                               total_rows=len(others), similar=similar_texts(table, mine),
                               **options)
        for row, verdict, evidence in zip(mine.tolist(), found.column("verdict").to_pylist(),
                                          found.column("evidence_id").to_pylist(), strict=True):
            if verdict == "contaminated" and evidence in row_of:
                links.append((row, row_of[evidence]))
    return links


def _unlink_test_from_val(table: pa.Table, val_rows: np.ndarray, test_items: np.ndarray,
                          labels: list[str], texts: pa.Array, similar: pa.Array,
                          remove: np.ndarray, evidence: list[Any], options: dict[str, Any],
                          own_rows: list[np.ndarray]) -> int:
    """Mark the test items that the audit finds in the val rows as removed; how many.

    The val rows go into ``own_rows``: their ids, as evidence, are the build's own.
    """
    if not len(val_rows) or not len(test_items):
        return 0
    own_rows.append(val_rows)
    linked, _ = _scan_audit([labels[i] for i in test_items], take_rows(texts, test_items),
                            similar_batches(table, val_rows), progress=NO_PROGRESS,
                            similar=take_rows(similar, test_items), **options)
    hit = np.array(linked.column("verdict").to_pylist(), dtype=object) == "contaminated"
    val_evidence = linked.column("evidence_id").to_pylist()
    for item, found in zip(test_items[hit].tolist(), np.flatnonzero(hit).tolist(), strict=True):
        remove[item], evidence[item] = True, val_evidence[found]
    return int(hit.sum())


def drop_leaked(assignment: Any, rows: np.ndarray, audited: AuditRunResult) -> Any:
    """The assignment with the rows ``audit_build`` removed dropped, each with its reason."""
    removed = audited.removed_rows
    if not len(removed):
        return assignment
    position = np.searchsorted(rows, removed)  # rows are sorted row indices
    codes, reasons = assignment.split.copy(), assignment.reasons.copy()
    linked = assignment.linked.copy()
    codes[position] = -1
    reasons[position] = audited.removed_reasons
    linked[position] = audited.removed_evidence
    info = {**assignment.info, "removed_by_audit": audited.summary["removed"],
            "rows": {name: int(np.count_nonzero(codes == i))
                     for i, name in enumerate(SPLIT_NAMES)}}
    return type(assignment)(codes, reasons, info, linked)


def flagged_sources(audited: AuditRunResult, challenges: ChallengeResult) -> int:
    """Challenge items whose source row the audit flagged (suspect) and the build kept."""
    table = audited.table
    flagged = {label.split(":", 1)[1] for label, v, a in zip(
        table.column("eval_id").to_pylist(), table.column("verdict").to_pylist(),
        table.column("action").to_pylist(), strict=True) if v != "clean" and a == "kept"}
    sources = challenges.tables["all"].column(C.SOURCE_ID).to_pylist()
    return sum(source in flagged for source in sources)


def similar_batches(table: pa.Table, rows: np.ndarray, size: int = 16_384
                    ) -> Iterator[SimilarBatch]:
    """The build's rows as the audit reads them: ids and similarity texts, ``size`` at a time.

    A build normalized its rows and stripped their boilerplate once (``sf_sim``, else
    ``sf_norm`` and its ``sf_hash``); its own audit reads those instead of doing it again.
    """
    stripped = C.SIM in table.column_names
    for start in range(0, len(rows), size):
        part = rows[start:start + size]
        yield SimilarBatch(take_rows(table.column(C.ID), part).to_pylist(),
                           take_rows(table.column(C.SIM if stripped else C.NORM), part),
                           None if stripped else take_rows(table.column(C.HASH), part)
                           .to_numpy())


def similar_texts(table: pa.Table, rows: np.ndarray) -> pa.Array:
    """The similarity texts of build rows (``similar_batches``)."""
    column = C.SIM if C.SIM in table.column_names else C.NORM
    return take_rows(table.column(column), rows)


def _scan_audit(ids: list[str], texts: list[str] | pa.Array,
                batches: Iterable[tuple[Any, Any]], *,
                methods: Any, ngram: int, thresholds: Thresholds, model: str, fail_on: str,
                progress: Progress, num_proc: int | None = None, total_rows: int = 0,
                answers: bool = False, sets: dict[str, int] | None = None,
                boilerplate: Boilerplate = NO_BOILERPLATE,
                similar: list[str] | pa.Array | None = None) -> tuple[pa.Table, dict[str, Any]]:
    """Index the eval texts, stream the training batches past them: verdicts and summary.

    Both sides are compared without ``boilerplate`` (the eval texts here, the training batches
    in ``scan_training``). ``similar`` holds the eval texts normalized and stripped already
    (``similar_texts`` of build rows); ``texts`` stay the raw ones the report shows. Either may
    be an Arrow array: its Python strings are made when needed (the raw ones after the scan;
    over workers, the checks then hold the similarity texts as one mapped Arrow array).

    With ``answers``, ``texts`` holds every item's input and then every item's answer (one id
    each in ``ids``), audited in the one scan. ``sets`` (eval rows per set) goes into the
    summary after ``eval_items``. An empty eval side scans nothing.

    Raises:
        InputError: An eval item's text is empty or blank: no check can find it in training,
            so it would pass as clean (the loader refuses such rows; a build or table made
            otherwise can still hold them).
    """
    if isinstance(similar, pa.Array):
        similar = similar.to_pylist()
    if isinstance(texts, pa.Array) and (similar is None or "embedding" in methods):
        texts = texts.to_pylist()
    # stripping keeps every token of a row that is nothing but boilerplate: blank stays blank
    stripped = similar is not None
    norm = similar if stripped else [normalize_text(t) for t in texts]
    del similar
    blank = [i for i, t in zip(ids, norm[:len(ids)], strict=True) if not t]  # inputs, not answers
    if blank:
        raise InputError(f"{len(blank)} eval item(s) have an empty or blank text "
                         f"({', '.join(map(str, blank[:5]))}): no check can find an empty "
                         f"item in training, so it would pass as clean; remove or fill them")
    if not stripped:
        norm = boilerplate.strip_texts(norm)
    norm = NormalizedTexts(norm)
    detected = boilerplate.summary.get("detect") and "min_rows" in boilerplate.summary
    checks = audit_checks(norm, methods, ngram, thresholds, texts=texts, model=model,
                          groups=list(range(len(ids))) * 2 if answers else None,
                          shared_views=(boilerplate.summary["min_rows"],
                                        boilerplate.summary["min_share"]) if detected else None)
    del norm  # the checks hold it, and let it go for the workers' copy (scan_training)
    results = scan_training(checks, batches, progress, num_proc=num_proc,
                            total_rows=total_rows, boilerplate=boilerplate) if len(texts) else []
    if isinstance(texts, pa.Array):
        texts = texts.to_pylist()
    if answers:
        table = _with_answer(ids, texts, results, thresholds)
    else:
        table = verdict_table(ids, texts, results, thresholds)
    failed = fails(table, fail_on)
    return table, {
        "eval_items": len(ids),
        **({"eval_sets": sets} if sets is not None else {}),
        "train_rows": int(results[0].summary.get("train_rows", 0)) if results else 0,
        "checks": [r.name for r in results],
        "verdicts": verdict_counts(table),
        **family_counts(table),
        "per_check": {r.name: r.summary for r in results},
        "thresholds": thresholds.model_dump(),
        "ngram": ngram,
        "fail_on": fail_on,
        "failed": failed,
    }


def _with_answer(ids: list[str], texts: list[str], results: list[Any],
                 thresholds: Thresholds) -> pa.Table:
    """Verdicts of the inputs (first half of the eval list), with their answers' beside them."""
    both = verdict_table(ids + ids, texts, results, thresholds)
    n = len(ids)
    inputs, answers = both.slice(0, n), both.slice(n, n)
    first = inputs.column("verdict").to_pylist()
    second = answers.column("verdict").to_pylist()
    leaked = [{(True, True): "input and answer", (True, False): "input only",
               (False, True): "answer only", (False, False): "nothing"}[(a != "clean",
                                                                          b != "clean")]
              for a, b in zip(first, second, strict=True)]
    table = inputs.add_column(2, "answer_verdict", pa.array(second, pa.string()))
    table = table.add_column(3, "leaked", pa.array(leaked, pa.string()))
    return table.add_column(4, "answer_evidence_id", answers.column("evidence_id"))
