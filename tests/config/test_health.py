"""/healthz (no dependencies) and /readyz (database, cache, broker, migrations) in-process."""

from __future__ import annotations

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
