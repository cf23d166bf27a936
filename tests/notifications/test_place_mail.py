"""Mail when a member's place changes without them answering (issue 32), through the real SMTP server:
put on the waiting list (with the place), promoted (with the calendar entry), a request approved or
declined. Each arrives once, and each can be turned off with its own one-click link."""

from __future__ import annotations

from urllib.parse import urlsplit

import icalendar
import pytest
from django.test import Client

from elonara import services as events
from elonara.answers import rsvp_changed
from elonara.models import RSVP
from notifications.models import Mail, MailSettings
from tests.notifications.helpers import drain, event, member

pytestmark = pytest.mark.django_db


def _subjects(mail_server, address: str) -> list[str]:
    return [received.subject for received in mail_server.to(address)]


def test_each_change_of_place_is_told_once_with_the_calendar_entry_when_going(
        mail_server, django_capture_on_commit_callbacks):
    host, ann, bob, cid = member("host"), member("ann"), member("bob"), member("cid")
    picnic = event(host, title="Picnic")
    events.event_update(event=picnic, editor=host, capacity=2, requires_approval=True)  # the host and one
    with django_capture_on_commit_callbacks(execute=True):
        asked = [events.rsvp_set(event=picnic, member=m, status="going") for m in (ann, bob, cid)]
    assert drain().sent == 0  # asking is the member's own doing: nothing to tell
    with django_capture_on_commit_callbacks(execute=True):
        events.rsvp_approve(event=picnic, actor=host, rsvp_id=asked[0].pk)
        events.rsvp_approve(event=picnic, actor=host, rsvp_id=asked[1].pk)
        events.rsvp_decline(event=picnic, actor=host, rsvp_id=asked[2].pk)
    assert drain().sent == 3
    [approved] = mail_server.to("ann@example.org")
    assert approved.subject == "Request approved: Picnic"
    assert "approved your request" in approved.text() and "you are going" in approved.text()
    assert str(icalendar.Calendar.from_ical(approved.ics())["METHOD"]) == "REQUEST"
    [waiting] = mail_server.to("bob@example.org")
    assert waiting.subject == "Request approved: on the waiting list: Picnic"
    assert "number 1 on the waiting list" in waiting.text()
    assert waiting.ics() in (b"", None) or not waiting.ics()
    assert _subjects(mail_server, "cid@example.org") == ["Request declined: Picnic"]

    # ann leaves: bob gets the seat, told as such (not an ordinary "Going" confirmation).
    with django_capture_on_commit_callbacks(execute=True):
        events.rsvp_set(event=picnic, member=ann, status="not_going")
    drain()
    promoted = mail_server.to("bob@example.org")[-1]
    assert promoted.subject == "A seat freed up: you're going: Picnic"
    assert "moved from the waiting list" in promoted.text()
    calendar = icalendar.Calendar.from_ical(promoted.ics())
    assert calendar.walk("VEVENT")[0]["ATTENDEE"].params["PARTSTAT"] == "ACCEPTED"
    assert len(mail_server.to("bob@example.org")) == 2
    assert promoted.message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"

    # A redelivered signal, or a second drain, sends nothing again.
    bob_rsvp = RSVP.objects.select_related("event", "member").get(event=picnic, member=bob)
    with django_capture_on_commit_callbacks(execute=True):
        rsvp_changed.send(sender=RSVP, rsvp=bob_rsvp, change="promoted")
    assert drain().sent == 0
    assert len(mail_server.to("bob@example.org")) == 2


def test_put_on_the_waiting_list_says_the_place_and_the_topic_turns_off_in_one_click(
        mail_server, django_capture_on_commit_callbacks):
    host, ann, bob, cid = member("host"), member("ann"), member("bob"), member("cid")
    ride = event(host, title="Ride")
    events.event_update(event=ride, editor=host, capacity=2)  # the host and one
    with django_capture_on_commit_callbacks(execute=True):
        for person in (ann, bob, cid):
            events.rsvp_set(event=ride, member=person, status="going")
    drain()
    assert _subjects(mail_server, "bob@example.org") == ["On the waiting list (number 1): Ride"]
    assert _subjects(mail_server, "cid@example.org") == ["On the waiting list (number 2): Ride"]
    assert "number 2 on the waiting list" in mail_server.to("cid@example.org")[0].text()

    # cid follows the one-click link of that mail: no more news about their place, other mail stays on.
    link = urlsplit(mail_server.to("cid@example.org")[0].message["List-Unsubscribe"].strip().strip("<>")).path
    assert Client().post(link, {"List-Unsubscribe": "One-Click"}).status_code in (200, 204)
    prefs = MailSettings.objects.get(member=cid)
    assert not prefs.place_changes and prefs.rsvp_confirmations and prefs.reminders
    with django_capture_on_commit_callbacks(execute=True):
        events.rsvp_set(event=ride, member=ann, status="not_going")
        events.rsvp_set(event=ride, member=bob, status="not_going")
    drain()
    assert RSVP.objects.get(event=ride, member=cid).status == "going"
    assert len(mail_server.to("cid@example.org")) == 1
    assert not Mail.objects.filter(member=cid, kind=Mail.Kind.PLACE, status=Mail.Status.PENDING).exists()


def test_removed_by_the_host_is_told_once(mail_server, django_capture_on_commit_callbacks):
    host, ann = member("host"), member("ann")
    ride = event(host, title="Ride")
    with django_capture_on_commit_callbacks(execute=True):
        seat = events.rsvp_set(event=ride, member=ann, status="going")
    drain()
    with django_capture_on_commit_callbacks(execute=True):
        events.rsvp_remove(event=ride, actor=host, rsvp_id=seat.pk)
    drain()
    assert _subjects(mail_server, "ann@example.org") == ["Going: Ride", "Removed by the host: Ride"]
    assert "removed you" in mail_server.to("ann@example.org")[-1].text()
    assert not mail_server.to("ann@example.org")[-1].ics()
