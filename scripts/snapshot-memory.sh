#!/usr/bin/env bash
# Memory while the whole state moves, metastore and etcd 3.6.16 side by side (not part of
# `make test`; it measures). KEYS puts of VALUE bytes (300000 and 1024 by default), then:
#
#   - catch-up: a 3-member cluster whose third member is killed before the puts and started
#     again after them (--snapshot-count 10000, 5000 entries kept), so that it catches up
#     from the leader's snapshot; peak RSS of the two running members (the sender) and of
#     the third (the receiver) until the third serves a key written after the puts;
#   - save: one member, `etcdctl snapshot save`; its RSS before and at its peak.
#
# RSS is sampled from /proc every 50 ms. Prints a markdown table.
#
#   scripts/snapshot-memory.sh        (KEYS=300000 VALUE=1024 by default)
set -euo pipefail
cd "$(dirname "$0")/.."
KEYS=${KEYS:-300000} VALUE=${VALUE:-1024}
source scripts/bench-member.sh

rss() { awk '/VmRSS/ { print int($2 / 1024) }' "/proc/$1/status" 2>/dev/null || echo 0; }
load() { "$REF_BIN/benchmark" --endpoints "$1" --conns 10 --clients 100 put --key-size 16 --val-size "$VALUE" \
  --total "$KEYS" --key-space-size "$KEYS" --sequential-keys >/dev/null 2>&1; }

# catchup <label> <binary>: prints "sender_before sender_peak receiver_peak seconds".
catchup() {
  local label=$1 bin=$2 d=$work/$1.cluster initial="" i peers=() clients=() pids=() snapflags
  mkdir -p "$d"
  for i in 0 1 2; do
    peers+=("$(free_port)")
    clients+=("$(free_port)")
    initial+="${initial:+,}$label$i=http://127.0.0.1:${peers[$i]}"
  done
  member() {
    "$bin" --name "$label$1" --data-dir "$d/$1" \
      --listen-client-urls "http://127.0.0.1:${clients[$1]}" --advertise-client-urls "http://127.0.0.1:${clients[$1]}" \
      --listen-peer-urls "http://127.0.0.1:${peers[$1]}" --initial-advertise-peer-urls "http://127.0.0.1:${peers[$1]}" \
      --initial-cluster "$initial" --initial-cluster-token "sm-$label" --initial-cluster-state new \
      --snapshot-count 10000 --snapshot-catchup-entries 5000 >>"$d/$1.log" 2>&1 &
    pids[$1]=$!
  }
  for i in 0 1 2; do member "$i"; done
  local two="127.0.0.1:${clients[0]},127.0.0.1:${clients[1]}"
  until "$REF_BIN/etcdctl" --endpoints "$two" --dial-timeout 1s put /ready 1 >/dev/null 2>&1; do sleep 0.1; done
  kill -9 "${pids[2]}"
  wait "${pids[2]}" 2>/dev/null || true
  load "$two"
  "$REF_BIN/etcdctl" --endpoints "$two" put /snapmem/last 1 >/dev/null
  local before=$(( $(rss "${pids[0]}") + $(rss "${pids[1]}") )) speak=0 rpeak=0 r t0
  t0=$(now)
  member 2
  while :; do
    r=$(( $(rss "${pids[0]}") + $(rss "${pids[1]}") )); (( r > speak )) && speak=$r
    r=$(rss "${pids[2]}"); (( r > rpeak )) && rpeak=$r
    "$REF_BIN/etcdctl" --endpoints "127.0.0.1:${clients[2]}" --dial-timeout 1s --consistency s get /snapmem/last --print-value-only 2>/dev/null | grep -q . && break
    sleep 0.05
  done
  # The kernel's own peak for the receiver (it ran only since its restart).
  r=$(awk '/VmHWM/ { print int($2 / 1024) }' "/proc/${pids[2]}/status"); (( r > rpeak )) && rpeak=$r
  [[ -n ${SNAPMEM_DEBUG:-} ]] && { grep -i "snapshot" "$d/2.log" | tail -3 >&2; grep -E "VmRSS|VmHWM" "/proc/${pids[2]}/status" >&2; }
  awk -v a="$t0" -v b="$(now)" -v x="$before" -v y="$speak" -v z="$rpeak" 'BEGIN { printf "%d %d %d %.1f", x, y, z, b - a }'
  kill "${pids[@]}" 2>/dev/null
  wait 2>/dev/null || true
  rm -rf "$d"
}

# save <label> <binary>: prints "before peak seconds".
save() {
  local label=$1 bin=$2 pid before peak r t0 sp
  cp=$(free_port) pp=$(free_port) ep=127.0.0.1:$cp
  start "$label" "$bin" >/dev/null
  pid=$(<"$work/pid")
  load "$ep"
  before=$(rss "$pid") peak=$before
  t0=$(now)
  ctl snapshot save "$work/$label.snap" >/dev/null 2>&1 &
  sp=$!
  while kill -0 "$sp" 2>/dev/null; do r=$(rss "$pid"); (( r > peak )) && peak=$r; sleep 0.05; done
  awk -v a="$t0" -v b="$(now)" -v x="$before" -v y="$peak" 'BEGIN { printf "%d %d %.1f", x, y, b - a }'
  kill "$pid"
  wait 2>/dev/null || true
  rm -rf "$data/$label" "$work/$label.snap"
}

echo "KEYS=$KEYS VALUE=$VALUE, $(nproc) cores ($(cpu_model)), commit $(git rev-parse --short HEAD)"
echo
echo "| | etcd | metastore |"
echo "|---|---|---|"
read -r eb es er et <<<"$(catchup etcd "$REF_BIN/etcd")"
read -r mb ms mr mt <<<"$(catchup metastore bin/metastore)"
echo "| catch-up by snapshot: the two senders' RSS before → peak (MiB) | $eb → $es | $mb → $ms |"
echo "| catch-up by snapshot: the receiver's peak RSS (MiB) | $er | $mr |"
echo "| catch-up by snapshot: start to the last key read (s) | $et | $mt |"
read -r eb ep2 et <<<"$(save etcd "$REF_BIN/etcd")"
read -r mb mp mt <<<"$(save metastore bin/metastore)"
echo "| snapshot save: RSS before → peak (MiB) | $eb → $ep2 | $mb → $mp |"
echo "| snapshot save: duration (s) | $et | $mt |"
