#!/usr/bin/env bash
# Side-by-side benchmark of metastore and etcd 3.6.16 with etcd's own benchmark tool, on this
# machine, in one run: ../shared/bench/compare.sh for throughput and latency (alternating
# A B A B), the same for etcd against a second etcd (what noise is here), then the resident
# memory of each server after loading 1M keys (8-byte keys, 256-byte values), puts of 4 KiB
# values, and one client's median put against the disk's median 4 KiB O_DSYNC write. Writes
# its section of docs/benchmarks.md.
#
#   scripts/bench.sh [ROUNDS]        (default 3)
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/stats.sh # spread
ROUNDS=${1:-3}
SHARED=${SHARED:-../shared}
go build -o bin/metastore ./cmd/metastore
REF_BIN=$("$SHARED/bench/build-etcd-ref.sh")

# rounds [sut-binary]: ROUNDS runs of compare.sh, one round each on fresh servers (etcd, then
# the binary, or a second etcd without one), so that every round has its own ratio; prints
# "scenario etcd_req/s etcd_p99_ms sut_req/s sut_p99_ms" per scenario and round.
rounds() {
  local i
  for ((i = 0; i < ROUNDS; i++)); do
    SUT_BIN=${1:-} "$SHARED/bench/compare.sh" -r 1 | tail -n 6 | sed 's/ms//g' | awk '{ print $1, $2, $3, $4, $5 }'
    # compare.sh starts its servers inside command substitutions, so its cleanup never
    # learns their PIDs; stop what it left behind.
    pkill -9 -f -- "--data-dir /tmp/bench-compare" || true
  done
}
table=$(rounds bin/metastore | scripts/bench-summary.sh metastore)
# What noise is on this machine: etcd against a second fresh etcd, the same way, in the same
# run (issue #13). Its ratios would all be 1.00 on a quiet, steady machine.
noise=$(rounds | scripts/bench-summary.sh "second etcd")

work=$(mktemp -d /tmp/bench-rss.XXXXXX)
pid=""
cleanup() { [[ -n $pid ]] && kill "$pid" 2>/dev/null; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
free_port() { python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }

# serve <label> <binary> <dir>: starts a fresh one-member server with its data in dir, waits
# until it answers; sets pid and cp (its client port).
serve() {
  local label=$1 bin=$2 dir=$3 pp
  cp=$(free_port); pp=$(free_port)
  "$bin" --name "$label" --data-dir "$dir" \
    --listen-client-urls "http://127.0.0.1:$cp" --advertise-client-urls "http://127.0.0.1:$cp" \
    --listen-peer-urls "http://127.0.0.1:$pp" --initial-advertise-peer-urls "http://127.0.0.1:$pp" \
    --initial-cluster "$label=http://127.0.0.1:$pp" >"$dir.log" 2>&1 &
  pid=$!
  for _ in $(seq 100); do
    "$REF_BIN/etcdctl" --endpoints "127.0.0.1:$cp" put /ready 1 >/dev/null 2>&1 && break
    sleep 0.2
  done
}
stop() { kill "$pid"; wait "$pid" 2>/dev/null || true; pid=""; }

# rss <label> <binary>: loads 1M keys and prints the server's VmRSS in MiB.
rss() {
  serve "$1" "$2" "$work/$1"
  "$REF_BIN/benchmark" --endpoints "127.0.0.1:$cp" --conns 10 --clients 100 put --key-size 8 --val-size 256 \
    --total 1000000 --key-space-size 1000000 --sequential-keys >/dev/null 2>&1
  local kb; kb=$(awk '/VmRSS/ {print $2}' "/proc/$pid/status")
  stop
  echo $((kb / 1024))
}
rss_etcd=$(rss etcd "$REF_BIN/etcd")
rss_ms=$(rss metastore bin/metastore)

# put1_p50 <label> <binary>: a fresh server's median latency of one client's puts (ms; the
# tool prints it to 0.1 ms).
put1_p50() {
  serve "$1" "$2" "$work/p50-$1"
  "$REF_BIN/benchmark" --endpoints "127.0.0.1:$cp" --conns 1 --clients 1 put --key-size 8 --val-size 256 \
    --total 3000 --key-space-size 100000 2>/dev/null | tr -d '\r' | sed -n 's/.*50% in \([0-9.]*\) secs.*/\1/p' |
    awk '{printf "%.1f", $1 * 1000}'
  stop
}
p50_etcd=$(put1_p50 etcd "$REF_BIN/etcd")
p50_ms=$(put1_p50 metastore bin/metastore)
# big <label> <binary>: a fresh server's "req/s p99_ms p99.9_ms" under 30k puts of 4 KiB
# values (100 clients), where the log's size, not the number of requests, sets the pace.
big() {
  serve "$1" "$2" "$work/big-$1"
  local out
  out=$("$REF_BIN/benchmark" --endpoints "127.0.0.1:$cp" --conns 10 --clients 100 put --key-size 8 --val-size 4096 \
    --total 30000 --key-space-size 100000 2>/dev/null | tr -d '\r')
  stop
  rm -rf "$work/big-$1"
  awk '/Requests\/sec:/ { r = $2 } / 99% in/ { p = $3 * 1000 } /99.9% in/ { q = $3 * 1000 } END { print r, p, q }' <<<"$out"
}
big_rounds=""
for ((i = 0; i < ROUNDS; i++)); do
  big_rounds+="$(big etcd "$REF_BIN/etcd") $(big metastore bin/metastore)"$'\n'
done
big_col() { awk -v c="$1" 'NF == 6 { print $c }' <<<"$big_rounds" | spread "$2"; }
big_ratio=$(awk 'NF == 6 && $1 > 0 { print $4 / $1 }' <<<"$big_rounds" | spread %.2f)

# The disk's own floor (issue #13): the median of 1000 4 KiB O_DSYNC writes in place, in the
# folder the servers' data dirs were in.
dsync=$(python3 - "$work" <<'PY'
import os, sys, time
path = os.path.join(sys.argv[1], "dsync-probe")
fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
os.write(fd, bytes(4096 * 64)); os.fsync(fd); os.close(fd)
fd = os.open(path, os.O_WRONLY | os.O_DSYNC)
ts = []
for i in range(1000):
    t = time.perf_counter(); os.pwrite(fd, bytes(4096), (i % 64) * 4096); ts.append(time.perf_counter() - t)
os.close(fd); os.unlink(path)
ts.sort(); print("%.2f" % (ts[len(ts) // 2] * 1000))
PY
)

cpu=$(awk -F: '/model name/ {gsub(/^ /,"",$2); print $2; exit}' /proc/cpuinfo)
mem=$(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo)
{
  echo "## One member"
  echo
  echo "MetaStore against etcd $("$REF_BIN/etcd" --version | awk '/etcd Version/ {print $3}'), one member each, on the same machine in one run, driven"
  echo "by etcd's own benchmark tool: $ROUNDS rounds, each a run of \`$SHARED/bench/compare.sh -r 1\` on fresh"
  echo "servers (etcd, then MetaStore, scenario by scenario); median (min–max) over the rounds. Both fsync"
  echo "every write before acknowledging it. Ratio = MetaStore / etcd requests per second, taken in each"
  echo "round (above 1 = MetaStore is faster)."
  echo
  echo "- date: $(date -u +%Y-%m-%d), commit $(git rev-parse --short HEAD)"
  echo "- machine: $(nproc) cores ($cpu), $mem"
  echo "- command: \`make bench\` (scripts/bench.sh)"
  echo
  echo "$table"
  echo
  echo "The noise, in the same run: etcd against a second etcd, the same way (ratio = the second / the first)."
  echo
  echo "$noise"
  echo
  echo "Resident memory after loading 1,000,000 keys (8-byte keys, 256-byte values, one version each):"
  echo
  echo "| server | RSS |"
  echo "|---|---|"
  echo "| etcd | ${rss_etcd} MiB |"
  echo "| metastore | ${rss_ms} MiB |"
  echo
  echo "Puts of 4 KiB values (30k over 100k keys, 100 clients), a fresh server of each per round,"
  echo "$ROUNDS rounds; median (min–max), the ratio taken per round:"
  echo
  echo "| server | req/s | p99 ms | p99.9 ms | ratio |"
  echo "|---|---|---|---|---|"
  echo "| etcd | $(big_col 1 %.0f) | $(big_col 2 %.1f) | $(big_col 3 %.1f) | |"
  echo "| metastore | $(big_col 4 %.0f) | $(big_col 5 %.1f) | $(big_col 6 %.1f) | ${big_ratio} |"
  echo
  echo "One client's puts against the disk's floor (a fresh server each, 3000 puts; the tool prints"
  echo "latencies to 0.1 ms): the median put, and the median 4 KiB O_DSYNC write on the same disk."
  echo
  echo "| | median |"
  echo "|---|---|"
  echo "| 4 KiB O_DSYNC write | ${dsync} ms |"
  echo "| etcd put, 1 client | ${p50_etcd} ms |"
  echo "| metastore put, 1 client | ${p50_ms} ms |"
} | tee /dev/stderr | scripts/doc-section.sh docs/benchmarks.md single-member
