"""A member's kept home ("Your plans") drops another app's event at once when its author deletes
the record, when a new version of the record turns invalid, or when an update says it has ended
(each path deletes the kept event; its answers go with it)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from bluesky.atproto.firehose import RecordOp
from elonara import atrecords
from network import services
from network.models import NetworkEvent
from tests.invitations.conftest import random_did

pytestmark = pytest.mark.django_db

EVENT = atrecords.EVENT_NSID
RKEY = "3l123456789aa2"


def _record(name: str, *, days: float = 3, **extra) -> dict:
    start = timezone.now() + timedelta(days=days)
    record = {"$type": EVENT, "name": name, "createdAt": atrecords.at_datetime(timezone.now()),
              "startsAt": atrecords.at_datetime(start), "endsAt": atrecords.at_datetime(start + timedelta(hours=2)),
              "mode": f"{EVENT}#inperson", "status": f"{EVENT}#scheduled"}
    record.update(extra)
    return record


def _plans(client: Client) -> str:
    page = client.get("/").content.decode()
    start = page.find('id="my-rsvps"')
    return page[start:page.find("</ul>", start)] if start >= 0 else ""


@pytest.fixture
def answered(django_user_model, settings):
    settings.BLUESKY_APPVIEW_URL = "http://127.0.0.1:9"  # profile reads (queued on commit) go nowhere
    settings.CELERY_TASK_ALWAYS_EAGER = False
    did = random_did()
    event = services.network_event_store(did=did, rkey=RKEY, cid="bafyrei" + "a" * 52,
                                         record=_record("Board game night"), seq=1)
    assert event is not None
    member = django_user_model.objects.create_user(username="bob", password="pw-123456")
    services.network_rsvp_set(event=event, member=member, status="going")
    client = Client()
    client.force_login(member)
    assert "Board game night" in _plans(client) and "Board game night" in _plans(client)  # kept
    return did, client


def test_a_record_deleted_by_its_author_leaves_the_plans_at_once(answered):
    did, client = answered
    services.network_event_apply(op=RecordOp(seq=2, repo=did, action="delete", collection=EVENT, rkey=RKEY,
                                             cid=None, record=None))
    assert not NetworkEvent.objects.exists()
    assert "Board game night" not in _plans(client)


def test_a_record_turned_invalid_leaves_the_plans_at_once(answered):
    did, client = answered
    services.network_event_store(did=did, rkey=RKEY, cid="bafyrei" + "b" * 52, record={"$type": EVENT}, seq=2)
    assert not NetworkEvent.objects.exists()
    assert "Board game night" not in _plans(client)


def test_an_event_updated_to_have_ended_leaves_the_plans_at_once(answered):
    did, client = answered
    services.network_event_store(did=did, rkey=RKEY, cid="bafyrei" + "c" * 52,
                                 record=_record("Board game night", days=-10), seq=2)
    assert not NetworkEvent.objects.exists()
    assert "Board game night" not in _plans(client)
