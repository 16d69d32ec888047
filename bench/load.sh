#!/usr/bin/env bash
# Load-generator benchmark (issue 5), side by side in one run on this machine, loopback only,
# GET only, USERS users/connections, rounds alternating (the order rotates every round):
#
#   1. target: the `minimal_axum` example serving the doc's GET payload
#        - pushcheck load, 100% of responses validated against schemas/
#        - pushcheck load, the default sample rate (no sample_rate in the scenario)
#        - pushcheck load, validation off (sample_rate 0), to price validation
#        - bare goose, default features (cookies on): the issue's baseline
#        - bare goose without its default `cookies` feature (as pushcheck builds goose)
#        - wrk
#   2. target: `pushcheck mock` (auth, AppCode, 1000 seeded registrations), the same minus the
#      0% run;
#   3. peak RSS (/usr/bin/time -v) of `pushcheck load` with read-heavy at RSS_USERS users for
#      RSS_SECS against a separate `pushcheck mock`, so the figure is the load generator alone.
#
# Fair comparison: every generator sends the same request (one registration, the same path) with
# the same Authorization and AppCode headers to the same target; each goose program's req/s is
# counted the same way (requests after goose's metrics reset / measured duration). The bare goose
# programs are `examples/bare_goose.rs` built as tiny cargo projects of their own under
# target/bench-bare-goose/ (goose's own example style; the pushcheck tree pins goose without
# cookies, and features unify within a tree), with pushcheck's Cargo.lock so every shared
# dependency is the same version. Besides req/s, each goose program's CPU time per request is
# shown: less noisy than req/s on a shared machine, and what validation really costs.
#
# Every run must have succeeded before its figure counts: a pushcheck run with a failed request,
# a bare goose run with a non-2xx status or a failure, a wrk run with non-2xx answers or socket
# errors stops the benchmark (exit 3) instead of printing fast 4xx "throughput".
#
# Knobs: ROUNDS (5), SIM_ROUNDS (3), SECS (5), USERS (32), RSS_USERS (1000), RSS_SECS (60).
# Takes about 5 minutes once built (the first run builds the two bare goose programs).
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=bench/lib.sh
source bench/lib.sh

ROUNDS=${ROUNDS:-5}
SIM_ROUNDS=${SIM_ROUNDS:-3}
SECS=${SECS:-5}
USERS=${USERS:-32}
RSS_USERS=${RSS_USERS:-1000}
RSS_SECS=${RSS_SECS:-60}
REG=8621824C-86B2-41F7-BF6F-20D3B1426005
AUTH="App pushcheck-local-key"
API=/people/2/contactInformation/push

need wrk wrk
need /usr/bin/time time
need python3 python3
need curl curl

cargo build --release --quiet --bin pushcheck --example minimal_axum
BIN=target/release/pushcheck
MIN=target/release/examples/minimal_axum

# The bare goose baselines: one cargo project per feature set, cached in target/.
BARE_DIR=target/bench-bare-goose
bare_project() { # bare_project NAME GOOSE_DEPENDENCY
  mkdir -p "$BARE_DIR/$1/src"
  cp examples/bare_goose.rs "$BARE_DIR/$1/src/main.rs"
  [ -f "$BARE_DIR/$1/Cargo.lock" ] || cp Cargo.lock "$BARE_DIR/$1/Cargo.lock"
  cat >"$BARE_DIR/$1/Cargo.toml" <<TOML
# Written by bench/load.sh: examples/bare_goose.rs as a program of its own.
[package]
name = "bare-goose-$1"
version = "0.0.0"
edition = "2024"
publish = false

[dependencies]
goose = $2
tokio = { version = "1", features = ["macros", "rt-multi-thread"] }

[profile.release]
debug = "line-tables-only"

[workspace]
TOML
  CARGO_TARGET_DIR="$BARE_DIR/target" cargo build --release --quiet \
    --manifest-path "$BARE_DIR/$1/Cargo.toml"
}
bare_project default '"0.19"'
bare_project no-cookies '{ version = "0.19", default-features = false }'
BARE_DEFAULT=$BARE_DIR/target/release/bare-goose-default
BARE_NOCOOKIES=$BARE_DIR/target/release/bare-goose-no-cookies
grep -q '"cookie_store"' "$BARE_DIR/default/Cargo.lock" \
  || { echo "bare goose (default features) was built without cookies" >&2; exit 3; }
! grep -q '"cookie_store"' "$BARE_DIR/no-cookies/Cargo.lock" \
  || { echo "bare goose (no cookies) was built with cookies" >&2; exit 3; }


stop_server() { kill "${pids[0]}"; wait "${pids[0]}" 2>/dev/null || true; pids=(); }

ratio() { python3 -c "import sys; print(f'{float(sys.argv[1]) / float(sys.argv[2]):.2f}')" "$1" "$2"; }
cost() { python3 -c "import sys; print(f'{(1 - float(sys.argv[1]) / float(sys.argv[2])) * 100:.1f}%')" "$1" "$2"; }

# Every run appends "KEY RPS CPU_US_PER_REQUEST" to $work/results.
record() { echo "$1 $2 $3" >>"$work/results"; }
cpu_per_request() { # cpu_per_request TIME_FILE REQUESTS
  python3 -c 'import sys; u, s = map(float, open(sys.argv[1]).read().split()[-2:]); print("%.1f" % ((u + s) * 1e6 / max(int(sys.argv[2]), 1)))' "$1" "$2"
}

scenario() { # scenario FILE SAMPLE_RATE: GET only; no sample_rate = pushcheck's default
  {
    printf 'name = "bench-get"\nusers = %s\nincrease_rate = 1000\nrun_time = "%ss"\n' "$USERS" "$SECS"
    printf '[mix]\nget = 1\n'
    [ "$2" = default ] || printf '[validation]\nsample_rate = %s\n' "$2"
  } >"$1"
}

pushcheck_run() { # pushcheck_run KEY SAMPLE_RATE TARGET FEED
  scenario "$work/s.toml" "$2"
  /usr/bin/time -f '%U %S' -o "$work/time" "$BIN" load --scenario "$work/s.toml" --target "$3" \
    --feed "$4" --api-key pushcheck-local-key --json >"$work/p.json" 2>"$work/p.err" || true
  python3 -c '
import json, sys
t = json.load(open(sys.argv[1]))["total"]
bad = t["failures"] or t["errors_by_status"] or t["transport_errors"] or t["schema_violations"]
if bad or not t["requests"]:
    sys.exit("pushcheck run %s did not succeed: %d of %d requests failed, statuses %s, no answer %s"
             % (sys.argv[2], t["failures"], t["requests"], t["errors_by_status"], t["transport_errors"]))
' "$work/p.json" "$1" || { cat "$work/p.err" >&2; exit 3; }
  read -r rps n < <(python3 -c 'import json,sys; t = json.load(open(sys.argv[1]))["total"]; print("%.0f %d" % (t["rps"], t["requests"]))' "$work/p.json")
  record "$1" "$rps" "$(cpu_per_request "$work/time" "$n")"
  # The default sample rate, as pushcheck reports it.
  python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["scenario"]["validation_sample_rate"])' \
    "$work/p.json" >"$work/rate.$2"
}
bare_run() { # bare_run KEY BINARY TARGET APP_CODE
  rm -f "$work/bare.json"
  BARE_PATH=$API/$REG BARE_AUTH=$AUTH BARE_APP_CODE=$4 /usr/bin/time -f '%U %S' -o "$work/time" \
    "$2" --host "$3" -u "$USERS" -r 1000 -t "$SECS" --no-print-metrics -q --no-telnet \
    --report-file "$work/bare.json" >/dev/null 2>&1
  read -r rps n < <(python3 -c '
import json, sys
m = json.load(open(sys.argv[1]))["raw_metrics"]
n = sum(r["success_count"] + r["fail_count"] for r in m["requests"].values())
failed = sum(r["fail_count"] for r in m["requests"].values())
if failed or not n:
    sys.exit("bare goose run %s did not succeed: %d of %d requests failed" % (sys.argv[2], failed, n))
print("%.0f %d" % (n / max(m["duration"], 1), n))' "$work/bare.json" "$1")
  [ -n "${n:-}" ] || exit 3
  record "$1" "$rps" "$(cpu_per_request "$work/time" "$n")"
}
wrk_run() { # wrk_run KEY TARGET APP_CODE
  wrk -t2 -c"$USERS" -d"${SECS}s" -H "Authorization: $AUTH" -H "AppCode: $3" \
    "$2$API/$REG" >"$work/wrk.out"
  if grep -q -e 'Non-2xx or 3xx responses' -e 'Socket errors' "$work/wrk.out"; then
    echo "wrk run $1 did not succeed:" >&2; cat "$work/wrk.out" >&2; exit 3
  fi
  record "$1" "$(awk '/Requests\/sec/ {printf "%.0f", $2}' "$work/wrk.out")" -
}

# rounds ROUNDS TARGET APP_CODE KEY...: every key once per round, the order rotating.
rounds() {
  local n=$1 target=$2 app=$3; shift 3
  local keys=("$@") k r i
  printf '%s,%s\n' "$REG" "$app" >"$work/feed.txt"
  for r in $(seq "$n"); do
    for i in $(seq 0 $((${#keys[@]} - 1))); do
      k=${keys[$(((i + r - 1) % ${#keys[@]}))]}
      case $k in
        *pc100) pushcheck_run "$k" 1.0 "$target" "$work/feed.txt" ;;
        *pcdef) pushcheck_run "$k" default "$target" "$work/feed.txt" ;;
        *pc0) pushcheck_run "$k" 0 "$target" "$work/feed.txt" ;;
        *bare) bare_run "$k" "$BARE_DEFAULT" "$target" "$app" ;;
        *barenc) bare_run "$k" "$BARE_NOCOOKIES" "$target" "$app" ;;
        *wrk) wrk_run "$k" "$target" "$app" ;;
      esac
    done
    printf '  round %s:' "$r"
    for k in "${keys[@]}"; do printf ' %s %s' "${k#*.}" "$(awk -v k="$k" '$1 == k {v = $2} END {print v}' "$work/results")"; done
    echo " req/s"
  done
}
med() { median $(awk -v k="$1" '$1 == k {print $2}' "$work/results"); }
med_cpu() { # empty for wrk, whose CPU is not measured
  local v; v=$(awk -v k="$1" '$1 == k && $3 != "-" {print $3}' "$work/results")
  [ -z "$v" ] || median $v
}
line() { # line LABEL KEY
  local cpu; cpu=$(med_cpu "$2")
  printf '  %-40s %7s req/s%s\n' "$1" "$(med "$2")" "${cpu:+   $cpu us CPU/request}"
}

echo "machine: $(nproc) CPU(s) shared by target and load generator; ${SECS}s per run, $USERS users/connections, GET only"

# 1. minimal axum target
"$MIN" 127.0.0.1:0 >"$work/min.out" 2>&1 & pids+=($!)
wait_line "$work/min.out"
MIN_URL=$(head -n1 "$work/min.out" | awk '{print $3}')
echo "minimal axum target, $ROUNDS rounds:"
rounds "$ROUNDS" "$MIN_URL" app a.pc100 a.pcdef a.pc0 a.bare a.barenc a.wrk
stop_server
default_rate=$(cat "$work/rate.default")
echo "minimal axum target, medians (pushcheck's default sample rate: $default_rate):"
line "pushcheck load, 100% validation" a.pc100
line "pushcheck load, default ($default_rate) validation" a.pcdef
line "pushcheck load, validation off" a.pc0
line "bare goose, default features (cookies)" a.bare
line "bare goose, no cookies feature" a.barenc
line "wrk" a.wrk
echo "  ratio pushcheck (100%) / bare goose default features  $(ratio "$(med a.pc100)" "$(med a.bare)")   (target >= 1.0)"
echo "  ratio pushcheck (100%) / bare goose no cookies        $(ratio "$(med a.pc100)" "$(med a.barenc)")"
echo "  ratio pushcheck (default) / bare goose default        $(ratio "$(med a.pcdef)" "$(med a.bare)")"
echo "  ratio pushcheck (default) / bare goose no cookies     $(ratio "$(med a.pcdef)" "$(med a.barenc)")"
echo "  ratio pushcheck (100%) / wrk                          $(ratio "$(med a.pc100)" "$(med a.wrk)")"
echo "  validation cost, 100% vs off                          $(cost "$(med a.pc100)" "$(med a.pc0)") of req/s (target <= 5% for the default)"
echo "  validation cost, default ($default_rate) vs off                $(cost "$(med a.pcdef)" "$(med a.pc0)") of req/s"

# 2. simulator target
"$BIN" mock --addr 127.0.0.1:0 --json --seed-registrations 1000 >"$work/mock.out" 2>&1 & pids+=($!)
wait_line "$work/mock.out"
MOCK_URL=$(python3 -c 'import json,sys; print(json.loads(open(sys.argv[1]).readline())["base_url"])' "$work/mock.out")
read -r REG SIM_APP < <(curl -s -H "Authorization: $AUTH" "$MOCK_URL/__pushcheck/registrations?limit=1" \
  | python3 -c 'import json,sys; r = json.load(sys.stdin)["registrations"][0]; print(r["registrationId"], r["appCode"])')
echo "simulator target (pushcheck mock), $SIM_ROUNDS rounds:"
rounds "$SIM_ROUNDS" "$MOCK_URL" "$SIM_APP" s.pc100 s.pcdef s.bare s.barenc s.wrk
echo "simulator target, medians:"
line "pushcheck load, 100% validation" s.pc100
line "pushcheck load, default ($default_rate) validation" s.pcdef
line "bare goose, default features (cookies)" s.bare
line "bare goose, no cookies feature" s.barenc
line "wrk" s.wrk
echo "  ratio pushcheck (100%) / bare goose default features  $(ratio "$(med s.pc100)" "$(med s.bare)")   (target >= 1.0)"
echo "  ratio pushcheck (100%) / bare goose no cookies        $(ratio "$(med s.pc100)" "$(med s.barenc)")"
echo "  ratio pushcheck (default) / bare goose default        $(ratio "$(med s.pcdef)" "$(med s.bare)")"

# 3. peak RSS of a read-heavy run with many users (the simulator above, in its own process;
# its whole listing is the feed, writes included). Thresholds are replaced so that a slow run
# on a small machine still reports its figures.
/usr/bin/time -v "$BIN" load --scenario scenarios/read-heavy.toml --target "$MOCK_URL" \
  --users "$RSS_USERS" --increase-rate 500 --run-time "${RSS_SECS}s" --threshold 'error-rate<100%' \
  --json >"$work/rss.json" 2>"$work/rss.err" || true
stop_server
rss_kb=$(awk '/Maximum resident set size/ {print $6}' "$work/rss.err")
[ "$RSS_SECS" = 60 ] && length="60 s" || length="${RSS_SECS}s (shortened from the issue's 60 s)"
python3 -c '
import json, sys
t = json.load(open(sys.argv[1]))["total"]
print("read-heavy, %s users, %s: peak RSS %d MB (target <= 200 MB), %.0f req/s, %d validated, %d violations"
      % (sys.argv[2], sys.argv[3], int(sys.argv[4]) // 1024, t["rps"], t["validated"], t["schema_violations"]))' \
  "$work/rss.json" "$RSS_USERS" "$length" "$rss_kb"
