#!/usr/bin/env bash
# 3-member clusters side by side: a 3-member etcd 3.6.16 and a 3-member metastore on this
# machine, etcd's benchmark tool against all three endpoints of each, alternating A B A B,
# median (min–max) of ROUNDS rounds (scripts/bench-summary.sh). Prints the table and writes
# it to its section of docs/benchmarks.md.
#
#   scripts/bench-cluster.sh [ROUNDS]        (default 3)
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${1:-3}
SHARED=${SHARED:-../shared}
go build -o bin/metastore ./cmd/metastore
REF_BIN=$("$SHARED/bench/build-etcd-ref.sh")
work=$(mktemp -d /tmp/bench-cluster.XXXXXX)
# The clusters start inside $(...) subshells, so their PIDs go to a file, not a variable.
cleanup() {
  [ -f "$work/pids" ] && kill $(cat "$work/pids") 2>/dev/null || true
  wait 2>/dev/null || true; rm -rf "$work"
}
trap cleanup EXIT
free_port() { python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }

# cluster <label> <binary>: starts 3 members, prints their client endpoints (comma-separated).
cluster() {
  local label=$1 bin=$2 i cps=() pps=() initial=""
  for i in 1 2 3; do cps+=("$(free_port)"); pps+=("$(free_port)"); done
  for i in 0 1 2; do initial+="${initial:+,}$label$i=http://127.0.0.1:${pps[$i]}"; done
  for i in 0 1 2; do
    "$bin" --name "$label$i" --data-dir "$work/$label$i" \
      --listen-client-urls "http://127.0.0.1:${cps[$i]}" --advertise-client-urls "http://127.0.0.1:${cps[$i]}" \
      --listen-peer-urls "http://127.0.0.1:${pps[$i]}" --initial-advertise-peer-urls "http://127.0.0.1:${pps[$i]}" \
      --initial-cluster "$initial" --initial-cluster-token "bench-$label" >"$work/$label$i.log" 2>&1 &
    echo $! >>"$work/pids"
  done
  local eps="127.0.0.1:${cps[0]},127.0.0.1:${cps[1]},127.0.0.1:${cps[2]}"
  for _ in $(seq 150); do
    "$REF_BIN/etcdctl" --endpoints "$eps" --dial-timeout 1s put /bench/ready 1 >/dev/null 2>&1 && { echo "$eps"; return 0; }
    sleep 0.2
  done
  echo "bench-cluster: $label did not answer" >&2; tail -5 "$work/${label}0.log" >&2; return 1
}
REF=$(cluster etcd "$REF_BIN/etcd")
SUT=$(cluster ms bin/metastore)

declare -A ARGS=(
  [put-100-clients]="--conns 10 --clients 100 put --key-size 8 --val-size 256 --total 30000 --key-space-size 100000"
  [txn-put-100-clients]="--conns 10 --clients 100 txn-put --key-size 8 --val-size 256 --total 20000 --key-space-size 100000"
  [range-linearizable]="--conns 10 --clients 100 range /bench/ready --consistency l --total 40000"
  [range-serializable]="--conns 10 --clients 100 range /bench/ready --consistency s --total 40000"
  [lease-keepalive]="--conns 10 --clients 100 lease-keepalive --total 20000"
)
ORDER="put-100-clients txn-put-100-clients range-linearizable range-serializable lease-keepalive"
run() { # run <endpoints> <args>: prints "req/s p99_ms"
  local out; out=$("$REF_BIN/benchmark" --endpoints "$1" $2 2>/dev/null | tr -d '\r')
  local rps p99
  rps=$(sed -n 's/.*Requests\/sec:[[:space:]]*\([0-9.]*\).*/\1/p' <<<"$out" | tail -1)
  p99=$(sed -n 's/.*99% in \([0-9.]*\) secs.*/\1/p' <<<"$out" | head -1)
  echo "${rps:-0} $(awk -v p="${p99:-0}" 'BEGIN { print p * 1000 }')"
}
table=$(
  for s in $ORDER; do
    for _ in $(seq "$ROUNDS"); do
      echo "$s $(run "$REF" "${ARGS[$s]}") $(run "$SUT" "${ARGS[$s]}")"
    done
  done | scripts/bench-summary.sh metastore
)
{
  echo "## 3 members"
  echo
  echo "A 3-member MetaStore against a 3-member etcd $("$REF_BIN/etcd" --version | awk '/etcd Version/ {print $3}'), all six processes on this one machine,"
  echo "etcd's benchmark tool against all three endpoints of each cluster, $ROUNDS rounds alternating; median"
  echo "(min–max) over the rounds. Ratio = MetaStore / etcd requests per second, taken in each round."
  echo
  echo "- date: $(date -u +%Y-%m-%d), commit $(git rev-parse --short HEAD)"
  echo "- machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo)"
  echo "- command: \`make bench-cluster\` (scripts/bench-cluster.sh)"
  echo
  echo "$table"
} | tee /dev/stderr | scripts/doc-section.sh docs/benchmarks.md three-members
