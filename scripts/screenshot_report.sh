#!/usr/bin/env bash
# Builds recipes/quickstart.yaml into a temporary folder and screenshots the top of its report.html into docs/report.png.
# Needs Debian's chromium (apt-get install -y chromium; override the binary with CHROMIUM=...) and the project's .venv.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SPLITFORGE="${SPLITFORGE:-$ROOT/.venv/bin/splitforge}"
CHROMIUM="${CHROMIUM:-chromium}"
OUT_PNG="${1:-$ROOT/docs/report.png}"
# 1280x1500 CSS pixels at scale 1 shows the title, the split and removal tables and all six plots.
WIDTH=1280
HEIGHT=1500

command -v "$CHROMIUM" >/dev/null || { echo "error: '$CHROMIUM' not found (apt-get install -y chromium)" >&2; exit 1; }
[ -x "$SPLITFORGE" ] || { echo "error: $SPLITFORGE not found (install the project into .venv)" >&2; exit 1; }

TMP="$(mktemp -d "${TMPDIR:-/tmp}/splitforge-shot.XXXXXX")"
trap 'rm -rf "$TMP"' EXIT

echo "building recipes/quickstart.yaml into $TMP/build ..." >&2
"$SPLITFORGE" build "$ROOT/recipes/quickstart.yaml" --out "$TMP/build" >"$TMP/build.log" 2>&1 \
  || { cat "$TMP/build.log" >&2; exit 1; }

REPORT="$(find "$TMP/build" -name report.html -print -quit)"
[ -n "$REPORT" ] || { cat "$TMP/build.log" >&2; echo "error: no report.html under $TMP/build" >&2; exit 1; }

mkdir -p "$(dirname "$OUT_PNG")"
rm -f "$OUT_PNG"
echo "screenshotting $REPORT ..." >&2
"$CHROMIUM" --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
  --disable-background-networking --disable-component-update --disable-sync \
  --user-data-dir="$TMP/profile" --hide-scrollbars --force-device-scale-factor=1 \
  --window-size="$WIDTH,$HEIGHT" --screenshot="$OUT_PNG" "file://$REPORT" \
  >"$TMP/chromium.log" 2>&1 || true
[ -s "$OUT_PNG" ] || { cat "$TMP/chromium.log" >&2; echo "error: chromium wrote no $OUT_PNG" >&2; exit 1; }

echo "wrote $OUT_PNG ($(wc -c <"$OUT_PNG") bytes)" >&2
