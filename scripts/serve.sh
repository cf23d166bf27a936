#!/usr/bin/env bash
# `make serve`: Elonara with production settings on one machine: migrations, collectstatic, then
# gunicorn, a Celery worker, Celery beat and the firehose consumer. Ctrl-C (SIGINT to the group) or SIGTERM to this script
# stops them all; if one of them dies, it alone is restarted (with backoff, logged).
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

# Each process runs under a small supervisor: if it exits, it is started again (after 1 s, doubling
# up to 60 s while it keeps failing; reset once it ran a minute), and the log says so. One crashed
# process never stops the others.
supervise() {
  local name=$1
  shift
  local delay=1 child status started
  set +e  # a child's failure is handled here, not fatal to its supervisor
  trap 'kill -TERM "$child" 2>/dev/null; wait "$child" 2>/dev/null; exit 0' TERM
  trap '' INT
  while :; do
    started=$SECONDS
    "$@" &
    child=$!
    wait "$child"
    status=$?
    if (( SECONDS - started >= 60 )); then delay=1; fi
    echo "Elonara: $name exited (status $status); restarting it in ${delay} s" >&2
    sleep "$delay" &
    wait $!
    delay=$(( delay * 2 > 60 ? 60 : delay * 2 ))
  done
}

supervise gunicorn .venv/bin/gunicorn -c config/gunicorn.conf.py &
pids+=($!)
supervise worker .venv/bin/celery -A config worker --loglevel=INFO -n "worker@%h" &
pids+=($!)
# Beat runs alone: exactly one per deployment (a second one would schedule every task twice).
supervise beat .venv/bin/celery -A config beat --loglevel=INFO --schedule var/celerybeat-schedule &
pids+=($!)
# The firehose consumer: RSVPs to our events written in other apps (one per deployment).
supervise firehose "$py" manage.py consume_firehose &
pids+=($!)

echo "Elonara (production settings): gunicorn, worker, beat and firehose consumer running (pids ${pids[*]}); Ctrl-C stops them"
# The supervisors run until stopped (Ctrl-C or SIGTERM).
set +e
wait "${pids[@]}"
status=$?
set -e
stop
exit "$status"
