# Shared by the benchmark scripts: `source bench/lib.sh` after `cd` to the project root.
# Installs missing tools, keeps a work directory and the servers a script starts (stopped on
# exit), waits for a server's first line, and computes medians.

apt_updated=""
need() { # need COMMAND PACKAGE: install PACKAGE from Debian's packages if COMMAND is missing
  command -v "$1" >/dev/null 2>&1 && return 0
  echo "installing $2" >&2
  if [ -z "$apt_updated" ]; then apt-get update -qq >&2; apt_updated=1; fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$2" >&2
}

# $work: a temporary directory; $pids: servers started in the background. Both are cleaned up
# when the script exits, however it exits.
work=$(mktemp -d)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

wait_line() { # wait_line FILE: waits up to 60 s for a server's first line in FILE
  for _ in $(seq 600); do
    [ -s "$1" ] && head -n1 "$1" | grep -q . && return 0
    sleep 0.1
  done
  echo "no startup line in $1" >&2
  exit 3
}

median() { # median N...: the median of the numbers given
  printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'
}
