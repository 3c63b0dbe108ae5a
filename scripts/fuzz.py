"""A long fuzzing run of every command (the bounded one runs in `make test`).

Runs ``tests/hardening/test_fuzz.py`` with many more Hypothesis examples and prints how often
each command succeeded, refused the input (exit 2) or failed its gate (exit 1), so a run that
only ever exercises the recipe check is visible.

    .venv/bin/python scripts/fuzz.py --examples 2000
"""

from __future__ import annotations

import argparse
import collections
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=1000, help="examples per strategy")
    args = parser.parse_args()
    with tempfile.NamedTemporaryFile(suffix=".log", delete=False) as log:
        path = log.name
    env = {**os.environ, "SPLITFORGE_FUZZ_EXAMPLES": str(args.examples),
           "SPLITFORGE_FUZZ_LOG": path}
    start = time.perf_counter()
    code = subprocess.call([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                            "tests/hardening/test_fuzz.py"], cwd=REPO, env=env)
    seconds = time.perf_counter() - start
    tally = collections.Counter(Path(path).read_text(encoding="utf-8").split("\n"))
    os.unlink(path)
    print(f"{args.examples} examples per strategy in {seconds:.0f}s; pytest exit {code}")
    for command in ("validate", "build", "dedup", "audit"):
        outcomes = {k.split()[1]: n for k, n in tally.items() if k.startswith(command + " ")}
        print(f"  {command:8s} " + ", ".join(f"exit {c}: {n}" for c, n in sorted(outcomes.items())))
    sys.exit(code)


if __name__ == "__main__":
    main()
