#!/usr/bin/env bash
# Runs a command with a throwaway redis-server on a free loopback port, its URL in
# $PHOTON_TEST_REDIS_URL and $REDIS_URL, and everything under a scratch $TMPDIR.
set -euo pipefail
base=${SIMTMP:-/tmp}
dir=$(mktemp -d "$base/photon.XXXXXX")
port=$(shuf -i 20000-40000 -n 1)
redis-server --port "$port" --bind 127.0.0.1 --save "" --appendonly no --daemonize yes \
  --dir "$dir" --pidfile "$dir/redis.pid" --logfile "$dir/redis.log"
# SHUTDOWN waits for the server to stop writing under $dir before it is removed.
trap 'redis-cli -p "$port" shutdown nosave >/dev/null 2>&1 || kill $(cat "$dir/redis.pid") 2>/dev/null; rm -rf "$dir" 2>/dev/null || true' EXIT
for _ in $(seq 50); do redis-cli -p "$port" ping >/dev/null 2>&1 && break; sleep 0.1; done
export PHOTON_TEST_REDIS_URL=redis://127.0.0.1:$port REDIS_URL=redis://127.0.0.1:$port TMPDIR=$dir
"$@"
