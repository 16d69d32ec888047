#!/usr/bin/env bash
# Wall time of the whole contract suite against the embedded simulator, simulator start
# included: `pushcheck contract` run ROUNDS times (default 9); prints every run and the median.
# Target: under 2 s on a 2-core machine.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=bench/lib.sh
source bench/lib.sh
rounds=${ROUNDS:-9}

cargo build --release --quiet
bin=target/release/pushcheck
"$bin" contract >/dev/null   # warm the page cache once

times=()
for _ in $(seq "$rounds"); do
  start=$(date +%s%N)
  "$bin" contract >/dev/null
  end=$(date +%s%N)
  times+=( $(( (end - start) / 1000000 )) )
done
cases=$("$bin" contract --list | wc -l)
printf 'runs (ms): %s\n' "${times[*]}"
median=$(median "${times[@]}")
echo "pushcheck contract: ${cases} cases, simulator start included: median ${median} ms of ${rounds} runs (target < 2000 ms)"
