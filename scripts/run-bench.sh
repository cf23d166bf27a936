#!/usr/bin/env bash
# `make bench`: every bench/*.py against private PostgreSQL/Redis and the local Bluesky network.
# Benchmarks print figures; nothing is asserted.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/system-packages.sh
scripts/bootstrap.sh
tests/peer/install.sh
# Lighthouse (bench/lighthouse_pages.py), cached outside the repository.
scripts/npm-install-cached.sh bench/lighthouse

run_dir=$(mktemp -d /tmp/elonara-bench.XXXXXX)
peer_pid=""
cleanup() {
  local status=$?
  if [ -n "$peer_pid" ]; then kill "$peer_pid" 2>/dev/null || true; wait "$peer_pid" 2>/dev/null || true; fi
  scripts/test-services.sh stop "$run_dir" || true
  rm -rf "$run_dir" 2>/dev/null || true
  exit "$status"
}
trap cleanup EXIT

scripts/test-services.sh start "$run_dir"
# shellcheck disable=SC1091
. "$run_dir/services.env"
.venv/bin/python -m tests.peer start --state "$run_dir/peer.json" >"$run_dir/peer.out" 2>&1 &
peer_pid=$!
for _ in $(seq 180); do [ -s "$run_dir/peer.json" ] && break; sleep 1; done
[ -s "$run_dir/peer.json" ] || { cat "$run_dir/peer.out"; exit 1; }
export ELONARA_PEER_STATE="$run_dir/peer.json"

for bench in bench/*.py; do
  case "$bench" in *_common.py) continue ;; esac
  echo "== $bench"
  .venv/bin/python "$bench"
done
