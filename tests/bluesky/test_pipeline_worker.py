"""The write pipeline with a real Celery worker on Redis and the official PDS: a record write whose
budget slot is further away than the broker's visibility timeout runs exactly once, and a worker
killed in the middle of a record write leaves one record and a true state."""

from __future__ import annotations

import os
import re
import secrets
import time

import pytest

from bluesky.agents.factory import BlueskyAgentFactory
from bluesky.budget import WriteBudget, budget_cache
from bluesky.models import RecordWrite
from elonara import atrecords
from elonara.models import Event, PublishState
from tests.celery_worker import celery_worker, wait_for
from tests.elonara.records_helpers import connect_app_password, get_record, list_records, new_event
from tests.invitations.peer_helpers import configure_for_peer, purge_queue, worker_env

pytestmark = [pytest.mark.peer, pytest.mark.services, pytest.mark.django_db(transaction=True),
              pytest.mark.skipif(not os.environ.get("REDIS_URL"), reason="needs Redis (make test starts one)")]

EVENT = atrecords.EVENT_NSID
# The broker redelivers an unacknowledged message after 5 s; the pipeline publishes only what is
# due within 3 s; a published or running write is left alone for 8 s.
BROKER_ENV = {"CELERY_VISIBILITY_TIMEOUT": "5", "CELERY_UNACKED_RESTORE_INTERVAL": "1",
              "INVITATIONS_DISPATCH_HORIZON_SECONDS": "3", "BLUESKY_WRITE_LEASE_SECONDS": "8"}


@pytest.fixture
def host(settings, peer, accounts, django_user_model):
    configure_for_peer(settings, peer)
    settings.ELONARA_PUBLIC_URL = "http://127.0.0.1:8000"
    member = django_user_model.objects.create_user(username="alice", password="pw-123456")
    connect_app_password(member, accounts["alice"])
    return member


def _results(log: str) -> list[str]:
    """What each run of the record-write task returned, in order (from the worker's own log)."""
    return re.findall(r"Task bluesky\.write_record\[[^\]]+\] succeeded in [0-9.e-]+s: '([a-z]+)'", log)


def test_a_slot_beyond_the_visibility_timeout_is_written_exactly_once(settings, peer, accounts, host, tmp_path):
    settings.INVITATIONS_PACING_ENABLED = True
    # The peer is shared and keeps its records: a title of this run's own.
    title = f"Exactly once {secrets.token_hex(4)}"
    _, account = BlueskyAgentFactory.make_for_records(host)
    # The account's budget is spent for the next 15 s (an invitation batch, say): three times the
    # broker's visibility timeout.
    slot = time.time() + 15
    budget_cache().set(WriteBudget(account=account.key)._tat_key, slot, 3600)
    purge_queue()
    log_path = tmp_path / "worker.log"
    with celery_worker(extra_env=worker_env(peer, INVITATIONS_PACING_ENABLED="true", **BROKER_ENV),
                       log_path=log_path):
        event = new_event(host, title=title)
        wait_for(lambda: Event.objects.get(pk=event.pk).publish_state == PublishState.PUBLISHED, timeout=60)
        time.sleep(12)  # two visibility timeouts: a redelivered copy would run now
    log = log_path.read_text()
    event.refresh_from_db()
    results = _results(log)
    print(f"record write task runs: {results}; published {event.published_at.timestamp() - slot:+.2f} s "
          f"from its slot")
    assert event.publish_state == PublishState.PUBLISHED, log[-3000:]
    # One run that found the slot ahead (no write), one that wrote; nothing ran again.
    assert results.count("published") == 1 and results.count("duplicate") == 0, results
    assert results == ["pending", "published"], results
    assert event.published_at.timestamp() >= slot - 0.1  # never before its slot
    assert not RecordWrite.objects.filter(object_id=event.pk, kind="event").exists()
    uris = [r["uri"] for r in list_records(peer, accounts["alice"].did, EVENT) if r["value"]["name"] == title]
    assert uris == [event.at_uri]


def test_a_worker_killed_during_a_record_write_leaves_one_record_and_a_true_state(settings, peer, accounts, host,
                                                                                  tmp_path):
    import signal

    settings.INVITATIONS_PACING_ENABLED = False
    title = f"Killed mid-write {secrets.token_hex(4)}"
    purge_queue()
    env = worker_env(peer, INVITATIONS_PACING_ENABLED="false", **BROKER_ENV)
    with celery_worker(extra_env=env, log_path=tmp_path / "first.log", beat=False) as first:
        event = new_event(host, title=title)
        running = wait_for(lambda: RecordWrite.objects.filter(kind="event", object_id=event.pk, running=True).exists(),
                           timeout=30, interval=0.01)
        os.killpg(first.pid, signal.SIGKILL)
        first.wait()
    assert running, (tmp_path / "first.log").read_text()[-3000:]
    assert Event.objects.get(pk=event.pk).publish_state == PublishState.PENDING  # what is true now
    with celery_worker(extra_env=env, log_path=tmp_path / "second.log"):
        wait_for(lambda: Event.objects.get(pk=event.pk).publish_state == PublishState.PUBLISHED, timeout=60)
        time.sleep(7)  # a redelivered copy of the killed run's message would run now
    event.refresh_from_db()
    log = (tmp_path / "second.log").read_text()
    assert event.publish_state == PublishState.PUBLISHED, log[-3000:]
    print(f"after the kill: {_results(log)}")
    records = [r for r in list_records(peer, accounts["alice"].did, EVENT) if r["value"]["name"] == title]
    assert [r["uri"] for r in records] == [event.at_uri]
    stored = get_record(peer, event.at_uri).raise_for_status().json()
    assert stored["cid"] == event.at_cid  # the state says what the repository holds
    assert _results(log).count("published") == 1
    assert not RecordWrite.objects.filter(object_id=event.pk, kind="event").exists()
