#!/usr/bin/env bash
# Where the time goes (issue #13): the CPU each server and etcd's benchmark tool spend per
# request, metastore beside etcd 3.6.16, one fresh member per round, ROUNDS (3) alternating
# rounds. On a machine the tool and the server share, requests/s is what is left of the cores
# after the tool's share; CPU per request is the server's own cost, and it moves much less
# from run to run than requests/s does. Needs GNU time (/usr/bin/time, Debian's "time").
#
# Writes its section of docs/benchmarks.md.   scripts/bench-cpu.sh   (make bench-cpu)
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${ROUNDS:-3}
source scripts/bench-member.sh

declare -A ARGS=(
  [put-100-clients]="put --key-size 8 --val-size 256 --total 100000 --key-space-size 100000"
  [range-linearizable]="range /ready --consistency l --total 100000"
  [lease-keepalive]="lease-keepalive --total 50000"
)
ORDER="put-100-clients range-linearizable lease-keepalive"
tck=$(getconf CLK_TCK)
cpu_of() { awk -v t="$tck" '{ print ($14 + $15) / t }' "/proc/$1/stat"; }

# measure <label> <scenario>: "server_us client_us req/s" per request, on a fresh member.
measure() {
  local label=$1 s=$2 n out c0 c1 pid
  rm -rf "${data:?}/$label"
  cp=$(free_port) pp=$(free_port) ep=127.0.0.1:$cp
  start "$label" "$(binary "$label")" >/dev/null
  pid=$(<"$work/pid")
  c0=$(cpu_of "$pid")
  # shellcheck disable=SC2086
  /usr/bin/time -o "$work/time" -f "%U %S" "$REF_BIN/benchmark" --endpoints "$ep" --conns 10 --clients 100 ${ARGS[$s]} >"$work/out" 2>/dev/null
  out=$(tail -1 "$work/time")
  c1=$(cpu_of "$pid")
  stop
  n=$(grep -o -- '--total [0-9]*' <<<"${ARGS[$s]}" | cut -d' ' -f2)
  awk -v c0="$c0" -v c1="$c1" -v n="$n" -v out="$out" -v rps="$(tr -d '\r' <"$work/out" | awk '/Requests\/sec/ { print $2 }')" \
    'BEGIN { split(out, f, " "); printf "%.1f %.1f %.0f\n", (c1 - c0) / n * 1e6, (f[1] + f[2]) / n * 1e6, rps }'
}

rows=""
for s in $ORDER; do
  : >"$work/etcd.$s"; : >"$work/ms.$s"
  for _ in $(seq "$ROUNDS"); do
    measure etcd "$s" >>"$work/etcd.$s"
    measure metastore "$s" >>"$work/ms.$s"
  done
  ratio=$(paste -d' ' "$work/ms.$s" "$work/etcd.$s" | awk '{ print $1 / $4 }' | spread %.2f)
  rows+="| $s | $(cut -d' ' -f1 "$work/etcd.$s" | spread) | $(cut -d' ' -f1 "$work/ms.$s" | spread) | $ratio | $(cat "$work/etcd.$s" "$work/ms.$s" | cut -d' ' -f2 | spread) | $(cut -d' ' -f3 "$work/etcd.$s" | spread %.0f) | $(cut -d' ' -f3 "$work/ms.$s" | spread %.0f) |"$'\n'
done

cpu=$(cpu_model)
{
  echo "## CPU per request"
  echo
  echo "The CPU time (user + system) each server and etcd's benchmark tool spent per request, from"
  echo "/proc, on a fresh member per round, 100 clients over 10 connections; median (min–max) of"
  echo "$ROUNDS alternating rounds; the ratio (metastore / etcd) is taken per round."
  echo
  echo "- date: $(date -u +%Y-%m-%d), commit $(git rev-parse --short HEAD)"
  echo "- machine: $(nproc) cores ($cpu)"
  echo "- command: \`make bench-cpu\` (scripts/bench-cpu.sh)"
  echo
  echo "| scenario | etcd µs/req | metastore µs/req | ratio | the tool µs/req | etcd req/s | metastore req/s |"
  echo "|---|---|---|---|---|---|---|"
  printf '%s' "$rows"
} | tee /dev/stderr | scripts/doc-section.sh docs/benchmarks.md cpu
