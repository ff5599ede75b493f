#!/usr/bin/env bash
# Runs a command with a throwaway Redis Cluster (scripts/redis-cluster.sh: 3 primaries,
# 3 replicas) on loopback, its URL in $PHOTON_TEST_REDIS_URL and $REDIS_URL, and
# everything under a scratch $TMPDIR: with-redis.sh for a cluster.
set -euo pipefail
base=${SIMTMP:-/tmp}
dir=$(mktemp -d "$base/photon.XXXXXX")
trap '"$(dirname "$0")"/redis-cluster.sh stop "$dir/cluster" 2>/dev/null; rm -rf "$dir" 2>/dev/null || true' EXIT
url=$(DIR="$dir/cluster" "$(dirname "$0")"/redis-cluster.sh)
export PHOTON_TEST_REDIS_URL=$url REDIS_URL=$url TMPDIR=$dir
"$@"
