"""Health endpoints: /healthz (alive), /readyz (dependencies), /readyz/worker (Celery), /metrics.

/healthz touches nothing, so a load balancer can tell a hung process from a broken database.
/readyz runs django-health-check's database and cache checks plus ours (broker reachable, no
unapplied migrations), each with HEALTH_CHECK_TIMEOUT, concurrently. /readyz/worker pings the
workers and reports the queue length. Answers: 200 when every check passes, 500 otherwise; JSON
with `?format=json` or `Accept: application/json`.
"""

from __future__ import annotations

import dataclasses
import datetime
import hmac

from django.conf import settings
from django.db import connections
from django.http import Http404, HttpResponse
from django.views.decorators.cache import never_cache
from health_check.base import HealthCheck
from health_check.checks import Cache, Database
from health_check.contrib.celery import Ping
from health_check.exceptions import ServiceUnavailable
from health_check.views import HealthCheckView


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
        except Exception as exc:  # noqa: BLE001 - kombu raises a transport-specific zoo
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
        except Exception as exc:  # noqa: BLE001 - the database check reports the cause
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
        except Exception as exc:  # noqa: BLE001
            raise ServiceUnavailable("Broker unreachable") from exc
        if self.waiting > settings.HEALTH_QUEUE_MAX_LENGTH:
            raise ServiceUnavailable(f"{self.waiting} tasks waiting")


class _Checks(HealthCheckView):
    def get_checks(self):
        for check in super().get_checks():
            if "timeout" in {f.name for f in dataclasses.fields(check)}:
                check.timeout = _timeout()
            yield check


readyz = never_cache(_Checks.as_view(checks=(Database, Cache, Broker, Migrations)))
readyz_worker = never_cache(_Checks.as_view(checks=(Ping, QueueLength)))


@never_cache
def healthz(request):
    return HttpResponse("ok\n", content_type="text/plain")


@never_cache
def metrics(request):
    """Prometheus exposition: django-prometheus's request metrics plus core.metrics; bearer token."""
    token = settings.METRICS_TOKEN
    if not token:
        raise Http404()
    offered = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
    if not hmac.compare_digest(offered.encode(), token.encode()):
        return HttpResponse("metrics need the bearer token\n", status=401, content_type="text/plain",
                            headers={"WWW-Authenticate": "Bearer"})
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
