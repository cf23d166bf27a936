#!/usr/bin/env bash
# Private PostgreSQL and Redis for one test run, on loopback and free ports.
#   scripts/test-services.sh start DIR   -> starts both, writes DIR/services.env (export lines)
#   scripts/test-services.sh stop DIR    -> stops exactly what start started (by pid)
#   scripts/test-services.sh pg-stop DIR / pg-start DIR -> stop PostgreSQL alone, start it again on
#                                           the same port (outage tests: tests/core/test_database_outage.py)
set -euo pipefail
cmd=$1
dir=$(realpath -m "$2")

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

as_pg_owner() {
  # initdb refuses to run as root: the cluster belongs to the postgres user then.
  if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

pg_bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)

pg_start() {
  as_pg_owner "$pg_bin/pg_ctl" -D "$1/pgdata" -l "$1/pglog/postgres.log" -w -t 60 \
    -o "-h 127.0.0.1 -p $(cat "$1/pgport") -k $1/pgsock -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200" start >/dev/null
}

case "$cmd" in
start)
  mkdir -p "$dir"
  chmod 755 "$dir"
  pgdata="$dir/pgdata"
  pgport=$(free_port)
  mkdir -p "$pgdata" "$dir/pgsock"
  mkdir -p "$dir/pglog"
  [ "$(id -u)" -eq 0 ] && chown postgres:postgres "$pgdata" "$dir/pgsock" "$dir/pglog"
  as_pg_owner "$pg_bin/initdb" -D "$pgdata" -U elonara --auth=trust -E UTF8 --no-sync >"$dir/initdb.log" 2>&1
  echo "$pgport" >"$dir/pgport"
  pg_start "$dir"
  "$pg_bin/createdb" -h 127.0.0.1 -p "$pgport" -U elonara elonara
  redisport=$(free_port)
  redis-server --bind 127.0.0.1 --port "$redisport" --save "" --appendonly no \
    --daemonize yes --pidfile "$dir/redis.pid" --logfile "$dir/redis.log" --dir "$dir"
  for _ in $(seq 50); do redis-cli -p "$redisport" ping >/dev/null 2>&1 && break; sleep 0.1; done
  cat >"$dir/services.env" <<ENV
export DATABASE_URL=postgres://elonara@127.0.0.1:$pgport/elonara
export REDIS_URL=redis://127.0.0.1:$redisport/0
export CELERY_BROKER_URL=redis://127.0.0.1:$redisport/1
export ELONARA_TEST_PG_ADMIN_URL=postgres://elonara@127.0.0.1:$pgport/postgres
ENV
  echo "PostgreSQL on 127.0.0.1:$pgport, Redis on 127.0.0.1:$redisport"
  ;;
stop)
  if [ -f "$dir/pgdata/postmaster.pid" ]; then
    as_pg_owner "$pg_bin/pg_ctl" -D "$dir/pgdata" -m fast -w stop >/dev/null || true
  fi
  if [ -f "$dir/redis.pid" ]; then
    redis_pid=$(cat "$dir/redis.pid")
    kill "$redis_pid" 2>/dev/null || true
    # Wait until it is gone, so the caller can remove the folder it writes in.
    for _ in $(seq 100); do kill -0 "$redis_pid" 2>/dev/null || break; sleep 0.1; done
  fi
  ;;
pg-stop)
  as_pg_owner "$pg_bin/pg_ctl" -D "$dir/pgdata" -m fast -w stop >/dev/null
  ;;
pg-start)
  pg_start "$dir"
  ;;
*)
  echo "usage: $0 start|stop|pg-stop|pg-start DIR" >&2; exit 2 ;;
esac
