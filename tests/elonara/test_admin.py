"""The admin's pages for what hosts and guests did at an event (issue 38): questions, messages
and check-ins are read there, never written or changed, and a ticket's code is never shown."""

from __future__ import annotations

import pytest
from django.test import Client

from elonara import checkin, host_messages, questions, services
from elonara.models import RSVP, Checkin, EventQuestion, HostMessage
from members.models import Member
from tests.notifications.helpers import event as make_event
from tests.notifications.helpers import member as make_member

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff() -> Client:
    admin = Member.objects.create_superuser(username="staff", password="pw-long-enough-123", email="s@example.org")
    client = Client()
    client.force_login(admin)
    return client


def test_questions_messages_and_checkins_are_read_only_and_show_no_ticket_code(staff):
    host, ana = make_member("host"), make_member("ana")
    party = make_event(host)
    question = questions.question_add(event=party, actor=host, kind="short", label="Dietary needs?")
    services.rsvp_set(event=party, member=ana, status="going")
    rsvp = RSVP.objects.get(event=party, member=ana)
    message = host_messages.host_message_send(event=party, actor=host, body="We moved to room 4.", groups=["going"])
    checkin.checkin_take(event=party, actor=host, code=checkin.rsvp_ticket_code(rsvp=rsvp))
    code = checkin.rsvp_ticket_code(rsvp=rsvp)
    seen = Checkin.objects.get()
    for model, obj, shown in ((EventQuestion, question, "Dietary needs?"), (HostMessage, message, "room 4"),
                              (Checkin, seen, "ana")):
        base = f"/admin/elonara/{model._meta.model_name}/"
        listing = staff.get(base)
        assert listing.status_code == 200 and shown in listing.content.decode()
        page = staff.get(f"{base}{obj.pk}/change/")
        assert page.status_code == 200 and shown in page.content.decode()
        assert code not in listing.content.decode() + page.content.decode()
        assert 'name="_save"' not in page.content.decode()  # nothing to save: read only
        assert staff.get(f"{base}add/").status_code == 403
        assert staff.post(f"{base}{obj.pk}/change/", {"body": "changed", "label": "changed"}).status_code == 403
    question.refresh_from_db()
    message.refresh_from_db()
    assert (question.label, message.body) == ("Dietary needs?", "We moved to room 4.")
    # Staff may still delete an event with all of them (a record of what happened does not block it).
    assert staff.post(f"/admin/elonara/event/{party.pk}/delete/", {"post": "yes"}).status_code == 302
    assert not Checkin.objects.exists() and not HostMessage.objects.exists()
