#!/usr/bin/env bash
# bench-summary.sh <sut name>: the side-by-side benchmarks' table (scripts/bench.sh,
# scripts/bench-cluster.sh). Reads one line per scenario and round, "scenario etcd_req/s
# etcd_p99_ms sut_req/s sut_p99_ms", and prints a Markdown table of the median (min–max) of
# each column over the rounds, and of the ratio sut/etcd taken round by round (issue #13: a
# round below 1.0 is a bug to look for, not noise to average away).
set -euo pipefail
awk -v sut="$1" '
  function stat(list, fmt,   n, v, i, j, t) {
    n = split(list, v, " ")
    for (i = 2; i <= n; i++) for (j = i; j > 1 && v[j - 1] + 0 > v[j] + 0; j--) { t = v[j]; v[j] = v[j - 1]; v[j - 1] = t }
    return sprintf(fmt " (" fmt "–" fmt ")", (n % 2) ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2, v[1], v[n])
  }
  !($1 in seen) { seen[$1] = 1; order[++k] = $1 }
  { er[$1] = er[$1] " " $2; ep[$1] = ep[$1] " " $3; sr[$1] = sr[$1] " " $4; sp[$1] = sp[$1] " " $5
    ra[$1] = ra[$1] " " ($2 > 0 ? $4 / $2 : 0) }
  END {
    print "| scenario | etcd req/s | etcd p99 ms | " sut " req/s | " sut " p99 ms | ratio |"
    print "|---|---|---|---|---|---|"
    for (i = 1; i <= k; i++) { s = order[i]
      print "| " s " | " stat(er[s], "%.0f") " | " stat(ep[s], "%.1f") " | " stat(sr[s], "%.0f") " | " stat(sp[s], "%.1f") " | " stat(ra[s], "%.2f") " |" }
  }'
