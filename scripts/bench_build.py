"""Benchmark `splitforge build` on a synthetic JSONL corpus (exact dedup + temporal split).

Prints rows/s and peak RSS of the build (run in a child process, so the generator's memory does not
count), next to a plain pandas baseline (read_json + normalized drop_duplicates + time cutoffs)
measured in the same run.

    .venv/bin/python scripts/bench_build.py --rows 1000000
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

WORDS = (
    "model data train eval split test leak token prompt answer question user system the a of to "
    "and in is for on with how what why when please explain write code python function list "
    "value error fix bug update readme docs add remove refactor support chinese english 模型 数据 "
    "评估 微调 训练 测试 问题 回答"
).split()


def generate(path: Path, rows: int, seed: int = 0) -> None:
    """Write `rows` JSONL records: id, text (20-80 words), ISO time, group; ~5% exact duplicates."""
    rng = random.Random(seed)
    start = datetime(2020, 1, 1, tzinfo=UTC)
    recent: list[str] = []
    with open(path, "w", encoding="utf-8") as handle:
        for i in range(rows):
            if recent and rng.random() < 0.05:
                text = rng.choice(recent)
                text = text.upper() if rng.random() < 0.5 else "  " + text.replace(" ", "\n", 1)
            else:
                text = " ".join(rng.choices(WORDS, k=rng.randint(20, 80)))
                if len(recent) < 10_000:
                    recent.append(text)
                else:
                    recent[rng.randrange(len(recent))] = text
            when = start + timedelta(seconds=rng.randrange(5 * 365 * 86400))
            record = {"id": f"doc-{i:07d}", "text": text, "created_at": when.isoformat(),
                      "user": f"user-{rng.randrange(rows // 20 + 1)}"}
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")


RECIPE = """\
name: bench
seed: 1
sources:
  - path: {path}
fields:
  id: id
  text: text
  time: created_at
dedup:
  exact: true
split:
  method: temporal
  ratios: {{train: 0.8, val: 0.1, test: 0.1}}
  gap: 1d
output:
  dir: {out}
"""

BASELINE = """\
import sys, time, pandas as pd
t = time.perf_counter()
df = pd.read_json(sys.argv[1], lines=True)
norm = df["text"].str.normalize("NFKC").str.casefold().str.split().str.join(" ")
df["t"] = pd.to_datetime(df["created_at"], utc=True, format="ISO8601")
df = df.assign(norm=norm).sort_values(["t", "id"]).drop_duplicates("norm")
q = df["t"].quantile([0.8, 0.9])
lo, hi = q.iloc[0], q.iloc[1]
train, val, test = df[df.t < lo], df[(df.t >= lo) & (df.t < hi)], df[df.t >= hi]
for name, part in (("train", train), ("val", val), ("test", test)):
    part.drop(columns=["norm", "t"]).to_parquet(sys.argv[2] + f"/{name}.parquet")
print(time.perf_counter() - t)
"""


def in_fresh_process(fn: Callable[..., None], *args: Any) -> None:
    """``fn(*args)`` in a spawned interpreter, for work (making test data) that must not count.

    Linux carries a process's peak RSS across fork and exec, so a ``run_child`` started after
    this process grew would report this process's peak, not its own.
    """
    import multiprocessing

    proc = multiprocessing.get_context("spawn").Process(target=fn, args=args)
    proc.start()
    proc.join()
    if proc.exitcode != 0:
        sys.exit(f"{fn.__name__} failed (exit code {proc.exitcode})")


def run_child(cmd: list[str]) -> tuple[float, float, str]:
    """Run a command; return (seconds, peak RSS in MB of that child alone via wait4, stdout)."""
    with tempfile.TemporaryFile() as log, tempfile.TemporaryFile() as out:
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=out, stderr=log)
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - start
        log.seek(0)
        stderr = log.read().decode("utf-8", "replace")
        out.seek(0)
        stdout = out.read().decode("utf-8", "replace")
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit(f"command failed: {' '.join(cmd)}\n{stderr[-3000:]}")
    return seconds, usage.ru_maxrss / 1024, stdout


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--workdir", type=Path, default=Path(tempfile.gettempdir()) / "sf-bench")
    parser.add_argument("--no-baseline", action="store_true", help="skip the pandas baseline")
    args = parser.parse_args()
    args.workdir.mkdir(parents=True, exist_ok=True)
    data = args.workdir / f"synthetic_{args.rows}.jsonl"
    if not data.exists():
        t = time.perf_counter()
        generate(data, args.rows)
        print(f"generated {data} ({data.stat().st_size / 1e6:.0f} MB) in "
              f"{time.perf_counter() - t:.1f}s")
    recipe = args.workdir / "bench.yaml"
    recipe.write_text(RECIPE.format(path=data, out=args.workdir / "out"), encoding="utf-8")

    seconds, peak, _ = run_child([sys.executable, "-m", "splitforge", "build", str(recipe),
                                  "--force"])
    print(f"splitforge build: {args.rows:,} rows in {seconds:.1f}s = "
          f"{args.rows / seconds:,.0f} rows/s, peak RSS {peak:,.0f} MB (process start included)")
    if not args.no_baseline:
        out = args.workdir / "baseline"
        out.mkdir(exist_ok=True)
        script = args.workdir / "baseline.py"
        script.write_text(textwrap.dedent(BASELINE), encoding="utf-8")
        seconds, peak_b, _ = run_child([sys.executable, str(script), str(data), str(out)])
        print(f"pandas baseline (no ids, groups, gap, manifest or checks): {args.rows:,} rows in "
              f"{seconds:.1f}s = {args.rows / seconds:,.0f} rows/s, peak RSS {peak_b:,.0f} MB")


if __name__ == "__main__":
    main()
