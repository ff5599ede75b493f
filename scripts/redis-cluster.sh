#!/usr/bin/env bash
# Starts a Redis Cluster of real redis-servers on loopback: PRIMARIES primaries (3) with
# REPLICAS replicas each (1), in DIR (a new scratch directory), from port PORT (a free
# range) upwards. It prints the cluster's URL (redis+cluster://127.0.0.1:p1,...) and
# leaves the servers running; `redis-cluster.sh stop DIR` stops them and removes DIR.
#
# A node that stops answering for NODE_TIMEOUT ms (2000) is failed over to its replica.
# Nodes keep an append-only file with appendfsync everysec, as production would.
set -euo pipefail

if [ "${1:-}" = stop ]; then
  dir=$2
  for pidf in "$dir"/*/redis.pid; do
    [ -f "$pidf" ] && kill "$(cat "$pidf")" 2>/dev/null || true
  done
  for pidf in "$dir"/*/redis.pid; do
    pid=$(cat "$pidf" 2>/dev/null) || continue
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  done
  rm -rf "$dir"
  exit 0
fi

primaries=${PRIMARIES:-3}
replicas=${REPLICAS:-1}
timeout=${NODE_TIMEOUT:-2000}
dir=${DIR:-$(mktemp -d "${TMPDIR:-/tmp}/photon-cluster.XXXXXX")}
n=$((primaries * (1 + replicas)))
# Cluster nodes also listen on port+10000 (the bus), so the range stays under 55535,
# and neither port of any node may be taken.
free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
port=${PORT:-}
for _ in $(seq 20); do
  [ -n "$port" ] && break
  try=$(shuf -i 20000-$((45000 - n)) -n 1)
  for i in $(seq 0 $((n - 1))); do
    free $((try + i)) && free $((try + i + 10000)) || continue 2
  done
  port=$try
done

nodes=()
for i in $(seq 0 $((n - 1))); do
  p=$((port + i))
  mkdir -p "$dir/$p"
  redis-server --port "$p" --bind 127.0.0.1 --cluster-enabled yes \
    --cluster-config-file "$dir/$p/nodes.conf" --cluster-node-timeout "$timeout" \
    --appendonly yes --appendfsync everysec --save "" --dir "$dir/$p" \
    --daemonize yes --pidfile "$dir/$p/redis.pid" --logfile "$dir/$p/redis.log"
  nodes+=("127.0.0.1:$p")
done
for node in "${nodes[@]}"; do
  p=${node#*:}
  for _ in $(seq 100); do redis-cli -p "$p" ping >/dev/null 2>&1 && break; sleep 0.05; done
  redis-cli -p "$p" ping >/dev/null 2>&1 || { echo "redis-server on $p did not start:" >&2; tail -5 "$dir/$p/redis.log" >&2; exit 1; }
done
redis-cli --cluster create "${nodes[@]}" --cluster-replicas "$replicas" --cluster-yes >"$dir/create.log" 2>&1 ||
  { cat "$dir/create.log" >&2; exit 1; }
# The cluster is usable once every node agrees that all slots are served, and every
# replica has synchronised with its primary (a write that waits for a replica waits in
# vain before).
for node in "${nodes[@]}"; do
  for _ in $(seq 200); do
    redis-cli -p "${node#*:}" cluster info 2>/dev/null | grep -q '^cluster_state:ok' &&
      ! redis-cli -p "${node#*:}" info replication 2>/dev/null | grep -q '^master_link_status:down' && break
    sleep 0.05
  done
done
echo "redis+cluster://$(IFS=,; echo "${nodes[*]}")"
