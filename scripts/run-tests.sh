#!/usr/bin/env bash
# `make test`: lint, the fast tier on SQLite, then the whole suite on private PostgreSQL and
# Redis (and the AT Protocol test peer, the real Celery worker, the real browser).
# Extra arguments go to both pytest runs, e.g. `make test ARGS="-k oauth"`.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/system-packages.sh
scripts/bootstrap.sh
[ -x tests/peer/install.sh ] && tests/peer/install.sh
# axe-core for the browser checks (tests/browser/test_pages.py), cached outside the repository.
scripts/npm-install-cached.sh tests/browser

run_dir=$(mktemp -d /tmp/elonara-test.XXXXXX)
cleanup() {
  # Keep the test run's own exit status: cleanup must never turn a pass into a failure.
  local status=$?
  scripts/test-services.sh stop "$run_dir" || true
  rm -rf "$run_dir" 2>/dev/null || true
  exit "$status"
}
trap cleanup EXIT

echo "== ruff"
.venv/bin/ruff check .

echo "== mypy"
DATABASE_URL="sqlite:///$run_dir/mypy.sqlite3" .venv/bin/mypy

echo "== fast tier on SQLite"
DATABASE_URL="sqlite:///$run_dir/fast.sqlite3" CELERY_BROKER_URL="memory://" REDIS_URL="" \
  .venv/bin/pytest -q -m "not peer and not browser and not services" "$@"

echo "== whole suite on PostgreSQL + Redis"
scripts/test-services.sh start "$run_dir"
# shellcheck disable=SC1091
. "$run_dir/services.env"
.venv/bin/pytest -q "$@"
