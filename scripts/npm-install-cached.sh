#!/usr/bin/env bash
# Installs the npm tree pinned by <dir>/package-lock.json into a cache outside the repository,
# keyed on package.json + the lockfile (like tests/peer/install.sh, for tools with no native build):
#   scripts/npm-install-cached.sh tests/browser            # axe-core for the browser checks
#   scripts/npm-install-cached.sh bench/lighthouse         # Lighthouse for `make bench`
#   scripts/npm-install-cached.sh <dir> --print-dir        # the cache folder (node_modules inside)
# Idempotent: a warm cache returns at once.
set -euo pipefail
src=$(cd "$1" && pwd)
name=$(basename "$src")
key=$(cat "$src/package.json" "$src/package-lock.json" | sha256sum | cut -c1-16)
dir="${ELONARA_NPM_CACHE:-${XDG_CACHE_HOME:-${HOME:-/root}/.cache}/elonara-npm}/$name-$key"
if [ "${2:-}" = "--print-dir" ]; then echo "$dir"; exit 0; fi
[ -f "$dir/.complete" ] && exit 0

command -v npm >/dev/null || { echo "npm is missing (scripts/system-packages.sh installs it)" >&2; exit 1; }
mkdir -p "$(dirname "$dir")"
# One install at a time per cache (several test sessions may start together).
exec 9>"$(dirname "$dir")/.install.lock"
flock 9
[ -f "$dir/.complete" ] && exit 0
rm -rf "$dir"
work="$dir.partial.$$"
mkdir -p "$work"
cp "$src/package.json" "$src/package-lock.json" "$work/"
echo "npm: installing $name's pinned tree into $dir"
if ! (cd "$work" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=warn) >"$work/install.log" 2>&1; then
  echo "npm install of $name failed; the end of its log:" >&2
  tail -n 40 "$work/install.log" >&2
  exit 1
fi
mv "$work" "$dir"
rm -rf "$(dirname "$dir")/$name"-*.partial.*
touch "$dir/.complete"
