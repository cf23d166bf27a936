"""Series: occurrences are real events at the right local hour across daylight-saving changes,
the series' .ics expands to the same instants in icalendar (+ dateutil) and vobject, editing one
or "this and following", cancelling one, the window extended by beat."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import icalendar
import pytest
import vobject
from dateutil import rrule as du_rrule
from django.urls import reverse

from elonara import selectors, series, services
from elonara.errors import InvalidInputError
from elonara.models import Event, EventSeries
from members.models import Member

pytestmark = pytest.mark.django_db
PARIS = ZoneInfo("Europe/Paris")
NEW_YORK = ZoneInfo("America/New_York")


def make_member(username: str = "host") -> Member:
    return Member.objects.create_user(username=username, password="pw-long-enough-123")


def make_series(host: Member, *, start: datetime, kind: str = "weekly", **extra) -> Event:
    values = {"title": "Go night", "venue": "Club", "time_zone": start.tzinfo.key}
    values.update(extra)
    return series.series_create(host=host, kind=kind, starts_at=start, ends_at=start + timedelta(hours=2), **values)


def occurrences(first: Event) -> list[Event]:
    return list(Event.objects.filter(series_id=first.series_id).order_by("starts_at"))


def ics_instants_icalendar(body: bytes) -> list[datetime]:
    """Expand with icalendar's parse and dateutil, as a calendar app built on them does."""
    calendar = icalendar.Calendar.from_ical(body)
    master = next(c for c in calendar.walk("VEVENT") if "RRULE" in c)
    start = master.decoded("DTSTART")
    rules = du_rrule.rruleset()
    rules.rrule(du_rrule.rrulestr(master["RRULE"].to_ical().decode(), dtstart=start))
    exdates = master.get("EXDATE")
    for group in (exdates if isinstance(exdates, list) else [exdates] if exdates else []):
        for value in group.dts:
            rules.exdate(value.dt)
    return [i.astimezone(UTC) for i in rules]


def ics_instants_vobject(body: bytes) -> list[datetime]:
    # vobject keeps the first VTIMEZONE it saw for a TZID for the whole process: forget ours, so
    # this file is read with its own (as a calendar app reading only it would).
    registry = vars(vobject.icalendar)["__tzidMap"]
    for tzid in ("America/New_York", "Europe/Paris"):
        registry.pop(tzid, None)
    calendar = vobject.readOne(body.decode())
    master = next(v for v in calendar.vevent_list if hasattr(v, "rrule"))
    return [i.astimezone(UTC) for i in master.getrruleset(addRDate=True)]


def test_weekly_occurrences_keep_their_local_hour_across_the_dst_change():
    # Paris moves to summer time on Sunday 28 March 2027.
    first = make_series(make_member(), start=datetime(2027, 3, 16, 19, 0, tzinfo=PARIS))
    events = occurrences(first)
    assert len(events) == series.SERIES_WINDOW
    assert [e.starts_at.astimezone(PARIS).hour for e in events] == [19] * 8
    assert [e.starts_at.astimezone(PARIS).weekday() for e in events] == [1] * 8
    assert {e.starts_at.astimezone(UTC).hour for e in events} == {18, 17}  # the offset changed, not the hour
    assert all(e.recurrence_id == e.starts_at and e.host == first.host for e in events)


def test_monthly_nth_weekday_with_a_count_and_its_ics_expands_the_same_in_icalendar_and_vobject(client):
    # The second Sunday of each month, 10:00 in New York: US summer time starts 14 March 2027.
    first = make_series(make_member(), start=datetime(2027, 1, 10, 10, 0, tzinfo=NEW_YORK), kind="monthly_nth",
                        count=6)
    events = occurrences(first)
    assert [e.starts_at.astimezone(NEW_YORK).date() for e in events] == [
        date(2027, 1, 10), date(2027, 2, 14), date(2027, 3, 14), date(2027, 4, 11), date(2027, 5, 9),
        date(2027, 6, 13)]
    assert {e.starts_at.astimezone(NEW_YORK).hour for e in events} == {10}
    services.event_cancel(event=events[2], actor=first.host)  # the DST day itself is called off

    response = client.get(reverse("series-ics", args=[first.series_id]))
    assert response.status_code == 200
    body = response.content
    assert b"RRULE:FREQ=MONTHLY;COUNT=6;BYDAY=2SU" in body or b"COUNT=6" in body
    assert b"DTSTART;TZID=America/New_York:20270110T100000" in body
    assert b"EXDATE;TZID=America/New_York:20270314T100000" in body
    expected = [e.starts_at for e in events if e.pk != events[2].pk]
    assert ics_instants_icalendar(body) == expected
    assert ics_instants_vobject(body) == expected


def test_weekly_until_ics_agrees_with_the_occurrences_across_dst():
    first = make_series(make_member(), start=datetime(2027, 10, 19, 19, 30, tzinfo=PARIS),
                        until_date=date(2027, 11, 9))  # winter time from 31 October
    events = occurrences(first)
    assert [e.starts_at.astimezone(PARIS).strftime("%d %H:%M") for e in events] == [
        "19 19:30", "26 19:30", "02 19:30", "09 19:30"]
    s = EventSeries.objects.get(pk=first.series_id)
    from elonara import ical

    body = ical.series_ics(series=s, occurrences=selectors.series_occurrences_all(series=s),
                           last_start=selectors.series_last_start(series=s))
    assert b"UNTIL=20271109T225959Z" in body  # the end of 9 November in Paris, in UTC
    assert ics_instants_icalendar(body) == ics_instants_vobject(body) == [e.starts_at for e in events]


def test_cancelling_one_occurrence_leaves_the_others_and_it_is_not_made_again():
    first = make_series(make_member(), start=datetime(2027, 1, 5, 19, 0, tzinfo=PARIS))
    events = occurrences(first)
    services.event_cancel(event=events[1], actor=first.host)
    assert [e.is_cancelled for e in occurrences(first)] == [False, True] + [False] * 6
    services.event_delete(event=events[2], actor=first.host)
    s = EventSeries.objects.get(pk=first.series_id)
    assert series.instant_key(events[2].starts_at) in s.excluded
    # The window holds 8 live dates: two more at its end, neither the cancelled nor the deleted one again.
    assert series.series_extend(series=s) == 2
    assert events[2].recurrence_id not in {e.recurrence_id for e in occurrences(first)}


def test_the_window_moves_with_time_and_extending_is_idempotent():
    first = make_series(make_member(), start=datetime(2027, 1, 5, 19, 0, tzinfo=PARIS))
    s = EventSeries.objects.get(pk=first.series_id)
    assert series.series_extend(series=s) == 0
    later = datetime(2027, 1, 5, 19, 0, tzinfo=PARIS) + timedelta(weeks=3, days=-1)  # three dates are over
    assert series.series_extend(series=s, now=later) == 3
    assert len(occurrences(first)) == 11


def test_editing_one_occurrence_changes_only_it_and_the_ics_carries_the_override(client):
    first = make_series(make_member(), start=datetime(2027, 1, 5, 19, 0, tzinfo=PARIS))
    events = occurrences(first)
    moved = events[1].starts_at + timedelta(hours=1)
    services.event_update(event=events[1], editor=first.host, starts_at=moved, ends_at=moved + timedelta(hours=2))
    after = occurrences(first)
    assert [e.starts_at.astimezone(PARIS).hour for e in after] == [19, 20, 19, 19, 19, 19, 19, 19]
    body = client.get(reverse("series-ics", args=[first.series_id])).content
    assert b"RECURRENCE-ID;TZID=Europe/Paris:20270112T190000" in body
    assert b"DTSTART;TZID=Europe/Paris:20270112T200000" in body


def test_this_and_following_splits_the_series_and_keeps_the_new_hour_across_dst(client):
    host = make_member()
    first = make_series(host, start=datetime(2027, 3, 9, 19, 0, tzinfo=PARIS), count=10)
    events = occurrences(first)
    pivot = events[3]  # 30 March, after the change to summer time
    start = pivot.starts_at.astimezone(PARIS).replace(hour=20)
    series.series_update_following(event=pivot, editor=host, title="Go night (new room)", venue="Room 2",
                                   starts_at=start, ends_at=start + timedelta(hours=3))
    old = EventSeries.objects.get(pk=first.series_id)
    new = old.continued_by
    assert new is not None and new.count == 7 and new.title == "Go night (new room)"
    before = list(old.occurrences.order_by("starts_at"))
    after = list(new.occurrences.order_by("starts_at"))
    assert [e.starts_at.astimezone(PARIS).hour for e in before] == [19, 19, 19]
    assert [e.title for e in before] == ["Go night"] * 3
    assert len(after) == 7 and {e.starts_at.astimezone(PARIS).hour for e in after} == {20}
    assert {(e.ends_at - e.starts_at) for e in after} == {timedelta(hours=3)}
    assert {e.venue for e in after} == {"Room 2"}
    assert after[0].pk == pivot.pk  # the same events, answers and records: changed, not replaced
    body_old = client.get(reverse("series-ics", args=[old.pk])).content
    assert ics_instants_vobject(body_old) == [e.starts_at for e in before]
    body_new = client.get(reverse("series-ics", args=[new.pk])).content
    assert ics_instants_icalendar(body_new) == ics_instants_vobject(body_new) == [e.starts_at for e in after]


def test_custom_rules_are_checked():
    host = make_member()
    start = datetime(2027, 1, 4, 18, 0, tzinfo=PARIS)  # a Monday
    with pytest.raises(InvalidInputError):
        make_series(host, start=start, kind="custom", repeat_rule="")
    for bad in ("FREQ=MINUTELY", "FREQ=WEEKLY;COUNT=3", "NOT A RULE", "FREQ=WEEKLY;BYDAY=XX"):
        with pytest.raises(InvalidInputError):
            series.series_create(host=host, kind="custom", rule=bad, starts_at=start,
                                 ends_at=start + timedelta(hours=1), title="x", venue="y", time_zone="Europe/Paris")
    first = series.series_create(host=host, kind="custom", rule="freq=weekly;byday=tu,th", starts_at=start,
                                 ends_at=start + timedelta(hours=1), title="x", venue="y", time_zone="Europe/Paris",
                                 count=4)
    # The rule's first date (Tuesday), not the Monday typed.
    assert [e.starts_at.astimezone(PARIS).strftime("%a %d") for e in occurrences(first)] == [
        "Tue 05", "Thu 07", "Tue 12", "Thu 14"]


def test_create_a_weekly_series_from_the_form_and_see_its_page(client):
    host = make_member()
    client.force_login(host)
    response = client.post(reverse("event-create"), {
        "title": "Weekly meetup", "starts_at": "2027-02-02T19:00", "ends_at": "2027-02-02T21:00",
        "time_zone": "Europe/Paris", "venue": "Café", "repeat": "weekly", "capacity": "20"})
    assert response.status_code == 302, response.context["form"].errors
    first = Event.objects.get(title="Weekly meetup", recurrence_id__isnull=False,
                              starts_at=datetime(2027, 2, 2, 19, 0, tzinfo=PARIS))
    assert response["Location"] == first.get_absolute_url()
    assert Event.objects.filter(series=first.series, capacity=20).count() == 8
    page = client.get(first.get_absolute_url()).content.decode()
    assert 'id="series-link"' in page
    series_page = client.get(reverse("series-detail", args=[first.series_id])).content.decode()
    assert "Every Tuesday" in series_page and series_page.count("<time ") == 8
    # Editing an occurrence asks which ones to change.
    assert 'value="following"' in client.get(reverse("event-edit", args=[first.pk])).content.decode()
    assert 'name="repeat"' not in client.get(reverse("event-edit", args=[first.pk])).content.decode()


def test_api_creates_a_series_and_lists_its_dates(client):
    from members import api_tokens

    host = make_member()
    secret = api_tokens.api_token_create(member=host, name="t", permissions=["events", "read"]).secret
    auth = {"HTTP_AUTHORIZATION": f"Bearer {api_tokens.api_access_token_issue(secret=secret)[0]}"}
    created = client.post("/api/series/", {
        "kind": "biweekly", "title": "Book club", "starts_at": "2027-03-18T18:30:00+01:00",
        "ends_at": "2027-03-18T20:00:00+01:00", "time_zone": "Europe/Paris", "venue": "Library", "count": 4,
    }, content_type="application/json", **auth)
    assert created.status_code == 201, created.content
    body = created.json()
    assert body["rule"] == "FREQ=WEEKLY;INTERVAL=2;BYDAY=TH" and body["description_of_rule"] == "Every other Thursday"
    assert len(body["occurrences"]) == 4
    assert {datetime.fromisoformat(o["starts_at"]).astimezone(PARIS).hour for o in body["occurrences"]} == {18}
    read = client.get(f"/api/series/{body['id']}/", **auth).json()
    assert read["occurrences"] == body["occurrences"]
    bad = client.post("/api/series/", {"kind": "custom", "rule": "FREQ=SECONDLY", "title": "x",
                                       "starts_at": "2027-03-18T18:30:00Z", "ends_at": "2027-03-18T19:30:00Z",
                                       "venue": "y"}, content_type="application/json", **auth)
    assert bad.status_code == 400 and bad.json()["error"] == "invalid"
    event = client.get(f"/api/events/{read['occurrences'][1]['id']}/", **auth).json()
    assert event["series"] == body["id"]
