"""The member feed's shared VEVENTs (pages.member_feed): each event's lines are kept once for every
feed holding it, under what they say, so a change shows in every feed at once whatever wrote it;
and the file is the one the library writes for the whole calendar."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import icalendar
import pytest
from django.core.cache import cache
from django.test import Client
from django.utils import timezone

from core.page_cache import page_key
from elonara import ical, services
from elonara.models import Event
from members.models import Member

pytestmark = pytest.mark.django_db


def _member(name: str) -> Member:
    return Member.objects.create_user(username=name, password="pw-long-enough-123", display_name=name.title())


def _summaries(client: Client, token: str) -> list[str]:
    response = client.get(f"/calendar/feed/{token}.ics")
    assert response.status_code == 200
    calendar = icalendar.Calendar.from_ical(response.content)
    return sorted(str(event["SUMMARY"]) for event in calendar.walk("VEVENT"))


def test_an_events_lines_are_built_once_for_every_feed_and_a_change_shows_in_each_at_once():
    ann, bob, cem = _member("ann"), _member("bob"), _member("cem")
    start = timezone.now() + timedelta(days=3)
    event = services.event_create(host=ann, title="Board games", starts_at=start, ends_at=start + timedelta(hours=2),
                                  venue="Café", time_zone="Europe/Lisbon")
    for member in (bob, cem):
        services.rsvp_set(event=event, member=member, status="going")
    bob_token, cem_token = (services.calendar_feed_issue(member=m)[1] for m in (bob, cem))
    app = Client()

    assert _summaries(app, bob_token) == ["Board games"]
    kept = page_key("vevent", 0, ical.vevent_key(ical.vevent_facts(Event.objects.get(pk=event.pk))))
    assert cache.get(kept) is not None  # bob's feed kept it; cem's first view reads it
    assert _summaries(app, cem_token) == ["Board games"]

    # An update() sends no signal: the lines are kept under what they say, so the new title is
    # another key, read by both feeds at once.
    Event.objects.filter(pk=event.pk).update(title="Dice games")
    assert _summaries(app, cem_token) == ["Dice games"]
    assert _summaries(app, bob_token) == ["Dice games"]
    services.event_update(event=Event.objects.get(pk=event.pk), editor=ann, venue="Library")  # a save
    for token in (bob_token, cem_token):
        body = app.get(f"/calendar/feed/{token}.ics").content.decode()
        assert "LOCATION:Library" in body and "LOCATION:Café" not in body


def test_the_feed_is_what_the_library_writes_for_the_whole_calendar():
    """Zones' and events' lines are put into the calendar's as bytes: the file must be the one the
    library writes when the calendar holds them as components (zones, a cancelled event, a time on
    the repeated hour written in UTC, long folded lines, an event with no zone)."""
    ann = _member("ann")
    start = timezone.now() + timedelta(days=3)
    events = [
        services.event_create(host=ann, title="Board games", starts_at=start, ends_at=start + timedelta(hours=2),
                              venue="Café", time_zone="Europe/Lisbon", description="Bring a board.\nOr two. " * 9),
        services.event_create(host=ann, title="Night walk", starts_at=datetime(2027, 10, 31, 0, 30, tzinfo=UTC),
                              ends_at=datetime(2027, 10, 31, 3, 0, tzinfo=UTC), venue="", time_zone="Europe/Berlin",
                              online_url="https://meet.example/walk"),
        services.event_create(host=ann, title="Tokyo call", starts_at=start + timedelta(days=400),
                              ends_at=start + timedelta(days=400, hours=1), venue="Online", time_zone="Asia/Tokyo"),
        services.event_create(host=ann, title="Plain", starts_at=start, ends_at=start + timedelta(hours=1), venue="x"),
    ]
    services.event_cancel(event=events[2], actor=ann)
    events = list(Event.objects.filter(pk__in=[e.pk for e in events]).order_by("starts_at"))

    whole = icalendar.Calendar.from_ical(ical.calendar_build(events=[], name="Ann", uid="u@x", feed=True))
    years: dict[str, tuple[int, int]] = {}
    for event in events:
        if event.time_zone != "UTC":
            zone = event.zone
            first, last = event.starts_at.astimezone(zone).year, event.ends_at.astimezone(zone).year
            known = years.get(event.time_zone, (first, last))
            years[event.time_zone] = (min(first, known[0]), max(last, known[1]))
    for zone_name, (first, last) in sorted(years.items()):
        whole.add_component(ical._vtimezone(zone_name, first, last))
    for event in events:
        whole.add_component(ical._vevent(event))
    assert ical.calendar_build(events=events, name="Ann", uid="u@x", feed=True) == whole.to_ical()


def test_recording_a_feeds_use_renews_the_profile_not_the_feed():
    # A calendar app's poll records the feed's use at most hourly (`last_used_at`): shown on the
    # own profile ("last read"), not in the feed, which is then not rebuilt for it.
    from core.page_cache import MEMBER_CALENDAR, VIEWER, page_version_key, versions_current
    from elonara.models import CalendarFeed

    ann = _member("ann")
    services.calendar_feed_issue(member=ann)
    keys = [page_version_key(MEMBER_CALENDAR, ann.pk), page_version_key(VIEWER, ann.pk)]
    before = versions_current(keys)
    CalendarFeed.objects.filter(member=ann).update(last_used_at=timezone.now())
    feed, viewer = versions_current(keys)
    assert feed == before[0] and viewer != before[1]
    feed_row = CalendarFeed.objects.get(member=ann)
    feed_row.last_used_at = timezone.now()
    feed_row.save(update_fields=["last_used_at"])
    assert versions_current(keys)[0] == before[0]
    # Anything else about the feed (a revocation: the row goes) renews the feed too.
    feed_row.delete()
    assert versions_current(keys)[0] != before[0]
