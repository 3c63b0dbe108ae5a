"""The build, top to bottom: load, normalize, boilerplate, dedup, split, audit, challenge, write.

Each stage reads the table and adds columns; nothing goes back. The build id is known before any
data is read (it hashes the inputs' bytes and the resolved recipe), so an unchanged build is
skipped at once.

This module is the build's stage sequence and nothing else; the other commands' runners live
beside their stages (``dedup/run.py``, ``challenge/run.py``, ``audit/run.py``).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import suppress
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from splitforge import columns as C
from splitforge.audit.report import write_audit_report
from splitforge.audit.run import (
    CONTAMINATED_REASON,
    apply_gate,
    audit_build,
    audit_stage_info,
    drop_leaked,
    flagged_sources,
    fold_leak_links,
)
from splitforge.audit.selftest import build_self_test, write_self_test
from splitforge.cache import (
    Prepared,
    audit_key,
    cache_key,
    cached,
    load_audit,
    load_prepared,
    store_audit,
    store_prepared,
)
from splitforge.challenge import challenge_pool, run_challenges
from splitforge.challenge.run import carry_over, input_template, write_challenges
from splitforge.dedup import DedupResult, deduplicate
from splitforge.dedup.control import remove_control_duplicates
from splitforge.errors import OutputError
from splitforge.fingerprint import sha256_path
from splitforge.load import load_sources
from splitforge.load.control import load_control
from splitforge.load.memory import stage_sources
from splitforge.load.sources import concat_sources
from splitforge.normalize import add_normalized
from splitforge.normalize.boilerplate import detect_boilerplate
from splitforge.progress import Reporter, SilentReporter, Timed
from splitforge.recipe import Recipe, check_recipe, load_recipe, resolve_path
from splitforge.split import SPLIT_NAMES, SplitFrame, make_splitter
from splitforge.split.base import small_split_warnings
from splitforge.split.folds import assign_folds, check_folds, merged_units
from splitforge.split.skew import skew_warnings
from splitforge.tables import concat_tables, take_rows, take_table
from splitforge.versions import stage_versions
from splitforge.write import (
    BATCH_ROWS,
    LATEST,
    build_lock,
    check_target,
    compute_build_id,
    dependency_versions,
    output_table,
    publish,
    sort_by_id,
    splitforge_version,
    stage_fingerprints,
    staging_folder,
    write_batches,
    write_manifest,
    write_records_jsonl,
    write_report,
)
from splitforge.write.build_folder import (
    AUDIT_DIR,
    CHALLENGE_DIR,
    CLUSTERS,
    CONTROL,
    HF_DIR,
    REJECTED,
    REMOVED,
    save_hf_copy,
)
from splitforge.write.card import write_card
from splitforge.write.html_report import write_html_report
from splitforge.write.manifest import read_intact_manifest
from splitforge.write.trainer import write_dataset_info
from splitforge.write.version import point_latest


@dataclass
class BuildResult:
    """What a build did: ``built``, ``unchanged`` (the version exists) or ``dry-run``."""

    status: Literal["built", "unchanged", "dry-run"]
    build_id: str
    path: Path
    manifest: dict[str, Any] | None = None
    timings: dict[str, float] = field(default_factory=dict)


def build(
    recipe_path: str | Path | dict[str, Any] | Recipe,
    *,
    out: str | Path | None = None,
    force: bool = False,
    dry_run: bool = False,
    overrides: dict[str, Any] | None = None,
    reporter: Reporter | None = None,
) -> BuildResult:
    """Build a recipe into ``<out>/<name>/<build_id>/``.

    Args:
        recipe_path: the recipe YAML file (its relative paths are relative to its folder), or
            the recipe as a mapping or ``Recipe`` (relative to the working directory), whose
            sources may also be DataFrames, ``datasets`` Datasets or Arrow tables
            (``load.memory``).
        out: output root, instead of the recipe's ``output.dir``.
        force: rebuild and replace a build whose id already exists.
        dry_run: validate and compute the build id, but read no data and write nothing.
        overrides: dotted recipe keys to set before validation, e.g. ``{"seed": 3}``.
        reporter: receives stage progress.

    The result carries the build's manifest, also when nothing changed (not for a dry run).
    """
    timed = Timed(reporter or SilentReporter())
    if isinstance(recipe_path, str | Path):
        recipe = load_recipe(recipe_path, overrides)
        base = Path(recipe_path).resolve().parent
    else:
        base = Path.cwd()
        data = recipe_path.model_dump(by_alias=True) if isinstance(recipe_path, Recipe) else \
            dict(recipe_path)
        output = data.get("output")
        given = output.get("dir", "out") if isinstance(output, dict) else "out"
        root = Path(out) if out is not None else resolve_path(base, str(given))
        recipe = check_recipe(stage_sources(data, root, base), base, "(recipe)", overrides)
    out_root = Path(os.path.normpath(out if out is not None
                                     else resolve_path(base, recipe.output.dir)))
    resolved = recipe.model_dump(mode="json", by_alias=True)
    hashed = [resolve_path(base, s.path) for s in recipe.sources] + (
        [resolve_path(base, recipe.control.path)] if recipe.control is not None else [])
    with timed.stage("fingerprint"):
        input_hashes = [sha256_path(p) for p in hashed]
        identity = input_hashes + kept_from_hash(recipe, base)
    versions = stage_versions(recipe)
    build_id = compute_build_id(resolved, identity, versions)
    final = out_root / recipe.name / build_id
    if final.exists() and not force:
        if not dry_run:  # a build whose last step failed left `latest` on an older version
            with suppress(OutputError):  # a read-only cache, a real `latest` folder: as it was
                point_latest(final)
        return BuildResult("unchanged", build_id, final, _manifest_of(final),
                           timings=timed.timings)
    kept_from = ([resolve_path(base, recipe.challenge.keep_from)]
                 if recipe.challenge is not None and recipe.challenge.keep_from else [])
    check_target(final, force, hashed + kept_from
                 + [resolve_path(base, p) for p in recipe.audit.against])
    latest = final.parent / LATEST
    if latest.is_dir() and not latest.is_symlink():
        raise OutputError(f"{latest}: a real folder where splitforge keeps a link to the newest "
                          f"build; move it away (splitforge never deletes what it did not write)")
    if dry_run:
        return BuildResult("dry-run", build_id, final, timings=timed.timings)
    with build_lock(final.parent) as waited:
        if waited and final.exists() and not force:  # a concurrent build of it just finished
            with suppress(OutputError):
                point_latest(final)
            return BuildResult("unchanged", build_id, final, _manifest_of(final),
                               timings=timed.timings)
        return _build_stages(recipe, base, resolved, input_hashes, versions, final, force,
                             out_root, timed)


def kept_from_hash(recipe: Recipe, base: Path) -> list[str]:
    """The sha256 of ``challenge.keep_from``'s manifest (a part of the build id), or nothing."""
    if recipe.challenge is None or not recipe.challenge.keep_from:
        return []
    folder = resolve_path(base, recipe.challenge.keep_from)
    read_intact_manifest(folder)  # a damaged or missing build is bad input, before any work
    return [sha256_path(folder / "manifest.json")]


def _prepare(recipe: Recipe, base: Path, input_hashes: list[str], timed: Timed) -> Prepared:
    """Load, normalize, find boilerplate and deduplicate: the stages the cache can skip."""
    with timed.stage("load"):
        loaded = load_sources(recipe.sources, recipe.fields, base,
                              expected_sha256=input_hashes[:len(recipe.sources)])
        control = (load_control(recipe.control, recipe.fields, base, loaded.table,
                                expected_sha256=input_hashes[-1])
                   if recipe.control is not None else None)
    rejected, sources, rows_loaded = loaded.rejected, loaded.sources, loaded.table.num_rows
    with timed.stage("normalize") as progress:
        everything = loaded.table if control is None else concat_sources(
            [loaded.table, control], [str(s.path) for s in recipe.sources] + ["control"])
        table = add_normalized(everything, progress=progress)
    del loaded, everything
    with timed.stage("boilerplate"):
        boilerplate = detect_boilerplate(table.column(C.NORM), recipe.boilerplate.settings(),
                                         measure=False)
        if not boilerplate.empty:
            sim, boilerplate = boilerplate.strip_and_measure(table.column(C.NORM))
            table = table.append_column(C.SIM, sim)
    is_control = np.zeros(table.num_rows, dtype=bool)
    is_control[rows_loaded:] = True  # rows after the sources' are the control set's
    with timed.stage("dedup") as progress:
        deduped = deduplicate(table, recipe.dedup, progress, control=is_control)
    control_info = None
    if control is not None:
        deduped, control_info = remove_control_duplicates(deduped, is_control)
        control_info = {"path": recipe.control.path, "sha256": input_hashes[-1], **control_info}
    return Prepared(table=deduped.table, keep=deduped.keep, removed=deduped.removed,
                    clusters=deduped.clusters, stats=deduped.stats, boilerplate=boilerplate,
                    sources=sources, rejected=rejected, rows_loaded=rows_loaded,
                    control=control, control_info=control_info)


FOLD_ROUNDS = 3  # audits of the folds against each other, joining the units they link


def _folds(table: pa.Table, rows: np.ndarray, codes: np.ndarray, recipe: Recipe,
           boilerplate: Any) -> tuple[np.ndarray, dict[str, Any]]:
    """Folds over train whose units are joined by the leak links the audit finds between folds.

    Each fold is audited against the others (the build's audit methods); a contaminated row
    and its evidence become one unit, and the folds are assigned again, until no fold leaks
    into another or ``FOLD_ROUNDS`` rounds are done (the rest is counted).
    """
    assert recipe.split.folds is not None
    frame = split_frame(table, rows)
    stratified = recipe.split.method == "stratified"
    folds, info = assign_folds(frame, codes, recipe.split.folds, recipe.seed, stratified)
    joined, left, moved = 0, 0, None
    for _ in range(FOLD_ROUNDS if recipe.audit.methods else 0):
        links = _fold_links(table, rows, folds, recipe, boilerplate, moved)
        left = len(links)
        if not links:
            break
        joined += len(links)
        frame = merged_units(frame, rows, links)
        before = folds
        folds, info = assign_folds(frame, codes, recipe.split.folds, recipe.seed, stratified)
        moved = folds != before
    else:
        left = len(_fold_links(table, rows, folds, recipe, boilerplate, moved)) if joined else 0
    check_folds(split_frame(table, rows).take(np.flatnonzero(codes == 0)), folds[codes == 0])
    info["unit"] = "group" if C.GROUP in table.column_names else "cluster"
    info["leak_links_joined"], info["leak_links_left"] = joined, left
    return folds, info


def _fold_links(table: pa.Table, rows: np.ndarray, folds: np.ndarray, recipe: Recipe,
                boilerplate: Any, moved: np.ndarray | None) -> list[tuple[int, int]]:
    """Leak links across folds; after a round, only the pairs with a row that moved are new.

    A pair of rows that kept their folds was audited already, both ways. So the moved rows are
    audited against every other fold, and the rows that stayed against the moved rows only
    (the checks are not symmetric: a short row inside a long one is found from the short one).
    """
    if moved is None:
        return fold_leak_links(table, rows, folds, recipe, boilerplate)
    if not moved.any():
        return []
    return (fold_leak_links(table, rows, folds, recipe, boilerplate, only=moved)
            + fold_leak_links(table, rows, folds, recipe, boilerplate, only=~moved,
                              among=moved))


def _manifest_of(folder: Path) -> dict[str, Any] | None:
    """The manifest of an existing build (None when it cannot be read)."""
    try:
        return json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _build_stages(recipe: Recipe, base: Path, resolved: dict[str, Any], input_hashes: list[str],
                  versions: dict[str, str], final: Path, force: bool, out_root: Path,
                  timed: Timed) -> BuildResult:
    """Every stage of a build whose id is known and whose folder is locked: load to publish."""
    build_id = final.name
    key = cache_key(resolved, input_hashes, versions, splitforge_version())
    prepared = None
    if recipe.output.cache and cached(out_root, key):
        with timed.stage("cached: load, normalize, boilerplate, dedup"):
            prepared = load_prepared(out_root, key)
    if prepared is None:
        prepared = _prepare(recipe, base, input_hashes, timed)
        if recipe.output.cache:
            store_prepared(out_root, key, prepared)
    table, boilerplate = prepared.table, prepared.boilerplate
    rejected, sources, rows_loaded = prepared.rejected, prepared.sources, prepared.rows_loaded
    control, control_info = prepared.control, prepared.control_info
    deduped = DedupResult(table=table, keep=prepared.keep, removed=prepared.removed,
                          clusters=prepared.clusters, stats=prepared.stats)
    is_control = np.zeros(table.num_rows, dtype=bool)
    is_control[rows_loaded:] = True  # rows after the sources' are the control set's
    kept_rows = np.flatnonzero(deduped.keep & ~is_control)
    with timed.stage("split"):
        assignment = make_splitter(recipe.split, recipe.seed).assign(split_frame(table, kept_rows))
    audited = None
    if recipe.audit.methods:
        against = [sha256_path(resolve_path(base, p)) for p in recipe.audit.against]
        audit_cache = audit_key(key, resolved, against)
        if recipe.output.cache and cached(out_root, f"audit-{audit_cache}"):
            with timed.stage("cached: audit"):
                audited = load_audit(out_root, audit_cache)
        if audited is None:
            with timed.stage("audit") as progress:
                audited = audit_build(table, kept_rows, assignment.split, recipe, base,
                                      progress, control_rows=np.flatnonzero(is_control),
                                      boilerplate=boilerplate, gate=False)
            if recipe.output.cache:
                store_audit(out_root, audit_cache, audited)
        audited = apply_gate(audited, recipe.audit,
                             out_root / recipe.name / "audits" / build_id / "gate")
        assignment = drop_leaked(assignment, kept_rows, audited)
        if recipe.audit.self_test:  # after the gate: it reads the settings, never changes verdicts
            with timed.stage("audit self-test"):
                tested = build_self_test(table, kept_rows, assignment.split, recipe, boilerplate)
            audited.summary["self_test"] = tested.brief()
            audited = replace(audited, self_test=tested)
    if recipe.split.folds:
        with timed.stage("folds"):
            folds, assignment.info["folds"] = _folds(table, kept_rows, assignment.split, recipe,
                                                     boilerplate)
        values = np.full(table.num_rows, -1, dtype=np.int64)
        values[kept_rows] = folds
        table = table.append_column(C.FOLD, pa.array(values, pa.int8(), mask=values < 0))
    more = small_split_warnings(assignment.info["rows"], recipe.split) + skew_warnings(
        table, kept_rows, assignment.split)
    if more:
        assignment.info["warnings"] = [*assignment.info.get("warnings", []), *more]
    challenges = None
    if recipe.challenge is not None:
        with timed.stage("challenge") as progress:
            pool = challenge_pool(table, kept_rows, assignment.split, recipe.challenge.from_,
                                  recipe.seed)
            kept, kept_info = (carry_over(resolve_path(base, recipe.challenge.keep_from), pool,
                                          recipe) if recipe.challenge.keep_from else ({}, None))
            challenges = run_challenges(pool, recipe.challenge, input_template(recipe),
                                        progress, kept=kept)
            if kept_info is not None:
                challenges.info["kept_from"] = kept_info
            del pool
        if audited is not None:
            audited.summary["challenge_items_from_flagged_rows"] = flagged_sources(audited,
                                                                                   challenges)

    with timed.stage("write"), staging_folder(out_root / recipe.name, build_id) as staging:
        out = output_table(table)
        splits, dropped_order = _split_rows(table, kept_rows, assignment.split)
        rows = _write_splits(staging, out, splits, recipe.output.formats)
        dropped = _dropped(out, kept_rows[dropped_order], assignment.reasons[dropped_order],
                           assignment.linked[dropped_order])
        removed = sort_by_id(concat_tables([output_table(deduped.removed), dropped]))
        n_removed = write_batches([removed], removed.schema, staging, REMOVED,
                                  recipe.output.formats)
        rows[f"{REMOVED}.parquet"] = n_removed
        write_batches([deduped.clusters], deduped.clusters.schema, staging, CLUSTERS, ["parquet"])
        rows[f"{CLUSTERS}.parquet"] = deduped.clusters.num_rows
        rows.update({f"{REMOVED}.{fmt}": n_removed for fmt in ("jsonl", "json")
                     if fmt in recipe.output.formats})
        if rejected:
            write_records_jsonl(rejected, staging / REJECTED)
            rows[REJECTED] = len(rejected)
        if challenges is not None:
            written = write_challenges(staging / CHALLENGE_DIR, challenges, recipe.output.formats)
            rows.update({f"{CHALLENGE_DIR}/{name}": n for name, n in written.items()})
        if audited is not None:
            (staging / AUDIT_DIR).mkdir()
            write_audit_report(staging / AUDIT_DIR, audited.table, audited.summary)
            if audited.self_test is not None:
                write_self_test(staging / AUDIT_DIR, audited.self_test)
            rows[f"{AUDIT_DIR}/audit.parquet"] = audited.table.num_rows
        trainer = write_dataset_info(staging, recipe, out.schema,
                                     {name: len(splits[name]) for name in SPLIT_NAMES})
        manifest = {
            "build_id": build_id,
            "name": recipe.name,
            "seed": recipe.seed,
            "splitforge_version": splitforge_version(),
            "dependencies": dependency_versions(),
            "recipe": resolved,
            "stage_versions": versions,
            "stage_fingerprints": stage_fingerprints(resolved, input_hashes, versions),
            "inputs": [
                {"path": s.path, "format": s.format, "sha256": h, "rows_read": s.rows_read,
                 "rows_rejected": s.rows_rejected, **({"notes": list(s.notes)} if s.notes else {})}
                for s, h in zip(sources, input_hashes[:len(sources)], strict=True)
            ],
            **({"control": control_info} if control_info is not None else {}),
            "dataset_info": trainer,
            "recipe_folder": Path(os.path.relpath(base, final)).as_posix(),
            **({"challenge_kept_from": {"path": recipe.challenge.keep_from,
                                        "sha256": kept_from_hash(recipe, base)[0]}}
               if recipe.challenge is not None and recipe.challenge.keep_from else {}),
            "stages": {"boilerplate": boilerplate.summary, "dedup": deduped.stats,
                       "split": assignment.info,
                       **({"challenge": challenges.info} if challenges is not None else {}),
                       **({"audit": audit_stage_info(audited.summary)}
                          if audited is not None else {})},
            "counts": {
                "rows_loaded": rows_loaded,
                "rows_rejected": len(rejected),
                "splits": {name: len(splits[name]) for name in SPLIT_NAMES},
                "removed_by_reason": _removed_counts(removed),
            },
        }
        if control is not None:
            control_out = sort_by_id(output_table(control))
            write_batches([control_out], control_out.schema, staging, CONTROL, ["parquet"])
            rows[f"{CONTROL}.parquet"] = control_out.num_rows
        if "hf" in recipe.output.formats:
            save_hf_copy(staging, staging / HF_DIR)
        write_report(staging, manifest, deduped.clusters)
        write_html_report(staging, manifest)
        write_card(staging, manifest)
        manifest = write_manifest(staging, manifest, rows)
        publish(staging, final, force)
    return BuildResult("built", build_id, final, manifest, timed.timings)


def split_frame(table: pa.Table, rows: np.ndarray) -> SplitFrame:
    """The columns a splitter needs for the given rows, as NumPy arrays."""
    index = pa.array(rows)

    def strings(name: str) -> np.ndarray | None:
        if name not in table.column_names:
            return None
        column = take_rows(table.column(name), index)
        return np.asarray(column.to_numpy(zero_copy_only=False), dtype=object)

    times = None
    if C.TIME in table.column_names:
        times = pc.cast(take_rows(table.column(C.TIME), index), pa.int64()).to_numpy()
    return SplitFrame(
        ids=strings(C.ID),
        clusters=strings(C.CLUSTER),
        groups=strings(C.GROUP),
        labels=strings(C.LABEL),
        times=times,
    )


def _split_rows(
    table: pa.Table, rows: np.ndarray, codes: np.ndarray
) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Row indices of each split and of the dropped rows, each in id order."""
    by_id = pc.sort_indices(take_rows(table.column(C.ID), rows)).to_numpy()
    rows, codes = rows[by_id], codes[by_id]
    splits = {name: rows[codes == code] for code, name in enumerate(SPLIT_NAMES)}
    return splits, by_id[codes < 0]


def _batches(table: pa.Table, rows: np.ndarray, name: str) -> Iterator[pa.Table]:
    for start in range(0, len(rows), BATCH_ROWS):
        part = take_table(table, rows[start:start + BATCH_ROWS])
        yield part.append_column(C.SPLIT, pa.array([name] * part.num_rows, pa.string()))


def _dropped(table: pa.Table, rows: np.ndarray, reasons: np.ndarray, linked: np.ndarray
             ) -> pa.Table:
    """Rows the split or the audit dropped, with the stage, the reason and the linked id."""
    dropped = take_table(table, rows)
    stage, reason = [], []
    for r in reasons.tolist():
        stage.append("audit" if r == CONTAMINATED_REASON else "split")
        reason.append("contaminated" if r == CONTAMINATED_REASON else r)
    dropped = dropped.append_column("sf_stage", pa.array(stage, pa.string()))
    dropped = dropped.append_column("sf_reason", pa.array(reason, pa.string()))
    return dropped.append_column("sf_kept_id", pa.array(linked.tolist(), pa.string()))


def _write_splits(
    folder: Path, out: pa.Table, splits: dict[str, np.ndarray], formats: list[str]
) -> dict[str, int]:
    rows: dict[str, int] = {}
    schema = out.schema.append(pa.field(C.SPLIT, pa.string()))
    for name, indices in splits.items():
        n = write_batches(_batches(out, indices, name), schema, folder, name, formats)
        rows.update({f"{name}.{fmt}": n for fmt in ("parquet", "jsonl", "json")
                     if fmt == "parquet" or fmt in formats})
    return rows


def _removed_counts(removed: pa.Table) -> dict[str, int]:
    if removed.num_rows == 0:
        return {}
    keys = pc.binary_join_element_wise(removed.column("sf_stage"), removed.column("sf_reason"),
                                       ":")
    counts = pc.value_counts(keys).to_pylist()
    return {c["values"]: int(c["counts"]) for c in sorted(counts, key=lambda c: c["values"])}
