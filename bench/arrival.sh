#!/usr/bin/env bash
# How close an arrival rate comes to its target: `pushcheck load --arrival-rate R` against the
# embedded simulator at a few rates, ROUNDS times each (default 3) for SECS seconds (default 20),
# beside goose's bare throttle at the same rate (`--throttle R`, no calibration). Prints the
# median achieved rate as a percentage of the target; the target is within 5% (95–105%).
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=bench/lib.sh
source bench/lib.sh
need python3 python3
rounds=${ROUNDS:-3}
secs=${SECS:-20}
rates=${RATES:-50 100 200 400}

cargo build --release --quiet
bin=target/release/pushcheck

field() { # field FILE EXPR: a number from a summary.json
  python3 -c "import json,sys; s=json.load(open(sys.argv[1])); print($2)" "$1"
}

status=0
for rate in $rates; do
  paced=(); bare=()
  for _ in $(seq "$rounds"); do
    "$bin" load --users 32 --run-time "${secs}s" --arrival-rate "$rate" --json \
      >"$work/paced.json" 2>/dev/null || true
    paced+=( "$(field "$work/paced.json" "round(s['arrival']['achieved_percent'], 1)")" )
    "$bin" load --users 32 --run-time "${secs}s" --throttle "$rate" --json \
      >"$work/bare.json" 2>/dev/null || true
    # goose's own rate over the run, the one-second ramp included (1/SECS of the run).
    bare+=( "$(field "$work/bare.json" "round(s['total']['rps'] / $rate * 100, 1)")" )
  done
  m=$(median "${paced[@]}"); b=$(median "${bare[@]}")
  ok=$(python3 -c "print('within 5%' if 95 <= $m <= 105 else 'OUTSIDE 5%')")
  [ "$ok" = "within 5%" ] || status=1
  printf '%4s/s: arrival rate %6s%% of target (%s; rounds %s) · goose --throttle alone %6s%% (rounds %s)\n' \
    "$rate" "$m" "$ok" "${paced[*]}" "$b" "${bare[*]}"
done
exit "$status"
