#!/usr/bin/env bash
# Run the acceptance runs on ../shared/data one after the other; stop at the first failure.
#
#   scripts/acceptance.sh            (PY=/other/python scripts/acceptance.sh to pick the Python)
#
# Runs, from the repo root, with the repo's .venv Python:
#   1. scripts/formats_acceptance.py   LLaMA-Factory demo files: init + build + lf_load  (~45s)
#   2. scripts/calibrate_short.py      short-text repost calibration, defaults           (~30s)
#   3. scripts/bench_build.py --commits  98k real commit messages, temporal split        (~30s)
# (times on 2 cores). Exits 2 when ../shared/data is missing, else with the first failing
# run's exit code.
set -euo pipefail

cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
DATA=../shared/data

if [[ ! -d "$DATA" ]]; then
    echo "acceptance.sh: $DATA not found (expected next to the repo, at $(pwd)/$DATA);" \
         "the acceptance runs read their data from there" >&2
    exit 2
fi

WORKDIR=$(mktemp -d -t sf-acceptance-XXXXXX)
trap 'rm -rf "$WORKDIR"' EXIT

TIMES=()

run() {
    local title=$1
    shift
    echo
    echo "=== $title: $* ==="
    local start=$SECONDS
    "$@"
    local took=$((SECONDS - start))
    echo "=== $title: ok in ${took}s ==="
    TIMES+=("$title ${took}s")
}

run formats "$PY" scripts/formats_acceptance.py
run calibrate_short "$PY" scripts/calibrate_short.py
run bench_commits "$PY" scripts/bench_build.py --commits --workdir "$WORKDIR/bench"

echo
echo "all acceptance runs passed: ${TIMES[*]}"
