#!/usr/bin/env bash
# A local 3-member cluster, as etcd's Procfile starts one: clients on 2379, 22379 and 32379,
# peers on 12380, 22380 and 32380, data in $DATA_DIR/m1..m3 (default cluster.etcd), each
# member's log lines prefixed with its name. Ctrl-C stops all three.
set -euo pipefail
bin=${BIN:-bin/metastore}
dir=${DATA_DIR:-cluster.etcd}
cluster="m1=http://127.0.0.1:12380,m2=http://127.0.0.1:22380,m3=http://127.0.0.1:32380"
client=(2379 22379 32379)
peer=(12380 22380 32380)
pids=()
stop() { kill "${pids[@]}" 2>/dev/null || true; wait; }
trap stop INT TERM EXIT
for i in 0 1 2; do
  name="m$((i + 1))"
  "$bin" --name "$name" --data-dir "$dir/$name" \
    --listen-client-urls "http://127.0.0.1:${client[$i]}" --advertise-client-urls "http://127.0.0.1:${client[$i]}" \
    --listen-peer-urls "http://127.0.0.1:${peer[$i]}" --initial-advertise-peer-urls "http://127.0.0.1:${peer[$i]}" \
    --initial-cluster "$cluster" --initial-cluster-token metastore-local --initial-cluster-state new \
    "$@" > >(sed -u "s/^/$name | /") 2>&1 &
  pids+=($!)
done
echo "3 members: etcdctl --endpoints 127.0.0.1:2379,127.0.0.1:22379,127.0.0.1:32379 member list" >&2
wait
