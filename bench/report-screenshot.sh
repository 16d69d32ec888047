#!/usr/bin/env bash
# pushcheck's HTML report, rendered from a real run and photographed with headless Chromium:
#   `pushcheck mock --latency 5ms --jitter 5ms --stall 4s..6s` on 127.0.0.1, a 10 s load of the
#   smoke scenario against it (its timeline shows the stall), then a PNG of pushcheck.html.
# Installs Debian's `chromium` when missing. Output: $OUT (default target/report-screenshot/)
# with the reports and report.png. Knobs: RUN_TIME (10s), OUT.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=bench/lib.sh
source bench/lib.sh

RUN_TIME=${RUN_TIME:-10s}
OUT=${OUT:-target/report-screenshot}

need chromium chromium
need python3 python3

cargo build --release --quiet --bin pushcheck
BIN=target/release/pushcheck

"$BIN" mock --json --addr 127.0.0.1:0 --seed-registrations 1000 \
  --latency 5ms --jitter 5ms --stall 4s..6s >"$work/mock.json" 2>"$work/mock.err" &
pids+=($!)
wait_line "$work/mock.json"
URL=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["base_url"])' "$work/mock.json")

rm -rf "$OUT"
mkdir -p "$OUT"
# The simulator's stall fails the smoke scenario's latency rules: that is the point of the
# picture, so the load's exit code 1 is expected; anything else is not.
set +e
"$BIN" load --scenario scenarios/smoke.toml --run-time "$RUN_TIME" --target "$URL" \
  --report-dir "$OUT" >"$OUT/verdict.txt"
code=$?
set -e
if [ "$code" -gt 1 ]; then
  cat "$OUT/verdict.txt" >&2
  echo "the load did not produce a verdict (exit $code)" >&2
  exit 3
fi

chromium --headless --no-sandbox --disable-gpu --hide-scrollbars \
  --window-size=1100,3200 --screenshot="$OUT/report.png" \
  "file://$(pwd)/$OUT/pushcheck.html" >/dev/null 2>&1
echo "verdict (exit $code): $OUT/verdict.txt"
echo "report: $OUT/pushcheck.html"
echo "screenshot: $OUT/report.png"
