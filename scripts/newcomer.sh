#!/usr/bin/env bash
# Replay issue #18's newcomer tries on ../shared/data and print what each one checked.
#
#   scripts/newcomer.sh [--clone] [--only 2,5] [--keep]   (PY=/other/python to pick the Python)
#
# Runs scripts/newcomer.py from the repo root, passing its arguments: one PASS/FAIL line per check
# (the quickstart's report.html in headless chromium, two builds through one datasets cache,
# commit subjects by author, diff after a 5% refresh, the Python API on a DataFrame, nested fields
# and templates, chat and Chinese challenge sets, a failed contamination gate), then a summary.
# --clone adds a fresh clone of HEAD and its test suite (~5 min); the rest takes ~2-3 min.
# Exits 2 when ../shared/data is missing, 1 when a check failed, else 0.
set -euo pipefail

cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
DATA=../shared/data

if [[ ! -d "$DATA" ]]; then
    echo "newcomer.sh: $DATA not found (expected next to the repo, at $(pwd)/$DATA);" \
         "the checks read their data from there" >&2
    exit 2
fi

exec "$PY" scripts/newcomer.py "$@"
