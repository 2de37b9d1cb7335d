#!/usr/bin/env bash
# An operator's worst days, measured side by side on this machine: metastore and etcd 3.6.16,
# one member each, in ROUNDS alternating rounds (3 by default; each on a fresh copy of the
# history, loaded once per server), driven by etcd's own benchmark tool (issue #12).
#
#   - history: REVISIONS puts over KEYS keys (so most revisions are old versions);
#   - restart: the member is stopped (SIGTERM) and started again on that history; the time is
#     from the start of the process to its first answered request (etcdctl get);
#   - compaction: p99 latency of PUTS puts (100 clients) on a quiet member, then of the same
#     puts while the member compacts the whole history at once (etcdctl compaction --physical,
#     started just before them), and how long that compaction took.
#
# Writes its section of docs/benchmarks.md.
#
#   scripts/bench-ops.sh          (REVISIONS=1000000 KEYS=100000 PUTS=100000 by default)
#
# With "restart" it measures restarts only, at the issue's scale, in ROUNDS alternating rounds
# (etcd, metastore, etcd, ...): REVISIONS=5000000 KEYS=1000000 ROUNDS=3 by default. Loading that
# history takes minutes per server; with DATA=dir the loaded data dirs are kept there and
# reused by the next run (delete the dir after changing the storage format; a history of
# another size is loaded again in its place).
#
#   scripts/bench-ops.sh restart  (make bench-restart)
set -euo pipefail
cd "$(dirname "$0")/.."
mode=${1:-ops}
if [[ $mode == restart ]]; then
  REVISIONS=${REVISIONS:-5000000} KEYS=${KEYS:-1000000} ROUNDS=${ROUNDS:-3}
fi
REVISIONS=${REVISIONS:-1000000} KEYS=${KEYS:-100000} PUTS=${PUTS:-100000}
source scripts/bench-member.sh

# p99 <benchmark args>: prints "p99ms req/s" of one benchmark run.
p99() {
  local out
  out=$("$REF_BIN/benchmark" --endpoints "$ep" --conns 10 --clients 100 "$@" 2>/dev/null | tr -d '\r')
  awk '/99% in/ && !p { p = $3 * 1000 } /Requests\/sec/ { r = $2 } END { printf "%.1f %.0f", p, r }' <<<"$out"
}

# round <label> <binary>: one round on a fresh copy of the loaded history; prints "restart_s
# quiet_p99 compacting_p99 compaction_s".
round() {
  local label=$1 bin=$2 quiet busy restart rev t0 cpid took
  ports "$label"
  rm -rf "${data:?}/$label.run"
  cp -a "$data/$label" "$data/$label.run"
  restart=$(dir=$data/$label.run start "$label" "$bin")
  quiet=$(p99 put --key-size 8 --val-size 256 --total "$PUTS" --key-space-size "$KEYS" | cut -d' ' -f1)
  rev=$(ctl put /ready 1 -w json | sed -n 's/.*"revision":\([0-9]*\).*/\1/p')
  t0=$(now)
  ( ctl compaction --physical "$rev" >/dev/null; awk -v a="$t0" -v b="$(now)" 'BEGIN { printf "%.2f", b - a }' >"$work/took" ) &
  cpid=$!
  busy=$(p99 put --key-size 8 --val-size 256 --total "$PUTS" --key-space-size "$KEYS" | cut -d' ' -f1)
  wait "$cpid"
  took=$(<"$work/took")
  stop
  rm -rf "${data:?}/$label.run"
  echo "$restart $quiet $busy $took"
}

# ports <label>: sets the member's ports, the ones its data dir was made with if it was
# loaded before (a member's ID comes from its peer URL).
ports() {
  if [[ -f $data/$1.ports ]]; then
    read -r cp pp <"$data/$1.ports"
  else
    cp=$(free_port) pp=$(free_port)
  fi
  ep="127.0.0.1:$cp"
}

# load <label> <binary>: the history, unless $data already holds it (DATA=dir); its file
# $label.loaded says "revisions keys puts/s-while-loading".
load() {
  local label=$1 bin=$2 rate
  [[ -f $data/$label.loaded && $(cut -d' ' -f1-2 "$data/$label.loaded") == "$REVISIONS $KEYS" ]] && return
  rm -rf "${data:?}/$label" "$data/$label.ports"
  ports "$label"
  start "$label" "$bin" >/dev/null
  rate=$(p99 put --key-size 8 --val-size 256 --total "$REVISIONS" --key-space-size "$KEYS" --sequential-keys | cut -d' ' -f2)
  stop
  echo "$cp $pp" >"$data/$label.ports"
  echo "$REVISIONS $KEYS $rate" >"$data/$label.loaded"
}

if [[ $mode == restart ]]; then
  load etcd "$REF_BIN/etcd"
  load metastore bin/metastore
  for f in etcd.times metastore.times etcd.ktimes metastore.ktimes; do : >"$work/$f"; done
  for ((i = 0; i < ROUNDS; i++)); do
    for label in etcd metastore; do
      ports "$label"
      start "$label" "$(binary "$label")" >>"$work/$label.times"
      echo >>"$work/$label.times"
      # Killed after writes that reached its database: MetaStore's saved copy of its key
      # index is gone (any write drops it, and 11000 puts make the member flush its database
      # at least once), so the start rebuilds the index from every revision.
      p99 put --key-size 8 --val-size 256 --total 11000 --key-space-size "$KEYS" --sequential-keys >/dev/null
      kill -9 "$(<"$work/pid")"
      while kill -0 "$(<"$work/pid")" 2>/dev/null; do sleep 0.05; done
      start "$label" "$(binary "$label")" >>"$work/$label.ktimes"
      echo >>"$work/$label.ktimes"
      stop
    done
  done
  cpu=$(awk -F: '/model name/ {gsub(/^ /,"",$2); print $2; exit}' /proc/cpuinfo)
  {
    echo "## Restart at scale"
    echo
    echo "Time from starting the process to its first answered read (etcdctl get), on a member"
    echo "holding $REVISIONS revisions (8-byte keys, 256-byte values, loaded by etcd's benchmark tool) over"
    echo "$KEYS keys, stopped with SIGTERM (MetaStore then saves a copy of its key index, which the"
    echo "next start loads), or killed with SIGKILL after 11000 more puts (then it rebuilds the index"
    echo "from every revision)."
    echo "$ROUNDS alternating rounds; median (min–max)."
    echo
    echo "- date: $(date -u +%Y-%m-%d), commit $(git rev-parse --short HEAD)"
    echo "- machine: $(nproc) cores ($cpu)"
    echo "- command: \`make bench-restart\` (scripts/bench-ops.sh restart)"
    echo
    echo "| | etcd $("$REF_BIN/etcd" --version | awk '/etcd Version/ {print $3}') | metastore |"
    echo "|---|---|---|"
    echo "| restart to first read (s) | $(spread %.2f <"$work/etcd.times") | $(spread %.2f <"$work/metastore.times") |"
    echo "| restart after SIGKILL to first read (s) | $(spread %.2f <"$work/etcd.ktimes") | $(spread %.2f <"$work/metastore.ktimes") |"
  } | tee /dev/stderr | scripts/doc-section.sh docs/benchmarks.md restart
  exit 0
fi

# ROUNDS alternating rounds (etcd, metastore, etcd, ...), each on a fresh copy of the history.
ROUNDS=${ROUNDS:-3}
load etcd "$REF_BIN/etcd"
load metastore bin/metastore
for label in etcd metastore; do
  for f in restart quiet busy took ratio; do : >"$work/$label.$f"; done
done
for ((i = 0; i < ROUNDS; i++)); do
  for label in etcd metastore; do
    read -r restart quiet busy took <<<"$(round "$label" "$(binary "$label")")"
    echo "bench-ops: round $((i + 1)) $label: restart ${restart}s quiet p99 ${quiet}ms compacting p99 ${busy}ms compaction ${took}s" >&2
    echo "$restart" >>"$work/$label.restart"
    echo "$quiet" >>"$work/$label.quiet"
    echo "$busy" >>"$work/$label.busy"
    echo "$took" >>"$work/$label.took"
    awk -v a="$busy" -v b="$quiet" 'BEGIN { printf "%.2f\n", a / b }' >>"$work/$label.ratio"
  done
done
med() { spread %.2f <"$work/$1.$2"; }
cpu=$(cpu_model)
{
  echo "## Operations: restart and compaction"
  echo
  echo "MetaStore against etcd $("$REF_BIN/etcd" --version | awk '/etcd Version/ {print $3}'), one member each, on the same machine, driven by etcd's"
  echo "benchmark tool. History: $REVISIONS puts (8-byte keys, 256-byte values) over $KEYS keys, loaded"
  echo "once per server; each of $ROUNDS alternating rounds runs on a fresh copy of it. Restart: the time"
  echo "from starting the process to its first answered read. Compaction: p99 of $PUTS puts from 100"
  echo "clients on the quiet member, then of the same puts while the member compacts all that history"
  echo "(\`etcdctl compaction --physical\`, started just before them), and how long the compaction took."
  echo "Median (min–max) of the rounds; the ratio is taken per round."
  echo
  echo "- date: $(date -u +%Y-%m-%d), commit $(git rev-parse --short HEAD)"
  echo "- machine: $(nproc) cores ($cpu)"
  echo "- command: \`make bench-ops\` (scripts/bench-ops.sh)"
  echo
  echo "| | etcd | metastore |"
  echo "|---|---|---|"
  echo "| loading the history (puts/s) | $(cut -d' ' -f3 "$data/etcd.loaded") | $(cut -d' ' -f3 "$data/metastore.loaded") |"
  echo "| restart to first read (s) | $(med etcd restart) | $(med metastore restart) |"
  echo "| put p99, quiet (ms) | $(med etcd quiet) | $(med metastore quiet) |"
  echo "| put p99, while compacting (ms) | $(med etcd busy) | $(med metastore busy) |"
  echo "| compacting / quiet p99 | $(med etcd ratio) | $(med metastore ratio) |"
  echo "| the compaction took (s) | $(med etcd took) | $(med metastore took) |"
} | tee /dev/stderr | scripts/doc-section.sh docs/benchmarks.md operations
