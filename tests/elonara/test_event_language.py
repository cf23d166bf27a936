"""An event's language (issue 39): the host's by default, chosen on the form, kept by its series,
and a filter of Upcoming (other apps' records carry no language, so none matches one)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from elonara import atrecords
from elonara import services as events
from elonara.errors import InvalidInputError
from elonara.models import Event
from members.models import Member
from network import selectors, services
from tests.invitations.conftest import link_identity, random_did

pytestmark = pytest.mark.django_db

START = timezone.now() + timedelta(days=3)


def _member(username: str, **fields) -> Member:
    return Member.objects.create_user(username=username, password="pw-123456-long", **fields)


def _event(host: Member, title: str, **fields) -> Event:
    return events.event_create(host=host, title=title, starts_at=START, ends_at=START + timedelta(hours=2),
                               venue="Hall", **fields)


def test_the_hosts_language_by_default_else_the_one_chosen():
    yuki = _member("yuki", language="ja")
    ana = _member("ana", last_language="pt-br")
    assert _event(yuki, "Go").language == "ja"
    assert _event(ana, "Forró").language == "pt-br"
    assert _event(yuki, "Schach", language="de").language == "de"
    with pytest.raises(InvalidInputError):
        _event(yuki, "Klingon", language="tlh")


def test_the_form_offers_the_hosts_language_and_saves_the_choice():
    yuki = _member("yuki", language="ja")
    browser = Client()
    browser.force_login(yuki)
    page = browser.get("/events/new/").content.decode()
    assert '<option value="ja" selected>' in page
    local = START.astimezone(timezone.get_fixed_timezone(0)).strftime("%Y-%m-%dT%H:%M")
    ends = (START + timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M")
    response = browser.post("/events/new/", {"title": "Tango", "starts_at": local, "ends_at": ends,
                                             "time_zone": "UTC", "venue": "Hall", "language": "es",
                                             "guest_list": "public"})
    assert response.status_code == 302, response.content.decode()[:2000]
    event = Event.objects.get(title="Tango")
    assert event.language == "es"
    # Not part of the calendar record: its lexicon has no field for a language.
    assert "langs" not in atrecords.event_record(event=event)
    edit = browser.get(f"/events/{event.pk}/edit/").content.decode()
    assert '<option value="es" selected>' in edit


def test_upcoming_filters_by_language():
    ann, bob = _member("ann"), _member("bob")
    ann_did = random_did()
    link_identity(member=ann, did=ann_did, handle="ann.test")
    _event(ann, "Stammtisch", language="de")
    _event(ann, "Meetup", language="en")
    record = {"$type": atrecords.EVENT_NSID, "name": "Elsewhere", "createdAt": atrecords.at_datetime(timezone.now()),
              "startsAt": atrecords.at_datetime(START), "endsAt": atrecords.at_datetime(START + timedelta(hours=1)),
              "mode": f"{atrecords.EVENT_NSID}#inperson", "status": f"{atrecords.EVENT_NSID}#scheduled"}
    assert services.network_event_store(did=ann_did, rkey="3lzzzzzzzzz22", cid="bafyrei" + "a" * 52,
                                        record=record, seq=1) is not None

    def titles(**params) -> set[str]:
        return {item.event.title for item in selectors.upcoming_list(
            member=bob, filters=selectors.UpcomingFilters.from_query(params))}

    assert titles() == {"Stammtisch", "Meetup", "Elsewhere"}
    assert titles(language="de") == {"Stammtisch"}
    assert titles(language="xx") == titles()  # not one we speak: no filter
    page = Client().get("/upcoming/?language=de").content.decode()
    assert "Stammtisch" in page and "Meetup" not in page and '<option value="de" lang="de" selected>' in page


def test_a_series_made_through_the_api_keeps_its_language_on_every_occurrence():
    yuki = _member("yuki")
    browser = Client()
    browser.force_login(yuki)
    response = browser.post("/api/v1/series/", {
        "kind": "weekly", "count": 3, "title": "Go club", "venue": "Hall", "language": "ja",
        "starts_at": START.isoformat(), "ends_at": (START + timedelta(hours=1)).isoformat()},
        content_type="application/json")
    assert response.status_code == 201, response.content
    occurrences = Event.objects.filter(title="Go club")
    assert occurrences.count() == 3 and {e.language for e in occurrences} == {"ja"}
    listed = browser.get(f"/api/v1/events/{occurrences.first().pk}/").json()
    assert listed["language"] == "ja"
    assert browser.post("/api/v1/series/", {"kind": "weekly", "title": "X", "language": "tlh"},
                        content_type="application/json").status_code == 400
