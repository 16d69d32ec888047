#!/usr/bin/env bash
# Live metrics against a real Prometheus (issue 24): Debian's `prometheus` scrapes a
# `pushcheck load --metrics-addr` run every second, then its HTTP API is asked for the highest
# requests counter it saw; printed beside summary.json's requests with the difference (0, or a
# little lower: the last second may fall after the last scrape).
#
# Loopback only. Installs the `prometheus` package when it is missing (apt-get, as root or with
# sudo). Stops only the processes it started, by PID. Knobs: RUN_TIME (20s), SCENARIO
# (read-heavy), PUSHCHECK (target/release/pushcheck, built when missing).
set -euo pipefail

RUN_TIME=${RUN_TIME:-20s}
SCENARIO=${SCENARIO:-read-heavy}
cd "$(dirname "$0")/.."

if ! command -v prometheus >/dev/null; then
    sudo=""
    [ "$(id -u)" = 0 ] || sudo=sudo
    $sudo apt-get install -y prometheus >&2
fi
PUSHCHECK=${PUSHCHECK:-target/release/pushcheck}
[ -x "$PUSHCHECK" ] || cargo build --release >&2

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

work=$(mktemp -d)
prom_pid=""
cleanup() {
    if [ -n "$prom_pid" ]; then kill "$prom_pid" 2>/dev/null || true; wait "$prom_pid" 2>/dev/null || true; fi
    rm -rf "$work"
}
trap cleanup EXIT

metrics_port=$(free_port)
prom_port=$(free_port)
cat >"$work/prometheus.yml" <<YML
global:
  scrape_interval: 1s
  scrape_timeout: 1s
scrape_configs:
  - job_name: pushcheck
    static_configs:
      - targets: ["127.0.0.1:$metrics_port"]
YML

prometheus --config.file="$work/prometheus.yml" --storage.tsdb.path="$work/data" \
    --web.listen-address="127.0.0.1:$prom_port" >"$work/prometheus.log" 2>&1 &
prom_pid=$!
api="http://127.0.0.1:$prom_port"
for _ in $(seq 1 100); do
    curl -fsS "$api/-/ready" >/dev/null 2>&1 && break
    kill -0 "$prom_pid" 2>/dev/null || { cat "$work/prometheus.log" >&2; exit 3; }
    sleep 0.2
done
curl -fsS "$api/-/ready" >/dev/null || { echo "prometheus did not become ready" >&2; exit 3; }

start=$(date +%s)
set +e
"$PUSHCHECK" load --scenario "$SCENARIO" --run-time "$RUN_TIME" --progress never \
    --metrics-addr "127.0.0.1:$metrics_port" --report-dir "$work/reports" >"$work/load.out" 2>"$work/load.err"
code=$?
set -e
end=$(date +%s)
echo "pushcheck load exit $code" >&2
grep '^metrics:' "$work/load.err" >&2 || true

range=$((end - start + 5))
query="max_over_time(sum(pushcheck_requests_total)[${range}s:1s])"
scraped=$(curl -fsS "$api/api/v1/query" --data-urlencode "query=$query" --data-urlencode "time=$end" |
    python3 -c 'import json,sys; r=json.load(sys.stdin)["data"]["result"]; print(int(float(r[0]["value"][1])) if r else 0)')
samples=$(curl -fsS "$api/api/v1/query" --data-urlencode "query=count_over_time(up{job=\"pushcheck\"}[${range}s])" --data-urlencode "time=$end" |
    python3 -c 'import json,sys; r=json.load(sys.stdin)["data"]["result"]; print(int(float(r[0]["value"][1])) if r else 0)')
summary=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["total"]["requests"])' "$work/reports/summary.json")

echo "prometheus scrapes:              $samples"
echo "prometheus max requests_total:   $scraped"
echo "summary.json requests:           $summary"
echo "difference (summary - scraped):  $((summary - scraped))"
