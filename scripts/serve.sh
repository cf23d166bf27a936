#!/usr/bin/env bash
# `make serve`: Elonara with production settings on one machine: migrations, collectstatic, then
# gunicorn, a Celery worker, Celery beat and the firehose consumer. Ctrl-C (SIGINT to the group) or SIGTERM to this script
# stops all three; if one of them dies, the others are stopped too (a supervisor restarts the set).
# Configuration: the environment or .env (see .env.example); DEBUG is forced off.
set -euo pipefail
cd "$(dirname "$0")/.."
export DEBUG=false
py=.venv/bin/python
mkdir -p var

# Refuses to start without the required variables: settings name every missing one, and the
# deploy checks name the rest (e.g. FIELD_ENCRYPTION_KEYS).
if ! "$py" manage.py check --deploy --fail-level ERROR >var/serve-check.log 2>&1; then
  grep -E "ImproperlyConfigured|ERROR|E0|need" var/serve-check.log >&2 || cat var/serve-check.log >&2
  echo "make serve: fix the configuration above (see .env.example and the README)." >&2
  exit 2
fi

# prometheus_client's multi-process folder: each process writes its numbers there; it must start
# empty on every (re)start of the set.
metrics_dir=$("$py" -c 'from config import settings; print(settings.PROMETHEUS_MULTIPROC_DIR)' 2>/dev/null || true)
if [ -z "$metrics_dir" ]; then
  metrics_dir="$PWD/var/prometheus"
  export PROMETHEUS_MULTIPROC_DIR="$metrics_dir"
fi
rm -rf "$metrics_dir" && mkdir -p "$metrics_dir"

"$py" manage.py migrate --noinput
"$py" manage.py createcachetable
"$py" manage.py collectstatic --noinput --verbosity 0
mkdir -p var/broker/queue var/broker/processed var/broker/control

pids=()
stopping=0
stop() {
  [ "$stopping" = 1 ] && return
  stopping=1
  trap '' INT TERM
  echo "Elonara: stopping (${pids[*]})"
  # TERM: gunicorn finishes requests in flight, the worker its running tasks (late acks requeue the rest).
  kill -TERM "${pids[@]}" 2>/dev/null || true
  wait "${pids[@]}" 2>/dev/null || true
}
trap 'stop; exit 130' INT
trap 'stop; exit 143' TERM
trap 'stop' EXIT

.venv/bin/gunicorn -c config/gunicorn.conf.py &
pids+=($!)
.venv/bin/celery -A config worker --loglevel=INFO -n "worker@%h" &
pids+=($!)
# Beat runs alone: exactly one per deployment (a second one would schedule every task twice).
.venv/bin/celery -A config beat --loglevel=INFO --schedule var/celerybeat-schedule &
pids+=($!)
# The firehose consumer: RSVPs to our events written in other apps (one per deployment).
"$py" manage.py consume_firehose &
pids+=($!)

echo "Elonara (production settings): gunicorn, worker, beat and firehose consumer running (pids ${pids[*]}); Ctrl-C stops them"
# The first process to exit stops the set.
set +e
wait -n "${pids[@]}"
status=$?
set -e
echo "Elonara: a process exited (status $status); stopping the others" >&2
stop
exit "$status"
