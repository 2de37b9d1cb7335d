# One member at a time for the side-by-side benchmark scripts (bench-ops.sh, bench-watch.sh,
# bench-cpu.sh), sourced from the repository's root: builds bin/metastore, finds the reference
# etcd, etcdctl and benchmark tool ($REF_BIN), and makes a scratch dir ($work, removed on exit);
# data dirs go in $data ($DATA if set, to keep them for the next run; else $work).
# The member's PID is kept in a file: start may run inside $(...), a subshell.
SHARED=${SHARED:-../shared}
go build -o bin/metastore ./cmd/metastore
REF_BIN=$("$SHARED/bench/build-etcd-ref.sh")
work=$(mktemp -d "/tmp/${0##*/}.XXXXXX")
data=${DATA:-$work}
mkdir -p "$data"
cleanup() {
  if [[ -f $work/pid ]]; then kill "$(<"$work/pid")" 2>/dev/null || true; fi
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
free_port() { python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }
now() { date +%s.%N; }
# binary <label>: the server a round's label runs (etcd, or else metastore).
binary() { if [[ $1 == etcd ]]; then echo "$REF_BIN/etcd"; else echo bin/metastore; fi; }
source scripts/stats.sh # spread
cpu_model() { awk -F: '/model name/ { gsub(/^ /, "", $2); print $2; exit }' /proc/cpuinfo; }
ctl() { "$REF_BIN/etcdctl" --endpoints "$ep" --dial-timeout 1s --command-timeout 600s "$@"; }

# start <label> <binary>: starts the member on its data dir ($dir, else $data/$label) with
# client port $cp and peer port $pp (etcdctl's $ep is 127.0.0.1:$cp), and prints the seconds
# until it answered a read.
start() {
  local label=$1 bin=$2 t0
  t0=$(now)
  "$bin" --name "$label" --data-dir "${dir:-$data/$label}" \
    --listen-client-urls "http://127.0.0.1:$cp" --advertise-client-urls "http://127.0.0.1:$cp" \
    --listen-peer-urls "http://127.0.0.1:$pp" --initial-advertise-peer-urls "http://127.0.0.1:$pp" \
    --initial-cluster "$label=http://127.0.0.1:$pp" >>"$work/$label.log" 2>&1 &
  echo $! >"$work/pid"
  until ctl get /ready >/dev/null 2>&1; do
    kill -0 "$(<"$work/pid")" 2>/dev/null || { echo "${0##*/}: $label exited; its log:" >&2; tail -20 "$work/$label.log" >&2; exit 1; }
    sleep 0.05
  done
  awk -v a="$t0" -v b="$(now)" 'BEGIN { printf "%.2f", b - a }'
}
stop() { # SIGTERM, then wait for the process to be gone (it may be another shell's child)
  local p; p=$(<"$work/pid")
  kill "$p"
  while kill -0 "$p" 2>/dev/null; do sleep 0.05; done
  rm -f "$work/pid"
}
