"""The ``splitforge`` command line: thin typer commands over the library.

Exit codes: 0 success, 1 a failed gate (leakage), 2 bad usage or bad input.
"""

from __future__ import annotations

import errno
import json
import os
import signal
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
import yaml
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

from splitforge.errors import SplitforgeError
from splitforge.recipe import DEFAULT_AUDIT_METHODS, parse_scalar
from splitforge.templates import read_escapes

app = typer.Typer(
    name="splitforge",
    help="Leakage-free train/val/test splits and challenge sets for LLM data.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
err = Console(stderr=True, highlight=False, soft_wrap=True)
out = Console(highlight=False, soft_wrap=True)
T = TypeVar("T")



_ENVIRONMENT_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM}


def _guard(fn: Callable[[], T]) -> T:
    """Run a command body; a splitforge error becomes one clear message and its exit code."""
    try:
        return fn()
    except SplitforgeError as exc:
        err.print(f"[bold red]error:[/] {exc}", markup=True, soft_wrap=True)
        raise typer.Exit(exc.exit_code) from None
    except OSError as exc:  # a full disk, a read-only folder: the environment, not the data
        where = f"{exc.filename}: " if exc.filename else ""
        advice = ("; nothing was left behind (free space or choose a writable folder, then run "
                  "it again)" if exc.errno in _ENVIRONMENT_ERRNOS else "")
        err.print(f"[bold red]error:[/] {where}{exc.strerror or exc}{advice}", markup=True,
                  soft_wrap=True)
        raise typer.Exit(2) from None


TEMPLATE_KEYS = frozenset({"fields.text", "audit.against_text"})


def parse_overrides(args: list[str]) -> dict[str, Any]:
    """``["--split.method", "random", "--seed=3"]`` -> ``{"split.method": "random", "seed": 3}``."""
    overrides: dict[str, Any] = {}
    i = 0
    while i < len(args):
        arg = args[i]
        if not arg.startswith("--") or len(arg) == 2:
            raise typer.BadParameter(f"unexpected argument {arg!r}; overrides look like "
                                     f"--split.method random")
        key, eq, value = arg[2:].partition("=")
        if not eq:
            if i + 1 >= len(args) or args[i + 1].startswith("--"):
                raise typer.BadParameter(f"override {arg} needs a value")
            value = args[i + 1]
            i += 1
        try:
            parsed = parse_scalar(value)
        except yaml.YAMLError:  # '{q}\n{a}' reads as a broken flow mapping: keep the text
            parsed = value
        if (key in TEMPLATE_KEYS and not isinstance(parsed, str)) or (
                isinstance(parsed, dict) and None in parsed.values()):
            parsed = value  # '{question}' is a field name in braces, not a YAML mapping
        overrides[key] = read_escapes(parsed) if key in TEMPLATE_KEYS else parsed
        i += 1
    return overrides


class RichReporter:
    """Shows each stage with a spinner, a progress bar per task it reports, then its time."""

    @contextmanager
    def stage(self, name: str) -> Iterator[_RichProgress]:
        """Show one stage while it runs."""
        start = time.perf_counter()
        columns = (SpinnerColumn(), TextColumn("{task.description}"), BarColumn(),
                   MofNCompleteColumn(), TimeElapsedColumn())
        with Progress(*columns, console=err, transient=True) as bars:
            bars.add_task(f"{name}…", total=None)
            yield _RichProgress(bars)
        err.print(f"[green]✓[/] {name} [dim]{time.perf_counter() - start:.2f}s[/]")


class _RichProgress:
    """One rich bar per task of a stage (rows normalized, signatures computed, ...)."""

    def __init__(self, bars: Progress) -> None:
        self.bars = bars

    def task(self, description: str, total: int) -> Callable[[int], None]:
        """Add a bar of ``total`` rows; the returned function advances it."""
        task_id = self.bars.add_task(f"  {description}", total=total)
        return lambda rows: self.bars.advance(task_id, rows)


_CTX = {"allow_extra_args": True, "ignore_unknown_options": True}


@app.command(context_settings=_CTX)
def build(
    ctx: typer.Context,
    recipe: Annotated[Path, typer.Argument(help="Recipe YAML file.")],
    out_dir: Annotated[Path | None, typer.Option("--out", help="Output root (default: the "
                                                  "recipe's output.dir).")] = None,
    force: Annotated[bool, typer.Option(help="Rebuild even if this version exists.")] = False,
    dry_run: Annotated[bool, typer.Option(help="Validate and show the build id; write "
                                          "nothing.")] = False,
) -> None:
    """Build a recipe: load -> dedup -> split -> versioned output.

    Extra arguments override recipe keys: --split.method random --seed 3.
    """
    from splitforge.pipeline import build as run_build

    overrides = parse_overrides(ctx.args)
    result = _guard(lambda: run_build(recipe, out=out_dir, force=force, dry_run=dry_run,
                                      overrides=overrides, reporter=RichReporter()))
    if result.status == "unchanged":
        out.print(f"nothing changed: build {result.build_id} already exists at "
                  f"{_shown(result.path)} "
                  f"(pass --force to rebuild)")
    elif result.status == "dry-run":
        out.print(f"dry run: build {result.build_id} would be written to {result.path}")
    else:
        _print_summary(result.manifest or {}, result.path)


def _shown(path: Path) -> str:
    """A path relative to the working directory when it lies below it."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def _print_summary(manifest: dict[str, Any], path: Path) -> None:
    counts = manifest["counts"]
    total = sum(counts["splits"].values()) or 1
    table = Table(title=f"{manifest['name']} · build {manifest['build_id']}")
    table.add_column("split")
    table.add_column("rows", justify="right")
    table.add_column("share", justify="right")
    for name, n in counts["splits"].items():
        table.add_row(name, f"{n:,}", f"{n / total:.1%}")
    for reason, n in counts["removed_by_reason"].items():
        table.add_row(f"[dim]removed: {reason}[/]", f"{n:,}", "")
    if counts["rows_rejected"]:
        table.add_row("[dim]rejected (bad input rows)[/]", f"{counts['rows_rejected']:,}", "")
    out.print(table)
    if "challenge" in manifest.get("stages", {}):
        _print_challenges(manifest["stages"]["challenge"])
    audit = manifest.get("stages", {}).get("audit")
    if audit:
        said = ", ".join(f"{n:,} {v}" for v, n in audit["verdicts"].items())
        out.print(f"audit of {audit['eval_items']:,} val/test rows against "
                  f"{audit['train_rows']:,} training rows: {said} "
                  f"(gate: fail on {audit['fail_on']}, "
                  f"{'failed' if audit['failed'] else 'passed'}; evidence in audit/audit.md)")
        tested = audit.get("self_test")
        if tested and tested.get("skipped"):
            out.print(f"[yellow]warning:[/] {tested['skipped']}")
        elif tested:
            recall = ", ".join(f"{kind}{' (rule-based)' if kind == 'rephrased' else ''} "
                               + ("-" if r is None else f"{r:.0%}")
                               for kind, r in tested["recall"].items())
            rate = tested["false_positive_rate"]
            out.print(f"audit self-test ({tested['planted']:,} items planted among "
                      f"{tested['train_rows']:,} train rows): recall {recall}; false positives "
                      f"{'-' if rate is None else f'{rate:.1%}'} (audit/self_test.json)")
            for warning in tested["warnings"]:
                out.print(f"[yellow]warning:[/] {warning}")
        removed = audit.get("removed") or {}
        if any(removed.values()):
            out.print(f"removed from val/test as copies of training data: "
                      f"{removed['leak_link']:,} linked to a train or val row "
                      f"(split:leak_link), {removed['contaminated']:,} found in audit.against "
                      f"(audit:contaminated); see removed.parquet")
    dedup = manifest.get("stages", {}).get("dedup", {})
    chains = (dedup.get("chained_clusters") or {}).get("count")
    if chains:
        giant = (dedup.get("giant_clusters") or {}).get("clusters") or 0
        out.print(f"{chains:,} duplicate clusters grew by chaining: only direct copies of a kept "
                  f"row were removed, the rest placed together"
                  + (f"; {giant:,} giant ones placed row by row" if giant else "")
                  + " (report.md, Duplicates)")
    for source in manifest.get("inputs", []):
        for note in source.get("notes", []):
            out.print(f"[yellow]note:[/] {source['path']}: {note}")
    for warning in manifest.get("stages", {}).get("split", {}).get("warnings") or []:
        out.print(f"[yellow]warning:[/] {warning}")
    spans = manifest.get("stages", {}).get("boilerplate", {}).get("spans") or []
    if spans:
        out.print("boilerplate left out of similarity: " + "; ".join(
            f"{s['text'][:50]!r} ({s['rows']:,} rows)" for s in spans[:2]))
    out.print(f"output: {_shown(path)}")


@app.command(context_settings=_CTX)
def validate(
    ctx: typer.Context,
    recipe: Annotated[Path, typer.Argument(help="Recipe YAML file.")],
) -> None:
    """Check a recipe and report every problem at once, each with its key path."""
    from splitforge.recipe import load_recipe

    overrides = parse_overrides(ctx.args)
    loaded = _guard(lambda: load_recipe(recipe, overrides))
    out.print(f"ok: {recipe} is a valid recipe ({len(loaded.sources)} source(s), "
              f"split method {loaded.split.method})")


@app.command()
def init(
    path: Annotated[Path, typer.Argument(help="Where to write the starter recipe.")] = Path(
        "recipe.yaml"),
    formatting: Annotated[str | None, typer.Option(
        "--format", help="A recipe for data of this formatting: alpaca, sharegpt, openai, "
        "preference, kto or text.")] = None,
    source: Annotated[str | None, typer.Option(help="The data file the recipe reads (as it is "
                                               "written into the recipe).")] = None,
    dataset_info: Annotated[str | None, typer.Option(
        help="A LLaMA-Factory dataset_info.json; with --dataset, the recipe reads that entry.")
    ] = None,
    dataset: Annotated[str | None, typer.Option(help="The dataset_info entry to read.")] = None,
    force: Annotated[bool, typer.Option(help="Overwrite an existing file.")] = False,
) -> None:
    """Write a commented starter recipe (for a framework's formatting with --format)."""
    from splitforge.recipe import FORMATTINGS
    from splitforge.starter import starter_recipe

    if formatting is not None and formatting not in FORMATTINGS:
        err.print(f"[bold red]error:[/] --format: unknown {formatting!r}; known: "
                  f"{', '.join(FORMATTINGS)}")
        raise typer.Exit(2)
    if (dataset_info is None) != (dataset is None) or (dataset_info and formatting):
        err.print("[bold red]error:[/] give --dataset-info with --dataset (the entry's "
                  "formatting is used), or --format")
        raise typer.Exit(2)
    if path.exists() and not force:
        err.print(f"[bold red]error:[/] {path} already exists; pass --force to overwrite it")
        raise typer.Exit(2)
    if dataset_info is not None:
        from splitforge.load.formats import dataset_info_entry

        try:
            dataset_info_entry(dataset_info, dataset or "", Path.cwd(), {})
        except ValueError as exc:
            err.print(f"[bold red]error:[/] {exc}")
            raise typer.Exit(2) from None
    # given from here; a recipe's paths are relative to its own folder
    source, dataset_info = (_from_recipe_folder(p, path) for p in (source, dataset_info))
    text = starter_recipe(formatting, source, dataset_info, dataset)
    _guard(lambda: (path.parent.mkdir(parents=True, exist_ok=True),
                    path.write_text(text, encoding="utf-8")))
    out.print(f"wrote {path}; edit sources and fields, then run: splitforge build {path}")


def _from_recipe_folder(value: str | None, recipe: Path) -> str | None:
    """A path given on the command line, as the recipe at ``recipe`` must write it."""
    if value is None or Path(value).expanduser().is_absolute():
        return value
    return Path(os.path.relpath(Path(value).resolve(), recipe.resolve().parent)).as_posix()


@app.command()
def dedup(
    source: Annotated[Path, typer.Argument(help="Input file (.jsonl .json .csv .parquet, .gz) "
                                           "or datasets folder.")],
    text: Annotated[str, typer.Option(help="Text field, or a template such as "
                                      "'{question}\\n{answer}'.")],
    out_dir: Annotated[Path, typer.Option("--out", help="Folder to write.")],
    id_field: Annotated[str | None, typer.Option("--id", help="Id field (default: a content "
                                                  "hash).")] = None,
    method: Annotated[str, typer.Option(help="Comma-separated: exact, minhash, "
                                        "semantic.")] = "exact,minhash",
    threshold: Annotated[float | None, typer.Option(help="MinHash Jaccard threshold.")] = None,
    keep: Annotated[str, typer.Option(help="earliest | longest | first-seen")] = "earliest",
    force: Annotated[bool, typer.Option(help="Replace an existing output folder.")] = False,
) -> None:
    """Run only the dedup stage on one file: deduplicated rows, removed rows and clusters."""
    from splitforge.dedup.run import dedup_file

    methods = tuple(m.strip() for m in method.split(",") if m.strip())
    minhash = {"threshold": threshold} if threshold is not None else {}
    result = _guard(lambda: dedup_file(source, text=read_escapes(text), out=out_dir,
                                       id_field=id_field, methods=methods, minhash=minhash,
                                       keep=keep, force=force, reporter=RichReporter()))
    stats = result.stats
    out.print(f"{stats['rows_in']:,} rows, {stats['duplicate_clusters']:,} duplicate clusters, "
              f"{stats['rows_removed']:,} removed "
              f"({', '.join(f'{k}: {v:,}' for k, v in stats['removed_by_reason'].items()) or '-'})")
    out.print(f"output: {_shown(result.path)}")


@app.command(context_settings=_CTX)
def challenge(
    ctx: typer.Context,
    build_dir: Annotated[Path, typer.Argument(help="A build folder (out/<name>/<build_id>).")],
    out_dir: Annotated[Path, typer.Option("--out", help="Folder to write the sets to.")],
    force: Annotated[bool, typer.Option(help="Replace an existing output folder.")] = False,
) -> None:
    """Challenge sets for an existing build, from its held-out splits only.

    Uses the build's recipe (challenge defaults when it had none); extra arguments override it:
    --challenge.size 200 --challenge.from '[val, test]'.
    """
    from splitforge.challenge.run import challenge_build

    overrides = parse_overrides(ctx.args)
    result = _guard(lambda: challenge_build(build_dir, out=out_dir, force=force,
                                            overrides=overrides, reporter=RichReporter()))
    _print_challenges(result.info)
    out.print(f"output: {_shown(result.path)}")


def _print_challenges(info: dict[str, Any]) -> None:
    table = Table("set", "target", "items", title="challenge sets")
    for kind, n in info["picked"].items():
        table.add_row(kind, str(info["targets"][kind]), str(n))
    out.print(table)
    for note in info.get("redistributed", []):
        out.print(f"[yellow]note:[/] {note}")


@app.command()
def audit(
    train: Annotated[list[Path], typer.Option(help="Training file (repeat for several).")],
    eval_files: Annotated[list[Path] | None, typer.Option("--eval", help="Eval file (repeat "
                                                           "for several).")] = None,
    build_dir: Annotated[Path | None, typer.Option("--build", help="Audit a stored build's val, "
                                                   "test and control rows instead of --eval; "
                                                   "the record goes beside the version.")] = None,
    text: Annotated[str | None, typer.Option(help="Text field of both sides.")] = None,
    train_text: Annotated[str | None, typer.Option(help="Text field of the training side.")] = None,
    eval_text: Annotated[str | None, typer.Option(help="Text field or template of the eval "
                                                  "side, e.g. '{question}'.")] = None,
    id_field: Annotated[str | None, typer.Option("--id", help="Id field (eval default: a "
                                                  "content hash; train: file:row).")] = None,
    answer: Annotated[str | None, typer.Option(help="Eval field of the reference answer: "
                                               "audit input alone and input + answer.")] = None,
    methods: Annotated[str, typer.Option(help="Comma-separated: exact, ngram, minhash, "
                                         "embedding (paraphrases; the slowest: leave it out "
                                         "for a quick check).")
                       ] = ",".join(DEFAULT_AUDIT_METHODS),
    embedding_model: Annotated[str, typer.Option(help="Model of the embedding method: minilm "
                                                 "(packaged) or a sentence-transformers "
                                                 "folder.")] = "minilm",
    ngram: Annotated[int, typer.Option(help="Words per n-gram (13 or 8; characters for "
                                       "Chinese text).", min=2, max=50)] = 13,
    report: Annotated[Path | None, typer.Option(help="Folder for audit.parquet, audit.json "
                                                "and audit.md.")] = None,
    fail_on: Annotated[str, typer.Option(help="Exit 1 when an item is at least: contaminated "
                                         "| suspect | never.")] = "contaminated",
    boilerplate: Annotated[bool, typer.Option(help="Leave spans that recur in 5% of the eval "
                                              "items (a prompt template, a system prompt) out "
                                              "of every check, on both sides.")] = True,
    ignore: Annotated[list[str] | None, typer.Option(help="A span to leave out of every check "
                                                     "(repeat for several).")] = None,
    force: Annotated[bool, typer.Option(help="Replace an existing report folder.")] = False,
    self_test: Annotated[bool, typer.Option(help="Also measure this audit: plant verbatim, "
                                            "edited and rule-based rephrased copies of sampled "
                                            "eval items into a sample of the training rows, "
                                            "audit it with the same settings, print the recall "
                                            "per kind and the false-positive rate "
                                            "(self_test.json in the report).")] = False,
    self_test_items: Annotated[int, typer.Option(help="Eval items the self-test plants (as "
                                                 "many again stay unplanted).", min=3,
                                                 max=2_000)] = 200,
    self_test_rows: Annotated[int, typer.Option(help="Training rows the self-test samples.",
                                                min=0, max=100_000)] = 2_000,
    seed: Annotated[int | None, typer.Option(help="Seed of the self-test's samples and edits "
                                             "(default: the build's recipe seed with --build, "
                                             "else 0).")] = None,
) -> None:
    """Is the eval data contaminated by the training data? Exit 1 when the gate fails.

    A chat field (a list of role/content or from/value turns) is read as its turns, the system
    turns left out. --self-test measures what this audit finds of planted copies; it never
    changes the verdicts or the exit code.
    """
    from splitforge.audit.run import audit_files

    if fail_on not in ("contaminated", "suspect", "never"):
        err.print(f"[red]error:[/] --fail-on: expected contaminated, suspect or never, got "
                  f"{fail_on!r}")
        raise typer.Exit(2)
    wanted = tuple(m.strip() for m in methods.split(",") if m.strip())
    if not eval_files and build_dir is None:
        err.print("[red]error:[/] give --eval FILE (one or more) or --build DIR")
        raise typer.Exit(2)
    result = _guard(lambda: audit_files(
        train, eval_files or [], build_dir=build_dir, text=read_escapes(text),
        train_text=read_escapes(train_text), eval_text=read_escapes(eval_text),
        id_field=id_field, answer=answer, methods=wanted, ngram=ngram, report=report,
        embedding_model=embedding_model, fail_on=fail_on, force=force, reporter=RichReporter(),
        boilerplate=boilerplate, ignore=tuple(read_escapes(i) for i in ignore or []),
        self_test=self_test, self_test_items=self_test_items, self_test_rows=self_test_rows,
        seed=seed))
    _print_audit(result.table, result.summary)
    if result.self_test is not None:
        _print_self_test(result.self_test.summary)
    if result.report is not None:
        out.print(f"report: {_shown(result.report)}")
    if result.failed:
        err.print(f"[red]audit failed:[/] items at or above {fail_on}")
        raise typer.Exit(1)


def _print_audit(table: Any, summary: dict[str, Any]) -> None:
    counts = Table("verdict", "items", title=f"audit of {summary['eval_items']:,} eval items "
                   f"against {summary['train_rows']:,} training rows")
    for verdict, n in summary["verdicts"].items():
        counts.add_row(verdict, f"{n:,}")
    out.print(counts)
    spans = summary.get("boilerplate", {}).get("spans", [])
    if spans:
        out.print("left out of similarity (boilerplate): " + "; ".join(
            f"{s['text'][:60]!r} in {s['rows']:,} eval items" for s in spans[:3]))
    rows = [r for r in table.to_pylist() if r["verdict"] == "contaminated"][:10]
    if rows:
        shown = Table("eval id", "check", "score", "training id", "eval text",
                      title="first contaminated items")
        for r in rows:
            shown.add_row(str(r["eval_id"]), r["evidence_method"], f"{r['evidence_score']:.2f}",
                          str(r["evidence_id"]), " ".join(r["eval_text"].split())[:60])
        out.print(shown)


def _print_self_test(summary: dict[str, Any]) -> None:
    """The self-test's table: recall per kind of planted copy, false positives, warnings."""
    from splitforge.audit.selftest import table_rows

    if summary.get("skipped"):
        out.print(f"[yellow]warning:[/] {summary['skipped']}")
        return
    sample, fp = summary["sample"], summary["false_positives"]
    shown = Table("planted as", "items", "excluded", "found", "recall", "contaminated",
                  title=f"self-test: copies of {sample['planted']:,} eval items planted among "
                  f"{sample['train_rows']:,} sampled training rows (seed {summary['seed']})")
    for label, info in table_rows(summary["kinds"]):
        recall = "-" if info["recall"] is None else f"{info['recall']:.1%}"
        shown.add_row(label, f"{info['planted']:,}", f"{info['excluded']:,}",
                      f"{info['found']:,}", recall, f"{info['contaminated']:,}")
    rate = "-" if fp["rate"] is None else f"{fp['rate']:.1%}"
    shown.add_row("not planted (FP)", f"{fp['unplanted']:,}", f"{fp['excluded']:,}",
                  f"{fp['flagged']:,}", rate, "", style="dim")
    out.print(shown)
    out.print(f"found: suspect or worse with the item's own copy as the evidence; FP: unplanted "
              f"items flagged at another item's copy (false positives); excluded: already near a "
              f"training row of the sample. Note: {summary['note']}.")
    for warning in summary["warnings"]:
        out.print(f"[yellow]warning:[/] {warning}")


@app.command()
def diff(
    old: Annotated[Path, typer.Argument(help="The older build folder.")],
    new: Annotated[Path, typer.Argument(help="The newer build folder.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON for machines.")] = False,
) -> None:
    """What changed between two builds: items added, removed, moved between splits, changed.

    It also says why: which fields the changed items differ in, which added rows are new in the
    data and which were removed before (and the reverse), by reason, and how the split's method,
    ratios, gap or cutoffs changed, with the moves a moved cutoff explains.
    """
    from splitforge.write.diff import diff_builds

    result = _guard(lambda: diff_builds(old, new))
    if as_json:
        typer.echo(json.dumps(result, indent=2, ensure_ascii=False))
        return
    items = result["items"]
    table = Table("items", "count", "first examples", title="build diff")
    for kind in ("added", "removed", "moved", "changed"):
        table.add_row(kind, f"{items[kind]['count']:,}", ", ".join(items[kind]["examples"]))
    table.add_row("unchanged", f"{items['unchanged']:,}", "")
    out.print(table)
    splits = Table("split", "old", "new", "added", "removed", "changed")
    for name, row in result["splits"].items():
        splits.add_row(name, *(f"{row[k]:,}" for k in ("old", "new", "added", "removed",
                                                        "changed")))
    out.print(splits)
    for line in _diff_explained(result):
        out.print(line, markup=False, highlight=False)
    for name, row in result["challenge"].items():
        out.print(f"challenge {name}: {row['old']} -> {row['new']} items, "
                  f"{row['added']['count']} added, {row['removed']['count']} removed, "
                  f"{row['changed']['count']} changed")


def _diff_counts(counts: dict[str, int]) -> str:
    """``a 3, b 1`` (only the non-zero counts; used by ``diff``)."""
    return ", ".join(f"{k} {v:,}" for k, v in counts.items() if v)


def _diff_explained(result: dict[str, Any]) -> list[str]:
    """The lines of ``diff`` that say why (used by ``diff`` only).

    Where added and removed items come from, the new rows, the changed fields, the split's
    settings and the moves.
    """
    items, new_rows, moves = result["items"], result["new_rows"], result["transitions"]
    back, gone = moves["removed_to_kept"], moves["kept_to_removed"]
    lines = []
    if items["added"]["count"]:
        reasons = f" ({_diff_counts(back['by_reason'])})" if back["count"] else ""
        lines.append(f"added {items['added']['count']:,}: {items['added']['new_in_data']:,} new "
                     f"in the data, {back['count']:,} removed in OLD and kept now{reasons}")
    if items["removed"]["count"]:
        reasons = f" ({_diff_counts(gone['by_reason'])})" if gone["count"] else ""
        lines.append(f"removed {items['removed']['count']:,}: {gone['count']:,} removed in NEW"
                     f"{reasons}, {items['removed']['gone_from_data']:,} gone from the data")
    if new_rows["count"]:
        kept, dropped = new_rows["kept"], new_rows["removed"]
        where = f" ({_diff_counts(kept['by_split'])})" if kept["count"] else ""
        why = f" ({_diff_counts(dropped['by_reason'])})" if dropped["count"] else ""
        lines.append(f"new rows in the data: {new_rows['count']:,}, {kept['count']:,} in a split"
                     f"{where}, {dropped['count']:,} removed{why}")
    if items["changed"]["by_field"]:
        lines.append("changed fields: " + _diff_counts(items["changed"]["by_field"]))
    for key, change in result["split"]["changed"].items():
        lines.append(f"split {key}: {change['old']} -> {change['new']}")
    if items["moved"]["by_move"]:
        line = "moved: " + _diff_counts(items["moved"]["by_move"])
        if items["moved"]["by_cause"]:
            line += "; by cause: " + _diff_counts(items["moved"]["by_cause"])
        lines.append(line)
    return lines


@app.command()
def report(
    build_dir: Annotated[Path, typer.Argument(help="A build folder (out/<name>/<build_id>).")],
) -> None:
    """Rebuild report.md and report.html of a build from its files."""
    from splitforge.write.build_folder import rebuild_reports

    path = _guard(lambda: rebuild_reports(build_dir))
    out.print(f"wrote {_shown(path)} and report.md")


@app.command()
def verify(
    build_dir: Annotated[Path, typer.Argument(help="A build folder (out/<name>/<build_id>).")],
) -> None:
    """Recompute every file hash against the manifest: exit 0 if ok, 1 if anything differs."""
    from splitforge.write.verify import verify_build

    result = _guard(lambda: verify_build(build_dir))
    if result.ok:
        out.print(f"ok: build {result.build_id}, {result.checked} files match the manifest")
        return
    for kind in ("changed", "removed", "added", "manifest"):
        for rel in getattr(result, kind):
            out.print(f"{kind}: {rel}")
    err.print(f"[red]build {result.build_id} does not match its manifest[/]")
    raise typer.Exit(1)


@app.command()
def schema() -> None:
    """Print the JSON schema of the recipe."""
    from splitforge.recipe import recipe_schema

    typer.echo(json.dumps(recipe_schema(), indent=2))


class Stopped(BaseException):
    """SIGTERM or Ctrl-C, raised where the program is, so that cleanup runs.

    Unwinding stops the workers and removes the staging folder. It is no KeyboardInterrupt,
    which typer would turn into a silent exit code.
    """

    def __init__(self, name: str, code: int) -> None:
        super().__init__(name)
        self.name, self.code = name, code


def _on_signal(signum: int, frame: Any) -> None:
    if signum == signal.SIGTERM:
        raise Stopped("SIGTERM", 143)
    raise Stopped("Ctrl-C", 130)


def main() -> None:
    """Console entry point; SIGTERM and Ctrl-C exit 143 and 130 with one line.

    Both unwind the program, so the workers are stopped and an unfinished output folder is
    removed before the line is printed.
    """
    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)
    try:
        app()  # standalone: usage errors and exit codes as typer gives them
    except Stopped as stop:  # no KeyboardInterrupt, so typer lets it through
        err.print(f"interrupted ({stop.name}): workers stopped, unfinished output removed")
        sys.exit(stop.code)
