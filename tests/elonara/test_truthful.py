"""Issue 24: texts that break calendar files, and wall-clock times that do not exist or happen twice."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import icalendar
import pytest
import vobject
from django.urls import reverse
from django.utils import timezone

from elonara import services
from elonara.models import Community, Event
from members.models import Member

pytestmark = pytest.mark.django_db

BERLIN = ZoneInfo("Europe/Berlin")


@pytest.fixture
def ann():
    return Member.objects.create_user(username="ann", password="pw-long-enough-123", display_name="Ann\nNewline")


def _parse(body: bytes):
    ical = icalendar.Calendar.from_ical(body)
    vobject.readOne(body.decode("utf-8"))
    return ical


def test_newlines_and_control_characters_are_escaped_in_calendar_files(client, ann):
    community = services.community_create(creator=ann, name="Walkers\r\nof\x07 the north")
    start = timezone.now() + timedelta(days=3)
    event = services.event_create(host=ann, title="Line one\nline\x0btwo\x7f", starts_at=start,
                                  ends_at=start + timedelta(hours=1), time_zone="UTC", venue="Hall\r\nB",
                                  description="First\r\nSecond\x1b[31m", community=community)
    services.rsvp_set(event=event, member=ann, status="going")
    response = client.get(reverse("event-ics", args=[event.pk]))
    assert response.status_code == 200
    body = response.content
    assert b"\x07" not in body and b"\x1b" not in body and b"\x0b" not in body
    vevent = next(iter(_parse(body).walk("VEVENT")))
    assert str(vevent["SUMMARY"]) == "Line one linetwo"
    assert str(vevent["LOCATION"]) == "Hall B"
    assert str(vevent["DESCRIPTION"]).startswith("First\nSecond[31m")

    feed = client.get(reverse("community-calendar", args=[community.slug]))
    assert feed.status_code == 200
    assert str(_parse(feed.content)["X-WR-CALNAME"]) == "Walkers of the north · Elonara"
    _feed, token = services.calendar_feed_issue(member=ann)
    mine = client.get(reverse("member-calendar", args=[token]))
    assert mine.status_code == 200
    assert str(_parse(mine.content)["X-WR-CALNAME"]) == "Ann Newline · Elonara"


def _form_data(**overrides):
    data = {"title": "Night walk", "starts_at": "2031-03-30T02:30", "ends_at": "2031-03-30T04:00",
            "time_zone": "Europe/Berlin", "venue": "Bridge", "mode": "", "description": ""}
    data.update(overrides)
    return data


def test_a_time_inside_the_spring_forward_jump_is_refused_naming_the_jump(client, ann):
    client.force_login(ann)
    response = client.post(reverse("event-create"), _form_data())
    assert response.status_code == 200
    assert not Event.objects.exists()
    text = response.content.decode()
    assert "02:30 does not exist on 30 March 2031 in Europe/Berlin" in text
    assert "clocks jump from 02:00 to 03:00" in text


def test_the_repeated_autumn_hour_asks_which_one_and_stores_the_choice(client, ann):
    client.force_login(ann)
    data = _form_data(starts_at="2031-10-26T02:30", ends_at="2031-10-26T05:00")
    asked = client.post(reverse("event-create"), data)
    assert asked.status_code == 200 and not Event.objects.exists()
    text = asked.content.decode()
    assert "02:30 happens twice on 26 October 2031 in Europe/Berlin" in text
    assert "UTC+02:00" in text and "UTC+01:00" in text

    done = client.post(reverse("event-create"), {**data, "starts_at_which": "1"})
    assert done.status_code == 302, done.content.decode()[:2000]
    event = Event.objects.get()
    assert event.starts_at == datetime(2031, 10, 26, 1, 30, tzinfo=ZoneInfo("UTC"))  # the second 02:30 (CET)

    client.post(reverse("event-create"), {**data, "title": "Early", "starts_at_which": "0"})
    assert Event.objects.get(title="Early").starts_at == datetime(2031, 10, 26, 0, 30, tzinfo=ZoneInfo("UTC"))
    assert Community.objects.count() == 0
