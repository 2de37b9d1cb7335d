#!/usr/bin/env bash
# The watch scenarios of issue #13, side by side on this machine: metastore and etcd 3.6.16, one
# member each, fresh, in ROUNDS alternating rounds (3 by default), driven by etcd's own
# benchmark tool:
#
#   - one key, 10k watchers (benchmark watch-latency: 100 streams of 100 watchers on one key,
#     one writer at 100 puts/s for 3 s): the events delivered per second and their delivery
#     latency (from the put to the event), p50 and p99;
#   - 100k watchers on distinct keys (benchmark watch: 1000 streams of 100 watchers over 100k
#     keys, then 20k puts to those keys): how fast the watchers are created, and the events
#     received per second while the puts run.
#
# Writes its section of docs/benchmarks.md.   scripts/bench-watch.sh   (make bench-watch)
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${ROUNDS:-3}
source scripts/bench-member.sh

# report <n>: "req/s p50ms p99ms" of the n-th summary the benchmark printed.
report() {
  awk -v want="$1" '/^Summary:/ { n++ } n == want && /Requests\/sec/ { r = $2 } n == want && /50% in/ { p50 = $3 * 1000 }
    n == want && /99% in/ && !p99 { p99 = $3 * 1000 } END { printf "%.0f %.1f %.1f", r, p50, p99 }'
}

# round <label> <binary>: prints "events/s p50 p99 creations/s distinct-events/s".
round() {
  local out one many
  cp=$(free_port) pp=$(free_port) ep="127.0.0.1:$cp"
  rm -rf "${data:?}/$1"
  start "$1" "$2" >/dev/null
  out=$("$REF_BIN/benchmark" --endpoints "$ep" --conns 10 --clients 10 watch-latency \
    --streams 100 --watchers-per-stream 100 --put-total 300 --put-rate 100 2>/dev/null | tr -d '\r')
  one=$(report 2 <<<"$out")
  out=$("$REF_BIN/benchmark" --endpoints "$ep" --conns 11 --clients 10 watch --streams 1000 --watch-per-stream 100 \
    --watched-key-total 100000 --put-total 20000 --key-space-size 100000 --sequential-keys 2>/dev/null | tr -d '\r')
  many="$(report 1 <<<"$out" | cut -d' ' -f1) $(report 2 <<<"$out" | cut -d' ' -f1)"
  stop
  echo "$one $many"
}


for label in etcd metastore; do
  for f in events p50 p99 created distinct; do : >"$work/$label.$f"; done
done
for ((i = 0; i < ROUNDS; i++)); do
  for label in etcd metastore; do
    read -r events p50 p99 created distinct <<<"$(round "$label" "$(binary "$label")")"
    echo "bench-watch: round $((i + 1)) $label: one key ${events} events/s (p50 ${p50}ms p99 ${p99}ms); 100k keys: ${created} watchers/s created, ${distinct} events/s" >&2
    for f in events p50 p99 created distinct; do echo "${!f}" >>"$work/$label.$f"; done
  done
done
row() { echo "| $1 | $(spread "$2" <"$work/etcd.$3") | $(spread "$2" <"$work/metastore.$3") |"; }
cpu=$(cpu_model)
{
  echo "## Watch"
  echo
  echo "MetaStore against etcd $("$REF_BIN/etcd" --version | awk '/etcd Version/ {print $3}'), one fresh member each, on the same machine, driven by"
  echo "etcd's benchmark tool (which runs on the same 2 cores: with 10k watchers it is a bottleneck"
  echo "too). One key: 100 streams × 100 watchers on one key, one writer at 100 puts/s for 3 s"
  echo "(\`benchmark watch-latency\`). Distinct keys: 1000 streams × 100 watchers over 100k keys, then"
  echo "20k puts to them (\`benchmark watch\`). Median (min–max) of $ROUNDS alternating rounds."
  echo
  echo "- date: $(date -u +%Y-%m-%d), commit $(git rev-parse --short HEAD)"
  echo "- machine: $(nproc) cores ($cpu)"
  echo "- command: \`make bench-watch\` (scripts/bench-watch.sh)"
  echo
  echo "| | etcd | metastore |"
  echo "|---|---|---|"
  row "one key, 10k watchers: events delivered/s" %.0f events
  row "one key: delivery latency p50 (ms)" %.1f p50
  row "one key: delivery latency p99 (ms)" %.1f p99
  row "100k keys: watchers created/s" %.0f created
  row "100k keys: events received/s while putting" %.0f distinct
} | tee /dev/stderr | scripts/doc-section.sh docs/benchmarks.md watch
