"""The build, top to bottom: load -> normalize -> dedup -> split -> write.

Each stage reads the table and adds columns; nothing goes back. The build id is known before any
data is read (it hashes the inputs' bytes and the resolved recipe), so an unchanged build is
skipped at once.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal, Protocol

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from splitforge import columns as C
from splitforge.audit import CHECKS, iter_training_batches, scan_training
from splitforge.audit.report import write_audit_report
from splitforge.audit.verdict import (
    Thresholds,
    fails,
    verdict_counts,
    verdict_table,
)
from splitforge.challenge import (
    CHALLENGES,
    KINDS,
    ChallengeResult,
    challenge_pool,
    run_challenges,
)
from splitforge.dedup import DEDUPERS, DedupResult, deduplicate
from splitforge.errors import InputError, LeakageError, OutputError, RecipeError
from splitforge.fingerprint import fingerprint, sha256_path
from splitforge.load import load_sources
from splitforge.load.fields import text_column
from splitforge.load.sources import concat_sources
from splitforge.normalize import add_normalized, normalize_text
from splitforge.normalize.boilerplate import (
    NO_BOILERPLATE,
    Boilerplate,
    BoilerplateSettings,
    detect_boilerplate,
)
from splitforge.normalize.boilerplate import VERSION as BOILERPLATE_VERSION
from splitforge.normalize.shingles import VERSION as SHINGLES_VERSION
from splitforge.normalize.text import VERSION as NORMALIZE_VERSION
from splitforge.progress import NO_PROGRESS, Progress
from splitforge.recipe import (
    DedupConfig,
    Recipe,
    SourceConfig,
    apply_overrides,
    load_recipe,
    resolve_path,
    template_fields,
    validate_fields,
    validate_recipe,
)
from splitforge.split import SPLIT_NAMES, SPLITTERS, SplitFrame, make_splitter
from splitforge.tables import take_rows, take_table
from splitforge.write import (
    BATCH_ROWS,
    LATEST,
    check_target,
    compute_build_id,
    dependency_versions,
    output_table,
    publish,
    sort_by_id,
    splitforge_version,
    stage_fingerprints,
    staging_folder,
    within,
    write_batches,
    write_manifest,
    write_records_jsonl,
    write_report,
)
from splitforge.write.card import HF_SPLITS, write_card
from splitforge.write.html_report import HTML, render_html, write_html_report
from splitforge.write.manifest import output_file, read_manifest
from splitforge.write.version import point_latest

REMOVED = "removed"
CLUSTERS = "dedup_clusters"
REJECTED = "rejected.jsonl"
CHALLENGE_DIR = "challenge"
AUDIT_DIR = "audit"
HF_DIR = "hf"
CONTROL = "control"


class Reporter(Protocol):
    """Receives stage progress; the CLI shows it with rich, the library stays silent."""

    def stage(self, name: str) -> Any:
        """A context manager around one stage; it yields the stage's ``Progress``."""


class SilentReporter:
    """A reporter that shows nothing."""

    @contextmanager
    def stage(self, name: str) -> Iterator[Progress]:
        """Run the stage without output."""
        yield NO_PROGRESS


@dataclass
class BuildResult:
    """What a build did: ``built``, ``unchanged`` (the version exists) or ``dry-run``."""

    status: Literal["built", "unchanged", "dry-run"]
    build_id: str
    path: Path
    manifest: dict[str, Any] | None = None
    timings: dict[str, float] = field(default_factory=dict)


@dataclass
class _Timed:
    reporter: Reporter
    timings: dict[str, float] = field(default_factory=dict)

    @contextmanager
    def stage(self, name: str) -> Iterator[Progress]:
        start = time.perf_counter()
        with self.reporter.stage(name) as progress:
            yield progress or NO_PROGRESS
        self.timings[name] = round(time.perf_counter() - start, 3)


def stage_versions(recipe: Recipe) -> dict[str, str]:
    """Versions of the stage implementations a recipe uses; a bump changes the build id."""
    versions = {"normalize.text": NORMALIZE_VERSION,
                "normalize.boilerplate": BOILERPLATE_VERSION,
                "normalize.shingles": SHINGLES_VERSION,
                "split." + recipe.split.method: SPLITTERS.get(recipe.split.method).version}
    if recipe.dedup.exact:
        versions["dedup.exact"] = DEDUPERS.get("exact").version
    for name in ("minhash", "semantic"):
        if getattr(recipe.dedup, name) is not None:
            versions[f"dedup.{name}"] = DEDUPERS.get(name).version
    if recipe.challenge is not None:
        versions.update({f"challenge.{k}": CHALLENGES.get(k).version for k in KINDS})
    return versions


def build(
    recipe_path: str | Path,
    *,
    out: str | Path | None = None,
    force: bool = False,
    dry_run: bool = False,
    overrides: dict[str, Any] | None = None,
    reporter: Reporter | None = None,
) -> BuildResult:
    """Build a recipe into ``<out>/<name>/<build_id>/``.

    Args:
        recipe_path: the recipe YAML file; its relative paths are relative to its folder.
        out: output root, instead of the recipe's ``output.dir``.
        force: rebuild and replace a build whose id already exists.
        dry_run: validate and compute the build id, but read no data and write nothing.
        overrides: dotted recipe keys to set before validation, e.g. ``{"seed": 3}``.
        reporter: receives stage progress.
    """
    timed = _Timed(reporter or SilentReporter())
    recipe = load_recipe(recipe_path, overrides)
    base = Path(recipe_path).resolve().parent
    out_root = Path(os.path.normpath(out if out is not None
                                     else resolve_path(base, recipe.output.dir)))
    resolved = recipe.model_dump(mode="json", by_alias=True)
    hashed = [resolve_path(base, s.path) for s in recipe.sources] + (
        [resolve_path(base, recipe.control.path)] if recipe.control is not None else [])
    with timed.stage("fingerprint"):
        input_hashes = [sha256_path(p) for p in hashed]
    versions = stage_versions(recipe)
    build_id = compute_build_id(resolved, input_hashes, versions)
    final = out_root / recipe.name / build_id
    if final.exists() and not force:
        if not dry_run:  # a build whose last step failed left `latest` on an older version
            with suppress(OutputError):  # a read-only cache, a real `latest` folder: as it was
                point_latest(final)
        return BuildResult("unchanged", build_id, final, timings=timed.timings)
    check_target(final, force, hashed + [resolve_path(base, p) for p in recipe.audit.against])
    latest = final.parent / LATEST
    if latest.is_dir() and not latest.is_symlink():
        raise OutputError(f"{latest}: a real folder where splitforge keeps a link to the newest "
                          f"build; move it away (splitforge never deletes what it did not write)")
    if dry_run:
        return BuildResult("dry-run", build_id, final, timings=timed.timings)

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
    with timed.stage("dedup") as progress:
        deduped = deduplicate(table, recipe.dedup, progress)
    table = deduped.table
    is_control = np.zeros(table.num_rows, dtype=bool)
    control_info = None
    if control is not None:
        is_control[rows_loaded:] = True
        deduped, control_info = remove_control_duplicates(deduped, is_control)
        control_info = {"path": recipe.control.path, "sha256": input_hashes[-1], **control_info}
    kept_rows = np.flatnonzero(deduped.keep & ~is_control)
    with timed.stage("split"):
        assignment = make_splitter(recipe.split, recipe.seed).assign(split_frame(table, kept_rows))
    audited = None
    if recipe.audit.methods:
        with timed.stage("audit") as progress:
            audited = audit_build(table, kept_rows, assignment.split, recipe, base, progress,
                                  control_rows=np.flatnonzero(is_control),
                                  boilerplate=boilerplate)
        assignment = drop_leaked(assignment, kept_rows, audited)
    challenges = None
    if recipe.challenge is not None:
        with timed.stage("challenge") as progress:
            pool = challenge_pool(table, kept_rows, assignment.split, recipe.challenge.from_,
                                  recipe.seed)
            challenges = run_challenges(pool, recipe.challenge, recipe.fields.text, progress)
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
        removed = sort_by_id(_concat([output_table(deduped.removed), dropped]))
        n_removed = write_batches([removed], removed.schema, staging, REMOVED,
                                  recipe.output.formats)
        rows[f"{REMOVED}.parquet"] = n_removed
        write_batches([deduped.clusters], deduped.clusters.schema, staging, CLUSTERS, ["parquet"])
        rows[f"{CLUSTERS}.parquet"] = deduped.clusters.num_rows
        if "jsonl" in recipe.output.formats:
            rows[f"{REMOVED}.jsonl"] = n_removed
        if rejected:
            write_records_jsonl(rejected, staging / REJECTED)
            rows[REJECTED] = len(rejected)
        if challenges is not None:
            written = write_challenges(staging / CHALLENGE_DIR, challenges, recipe.output.formats)
            rows.update({f"{CHALLENGE_DIR}/{name}": n for name, n in written.items()})
        if audited is not None:
            (staging / AUDIT_DIR).mkdir()
            write_audit_report(staging / AUDIT_DIR, audited.table, audited.summary)
            rows[f"{AUDIT_DIR}/audit.parquet"] = audited.table.num_rows
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
                 "rows_rejected": s.rows_rejected}
                for s, h in zip(sources, input_hashes[:len(sources)], strict=True)
            ],
            **({"control": control_info} if control_info is not None else {}),
            "stages": {"boilerplate": boilerplate.summary, "dedup": deduped.stats,
                       "split": assignment.info,
                       **({"challenge": challenges.info} if challenges is not None else {}),
                       **({"audit": _audit_stage_info(audited.summary)}
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


def write_challenges(folder: Path, result: ChallengeResult, formats: list[str]) -> dict[str, int]:
    """``<kind>.parquet`` for every kind and ``all.parquet`` in ``folder``; rows per file."""
    folder.mkdir(exist_ok=True)
    rows: dict[str, int] = {}
    for name, table in result.tables.items():
        n = write_batches([table], table.schema, folder, name, formats)
        rows.update({f"{name}.{fmt}": n for fmt in formats})
    return rows


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


def _concat(tables: list[pa.Table]) -> pa.Table:
    return pa.concat_tables(tables, promote_options="permissive")


def _write_splits(
    folder: Path, out: pa.Table, splits: dict[str, np.ndarray], formats: list[str]
) -> dict[str, int]:
    rows: dict[str, int] = {}
    schema = out.schema.append(pa.field(C.SPLIT, pa.string()))
    for name, indices in splits.items():
        n = write_batches(_batches(out, indices, name), schema, folder, name, formats)
        rows[f"{name}.parquet"] = n
        if "jsonl" in formats:
            rows[f"{name}.jsonl"] = n
    return rows


def _removed_counts(removed: pa.Table) -> dict[str, int]:
    if removed.num_rows == 0:
        return {}
    keys = pc.binary_join_element_wise(removed.column("sf_stage"), removed.column("sf_reason"),
                                       ":")
    counts = pc.value_counts(keys).to_pylist()
    return {c["values"]: int(c["counts"]) for c in sorted(counts, key=lambda c: c["values"])}


@dataclass
class DedupRunResult:
    """What ``dedup_file`` wrote and its counts."""

    path: Path
    stats: dict[str, Any]


DEDUP_METHODS = ("exact", "minhash", "semantic")


def dedup_file(
    source: str | Path,
    *,
    text: str,
    out: str | Path,
    id_field: str | None = None,
    methods: tuple[str, ...] = DEDUP_METHODS,
    minhash: dict[str, Any] | None = None,
    semantic: dict[str, Any] | None = None,
    keep: str = "earliest",
    force: bool = False,
    reporter: Reporter | None = None,
) -> DedupRunResult:
    """Run the dedup stage alone on one file and write the kept rows, removed rows and clusters.

    Writes ``deduplicated.parquet``, ``removed.parquet`` and ``dedup_clusters.parquet`` into
    ``out`` (which must not exist unless ``force``), through a temporary folder.
    """
    unknown = [m for m in methods if m not in DEDUP_METHODS]
    if unknown:
        raise RecipeError([f"--method: unknown {', '.join(unknown)}; available: "
                           f"{', '.join(DEDUP_METHODS)}"])
    fields = validate_fields({"text": text, "id": id_field})
    config = DedupConfig.model_validate({
        "exact": "exact" in methods, "keep": keep,
        "minhash": (minhash or {}) if "minhash" in methods else None,
        "semantic": (semantic or {}) if "semantic" in methods else None,
    })
    timed = _Timed(reporter or SilentReporter())
    target = _output_target(out, force, [Path(source)], "dedup")
    with timed.stage("load"):
        loaded = load_sources([SourceConfig(path=str(source))], fields, Path.cwd())
    with timed.stage("normalize") as progress:
        table = add_normalized(loaded.table, progress=progress)
    with timed.stage("dedup") as progress:
        deduped = deduplicate(table, config, progress)
    with timed.stage("write"), staging_folder(target.parent, target.name, "dedup") as staging:
        out_table = output_table(deduped.table)
        kept = sort_by_id(out_table.filter(pa.array(deduped.keep)))
        write_batches([kept], kept.schema, staging, "deduplicated", ["parquet"])
        removed = sort_by_id(output_table(deduped.removed))
        write_batches([removed], removed.schema, staging, REMOVED, ["parquet"])
        write_batches([deduped.clusters], deduped.clusters.schema, staging, CLUSTERS,
                      ["parquet"])
        if loaded.rejected:
            write_records_jsonl(loaded.rejected, staging / REJECTED)
        publish(staging, target, force, latest=False)
    return DedupRunResult(target, deduped.stats)


@dataclass
class ChallengeRunResult:
    """What ``challenge_build`` wrote: the folder, the build it came from, and the counts."""

    path: Path
    build_id: str
    info: dict[str, Any]
    timings: dict[str, float] = field(default_factory=dict)


def _output_target(out: str | Path, force: bool, inputs: Iterable[Path], kind: str,
                   reads: Path | None = None) -> Path:
    """The folder a command writes ``kind`` output to, checked before any work.

    Raises:
        OutputError: It is, holds or lies inside the build folder ``reads`` that the command
            reads; or, as ``check_target``, one of the ``inputs`` or the current folder; or it
            exists and ``force`` is not set, or is not ``kind`` output of splitforge's.
    """
    target = Path(out)
    if reads is not None and (within(target, reads) or within(reads, target)):
        raise OutputError(f"{target}: would write into the build folder {reads} that it "
                          f"reads; choose a folder outside it")
    check_target(target, force, inputs, kind)
    return target


def challenge_build(
    build_dir: str | Path,
    *,
    out: str | Path,
    force: bool = False,
    overrides: dict[str, Any] | None = None,
    reporter: Reporter | None = None,
) -> ChallengeRunResult:
    """Challenge sets for an existing build, from its held-out split files, into ``out``.

    The recipe is the build's own (``manifest.json``), with ``challenge`` defaults when it had
    none and ``overrides`` applied (``{"challenge.size": 100}``). The build folder is never
    changed: the sets go to ``out`` (which must not exist unless ``force``), with a
    ``manifest.json`` of their own naming the build they were drawn from.
    """
    timed = _Timed(reporter or SilentReporter())
    folder = Path(build_dir)
    manifest_path = folder / "manifest.json"
    manifest = read_manifest(folder)
    data = manifest["recipe"]
    if data.get("challenge") is None:
        data["challenge"] = {}
    recipe = validate_recipe(apply_overrides(data, overrides or {}), manifest_path)
    assert recipe.challenge is not None
    target = _output_target(out, force, [], "challenge", reads=folder)
    with timed.stage("load"):
        parts = []
        for code, name in enumerate(SPLIT_NAMES):
            path = folder / f"{name}.parquet"
            if not path.is_file():
                raise InputError(f"the build has no {name}.parquet", path=folder)
            part = pq.read_table(path)
            parts.append(part.append_column("_code", pa.array(np.full(part.num_rows, code,
                                                                      np.int8))))
        table = pa.concat_tables(parts, promote_options="permissive")
        codes = table.column("_code").to_numpy()
        table = table.drop_columns(["_code", C.SPLIT])
        table = table.append_column(C.TEXT, text_column(table, recipe.fields))
    with timed.stage("normalize") as progress:
        table = add_normalized(table, progress=progress)
    with timed.stage("challenge") as progress:
        pool = challenge_pool(table, np.arange(table.num_rows), codes, recipe.challenge.from_,
                              recipe.seed)
        result = run_challenges(pool, recipe.challenge, recipe.fields.text, progress)
    with timed.stage("write"), staging_folder(target.parent, target.name, "challenge") as staging:
        rows = write_challenges(staging, result, recipe.output.formats)
        write_manifest(staging, {"build_id": manifest.get("build_id"),
                                 "build_folder": str(folder), "seed": recipe.seed,
                                 "challenge_recipe": recipe.challenge.model_dump(
                                     mode="json", by_alias=True),
                                 "stage_versions": stage_versions(recipe),
                                 "challenge": result.info}, rows)
        publish(staging, target, force, latest=False)
    return ChallengeRunResult(target, str(manifest.get("build_id")), result.info, timed.timings)


AUDIT_METHODS = {"exact": "exact", "ngram": "ngram_overlap", "minhash": "minhash",
                 "embedding": "embedding"}


def audit_checks(norm: list[str], methods: Any, ngram: int, thresholds: Thresholds,
                 texts: list[str] | None = None, model: str = "minilm",
                 groups: list[int] | None = None) -> list[Any]:
    """The audit checks named by ``methods``, indexed over the normalized eval texts.

    MinHash and embedding scores are kept down to their suspect thresholds, so both verdict
    levels see them; the embedding check cuts the raw ``texts`` into sentences, and ``groups``
    tells both which texts belong to one item (an input and its answer).
    """
    options: dict[str, dict[str, Any]] = {
        "exact": {"n": ngram},
        "ngram": {"n": ngram},
        "minhash": {"threshold": thresholds.minhash_suspect, "groups": groups},
        "embedding": {"threshold": thresholds.embedding_suspect,
                      "margin": thresholds.embedding_margin, "floor": thresholds.embedding_floor,
                      "alignment": thresholds.embedding_alignment,
                      "standout": thresholds.embedding_standout,
                      "model": model, "eval_texts": texts, "groups": groups},
    }
    return [CHECKS.get(AUDIT_METHODS[m])(norm, **options[m]) for m in methods]


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


def audit_files(
    train: list[str | Path],
    eval_paths: list[str | Path],
    *,
    text: str | None = None,
    train_text: str | None = None,
    eval_text: str | None = None,
    id_field: str | None = None,
    answer: str | None = None,
    methods: tuple[str, ...] = ("exact", "ngram", "minhash"),
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

    Raises:
        RecipeError: An unknown method, or no text field given.
        InputError: A missing or malformed file or field.
        OutputError: ``report`` exists and ``force`` is not set.
    """
    timed = _Timed(reporter or SilentReporter())
    thresholds = thresholds or Thresholds()
    unknown = [m for m in methods if m not in AUDIT_METHODS]
    if unknown or not methods:
        raise RecipeError([f"--methods: unknown {', '.join(unknown) or '(none given)'}; valid: "
                           f"{', '.join(AUDIT_METHODS)}"])
    built = _stored_build(Path(build_dir)) if build_dir is not None else None
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
    target = None if report is None else _output_target(report, force, read, "audit", reads)
    trained_on = [sha256_path(Path(p)) for p in train]
    eval_hashes = [sha256_path(Path(p)) for p in eval_paths]
    if built is not None and report is None:
        key = fingerprint(trained_on, train_field, list(methods), ngram, thresholds.model_dump(),
                          answer, *([embedding_model] if "embedding" in methods else []))
        # beside the version (resolved: `latest` or `.` name the same version), never in it
        report = Path(build_dir).resolve().parent / "audits" / built["build_id"] / key[:12]
        target = _output_target(report, force, read, "audit", reads)
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
    with timed.stage("scan training") as progress:
        table, summary = _scan_audit(
            ids, texts, iter_training_batches([Path(p) for p in train], train_field, id_field,
                                              sha256=trained_on),
            methods=methods, ngram=ngram, thresholds=thresholds, model=embedding_model,
            fail_on=fail_on, progress=progress, num_proc=num_proc, answers=answer is not None,
            boilerplate=found)
    summary["boilerplate"] = found.summary
    failed = summary["failed"]
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
            publish(staging, target, force, latest=False)
    return AuditRunResult(table, summary, failed, target)


def _audit_stage_info(summary: dict[str, Any]) -> dict[str, Any]:
    """What the manifest keeps of the build's audit (the per-check details stay in audit.json)."""
    keep = ("eval_items", "eval_sets", "train_rows", "checks", "verdicts", "fail_on", "failed",
            "on_contaminated", "removed", "rounds",
            "thresholds", "ngram", "against", "challenge_items_from_flagged_rows")
    return {k: summary[k] for k in keep if k in summary}


LEAK_LINK_REASON = "leak_link"
CONTAMINATED_REASON = "audit:contaminated"


def audit_build(table: pa.Table, rows: np.ndarray, codes: np.ndarray, recipe: Recipe, base: Path,
                progress: Progress = NO_PROGRESS,
                control_rows: np.ndarray | None = None,
                boilerplate: Boilerplate = NO_BOILERPLATE) -> AuditRunResult:
    """Audit the build's val and test rows against its train rows (and ``audit.against``).

    Every text, of both sides, is compared without the build's ``boilerplate``. With
    ``audit.on_contaminated: remove`` (the default) a contaminated val/test row is marked
    ``removed`` in the table's ``action`` column (``drop_leaked`` drops it from the split), and
    the verdict counts and the gate read the rows that stay, so the build's own audit reports 0
    contaminated; control rows are never removed.

    Raises:
        LeakageError: An item that stays reaches ``audit.fail_on``; the message names the first
            ones with their evidence, and nothing is written.
    """
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
    eval_texts = take_rows(table.column(C.TEXT), picked_rows).to_pylist()
    train_rows = rows[codes == 0]
    against = [resolve_path(base, p) for p in config.against]
    against_hashes = [sha256_path(p) for p in against]

    def batches() -> Iterator[tuple[list[str], pa.Array]]:
        for start in range(0, len(train_rows), 16_384):
            part = train_rows[start:start + 16_384]
            yield (take_rows(table.column(C.ID), part).to_pylist(),
                   take_rows(table.column(C.TEXT), part))
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
        found, info = _scan_audit(
            [labels[i] for i in items], [eval_texts[i] for i in items], batches(),
            progress=progress, total_rows=0 if config.against else len(train_rows),
            sets=sets, **options)
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
    own = set(take_rows(table.column(C.ID), train_rows).to_pylist()) if removing else set()
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
                np.flatnonzero(is_test & ~remove), labels, eval_texts, remove, evidence,
                options, own)
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
    summary["failed"] = failed = fails(staying, config.fail_on) or (
        config.on_contaminated == "fail" and summary["verdicts"]["contaminated"] > 0)
    summary["fail_on"] = config.fail_on
    summary["on_contaminated"] = config.on_contaminated
    reasons = [LEAK_LINK_REASON if evidence[i] in own or not config.against
               else CONTAMINATED_REASON for i in np.flatnonzero(remove).tolist()]
    summary["removed"] = {"leak_link": reasons.count(LEAK_LINK_REASON),
                          "contaminated": reasons.count(CONTAMINATED_REASON)}
    summary["against"] = [{"path": p, "sha256": h}
                          for p, h in zip(config.against, against_hashes, strict=True)]
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
        raise LeakageError(f"the build's own audit found {summary['verdicts']['contaminated']} "
                           f"contaminated and {summary['verdicts']['suspect']} suspect eval "
                           f"items (fail_on: {config.fail_on}, on_contaminated: "
                           f"{config.on_contaminated}): {shown}; nothing was written. To go on, "
                           f"{fix}")
    return AuditRunResult(audited, summary, failed, None, picked_rows[remove],
                          np.array(reasons, dtype=object),
                          np.array([evidence[i] for i in np.flatnonzero(remove).tolist()],
                                   dtype=object))


MAX_LEAK_ROUNDS = 10


def _unlink_test_from_val(table: pa.Table, val_rows: np.ndarray, test_items: np.ndarray,
                          labels: list[str], texts: list[str], remove: np.ndarray,
                          evidence: list[Any], options: dict[str, Any], own: set[str]) -> int:
    """Mark the test items that the audit finds in the val rows as removed; how many."""
    if not len(val_rows) or not len(test_items):
        return 0
    val_ids = take_rows(table.column(C.ID), val_rows).to_pylist()
    linked, _ = _scan_audit([labels[i] for i in test_items], [texts[i] for i in test_items],
                            [(val_ids, take_rows(table.column(C.TEXT), val_rows))],
                            progress=NO_PROGRESS, **options)
    hit = np.array(linked.column("verdict").to_pylist(), dtype=object) == "contaminated"
    own.update(val_ids)
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


def _scan_audit(ids: list[str], texts: list[str], batches: Iterable[tuple[Any, Any]], *,
                methods: Any, ngram: int, thresholds: Thresholds, model: str, fail_on: str,
                progress: Progress, num_proc: int | None = None, total_rows: int = 0,
                answers: bool = False, sets: dict[str, int] | None = None,
                boilerplate: Boilerplate = NO_BOILERPLATE
                ) -> tuple[pa.Table, dict[str, Any]]:
    """Index the eval texts, stream the training batches past them: verdicts and summary.

    Both sides are compared without ``boilerplate`` (the eval texts here, the training batches
    in ``scan_training``).

    With ``answers``, ``texts`` holds every item's input and then every item's answer (one id
    each in ``ids``), audited in the one scan. ``sets`` (eval rows per set) goes into the
    summary after ``eval_items``. An empty eval side scans nothing.

    Raises:
        InputError: An eval item's text is empty or blank: no check can find it in training,
            so it would pass as clean (the loader refuses such rows; a build or table made
            otherwise can still hold them).
    """
    norm = [normalize_text(t) for t in texts]
    blank = [i for i, t in zip(ids, norm[:len(ids)], strict=True) if not t]  # inputs, not answers
    if blank:
        raise InputError(f"{len(blank)} eval item(s) have an empty or blank text "
                         f"({', '.join(map(str, blank[:5]))}): no check can find an empty "
                         f"item in training, so it would pass as clean; remove or fill them")
    norm = boilerplate.strip_texts(norm)
    checks = audit_checks(norm, methods, ngram, thresholds, texts=texts, model=model,
                          groups=list(range(len(ids))) * 2 if answers else None)
    results = scan_training(checks, batches, progress, num_proc=num_proc,
                            total_rows=total_rows, boilerplate=boilerplate) if texts else []
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


def save_hf_copy(folder: Path, target: Path) -> None:
    """``DatasetDict.save_to_disk`` of the split files, with content fingerprints.

    ``datasets`` gives an in-memory dataset a random fingerprint, which ``save_to_disk`` writes
    into ``state.json``; each split's fingerprint is the sha256 of its Parquet file instead, so
    the copy is byte-identical across identical builds.
    """
    from datasets import Dataset, DatasetDict

    splits = {}
    for split, name in HF_SPLITS:
        path = folder / f"{name}.parquet"
        splits[split] = Dataset(pq.read_table(path), fingerprint=sha256_path(path)[:16])
    DatasetDict(splits).save_to_disk(str(target))


def load_control(config: SourceConfig, fields: Any, base: Path, data: pa.Table,
                 expected_sha256: str | None = None) -> pa.Table:
    """The control set, mapped with the recipe's fields; its ids must not occur in the data.

    Raises:
        InputError: The file cannot be read, changed since ``expected_sha256`` was taken, or an
            id is both a control item and a data row.
    """
    if fields.id is None and not config.id_prefix:
        # content-hash ids: a control copy of a data row would get that row's id
        config = config.model_copy(update={"id_prefix": "control:"})
    control = load_sources([config], fields, base,
                           expected_sha256=None if expected_sha256 is None else [expected_sha256]
                           ).table
    shared = pc.is_in(control.column(C.ID), value_set=data.column(C.ID).combine_chunks())
    if pc.any(shared).as_py():
        ids = control.column(C.ID).filter(shared).to_pylist()
        raise InputError(f"{len(ids)} control ids also name rows of the sources ("
                         f"{', '.join(map(str, ids[:5]))}); a control item must be its own "
                         f"row: give the control file other ids (or an id_prefix)",
                         path=config.path)
    return control


def remove_control_duplicates(deduped: DedupResult, is_control: np.ndarray
                              ) -> tuple[DedupResult, dict[str, Any]]:
    """Remove every data row that is a direct copy of a control item.

    Control items never enter the split; the data rows with a control item's normalized text, or
    linked to it directly by a near-duplicate method, are removed too (``dedup:control_duplicate``,
    ``sf_kept_id`` the control item's id), whichever member dedup had kept, so no copy of a control
    item can train. A row that only resembles such a copy stays (the audit of the control items
    against train still sees it). Control rows never appear in ``removed.parquet``.
    """
    table = deduped.table
    ids = table.column(C.ID).to_numpy(zero_copy_only=False)
    n = len(ids)
    root = deduped.same_text if deduped.same_text is not None else np.arange(n)
    control_of: dict[int, str] = {}  # exact-group root -> the smallest control id it copies
    for r, item in sorted(zip(root[is_control].tolist(), ids[is_control].tolist(), strict=True),
                          key=lambda pair: pair[1]):
        control_of.setdefault(r, item)
    if deduped.near_pairs is not None:
        left, right = (root[np.asarray(side, np.int64)] for side in deduped.near_pairs)
        linked_to: dict[int, str] = {}
        for a, b in zip(left.tolist(), right.tolist(), strict=True):
            for mine, other in ((a, b), (b, a)):
                if other in control_of and mine not in control_of:
                    item = control_of[other]
                    if mine not in linked_to or item < linked_to[mine]:
                        linked_to[mine] = item
        control_of.update(linked_to)
    hit = np.isin(root, np.array(sorted(control_of), dtype=np.int64)) & ~is_control
    keep = deduped.keep & ~hit
    rows = np.flatnonzero(hit)
    linked = take_table(table, rows)
    linked = linked.append_column("sf_stage", pa.array(["dedup"] * len(rows), pa.string()))
    linked = linked.append_column("sf_reason", pa.array(["control_duplicate"] * len(rows),
                                                        pa.string()))
    linked = linked.append_column("sf_kept_id", pa.array(
        [control_of[r] for r in root[rows].tolist()], pa.string()))
    removed = deduped.removed
    drop = pc.is_in(removed.column(C.ID), value_set=pa.array(ids[is_control | hit].tolist()))
    removed = _concat([removed.filter(pc.invert(drop)), linked])
    info = {"rows": int(is_control.sum()), "data_rows_removed": len(rows)}
    return DedupResult(table=table, keep=keep, removed=removed, clusters=deduped.clusters,
                       stats=deduped.stats, same_text=deduped.same_text,
                       near_pairs=deduped.near_pairs), info


def _stored_build(folder: Path) -> dict[str, Any]:
    """A stored build's recipe, id and eval rows (val, test, control) with ``sf_text``."""
    manifest = read_manifest(folder)
    recipe = validate_recipe(manifest["recipe"], folder / "manifest.json")
    parts = []
    for name in ("val", "test", CONTROL):
        path = folder / f"{name}.parquet"
        if path.is_file():
            part = pq.read_table(path)
            labels = pa.array([f"{name}:{i}" for i in part.column(C.ID).to_pylist()], pa.string())
            part = part.set_column(part.schema.get_field_index(C.ID), C.ID, labels)
            parts.append(part.drop_columns([c for c in (C.SPLIT,) if c in part.column_names]))
    if not parts:
        raise InputError("the build has no val, test or control rows to audit", path=folder)
    table = concat_sources(parts, ["val", "test", CONTROL][:len(parts)])
    table = table.append_column(C.TEXT, text_column(table, recipe.fields))
    return {"recipe": recipe, "build_id": str(manifest.get("build_id")), "table": table}


def rebuild_reports(folder: str | Path) -> Path:
    """Write ``report.md`` and ``report.html`` of a build folder again, from its files.

    The same build gives the same bytes, so ``splitforge verify`` still passes afterwards;
    a report written by an older splitforge is brought up to date (and verify says so).
    """
    folder = Path(folder)
    manifest = read_manifest(folder)
    for name in manifest["outputs"]:  # a damaged build is bad input, before anything is written
        if name.endswith(".parquet"):
            output_file(folder, manifest, name)
    page = render_html(folder, manifest)
    clusters_path = output_file(folder, manifest, f"{CLUSTERS}.parquet")
    write_report(folder, manifest, pq.read_table(clusters_path) if clusters_path else None)
    (folder / HTML).write_text(page, encoding="utf-8")
    return folder / HTML
