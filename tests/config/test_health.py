"""/healthz (no dependencies) and /readyz (database, cache, broker, migrations) in-process."""

from __future__ import annotations

import logging

import pytest


def test_healthz_touches_nothing(client, db, django_assert_num_queries):
    with django_assert_num_queries(0):
        response = client.get("/healthz")
    assert response.status_code == 200 and response.content == b"ok\n"
    assert response["Cache-Control"].startswith("max-age=0")
    assert len(response["X-Request-ID"]) == 32


@pytest.mark.django_db(transaction=True)
def test_readyz_reports_each_dependency(client, settings):
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    response = client.get("/readyz?format=json")
    assert response.status_code == 200, response.content
    assert response.json() == {"Database(alias='default')": "OK", "Cache(alias='default')": "OK",
                               "Broker()": "OK", "Migrations(alias='default')": "OK"}


@pytest.mark.django_db(transaction=True)
def test_readyz_fails_when_the_cache_is_unreachable(client, settings):
    # A Redis cache on a port nothing listens on (bound then closed: no other server there).
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache",
                                   "LOCATION": f"redis://127.0.0.1:{port}/0",
                                   "OPTIONS": {"socket_connect_timeout": 1}}}
    response = client.get("/readyz?format=json")
    assert response.status_code == 500
    assert response.json()["Cache(alias='default')"] != "OK"
    assert response.json()["Database(alias='default')"] == "OK"


def test_a_safe_incoming_request_id_is_kept_and_an_unsafe_one_replaced(client):
    assert client.get("/healthz", HTTP_X_REQUEST_ID="lb-1234abcd")["X-Request-ID"] == "lb-1234abcd"
    replaced = client.get("/healthz", HTTP_X_REQUEST_ID="x\nforged log line")["X-Request-ID"]
    assert replaced != "x\nforged log line" and len(replaced) == 32


def _unreachable_cache(settings) -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache",
                                   "LOCATION": f"redis://127.0.0.1:{port}/0",
                                   "OPTIONS": {"socket_connect_timeout": 1}}}


@pytest.mark.django_db(transaction=True)
def test_failing_readiness_is_logged_once_per_change_at_warning(client, settings, caplog):
    # Issue 24: every failing probe logged an ERROR with chained tracebacks.
    from config import health

    health._last_failing.clear()
    _unreachable_cache(settings)
    with caplog.at_level("DEBUG"):
        for _ in range(3):
            assert client.get("/readyz?format=json").status_code == 500
    records = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert [(r.name, r.levelname) for r in records] == [("config.health", "WARNING")], \
        [(r.name, r.levelname, r.getMessage()[:80]) for r in records]
    assert "Cache" in records[0].getMessage() and records[0].exc_info is None
    caplog.clear()
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    with caplog.at_level("DEBUG"):
        assert client.get("/readyz").status_code == 200
        assert client.get("/readyz").status_code == 200
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING] == ["readyz ready again"]


def test_the_worker_probe_needs_the_metrics_token(client, settings):
    settings.METRICS_TOKEN = "probe-token-123"
    assert client.get("/readyz/worker").status_code == 401
    assert client.get("/readyz/worker", HTTP_AUTHORIZATION="Bearer wrong").status_code == 401
    settings.METRICS_TOKEN = ""
    assert client.get("/readyz/worker").status_code == 404


@pytest.mark.services
@pytest.mark.django_db(transaction=True)
def test_the_worker_probe_is_short_cached_and_shows_no_heap_address(client, settings, caplog):
    # A Redis broker with no worker consuming (this test starts none): the ping gets no answer.
    import os

    if not os.environ.get("CELERY_BROKER_URL", "").startswith("redis://"):
        pytest.fail("the services tier runs with a Redis broker")
    from config import health

    health._WorkerChecks._cache = None
    settings.METRICS_TOKEN = "probe-token-123"
    settings.HEALTH_WORKER_PING_TIMEOUT = 0.5
    settings.HEALTH_WORKER_CACHE_SECONDS = 60
    auth = {"HTTP_AUTHORIZATION": "Bearer probe-token-123"}
    first = client.get("/readyz/worker?format=json", **auth)
    assert first.status_code == 500
    assert "0x" not in first.content.decode() and " at " not in first.content.decode()
    assert "Celery workers unavailable" in first.json()["WorkerPing()"], first.json()
    # The second probe is answered from the first one's result: no second ping on the broker.
    from config.celery import app

    pings = []
    original = app.control.ping
    app.control.ping = lambda *a, **k: pings.append(1) or original(*a, **k)
    try:
        again = client.get("/readyz/worker?format=json", **auth)
    finally:
        app.control.ping = original
        health._WorkerChecks._cache = None
    assert again.status_code == 500 and again.json() == first.json() and pings == []
