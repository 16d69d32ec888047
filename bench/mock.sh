#!/usr/bin/env bash
# Simulator benchmark, side by side in one run on this machine (loopback only):
#   - GET req/s of `pushcheck mock` (real auth + AppCode, 1,000 seeded registrations in turn)
#     vs the `minimal_axum` example serving the doc's GET payload, both driven by the same wrk
#     Lua script; rounds alternate; medians and the ratio mock/minimal (target >= 0.8);
#   - PATCH and personalize req/s of the simulator;
#   - time and peak RSS (/usr/bin/time -v) to seed 1,000,000 registrations (targets <= 5 s,
#     <= 1 GiB).
# Knobs: ROUNDS (3), SECS (5), THREADS (2), CONNS (32), SEEDED (10000).
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=bench/lib.sh
source bench/lib.sh

ROUNDS=${ROUNDS:-3}
SECS=${SECS:-5}
THREADS=${THREADS:-2}
CONNS=${CONNS:-32}
SEEDED=${SEEDED:-10000}

need wrk wrk
need /usr/bin/time time
need python3 python3

cargo build --release --quiet --bin pushcheck --example minimal_axum
BIN=target/release/pushcheck
MIN=target/release/examples/minimal_axum



"$BIN" mock --json --addr 127.0.0.1:0 --seed-registrations "$SEEDED" >"$work/mock.json" 2>"$work/mock.err" &
pids+=($!)
"$MIN" 127.0.0.1:0 >"$work/min.txt" 2>&1 &
pids+=($!)
wait_line "$work/mock.json"
wait_line "$work/min.txt"

read -r MOCK_URL AUTH APP_CODE ADMIN < <(python3 -c '
import json, sys
f = json.load(open(sys.argv[1]))
print(f["base_url"], f["credentials"]["authorization"].replace(" ", "\x01"), f["app_codes"][0], f["admin_url"])
' "$work/mock.json")
AUTH=${AUTH//$'\x01'/ }
MIN_URL=$(sed -n 's/^listening on //p' "$work/min.txt")

# A Lua script per operation, with 1,000 seeded registration IDs from the admin feed.
python3 - "$ADMIN" "$AUTH" "$APP_CODE" "$work" <<'PY'
import json, sys, urllib.request
admin, auth, app_code, work = sys.argv[1:5]
ids = [r["registrationId"] for r in json.load(urllib.request.urlopen(urllib.request.Request(admin + "?limit=1000", headers={"Authorization": auth})))["registrations"]]
base = "/people/2/contactInformation/push/"
head = ("ids = {%s}\n" % ",".join(json.dumps(i) for i in ids) +
        'wrk.headers["Authorization"] = %s\nwrk.headers["AppCode"] = %s\n' % (json.dumps(auth), json.dumps(app_code)) +
        'wrk.headers["Content-Type"] = "application/json"\nlocal n = 0\n')
scripts = {
  "get": 'request = function() n = n + 1; return wrk.format("GET", "%s" .. ids[(n %% #ids) + 1]) end' % base,
  "patch": 'request = function() n = n + 1; return wrk.format("PATCH", "%s" .. ids[(n %% #ids) + 1], nil, \'{"additionalData":{"visits":\' .. n .. \',"tier":"gold"}}\') end' % base,
  "personalize": 'request = function() n = n + 1; return wrk.format("POST", "%s" .. ids[(n %% #ids) + 1] .. "/personalize?forceDepersonalize=true", nil, \'{"identity":{"phoneNumber":"3859\' .. (n %% 5000) .. \'"},"attributes":{"tags":["bench"]}}\') end' % base,
}
for name, body in scripts.items():
    open(f"{work}/{name}.lua", "w").write(head + body + "\n")
PY

# run_wrk URL [SCRIPT] -> prints req/s; keeps the full output in $work/last.txt
run_wrk() {
  local args=(-t"$THREADS" -c"$CONNS" -d"${SECS}s" --latency)
  [ -n "${2:-}" ] && args+=(-s "$2")
  timeout $((SECS + 30)) wrk "${args[@]}" "$1" >"$work/last.txt" 2>&1
  # A figure counts only when every answer was a success: fast 4xx is not throughput.
  if grep -q -e "Non-2xx" -e "Socket errors" "$work/last.txt"; then
    echo "wrk run against $1 did not succeed:" >&2
    cat "$work/last.txt" >&2
    exit 3
  fi
  awk '/^Requests\/sec:/ {print $2}' "$work/last.txt"
}


echo "GET throughput, $ROUNDS alternating rounds of ${SECS}s, wrk -t$THREADS -c$CONNS, $(nproc) CPUs"
min_rounds=(); mock_rounds=()
for r in $(seq "$ROUNDS"); do
  # The same script on both sides (same headers, same paths), so wrk's own cost is equal.
  m=$(run_wrk "$MIN_URL" "$work/get.lua")
  s=$(run_wrk "$MOCK_URL" "$work/get.lua")
  echo "  round $r: minimal_axum $m req/s, pushcheck mock $s req/s"
  min_rounds+=("$m"); mock_rounds+=("$s")
done
min_med=$(median "${min_rounds[@]}")
mock_med=$(median "${mock_rounds[@]}")
ratio=$(python3 -c "print(f'{$mock_med / $min_med:.2f}')")
echo "GET median: minimal_axum $min_med req/s, pushcheck mock $mock_med req/s"
echo "ratio mock/minimal: $ratio (target >= 0.8)"

patch=$(run_wrk "$MOCK_URL" "$work/patch.lua")
echo "PATCH: $patch req/s ($(awk '/99%/ {print "p99 " $2}' "$work/last.txt"))"
pers=$(run_wrk "$MOCK_URL" "$work/personalize.lua")
echo "personalize: $pers req/s ($(awk '/99%/ {print "p99 " $2}' "$work/last.txt"))"
violations=$(python3 -c 'import json, sys, urllib.request; print(len(json.load(urllib.request.urlopen(urllib.request.Request(sys.argv[1], headers={"Authorization": sys.argv[2]})))["violations"]))' "${MOCK_URL}/__pushcheck/invariants" "$AUTH")
echo "invariant violations after the write runs: $violations"

echo "seeding 1,000,000 registrations:"
/usr/bin/time -v "$BIN" mock --seed-registrations 1000000 --exit-after-seed >"$work/seed.out" 2>"$work/seed.time"
echo "  $(cat "$work/seed.out") (target <= 5 s)"
rss_kb=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$work/seed.time")
wall=$(awk -F': ' '/Elapsed \(wall clock\)/ {print $2}' "$work/seed.time")
echo "  process wall time $wall, peak RSS $((rss_kb / 1024)) MiB (target <= 1024 MiB)"
