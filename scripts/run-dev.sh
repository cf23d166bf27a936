#!/usr/bin/env bash
# `make run`: migrations, then the web server, a Celery worker and the firehose consumer
# (RSVPs made in other AT Protocol apps; BLUESKY_FIREHOSE_URL); Ctrl-C stops all three.
set -euo pipefail
cd "$(dirname "$0")/.."
export DEBUG=${DEBUG:-true}
host_port=${RUN_ADDR:-127.0.0.1:8000}
.venv/bin/python manage.py migrate --noinput
.venv/bin/python manage.py createcachetable
mkdir -p var/broker/queue var/broker/processed var/broker/control
.venv/bin/celery -A config worker --loglevel=INFO --concurrency=2 --beat --schedule var/celerybeat-schedule &
worker=$!
.venv/bin/python manage.py consume_firehose &
firehose=$!
.venv/bin/python manage.py runserver "$host_port" &
web=$!
stop() {
  kill "$web" "$worker" "$firehose" 2>/dev/null || true
  wait "$web" "$worker" "$firehose" 2>/dev/null || true
}
trap stop INT TERM EXIT
echo "Elonara: http://$host_port/  (Ctrl-C stops the web server, the worker and the firehose consumer)"
echo "Mail: ${EMAIL_URL:-files under var/mail/ (EMAIL_URL=consolemail:// prints them here instead)}"
wait -n "$web" "$worker" "$firehose"
