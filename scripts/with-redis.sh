#!/usr/bin/env bash
# Runs a command with a throwaway redis-server on a free loopback port, its URL in
# $PHOTON_TEST_REDIS_URL and $REDIS_URL, and everything under a scratch $TMPDIR.
#
# The port is drawn below the kernel's ephemeral range (32768 up), where outgoing
# connections take theirs, and a draw that another socket holds is drawn again: the
# command runs only once the server that answers on the port is the one started here.
set -euo pipefail
base=${SIMTMP:-/tmp}
dir=$(mktemp -d "$base/photon.XXXXXX")
port=
# SHUTDOWN waits for the server to stop writing under $dir before it is removed.
trap '[ -n "$port" ] && { redis-cli -p "$port" shutdown nosave >/dev/null 2>&1 || kill $(cat "$dir/redis.pid" 2>/dev/null) 2>/dev/null; }; rm -rf "$dir" 2>/dev/null || true' EXIT
ours() { [ -s "$dir/redis.pid" ] && redis-cli -p "$1" info server 2>/dev/null | tr -d '\r' | grep -qx "process_id:$(cat "$dir/redis.pid")"; }
for _ in $(seq 10); do
  try=$(shuf -i 20000-32000 -n 1)
  rm -f "$dir/redis.pid"; : >"$dir/redis.log"
  redis-server --port "$try" --bind 127.0.0.1 --save "" --appendonly no --daemonize yes \
    --dir "$dir" --pidfile "$dir/redis.pid" --logfile "$dir/redis.log"
  for _ in $(seq 50); do ours "$try" || grep -q aborting "$dir/redis.log" && break; sleep 0.1; done
  if ours "$try"; then port=$try; break; fi
  echo "with-redis.sh: no redis-server of ours on port $try, drawing another:" >&2
  tail -3 "$dir/redis.log" >&2 2>/dev/null || true
  [ -s "$dir/redis.pid" ] && kill "$(cat "$dir/redis.pid")" 2>/dev/null || true
done
[ -n "$port" ] || { echo "with-redis.sh: could not start a redis-server" >&2; exit 1; }
export PHOTON_TEST_REDIS_URL=redis://127.0.0.1:$port REDIS_URL=redis://127.0.0.1:$port TMPDIR=$dir
"$@"
