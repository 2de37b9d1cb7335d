#!/usr/bin/env bash
# bench-summary.sh <sut name>: the side-by-side benchmarks' table (scripts/bench.sh,
# scripts/bench-cluster.sh). Reads one line per scenario and round, "scenario etcd_req/s
# etcd_p99_ms sut_req/s sut_p99_ms", and prints a Markdown table of the median (min–max) of
# each column over the rounds, and of the ratio sut/etcd taken round by round (issue #13: a
# round below 1.0 is a bug to look for, not noise to average away).
set -euo pipefail
source "$(dirname "$0")/stats.sh" # spread
rows=$(cat)
echo "| scenario | etcd req/s | etcd p99 ms | $1 req/s | $1 p99 ms | ratio |"
echo "|---|---|---|---|---|---|"
for s in $(awk '!seen[$1]++ { print $1 }' <<<"$rows"); do
  mine=$(awk -v s="$s" '$1 == s' <<<"$rows")
  col() { cut -d' ' -f"$1" <<<"$mine" | spread "$2"; }
  ratio=$(awk '{ print ($2 > 0 ? $4 / $2 : 0) }' <<<"$mine" | spread %.2f)
  echo "| $s | $(col 2 %.0f) | $(col 3 %.1f) | $(col 4 %.0f) | $(col 5 %.1f) | $ratio |"
done
