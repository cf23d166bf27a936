"""A member's kept home ("Your plans") follows every write path of what it shows: a hosted event
changed by save, update() (title, cancellation) and delete, and an answer changed by update(); the
querysets renew what the save receivers renew (elonara.models, elonara.signals)."""

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from elonara import services
from elonara.models import RSVP, Event
from members.models import Member

pytestmark = pytest.mark.django_db


def _plans(client: Client) -> str:
    page = client.get("/").content.decode()
    start = page.find('id="my-rsvps"')
    return page[start:page.find("</ul>", start)] if start >= 0 else ""


def test_a_kept_home_follows_hosted_events_and_answers_through_every_write_path():
    host = Member.objects.create_user(username="host", password="pw-long-enough-123")
    guest = Member.objects.create_user(username="guest", password="pw-long-enough-123")
    as_host, as_guest = Client(), Client()
    as_host.force_login(host)
    as_guest.force_login(guest)
    start = timezone.now() + timedelta(days=2)
    event = services.event_create(host=host, title="First title", starts_at=start,
                                  ends_at=start + timedelta(hours=1), venue="Hall")
    services.rsvp_set(event=event, member=guest, status="going")
    for client in (as_host, as_guest):  # kept
        assert "First title" in _plans(client) and "First title" in _plans(client)
    Event.objects.filter(pk=event.pk).update(title="Second title")
    assert "Second title" in _plans(as_host) and "Second title" in _plans(as_guest)
    Event.objects.filter(pk=event.pk).update(status=Event.Status.CANCELLED)
    assert "Cancelled" in _plans(as_host) and "Cancelled" in _plans(as_guest)
    RSVP.objects.filter(event=event, member=guest).update(status=RSVP.Status.MAYBE)
    assert "Maybe" in _plans(as_guest)
    Event.objects.filter(pk=event.pk).delete()
    assert "Second title" not in _plans(as_host) and "Second title" not in _plans(as_guest)
