"""gunicorn configuration: `gunicorn -c config/gunicorn.conf.py config.wsgi` (what `make serve` runs).

Values come from config/settings.py (the one place environment variables are read):
GUNICORN_BIND, GUNICORN_WORKERS, GUNICORN_THREADS, GUNICORN_TIMEOUT, FORWARDED_ALLOW_IPS.

Forwarded protocol: behind a TLS-terminating proxy, the proxy sets `X-Forwarded-Proto: https`.
gunicorn trusts that header (and X-Forwarded-For, for the access log's client address) only from
the addresses in FORWARDED_ALLOW_IPS, and Django's SECURE_PROXY_SSL_HEADER reads the same header,
so request.is_secure() is right and SECURE_SSL_REDIRECT does not loop. Put the proxy's address
there (`*` only when nothing but the proxy can reach this port).
"""

import multiprocessing
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

from config import settings as _settings

wsgi_app = "config.wsgi:application"
bind = _settings.GUNICORN_BIND
# Sync workers: two per core plus one, unless set. Each holds one database connection
# (DATABASE_CONN_MAX_AGE), so PostgreSQL's max_connections must cover workers x machines.
workers = _settings.GUNICORN_WORKERS or multiprocessing.cpu_count() * 2 + 1
threads = _settings.GUNICORN_THREADS
# A request still running after this many seconds is killed (Bluesky calls have their own
# shorter timeouts); on SIGTERM, requests in flight get graceful_timeout to finish.
timeout = _settings.GUNICORN_TIMEOUT
graceful_timeout = 30
keepalive = 5
# Recycle workers now and then so a slow leak cannot grow forever; jitter avoids all at once.
max_requests = 2000
max_requests_jitter = 200
# Heartbeat files in memory, not on a disk that may stall.
worker_tmp_dir = "/dev/shm" if os.path.isdir("/dev/shm") else None  # noqa: S108

forwarded_allow_ips = _settings.FORWARDED_ALLOW_IPS
secure_scheme_headers = {"X-FORWARDED-PROTO": "https"}

# Access log on stdout: client (behind the trusted proxies: core.client_address), request id (our
# X-Request-ID response header), path without the query string (it can carry OAuth codes) and with
# calendar-feed tokens redacted, status, bytes, milliseconds, user agent.
logger_class = "config.gunicorn_logging.AccessLogger"
accesslog = "-"
access_log_format = '%(h)s %({x-request-id}o)s "%(m)s %(U)s %(H)s" %(s)s %(B)s %(M)sms "%(a)s"'
errorlog = "-"
loglevel = "info"
proc_name = "elonara-web"


def child_exit(server, worker):
    # prometheus_client multi-process mode: a dead worker's live gauges must not be counted.
    if _settings.PROMETHEUS_MULTIPROC_DIR:
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)


if _settings.LOG_FORMAT == "json":
    # gunicorn's own lines (start-up, worker deaths, the access log) in the same JSON shape.
    _json = {"()": "config.observability.JsonFormatter", "fmt": "%(asctime)s %(levelname)s %(name)s %(message)s",
             "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger"}}
    logconfig_dict = {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": _json},
        "handlers": {
            "error": {"class": "logging.StreamHandler", "formatter": "json", "stream": "ext://sys.stderr"},
            "access": {"class": "logging.StreamHandler", "formatter": "json", "stream": "ext://sys.stdout"},
        },
        "root": {"level": "INFO", "handlers": ["error"]},
        "loggers": {
            "gunicorn.error": {"handlers": ["error"], "level": "INFO", "propagate": False},
            "gunicorn.access": {"handlers": ["access"], "level": "INFO", "propagate": False},
        },
    }
