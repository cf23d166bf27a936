"""Health endpoints: /healthz (alive), /readyz (dependencies), /readyz/worker (Celery), /metrics.

/healthz touches nothing, so a load balancer can tell a hung process from a broken database.
/readyz runs django-health-check's database and cache checks plus ours (broker reachable, no
unapplied migrations), each with HEALTH_CHECK_TIMEOUT, concurrently. /readyz/worker (behind
METRICS_TOKEN, like /metrics: a ping costs every worker a reply) pings the workers, returning at the
first answer or after HEALTH_WORKER_PING_TIMEOUT, reports the queue length, and keeps its answer
HEALTH_WORKER_CACHE_SECONDS. Answers: 200 when every check passes, 500 otherwise; JSON with
`?format=json` or `Accept: application/json`. A failing check is logged at WARNING when the state
changes (failing, failing differently, ready again), not at every probe.
"""

from __future__ import annotations

import dataclasses
import datetime
import hmac
import logging
import threading
import time

from django.conf import settings
from django.db import connections
from django.http import Http404, HttpResponse
from django.views.decorators.cache import never_cache
from health_check.base import HealthCheck
from health_check.checks import Cache, Database
from health_check.contrib.celery import Ping
from health_check.exceptions import ServiceUnavailable
from health_check.views import HealthCheckView

logger = logging.getLogger(__name__)


def _timeout() -> datetime.timedelta:
    return datetime.timedelta(seconds=settings.HEALTH_CHECK_TIMEOUT)


def _celery_app():
    from config.celery import app

    return app


@dataclasses.dataclass
class Broker(HealthCheck):
    """The Celery broker accepts a connection (Redis in production, the filesystem under `make run`)."""

    timeout: datetime.timedelta = dataclasses.field(default_factory=_timeout, repr=False)

    def run(self) -> None:
        try:
            with _celery_app().connection_for_write() as conn:
                conn.ensure_connection(max_retries=1, interval_start=0, interval_step=0,
                                       timeout=self.timeout.total_seconds())
        except Exception as exc:  # kombu raises a transport-specific zoo; re-raised as one
            raise ServiceUnavailable("Broker unreachable") from exc


_migrations_done: set[str] = set()


@dataclasses.dataclass
class Migrations(HealthCheck):
    """No migration waits to be applied (new code before `migrate` = not ready)."""

    alias: str = "default"
    timeout: datetime.timedelta = dataclasses.field(default_factory=_timeout, repr=False)

    def run(self) -> None:
        # Once everything is applied a running process's code cannot gain migrations: remember it,
        # so probes do not re-read every migration file.
        if self.alias in _migrations_done:
            return
        from django.db.migrations.executor import MigrationExecutor

        connection = connections[self.alias]
        try:
            executor = MigrationExecutor(connection)
            plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
        except Exception as exc:  # the database check reports the cause; re-raised as one
            raise ServiceUnavailable("Migration state unreadable") from exc
        finally:
            connection.close()
        if plan:
            raise ServiceUnavailable(f"{len(plan)} unapplied migrations")
        _migrations_done.add(self.alias)


def queue_length(queue: str = "celery") -> int:
    """Messages waiting in a Celery queue (all priorities), read from the broker."""
    with _celery_app().connection_for_read() as conn:
        # Not passive: on Redis a queue no worker has declared yet is simply empty, not an error.
        _, count, _ = conn.default_channel.queue_declare(queue=queue, durable=True, auto_delete=False)
        return int(count)


@dataclasses.dataclass
class QueueLength(HealthCheck):
    """The default queue is not backed up beyond HEALTH_QUEUE_MAX_LENGTH; its length is in the report."""

    queue: str = "celery"
    waiting: int | None = None
    timeout: datetime.timedelta = dataclasses.field(default_factory=_timeout, repr=False)

    def run(self) -> None:
        try:
            self.waiting = queue_length(self.queue)
        except Exception as exc:  # re-raised as one
            raise ServiceUnavailable("Broker unreachable") from exc
        if self.waiting > settings.HEALTH_QUEUE_MAX_LENGTH:
            raise ServiceUnavailable(f"{self.waiting} tasks waiting")


@dataclasses.dataclass
class WorkerPing(Ping):
    """Celery's ping, answered as soon as one worker replies. The app is left out of the report
    (its repr is a heap address)."""

    app: object = dataclasses.field(default_factory=_celery_app, repr=False)
    limit: int | None = dataclasses.field(default=1, repr=False)


_state_lock = threading.Lock()
_last_failing: dict[str, tuple[str, ...]] = {}


def _note_state(name: str, results) -> None:
    """Log once per change of this process's answer (a probe every few seconds must not flood)."""
    failing = tuple(sorted(f"{type(r.check).__name__}: {r.error}" for r in results if r.error))
    with _state_lock:
        previous = _last_failing.get(name)
        _last_failing[name] = failing
    if failing == previous or (previous is None and not failing):
        return
    if failing:
        logger.warning("%s not ready: %s", name, "; ".join(failing), extra={"probe": name})
    else:
        logger.warning("%s ready again", name, extra={"probe": name})


class _Cached:
    """A check's earlier result, answered again (see `_Checks.cache_seconds`)."""

    def __init__(self, result) -> None:
        self.result = result

    async def get_result(self, executor=None):
        return self.result


class _Checks(HealthCheckView):
    name = "readyz"
    cache_seconds: float = 0.0
    _cache: tuple[float, list] | None = None
    _replay: list | None = None  # this request answers the cached results again

    def get_checks(self):
        if self._replay is not None:
            yield from (_Cached(result) for result in self._replay)
            return
        for check in super().get_checks():
            if "timeout" in {f.name for f in dataclasses.fields(check)}:
                check.timeout = _timeout()
            yield check

    async def get(self, request, *args, **kwargs):
        cached = type(self)._cache
        if cached is not None and cached[0] > time.monotonic():
            self._replay = cached[1]
            response = await super().get(request, *args, **kwargs)
        else:
            response = await super().get(request, *args, **kwargs)
            _note_state(self.name, self.results)
            if self.cache_seconds:
                type(self)._cache = (time.monotonic() + self.cache_seconds, list(self.results))
        # A 500 here is an answer, not a crash: django.request must not log it as an ERROR each time.
        response._has_been_logged = True
        return response


class _WorkerChecks(_Checks):
    name = "readyz/worker"

    def get_checks(self):
        for check in super().get_checks():
            if isinstance(check, Ping):
                check.timeout = datetime.timedelta(seconds=settings.HEALTH_WORKER_PING_TIMEOUT)
            yield check

    async def get(self, request, *args, **kwargs):
        refused = _token_refusal(request)
        if refused is not None:
            return refused
        type(self).cache_seconds = settings.HEALTH_WORKER_CACHE_SECONDS
        return await super().get(request, *args, **kwargs)


def _token_refusal(request) -> HttpResponse | None:
    """None when the request bears METRICS_TOKEN; else 404 (no token configured) or 401."""
    token = settings.METRICS_TOKEN
    if not token:
        raise Http404()
    offered = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
    if not hmac.compare_digest(offered.encode(), token.encode()):
        return HttpResponse("this endpoint needs the bearer token\n", status=401, content_type="text/plain",
                            headers={"WWW-Authenticate": "Bearer"})
    return None


readyz = never_cache(_Checks.as_view(checks=(Database, Cache, Broker, Migrations)))
readyz_worker = never_cache(_WorkerChecks.as_view(checks=(WorkerPing, QueueLength)))


@never_cache
def healthz(request):
    return HttpResponse("ok\n", content_type="text/plain")


@never_cache
def metrics(request):
    """Prometheus exposition: django-prometheus's request metrics plus core.metrics; bearer token."""
    refused = _token_refusal(request)
    if refused is not None:
        return refused
    import prometheus_client
    from prometheus_client import multiprocess
    from prometheus_client.core import GaugeMetricFamily

    if settings.PROMETHEUS_MULTIPROC_DIR:
        registry = prometheus_client.CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
    else:
        registry = prometheus_client.CollectorRegistry()
        registry.register(_Registered())

    class QueueCollector:
        def collect(self):
            gauge = GaugeMetricFamily("elonara_celery_queue_length", "Tasks waiting in the Celery queue.",
                                      labels=["queue"])
            try:
                gauge.add_metric(["celery"], queue_length("celery"))
            except Exception:  # noqa: BLE001, S110 - no broker: the gauge is simply absent
                pass
            yield gauge

    registry.register(QueueCollector())
    return HttpResponse(prometheus_client.generate_latest(registry), content_type=prometheus_client.CONTENT_TYPE_LATEST)


class _Registered:
    """The process-wide default registry (django-prometheus's and ours), as one collector."""

    def collect(self):
        import prometheus_client

        yield from prometheus_client.REGISTRY.collect()
