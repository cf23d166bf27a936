"""Degrade, don't fail (issue 34): Redis frozen (SIGSTOP) for longer than the cache's timeouts while
members load pages, sign in and answer. No request fails; pages render from the database meanwhile;
once Redis answers again (SIGCONT) every page is true, the copies kept before the freeze included.

A private redis-server of this test's own, so freezing it stops nobody else's broker."""

from __future__ import annotations

import os
import signal
import time
from datetime import timedelta

import pytest
from django.core.cache import caches
from django.test import Client
from django.utils import timezone

from elonara import services
from elonara.models import RSVP
from members.models import Member
from tests.redis_server import private_redis

pytestmark = [pytest.mark.services, pytest.mark.django_db(transaction=True)]
PASSWORD = "pw-long-enough-123"


@pytest.fixture
def frozen_redis(tmp_path, settings):
    """A private Redis serving the caches; yields a function freezing it (SIGSTOP), thawed after."""
    proc, base = private_redis(tmp_path)
    url = f"{base}/0"
    port = base.rsplit(":", 1)[1]
    timeouts = {"socket_connect_timeout": 0.3, "socket_timeout": 0.3}
    settings.CACHES = {
        "default": {"BACKEND": "core.cache.FailSoftRedisCache", "LOCATION": url,
                    "KEY_PREFIX": f"outage-{port}", "OPTIONS": {**timeouts, "retry_seconds": 0.5}},
        "state": {"BACKEND": "core.cache.ReusingRedisCache", "LOCATION": url, "OPTIONS": timeouts},
    }
    settings.SESSION_ENGINE = "django.contrib.sessions.backends.cached_db"

    frozen = []

    def freeze() -> None:
        os.kill(proc.pid, signal.SIGSTOP)
        frozen.append(True)

    def thaw() -> None:
        os.kill(proc.pid, signal.SIGCONT)
        frozen.clear()

    freeze.thaw = thaw
    try:
        yield freeze
    finally:
        if frozen:
            thaw()
        proc.terminate()
        proc.wait(timeout=10)


def _login(username: str) -> Client:
    client = Client()
    response = client.post("/members/login/", {"username": username, "password": PASSWORD})
    assert response.status_code == 302, response.status_code
    return client


def _answer(page: str) -> str:
    start = page.find('id="my-rsvp"')
    return page[start:page.find("</p>", start)] if start >= 0 else ""


def test_a_frozen_redis_slows_pages_and_loses_nothing(frozen_redis):
    host = Member.objects.create_user(username="host", password=PASSWORD, display_name="Host")
    Member.objects.create_user(username="bea", password=PASSWORD, display_name="Bea")
    Member.objects.create_user(username="cy", password=PASSWORD, display_name="Cy")
    start = timezone.now() + timedelta(days=2)
    event = services.event_create(host=host, title="Frozen night", starts_at=start,
                                  ends_at=start + timedelta(hours=2), venue="Hall")
    url = event.get_absolute_url()
    bea = _login("bea")
    for _ in range(2):  # the second view comes from the kept copy
        before = bea.get(url)
        assert before.status_code == 200
    assert _answer(before.content.decode()) == ""

    frozen_redis()
    began = time.monotonic()
    statuses = {}
    statuses["visitor home"] = Client().get("/").status_code
    statuses["visitor event"] = Client().get(url).status_code
    cy = Client()
    statuses["sign in"] = cy.post("/members/login/", {"username": "cy", "password": PASSWORD}).status_code
    signed_in = cy.get("/")
    statuses["signed-in home"] = signed_in.status_code
    statuses["answer"] = bea.post(f"/events/{event.pk}/rsvp/", {"status": "going"}).status_code
    during = bea.get(url)
    statuses["event after answering"] = during.status_code
    took = time.monotonic() - began
    print(f"during the freeze: {statuses}; {took:.1f} s for {len(statuses)} requests")
    assert statuses == {"visitor home": 200, "visitor event": 200, "sign in": 302, "signed-in home": 200,
                        "answer": 302, "event after answering": 200}
    assert "Cy" in signed_in.content.decode()  # the new session works from the database
    assert "Going" in _answer(during.content.decode())  # rendered from the database: true
    assert RSVP.objects.get(event=event, member__username="bea").status == RSVP.Status.GOING

    frozen_redis.thaw()
    time.sleep(0.6)  # past the retry pause: the next request talks to Redis again
    after = bea.get(url)
    assert after.status_code == 200
    # The copy kept before the freeze (no answer) is left behind, not served.
    assert "Going" in _answer(after.content.decode())
    again = bea.get(url)
    assert "Going" in _answer(again.content.decode())
    # Sessions made or changed during the freeze still work from Redis.
    assert "Cy" in cy.get("/").content.decode()
    assert caches["default"].get("missing-key") is None
