import os

from celery import Celery
from celery.signals import worker_ready

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("elonara")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@worker_ready.connect
def _serve_worker_metrics(**_kwargs) -> None:
    """On a machine that runs workers but no web process, serve /metrics from the worker itself."""
    from django.conf import settings

    if not settings.CELERY_METRICS_ADDR:
        return
    import prometheus_client
    from prometheus_client import multiprocess

    host, _, port = settings.CELERY_METRICS_ADDR.rpartition(":")
    registry = prometheus_client.REGISTRY
    if settings.PROMETHEUS_MULTIPROC_DIR:
        registry = prometheus_client.CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
    prometheus_client.start_http_server(int(port), addr=host or "127.0.0.1", registry=registry)
