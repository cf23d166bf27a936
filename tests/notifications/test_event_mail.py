"""Event mail through a real SMTP server on loopback: confirmations with a calendar entry, change and
cancel notices that calendar apps apply (same UID, higher SEQUENCE, METHOD), reminders, choices."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import icalendar
import pytest
from django.test import Client
from django.utils import timezone

from elonara import services as events
from notifications import services
from notifications.models import Mail, MailSettings
from tests.notifications.helpers import drain, event, member

pytestmark = pytest.mark.django_db

BERLIN = ZoneInfo("Europe/Berlin")


def _vevent(received) -> tuple[icalendar.Calendar, icalendar.Event]:
    calendar = icalendar.Calendar.from_ical(received.ics())
    return calendar, calendar.walk("VEVENT")[0]


def test_going_gets_a_confirmation_with_the_calendar_entry(mail_server, django_capture_on_commit_callbacks):
    host, maya = member("host"), member("maya")
    party = event(host, title="Tom & Jerry's <picnic>")
    with django_capture_on_commit_callbacks(execute=True):
        events.rsvp_set(event=party, member=maya, status="going")
    assert drain().sent == 1
    [received] = mail_server.to("maya@example.org")
    assert received.subject == "Going: Tom & Jerry's <picnic>"
    assert "Tom & Jerry's <picnic>" in received.text() and "Host:  Host" in received.text()
    assert "Tom &amp; Jerry&#x27;s &lt;picnic&gt;" in received.html()
    assert 'name="viewport"' in received.html()
    calendar, vevent = _vevent(received)
    assert str(calendar["METHOD"]) == "REQUEST"
    assert vevent["DTSTART"].dt == party.starts_at.replace(microsecond=0)
    assert vevent["ATTENDEE"].params["PARTSTAT"] == "ACCEPTED"
    assert str(vevent["ATTENDEE"]) == "mailto:maya@example.org"
    # The host's own address is on no page: it is not in the mail either.
    assert "host@example.org" not in received.message.as_string()
    assert received.message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    # Answering again the same way sends nothing new.
    with django_capture_on_commit_callbacks(execute=True):
        events.rsvp_set(event=party, member=maya, status="going")
    assert drain().sent == 0
    assert len(mail_server.to("maya@example.org")) == 1


def test_change_and_cancel_notices_move_then_remove_the_calendar_entry_across_dst(
        mail_server, django_capture_on_commit_callbacks):
    host, maya, sam = member("host"), member("maya"), member("sam")
    # Saturday 29 March 2031, 10:00 in Berlin (CET, UTC+1); the clocks go forward that night.
    start = datetime(2031, 3, 29, 10, 0, tzinfo=BERLIN)
    ride = event(host, starts_at=start, time_zone="Europe/Berlin")
    with django_capture_on_commit_callbacks(execute=True):
        events.rsvp_set(event=ride, member=maya, status="going")
        events.rsvp_set(event=ride, member=sam, status="maybe")
    drain()
    _, first = _vevent(mail_server.to("maya@example.org")[0])
    # Moved to Sunday 10:00 Berlin time, now CEST (UTC+2): 08:00 UTC, not 09:00.
    new_start = datetime(2031, 3, 30, 10, 0, tzinfo=BERLIN)
    with django_capture_on_commit_callbacks(execute=True):
        events.event_update(event=ride, editor=host, starts_at=new_start, ends_at=new_start + timedelta(hours=2))
        events.event_update(event=ride, editor=host, description="Bring water.")  # not time or place: no mail
    assert drain().sent == 2
    for address in ("maya@example.org", "sam@example.org"):
        notice = mail_server.to(address)[-1]
        assert notice.subject == "New time: Lakeside ride"
        assert "Saturday 29 March 2031, 10:00–12:00, Berlin time (UTC+1)" in notice.text()
        assert "Sunday 30 March 2031, 10:00–12:00, Berlin time (UTC+2)" in notice.text()
        calendar, moved = _vevent(notice)
        assert str(calendar["METHOD"]) == "REQUEST"
        assert moved["UID"] == first["UID"] and moved["SEQUENCE"] > first["SEQUENCE"]
        assert moved["DTSTART"].dt.astimezone(UTC) == datetime(2031, 3, 30, 8, 0, tzinfo=UTC)
        assert moved["DTSTART"].params["TZID"] == "Europe/Berlin"
    with django_capture_on_commit_callbacks(execute=True):
        events.event_cancel(event=ride, actor=host)
        events.event_cancel(event=ride, actor=host)  # twice: one notice
    assert drain().sent == 2
    cancel = mail_server.to("maya@example.org")[-1]
    assert cancel.subject == "Cancelled: Lakeside ride"
    calendar, cancelled = _vevent(cancel)
    assert str(calendar["METHOD"]) == "CANCEL" and str(cancelled["STATUS"]) == "CANCELLED"
    assert cancelled["UID"] == first["UID"] and cancelled["SEQUENCE"] > moved["SEQUENCE"]
    assert not mail_server.to("host@example.org")  # the host made the changes


def test_reminder_a_day_before_late_answers_and_never_after_the_start(mail_server,
                                                                      django_capture_on_commit_callbacks):
    host, early, late = member("host"), member("early"), member("late", rsvp_confirmations=False)
    Mail.objects.all().delete()
    start = timezone.now() + timedelta(days=3)
    ride = event(host, starts_at=start)
    with django_capture_on_commit_callbacks(execute=True):
        events.rsvp_set(event=ride, member=early, status="going")
    reminder = Mail.objects.get(member=early, kind=Mail.Kind.REMINDER)
    assert abs((reminder.due_at - (start - timedelta(hours=24))).total_seconds()) < 1
    drain()  # the confirmation only
    assert [r.subject for r in mail_server.to("early@example.org")] == ["Going: Lakeside ride"]
    assert drain(now=start - timedelta(hours=24, seconds=1)).sent == 0
    assert drain(now=start - timedelta(hours=23)).sent == 1
    assert mail_server.to("early@example.org")[-1].subject == "Reminder: Lakeside ride"
    assert drain(now=start - timedelta(hours=1)).sent == 0  # once
    # A late answer (an hour before) gets its reminder at once; none once the event started.
    soon = event(host, starts_at=timezone.now() + timedelta(hours=1), title="Soon")
    with django_capture_on_commit_callbacks(execute=True):
        events.rsvp_set(event=soon, member=late, status="maybe")
    assert drain().sent == 1 and mail_server.to("late@example.org")[-1].subject == "Reminder: Soon"
    # Queued a moment before the start, picked up after it: not sent.
    started = event(host, starts_at=timezone.now() + timedelta(seconds=1), title="Started")
    with django_capture_on_commit_callbacks(execute=True):
        events.rsvp_set(event=started, member=late, status="going")
    time.sleep(1.2)
    report = drain()
    assert report.sent == 0
    assert Mail.objects.get(event=started, kind=Mail.Kind.REMINDER).note == "The event already started."
    # Answering after the start queues no reminder at all.
    with django_capture_on_commit_callbacks(execute=True):
        events.rsvp_set(event=started, member=early, status="going")
    assert not Mail.objects.filter(event=started, member=early, kind=Mail.Kind.REMINDER).exists()


def test_moving_the_event_moves_the_reminder(mail_server, django_capture_on_commit_callbacks):
    host, maya = member("host"), member("maya", rsvp_confirmations=False, event_changes=False)
    start = timezone.now() + timedelta(days=3)
    ride = event(host, starts_at=start)
    with django_capture_on_commit_callbacks(execute=True):
        events.rsvp_set(event=ride, member=maya, status="going")
        events.event_update(event=ride, editor=host, starts_at=start + timedelta(days=2),
                            ends_at=start + timedelta(days=2, hours=2))
    assert drain(now=start - timedelta(hours=23)).sent == 0
    assert drain(now=start + timedelta(days=1, hours=1)).sent == 2
    assert [r.subject for r in mail_server.to("maya@example.org")] == ["Reminder: Lakeside ride"]
    # The host is going to their own event: reminded as anyone going is (never told of their own move).
    assert [r.subject for r in mail_server.to("host@example.org")] == ["Reminder: Lakeside ride"]


def test_no_mail_to_unconfirmed_or_missing_addresses_or_when_turned_off(mail_server,
                                                                        django_capture_on_commit_callbacks):
    host = member("host")
    unconfirmed, quiet = member("unconfirmed", confirmed=False), member("quiet", rsvp_confirmations=False)
    bluesky = member("bsky", email="", confirmed=False)
    ride = event(host, starts_at=timezone.now() + timedelta(hours=2))
    with django_capture_on_commit_callbacks(execute=True):
        for person in (unconfirmed, quiet, bluesky):
            events.rsvp_set(event=ride, member=person, status="going")
    MailSettings.objects.filter(member=quiet).update(reminders=False)
    drain()
    assert mail_server.received == []
    assert not Mail.objects.filter(member=bluesky).exists()


def test_unsubscribe_by_one_click_post_without_a_session(mail_server, django_capture_on_commit_callbacks):
    host, maya = member("host"), member("maya")
    ride = event(host, starts_at=timezone.now() + timedelta(hours=30))
    with django_capture_on_commit_callbacks(execute=True):
        events.rsvp_set(event=ride, member=maya, status="going")
    drain()
    [confirmation] = mail_server.to("maya@example.org")
    link = str(confirmation.message["List-Unsubscribe"]).strip().strip("<>")
    assert link in confirmation.text()
    path = link.removeprefix("http://127.0.0.1:8000")
    # RFC 8058: a POST with this body, no cookie, no CSRF token.
    response = Client(enforce_csrf_checks=True).post(path, "List-Unsubscribe=One-Click",
                                                    content_type="application/x-www-form-urlencoded")
    assert response.status_code == 200
    assert MailSettings.objects.get(member=maya).rsvp_confirmations is False
    assert MailSettings.objects.get(member=maya).reminders is True
    # The reminder link turns reminders off; then nothing more is sent.
    reminder_link = services.tokens.unsubscribe_token(member_id=maya.pk, topic="reminders")
    Client(enforce_csrf_checks=True).post(f"/notifications/unsubscribe/{reminder_link}/")
    assert drain(now=ride.starts_at - timedelta(hours=23)).sent == 0
    assert len(mail_server.to("maya@example.org")) == 1
    # A forged link does nothing.
    assert Client().post("/notifications/unsubscribe/1.reminders:forged/").status_code == 400


def test_a_permanent_refusal_marks_the_address_and_stops_further_mail(mail_server, client,
                                                                      django_capture_on_commit_callbacks):
    host, maya = member("host"), member("maya")
    mail_server.refuse("maya@example.org")
    ride = event(host, starts_at=timezone.now() + timedelta(hours=30))
    with django_capture_on_commit_callbacks(execute=True):
        events.rsvp_set(event=ride, member=maya, status="going")
    report = drain()
    assert report.failed == 1 and mail_server.received == []
    settings_row = MailSettings.objects.get(member=maya)
    assert settings_row.refused_email == "maya@example.org" and settings_row.refused_reason.startswith("550")
    # Nothing else is attempted: the reminder is dropped, later notices skipped.
    with django_capture_on_commit_callbacks(execute=True):
        events.event_update(event=ride, editor=host, venue="Old mill")
    assert drain(now=ride.starts_at - timedelta(hours=23)).sent == 0
    assert set(Mail.objects.filter(member=maya).values_list("status", flat=True)) <= {"failed", "skipped"}
    client.force_login(maya)
    page = client.get("/members/maya/").content.decode()
    assert "refused our mail" in page and "550" in page


def test_a_temporary_failure_is_retried_later(mail_server, settings, django_capture_on_commit_callbacks):
    host, maya = member("host"), member("maya")
    ride = event(host, starts_at=timezone.now() + timedelta(hours=30))
    settings.EMAIL_PORT = 9  # nothing listens there
    with django_capture_on_commit_callbacks(execute=True):
        events.rsvp_set(event=ride, member=maya, status="going")
    assert drain().retry == 1
    mail = Mail.objects.get(member=maya, kind=Mail.Kind.RSVP)
    assert mail.status == "pending" and mail.due_at > timezone.now()
    settings.EMAIL_PORT = mail_server.port
    assert drain(now=mail.due_at).sent == 1


def test_a_duplicated_task_or_a_second_dispatcher_sends_nothing_twice(mail_server, settings,
                                                                      django_capture_on_commit_callbacks):
    host = member("host")
    guests = [member(f"g{i}") for i in range(3)]
    ride = event(host, starts_at=timezone.now() + timedelta(hours=30))
    with django_capture_on_commit_callbacks(execute=True):
        for guest in guests:
            events.rsvp_set(event=ride, member=guest, status="going")
    claim = services.mail_claim_due()
    assert services.mail_claim_due() is None  # claimed rows are leased: a second dispatcher gets none
    assert services.mail_send_claimed(claim=claim).sent == 3
    assert services.mail_send_claimed(claim=claim).sent == 0  # the same message delivered again
    # A sender that died holding a claim: its rows are claimed again once the lease is over.
    with django_capture_on_commit_callbacks(execute=True):
        events.event_update(event=ride, editor=host, venue="Old mill")
    lost = services.mail_claim_due()
    Mail.objects.filter(claim=lost).update(status=Mail.Status.SENDING)  # killed mid-send
    assert services.mail_send_claimed(claim=lost).sent == 0
    later = timezone.now() + timedelta(seconds=settings.NOTIFICATIONS_SEND_LEASE_SECONDS + 1)
    assert drain(now=later).sent == 3
    assert len(mail_server.received) == 6
