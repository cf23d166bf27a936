"""iCalendar files and feeds, read back with two independent parsers (icalendar and vobject)."""

from __future__ import annotations

import hashlib
import io
import logging
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import icalendar
import pytest
import vobject
from django.urls import reverse
from django.utils import timezone

from core.log_filters import RedactCalendarFeedTokens
from elonara import services
from elonara.errors import NotAllowedError
from elonara.models import CalendarFeed
from members.models import Member
from notifications.messages import calendar_entry

pytestmark = pytest.mark.django_db

NEW_YORK = ZoneInfo("America/New_York")
BERLIN = ZoneInfo("Europe/Berlin")


@pytest.fixture
def ann():
    return Member.objects.create_user(username="ann", password="pw-long-enough-123", display_name="Ann")


@pytest.fixture
def bob():
    return Member.objects.create_user(username="bob", password="pw-long-enough-123", display_name="Bob")


def _event(host, *, title="Picnic", start=None, end=None, hours=2, zone="UTC", **extra):
    # Aware-datetime arithmetic is wall-clock arithmetic: events spanning a DST change pass `end`.
    start = start or timezone.now() + timedelta(days=5)
    end = end or start + timedelta(hours=hours)
    return services.event_create(host=host, title=title, starts_at=start, ends_at=end,
                                 time_zone=zone, venue=extra.pop("venue", "Park"), **extra)


def _parse_both(body: bytes):
    """Both parsers must accept the file; returns {uid: (icalendar VEVENT, vobject vevent)}."""
    ical = icalendar.Calendar.from_ical(body)
    vcal = vobject.readOne(body.decode("utf-8"))
    ical_events = {str(e["UID"]): e for e in ical.walk("VEVENT")}
    v_events = {e.uid.value: e for e in vcal.vevent_list} if hasattr(vcal, "vevent_list") else {}
    assert set(ical_events) == set(v_events)
    return {uid: (ical_events[uid], v_events[uid]) for uid in ical_events}, ical, vcal


def _download(client, event) -> bytes:
    response = client.get(reverse("event-ics", args=[event.pk]))
    assert response.status_code == 200
    assert response["Content-Type"] == "text/calendar; charset=utf-8"
    assert response["Content-Disposition"].startswith("attachment;") and ".ics" in response["Content-Disposition"]
    return response.content


def test_add_to_calendar_file_parses_with_both_parsers(client, ann):
    start = datetime(2031, 6, 1, 9, 30, tzinfo=BERLIN)
    event = _event(ann, title="Lakeside ride, with coffee; bring snacks", start=start, hours=2.5,
                   zone="Europe/Berlin", venue="Boathouse", description="Meet at the gate.\nBring water.",
                   online_url="https://meet.example/ride")
    body = _download(client, event)
    assert body.startswith(b"BEGIN:VCALENDAR\r\n") and b"\r\nEND:VCALENDAR\r\n" in body
    events, ical, vcal = _parse_both(body)
    ((uid, (ie, ve)),) = events.items()
    assert uid == f"event-{event.pk}@127.0.0.1"
    assert str(ie["SUMMARY"]) == ve.summary.value == "Lakeside ride, with coffee; bring snacks"
    assert str(ie["LOCATION"]) == ve.location.value == "Boathouse"
    assert ve.url.value == f"http://127.0.0.1:8000/events/{event.pk}/"
    assert "Meet at the gate.\nBring water." in ve.description.value
    assert "https://meet.example/ride" in ve.description.value
    assert ie["DTSTART"].params["TZID"] == "Europe/Berlin"
    assert ie.decoded("DTSTART") == start
    assert ve.dtstart.value.astimezone(UTC) == datetime(2031, 6, 1, 7, 30, tzinfo=UTC)
    assert ve.dtend.value.astimezone(UTC) == datetime(2031, 6, 1, 10, 0, tzinfo=UTC)
    assert ve.status.value == "CONFIRMED" and int(ve.sequence.value) == 0
    # The event's own zone travels as a VTIMEZONE (RFC 5545 3.6.5).
    assert [str(tz["TZID"]) for tz in ical.walk("VTIMEZONE")] == ["Europe/Berlin"]
    assert vcal.vtimezone.tzid.value == "Europe/Berlin"


def test_times_are_right_across_a_dst_change_in_the_events_zone(client, ann):
    # New York springs forward at 02:00 on Sunday 9 March 2031: 01:30 EST to 04:00 EDT is 1.5 real hours.
    across = _event(ann, title="Night shift", start=datetime(2031, 3, 9, 1, 30, tzinfo=NEW_YORK),
                    end=datetime(2031, 3, 9, 4, 0, tzinfo=NEW_YORK), zone="America/New_York")
    # A week apart, same wall-clock time, on both sides of the change.
    before = _event(ann, title="Before", start=datetime(2031, 3, 2, 10, 0, tzinfo=NEW_YORK),
                    zone="America/New_York")
    after = _event(ann, title="After", start=datetime(2031, 3, 16, 10, 0, tzinfo=NEW_YORK),
                   zone="America/New_York")
    client.force_login(ann)
    client.post(reverse("calendar-feed"), {"action": "regenerate"})
    feed_url = client.get(reverse("calendar-feed")).context["feed_url"]  # not shown again: empty
    assert feed_url == ""
    _feed, token = services.calendar_feed_issue(member=ann)
    body = client.get(reverse("member-calendar", args=[token])).content
    events, ical, _vcal = _parse_both(body)
    by_title = {str(ie["SUMMARY"]): (ie, ve) for ie, ve in events.values()}

    ie, ve = by_title["Night shift"]
    assert ie["DTSTART"].to_ical() == b"20310309T013000" and ie["DTEND"].to_ical() == b"20310309T040000"
    for parsed_start, parsed_end in ((ie.decoded("DTSTART"), ie.decoded("DTEND")), (ve.dtstart.value, ve.dtend.value)):
        assert parsed_start.astimezone(UTC) == datetime(2031, 3, 9, 6, 30, tzinfo=UTC)  # EST, UTC-5
        assert parsed_end.astimezone(UTC) == datetime(2031, 3, 9, 8, 0, tzinfo=UTC)  # EDT, UTC-4
    assert across.ends_at.astimezone(UTC) - across.starts_at.astimezone(UTC) == timedelta(hours=1.5)

    for title, utc_hour in (("Before", 15), ("After", 14)):
        ie, ve = by_title[title]
        assert ie["DTSTART"].to_ical().endswith(b"T100000")
        assert ie.decoded("DTSTART").astimezone(UTC).hour == utc_hour
        assert ve.dtstart.value.astimezone(UTC).hour == utc_hour
    assert {before.pk, after.pk} <= {int(uid.split("-")[1].split("@")[0]) for uid in events}
    assert [str(tz["TZID"]) for tz in ical.walk("VTIMEZONE")] == ["America/New_York"]


def test_uid_is_stable_and_sequence_grows_with_each_edit(client, ann):
    event = _event(ann, zone="Europe/Berlin", start=datetime(2031, 1, 10, 18, 0, tzinfo=BERLIN))
    first, _, _ = _parse_both(_download(client, event))
    services.event_update(event=event, editor=ann, venue="Town hall")
    services.event_update(event=event, editor=ann, starts_at=event.starts_at + timedelta(hours=1),
                          ends_at=event.ends_at + timedelta(hours=1))
    services.event_update(event=event, editor=ann, venue="Town hall")  # no change: no new revision
    services.event_update(event=event, editor=ann, image_alt="")  # not shown in calendars
    later, _, _ = _parse_both(_download(client, event))
    assert list(first) == list(later)
    (ie, ve), = later.values()
    assert int(ve.sequence.value) == 2 == ie["SEQUENCE"]
    assert str(ie["LOCATION"]) == "Town hall"
    assert ie.decoded("DTSTART") == datetime(2031, 1, 10, 19, 0, tzinfo=BERLIN)


def test_cancelled_event_says_so_in_the_feed_and_on_the_page(client, ann, bob):
    event = _event(ann, title="Boat trip")
    services.rsvp_set(event=event, member=bob, status="going")
    _feed, token = services.calendar_feed_issue(member=bob)
    url = reverse("member-calendar", args=[token])
    (ie, ve), = _parse_both(client.get(url).content)[0].values()
    assert ve.status.value == "CONFIRMED"
    sequence = int(ve.sequence.value)

    with pytest.raises(NotAllowedError):
        services.event_cancel(event=event, actor=bob)
    client.force_login(bob)
    assert client.post(reverse("event-cancel", args=[event.pk])).status_code == 403
    client.force_login(ann)
    assert "Cancel event" in client.get(event.get_absolute_url()).content.decode()
    assert client.get(reverse("event-cancel", args=[event.pk])).status_code == 200  # the confirmation page
    assert client.post(reverse("event-cancel", args=[event.pk])).status_code == 302
    client.logout()

    (ie, ve), = _parse_both(client.get(url).content)[0].values()
    assert ve.status.value == "CANCELLED" == str(ie["STATUS"])
    assert int(ve.sequence.value) == sequence + 1
    assert ve.summary.value == "Cancelled: Boat trip"
    page = client.get(event.get_absolute_url()).content.decode()
    assert "This event is cancelled." in page
    # Nobody can answer a cancelled event.
    with pytest.raises(NotAllowedError):
        services.rsvp_set(event=event, member=bob, status="maybe")


def test_member_feed_holds_hosted_going_and_maybe_events_only(client, ann, bob):
    hosted = _event(bob, title="Bob hosts")
    going = _event(ann, title="Going one")
    maybe = _event(ann, title="Maybe one")
    no = _event(ann, title="Not going one")
    _event(ann, title="Never answered")
    old = _event(ann, title="Long ago", start=timezone.now() - timedelta(days=400))
    for event, status in ((going, "going"), (maybe, "maybe"), (no, "not_going"), (old, "going")):
        services.rsvp_set(event=event, member=bob, status=status)
    _feed, token = services.calendar_feed_issue(member=bob)
    response = client.get(reverse("member-calendar", args=[token]))
    assert response.status_code == 200
    assert response["Cache-Control"] == "private, max-age=300"
    events, ical, _ = _parse_both(response.content)
    assert sorted(str(ie["SUMMARY"]) for ie, _ in events.values()) == ["Bob hosts", "Going one", "Maybe one"]
    assert str(ical["X-WR-CALNAME"]) == "Bob · Elonara"
    assert hosted.pk


def test_feed_token_is_stored_hashed_and_revocation_stops_it(client, ann):
    _event(ann, title="Mine")
    client.force_login(ann)
    page = client.post(reverse("calendar-feed"), {"action": "regenerate"})
    assert page.status_code == 200
    assert "no-store" in page["Cache-Control"] or "no-cache" in page["Cache-Control"]
    feed_url = page.context["feed_url"]
    token = feed_url.rsplit("/", 1)[1].removesuffix(".ics")
    assert feed_url == f"http://127.0.0.1:8000/calendar/feed/{token}.ics"
    assert len(token) >= 40
    stored = CalendarFeed.objects.get(member=ann)
    assert stored.token_hash == hashlib.sha256(token.encode()).hexdigest()
    assert token not in str(CalendarFeed.objects.filter(member=ann).values().get())
    # The address is shown once: the profile afterwards says the feed is on, without the token.
    profile = client.get(reverse("members:profile", args=["ann"])).content.decode()
    assert "Your feed is on" in profile and token not in profile

    client.logout()  # calendar apps do not log in
    assert client.get(f"/calendar/feed/{token}.ics").status_code == 200

    client.force_login(ann)
    again = client.post(reverse("calendar-feed"), {"action": "regenerate"})
    new_token = again.context["feed_url"].rsplit("/", 1)[1].removesuffix(".ics")
    assert new_token != token
    client.logout()
    assert client.get(f"/calendar/feed/{token}.ics").status_code == 404  # the old address is dead
    assert client.get(f"/calendar/feed/{new_token}.ics").status_code == 200

    client.force_login(ann)
    assert client.post(reverse("calendar-feed"), {"action": "revoke"}).status_code == 302
    client.logout()
    assert client.get(f"/calendar/feed/{new_token}.ics").status_code == 404
    assert not CalendarFeed.objects.exists()


def test_feed_management_needs_login_and_shows_only_your_own(client, ann, bob):
    assert client.get(reverse("calendar-feed")).status_code == 302
    services.calendar_feed_issue(member=ann)
    client.force_login(bob)
    bob_view = client.get(reverse("members:profile", args=["ann"])).content.decode()
    assert "calendar-feed" not in bob_view  # nobody else sees, regenerates or revokes ann's feed
    page = client.get(reverse("calendar-feed")).content.decode()
    assert "You have no calendar feed." in page


def test_feed_tokens_never_reach_a_log_line(client, ann):
    """Through the console handler the settings configure: Django's 404 warning and runserver's
    request line for a feed URL name the path without its token."""
    _feed, token = services.calendar_feed_issue(member=ann)
    services.calendar_feed_revoke(member=ann)
    console = next(h for h in logging.getLogger().handlers
                   if any(isinstance(f, RedactCalendarFeedTokens) for f in h.filters))
    assert console in logging.getLogger("django.server").handlers
    stream = io.StringIO()
    previous = console.setStream(stream)
    try:
        assert client.get(f"/calendar/feed/{token}.ics").status_code == 404
        logging.getLogger("django.server").info('"%s" %s %s', f"GET /calendar/feed/{token}.ics HTTP/1.1", "200", "9")
    finally:
        console.setStream(previous)
    written = stream.getvalue()
    assert "Not Found: /calendar/feed/[redacted].ics" in written
    assert '"GET /calendar/feed/[redacted].ics HTTP/1.1" 200' in written
    assert token not in written


def test_community_feed_is_public(client, ann):
    community = services.community_create(creator=ann, name="Rowers")
    _event(ann, title="Row", community=community, zone="Europe/Berlin",
           start=datetime(2031, 10, 26, 1, 30, tzinfo=BERLIN), end=datetime(2031, 10, 26, 3, 30, tzinfo=BERLIN))
    # ^ across the autumn change: 01:30 CEST to 03:30 CET is three real hours
    _event(ann, title="Elsewhere")
    response = client.get(reverse("community-calendar", args=["rowers"]))
    assert response.status_code == 200 and response["Content-Disposition"].startswith("inline;")
    events, ical, _ = _parse_both(response.content)
    (ie, ve), = events.values()
    assert str(ie["SUMMARY"]) == "Row"
    assert ve.dtstart.value.astimezone(UTC) == datetime(2031, 10, 25, 23, 30, tzinfo=UTC)  # CEST
    assert ve.dtend.value.astimezone(UTC) == datetime(2031, 10, 26, 2, 30, tzinfo=UTC)  # CET
    assert "REFRESH-INTERVAL;VALUE=DURATION:PT1H" in response.content.decode()
    page = client.get(community.get_absolute_url()).content.decode()
    assert 'id="community-calendar"' in page and "/communities/rowers/calendar.ics" in page


def _conditional(client, url: str, etag: str, last_modified: str):
    by_etag = client.get(url, HTTP_IF_NONE_MATCH=etag)
    by_date = client.get(url, HTTP_IF_MODIFIED_SINCE=last_modified)
    return by_etag, by_date


def test_calendar_files_and_feeds_answer_conditional_gets(client, ann, bob):
    """Calendar apps poll: an unchanged file answers 304 (ETag or Last-Modified); any change to what
    the calendar shows (an edit, a new answer, an answer taken back) gives a new ETag and the body."""
    community = services.community_create(creator=ann, name="Rowers")
    event = _event(ann, title="Row", community=community)
    _feed, token = services.calendar_feed_issue(member=bob)
    services.rsvp_set(event=event, member=bob, status="going")
    urls = [reverse("event-ics", args=[event.pk]), reverse("community-calendar", args=["rowers"]),
            reverse("member-calendar", args=[token])]
    first = {url: client.get(url) for url in urls}
    for url, response in first.items():
        assert response.status_code == 200 and b"SUMMARY:Row" in response.content
        by_etag, by_date = _conditional(client, url, response["ETag"], response["Last-Modified"])
        assert (by_etag.status_code, by_etag.content, by_etag["ETag"]) == (304, b"", response["ETag"])
        assert by_date.status_code == 304
    assert len({r["ETag"] for r in first.values()}) == 3

    services.event_update(event=event, editor=ann, title="Row at dawn")
    for url, response in first.items():
        changed = client.get(url, HTTP_IF_NONE_MATCH=response["ETag"])
        assert changed.status_code == 200 and b"SUMMARY:Row at dawn" in changed.content
        assert changed["ETag"] != response["ETag"]

    feed = reverse("member-calendar", args=[token])
    before = client.get(feed)
    other = _event(ann, title="Swim")
    services.rsvp_set(event=other, member=bob, status="maybe")
    after = client.get(feed, HTTP_IF_NONE_MATCH=before["ETag"])
    assert after.status_code == 200 and b"SUMMARY:Swim" in after.content
    services.rsvp_set(event=other, member=bob, status="not_going")
    gone = client.get(feed, HTTP_IF_NONE_MATCH=after["ETag"])
    assert gone.status_code == 200 and b"SUMMARY:Swim" not in gone.content


# Both transitions in two zones (2031): Berlin goes forward 30 March 02:00 -> 03:00 and back 26 October
# 03:00 -> 02:00; New York goes forward 9 March 02:00 -> 03:00 and back 2 November 02:00 -> 01:00.
# Each case: (zone, local start with its fold, the exact start in UTC, hours long).
DST_CASES = [
    ("Europe/Berlin", datetime(2031, 10, 26, 2, 30, fold=0), datetime(2031, 10, 26, 0, 30, tzinfo=UTC), 1),
    ("Europe/Berlin", datetime(2031, 10, 26, 2, 30, fold=1), datetime(2031, 10, 26, 1, 30, tzinfo=UTC), 1),
    ("Europe/Berlin", datetime(2031, 10, 26, 1, 30), datetime(2031, 10, 25, 23, 30, tzinfo=UTC), 1.5),
    ("Europe/Berlin", datetime(2031, 3, 30, 1, 30), datetime(2031, 3, 30, 0, 30, tzinfo=UTC), 1),
    ("Europe/Berlin", datetime(2031, 3, 30, 3, 0), datetime(2031, 3, 30, 1, 0, tzinfo=UTC), 1),
    ("America/New_York", datetime(2031, 11, 2, 1, 30, fold=0), datetime(2031, 11, 2, 5, 30, tzinfo=UTC), 1),
    ("America/New_York", datetime(2031, 11, 2, 1, 30, fold=1), datetime(2031, 11, 2, 6, 30, tzinfo=UTC), 1),
    ("America/New_York", datetime(2031, 11, 2, 0, 30), datetime(2031, 11, 2, 4, 30, tzinfo=UTC), 1.5),
    ("America/New_York", datetime(2031, 3, 9, 1, 30), datetime(2031, 3, 9, 6, 30, tzinfo=UTC), 1),
    ("America/New_York", datetime(2031, 3, 9, 3, 0), datetime(2031, 3, 9, 7, 0, tzinfo=UTC), 1),
]


@pytest.mark.parametrize(("zone", "local", "exact", "hours"), DST_CASES)
def test_calendar_files_give_the_exact_instant_on_both_dst_transitions(client, ann, zone, local, exact, hours):
    start = local.replace(tzinfo=ZoneInfo(zone))
    assert start.astimezone(UTC) == exact  # the case itself is right
    event = _event(ann, title="Night owls", start=start, end=(exact + timedelta(hours=hours)), zone=zone)
    _feed, token = services.calendar_feed_issue(member=ann)
    bodies = {"download": _download(client, event),
              "feed": client.get(reverse("member-calendar", args=[token])).content}
    bodies["mail"] = calendar_entry(event=event, method="REQUEST", attendee_email="bob@example.org",
                                    attendee_name="Bob", answer="going")
    for where, body in bodies.items():
        vevent = icalendar.Calendar.from_ical(body).walk("VEVENT")[0]
        assert vevent.decoded("DTSTART").astimezone(UTC) == exact, where
        assert vevent.decoded("DTEND").astimezone(UTC) == exact + timedelta(hours=hours), where
        assert vobject.readOne(body.decode("utf-8")).vevent.dtstart.value.astimezone(UTC) == exact, where
        # A wall-clock time that happens twice is written in UTC; any other keeps the event's zone.
        for name, instant in (("DTSTART", exact), ("DTEND", exact + timedelta(hours=hours))):
            local_time = instant.astimezone(ZoneInfo(zone))
            twice = local_time.replace(fold=1 - local_time.fold).utcoffset() != local_time.utcoffset()
            if twice:
                assert vevent[name].to_ical().endswith(b"Z") and "TZID" not in vevent[name].params, (where, name)
            else:
                assert vevent[name].params["TZID"] == zone, (where, name)
