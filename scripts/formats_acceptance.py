"""Acceptance run: build every LLaMA-Factory demo file the way a new user would.

For each entry of ``../shared/data/formats/llamafactory/dataset_info.json`` whose ``file_name``
exists in that folder, plus ``v1_sft_demo.jsonl`` and ``v1_multimodal_demo.jsonl`` (no entry; read
as ``--format openai --source FILE``), this runs, as subprocesses in a temp dir:

    splitforge init  TMP/NAME.yaml --dataset-info dataset_info.json --dataset NAME
    splitforge build TMP/NAME.yaml --out TMP/out_NAME

and prints one row per file from the build's manifest.json: rows read, build exit code, the own
audit's contaminated count, rows removed by dedup, removed rows that differ from their kept row in
any original (non ``sf_``) field, the split sizes, whether dataset_info.json was written, and
whether it loads by LLaMA-Factory's rules (``lf_load``: every entry's ``file_name`` exists in the
build folder, ``datasets.load_dataset("json" | "parquet", data_files=[path], split="train")`` has
the manifest's row count for that split, and every column named in the entry's ``columns``
exists), plus the build's seconds.

The summary line reads "N of M files: exit 0, 0 contaminated, 0 removed rows differing"; the
script exits 1 when any file misses one of those, or when a written dataset_info.json does not
load (``lf_load FAIL``), else 0.

    .venv/bin/python scripts/formats_acceptance.py [--data ../shared/data/formats/llamafactory]
                                                   [--keep]

About 30-60 seconds on 2 cores. ``--keep`` leaves the temp dir (its path is printed) in place.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATA = ROOT.parent / "shared" / "data" / "formats" / "llamafactory"
OPENAI_FILES = ("v1_sft_demo.jsonl", "v1_multimodal_demo.jsonl")
SPLITS = ("train", "val", "test")
LOADERS = {".json": "json", ".jsonl": "json", ".parquet": "parquet"}


@dataclass
class Case:
    """One file to build: its table name and the `splitforge init` arguments that read it."""

    name: str
    init_args: list[str]


@dataclass
class Result:
    """What one file's init + build gave."""

    name: str
    exit_code: int
    seconds: float
    manifest: dict[str, Any] | None = None
    differing: int | None = None
    unmatched: int = 0
    lf_load: str = "-"
    notes: list[str] = field(default_factory=list)

    def ok(self) -> bool:
        """Exit 0, 0 contaminated, 0 removed rows differing."""
        return (self.exit_code == 0 and self.manifest is not None
                and contaminated(self.manifest) == 0 and self.differing == 0)


def splitforge_cmd() -> list[str]:
    """The `splitforge` executable next to this Python (the repo's .venv), else on PATH."""
    beside = Path(sys.executable).with_name("splitforge")
    if beside.exists():
        return [str(beside)]
    found = shutil.which("splitforge")
    return [found] if found else [sys.executable, "-m", "splitforge"]


def cases(data: Path) -> list[Case]:
    """The dataset_info entries with a local file, then the openai-format v1 demo files."""
    info_path = data / "dataset_info.json"
    info = json.loads(info_path.read_text(encoding="utf-8"))
    out = [Case(name, ["--dataset-info", str(info_path), "--dataset", name])
           for name, entry in info.items()
           if entry.get("file_name") and (data / entry["file_name"]).is_file()]
    out += [Case(fname, ["--format", "openai", "--source", str(data / fname)])
            for fname in OPENAI_FILES if (data / fname).is_file()]
    return out


def build_folder(stdout: str, out_dir: Path) -> Path | None:
    """The build folder: the stdout's last `output: PATH` line, else out/<recipe name>/latest."""
    for line in reversed(stdout.splitlines()):
        if line.startswith("output: "):
            path = Path(line[len("output: "):].strip())
            if (path / "manifest.json").is_file():
                return path
            break
    latest = sorted(out_dir.glob("*/latest"))
    return latest[0].resolve() if latest and (latest[0] / "manifest.json").is_file() else None


def run_case(case: Case, tmp: Path) -> tuple[Result, Path | None]:
    """Run init then build for one file; return the result so far and its build folder."""
    stem = Path(case.name).stem
    recipe, out_dir = tmp / f"{stem}.yaml", tmp / f"out_{stem}"
    cmd = splitforge_cmd()
    env = {**os.environ, "COLUMNS": "400"}  # keep the `output: PATH` line on one line
    init = subprocess.run([*cmd, "init", str(recipe), *case.init_args],
                          capture_output=True, text=True, env=env)
    if init.returncode != 0:
        result = Result(case.name, init.returncode, 0.0)
        result.notes.append(f"init failed: {(init.stderr or init.stdout).strip()[-300:]}")
        return result, None
    start = time.perf_counter()
    build = subprocess.run([*cmd, "build", str(recipe), "--out", str(out_dir)],
                           capture_output=True, text=True, env=env)
    result = Result(case.name, build.returncode, time.perf_counter() - start)
    if build.returncode != 0:
        result.notes.append(f"build exit {build.returncode}: "
                            f"{(build.stderr or build.stdout).strip()[-300:]}")
    folder = build_folder(build.stdout, out_dir)
    if folder is None:
        result.notes.append("no build folder with manifest.json")
    else:
        result.manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    return result, folder


def contaminated(manifest: dict[str, Any]) -> int | None:
    """The own audit's contaminated count (stages.audit.verdicts.contaminated)."""
    audit = manifest.get("stages", {}).get("audit") or {}
    return (audit.get("verdicts") or {}).get("contaminated")


def _canon(value: Any) -> str:
    """A comparable form of a cell (nested lists/dicts, NaN, None alike)."""
    return json.dumps(value, sort_keys=True, ensure_ascii=False, default=str)


def _rows(path: Path) -> list[dict[str, Any]]:
    """A parquet file's rows as Python dicts (empty when the file is absent)."""
    import pyarrow.parquet as pq

    return pq.read_table(path).to_pylist() if path.is_file() else []


def removed_differing(folder: Path) -> tuple[int, int, list[str]]:
    """Dedup-removed rows whose original fields differ from their kept row's.

    Returns (differing, removed rows whose kept row was not found, a few examples).
    """
    removed = _rows(folder / "removed.parquet")
    by_id: dict[str, dict[str, Any]] = {}
    for part in (*SPLITS, "removed"):
        for row in removed if part == "removed" else _rows(folder / f"{part}.parquet"):
            by_id.setdefault(row["sf_id"], row)
    differing, unmatched, examples = 0, 0, []
    for row in removed:
        if row.get("sf_stage") != "dedup":
            continue
        kept = by_id.get(row.get("sf_kept_id"))
        if kept is None:
            unmatched += 1
            continue
        keys = sorted({k for k in (*row, *kept) if not k.startswith("sf_")})
        diff = [k for k in keys if _canon(row.get(k)) != _canon(kept.get(k))]
        if diff:
            differing += 1
            if len(examples) < 2:
                examples.append(f"{row['sf_id']} vs kept {row['sf_kept_id']}: "
                                f"{', '.join(diff)} differ")
    return differing, unmatched, examples


def check_lf_load(folder: Path, manifest: dict[str, Any], cache: Path) -> tuple[str, list[str]]:
    """Load the written dataset_info.json's entries by LLaMA-Factory's rules; ok / FAIL / -."""
    if not (manifest.get("dataset_info") or {}).get("written"):
        return "-", []
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
    import datasets

    datasets.disable_progress_bars()
    datasets.logging.set_verbosity_error()
    info = json.loads((folder / "dataset_info.json").read_text(encoding="utf-8"))
    counts = manifest.get("counts", {}).get("splits", {})
    problems: list[str] = []
    for name, entry in info.items():
        path = folder / entry.get("file_name", "")
        if not entry.get("file_name") or not path.is_file():
            problems.append(f"{name}: file_name {entry.get('file_name')!r} not in build folder")
            continue
        loader = LOADERS.get(path.suffix)
        if loader is None:
            problems.append(f"{name}: no loader for {path.suffix}")
            continue
        try:
            ds = datasets.load_dataset(loader, data_files=[str(path)], split="train",
                                       cache_dir=str(cache))
        except Exception as exc:  # any load error is the finding
            problems.append(f"{name}: load_dataset failed: {type(exc).__name__}: {exc}"[:300])
            continue
        split = next((s for s in SPLITS if path.stem == s), None)
        if split is not None and ds.num_rows != counts.get(split):
            problems.append(f"{name}: {ds.num_rows} rows loaded, manifest says {counts.get(split)}")
        missing = [c for c in (entry.get("columns") or {}).values() if c not in ds.column_names]
        if missing:
            problems.append(f"{name}: columns {missing} not in {ds.column_names}")
    return ("FAIL" if problems else "ok"), problems


HEADER = ("file", "rows", "exit", "contam", "dedup_rm", "rm_differ", "train", "val", "test",
          "dinfo", "lf_load", "secs")
WIDTHS = (28, 6, 4, 6, 8, 9, 6, 5, 5, 5, 7, 6)


def table_row(result: Result) -> str:
    """One formatted table row for a result."""
    m = result.manifest or {}
    splits = m.get("counts", {}).get("splits", {})
    written = (m.get("dataset_info") or {}).get("written")

    def show(value: Any) -> str:
        return "-" if value is None else str(value)

    cells = (result.name, show(m.get("counts", {}).get("rows_loaded")), str(result.exit_code),
             show(contaminated(m) if m else None),
             show(m.get("stages", {}).get("dedup", {}).get("rows_removed") if m else None),
             show(result.differing), *(show(splits.get(s)) for s in SPLITS),
             "-" if written is None else ("yes" if written else "no"), result.lf_load,
             f"{result.seconds:.1f}")
    return "  ".join(c.ljust(w) if i == 0 else c.rjust(w)
                     for i, (c, w) in enumerate(zip(cells, WIDTHS, strict=True)))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA,
                        help="folder with LLaMA-Factory's dataset_info.json and demo files")
    parser.add_argument("--keep", action="store_true", help="keep the temp dir")
    args = parser.parse_args()
    data = args.data.resolve()
    if not (data / "dataset_info.json").is_file():
        print(f"no dataset_info.json in {data}", file=sys.stderr)
        return 2
    tmp = Path(tempfile.mkdtemp(prefix="sf-formats-"))
    results: list[Result] = []
    try:
        print("  ".join(h.ljust(w) if i == 0 else h.rjust(w)
                        for i, (h, w) in enumerate(zip(HEADER, WIDTHS, strict=True))))
        for case in cases(data):
            result, folder = run_case(case, tmp)
            if folder is not None and result.manifest is not None:
                result.differing, result.unmatched, examples = removed_differing(folder)
                result.notes += examples
                if result.unmatched:
                    result.notes.append(f"{result.unmatched} dedup-removed rows whose kept row "
                                        "is in no split or removed file")
                    result.differing += result.unmatched
                result.lf_load, problems = check_lf_load(folder, result.manifest, tmp / "hf")
                result.notes += problems
            print(table_row(result), flush=True)
            results.append(result)
    finally:
        if args.keep:
            print(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    for result in results:
        for note in result.notes:
            print(f"  {result.name}: {note}")
    passed = sum(r.ok() for r in results)
    print(f"{passed} of {len(results)} files: exit 0, 0 contaminated, 0 removed rows differing")
    loaded = [r for r in results if r.lf_load != "-"]
    print(f"{sum(r.lf_load == 'ok' for r in loaded)} of {len(loaded)} written dataset_info.json: "
          "lf_load ok")
    lf_failed = any(r.lf_load == "FAIL" for r in results)
    return 0 if results and passed == len(results) and not lf_failed else 1


if __name__ == "__main__":
    sys.exit(main())
