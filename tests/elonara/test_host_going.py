"""The host is going to their own event (issue 32): a seat made with the event, counted on pages,
cards and the API and within the seat limit; their panel shows their tools, not "Are you going?";
they cannot answer otherwise at the page or the API; their seat is silent (no confirmation, no
record written to their repository), though the reminder comes as to anyone going."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from elonara import selectors, series, services
from elonara.errors import NotAllowedError
from elonara.models import RSVP, Event, EventCohost
from members import api_tokens
from notifications.models import Mail
from tests.notifications.helpers import drain
from tests.notifications.helpers import event as mail_event
from tests.notifications.helpers import member as mail_member

pytestmark = pytest.mark.django_db


def make_member(username: str):
    return mail_member(username)


def make_event(host, **fields) -> Event:
    start = timezone.now() + timedelta(days=3)
    return services.event_create(host=host, title="Board games", starts_at=start, ends_at=start + timedelta(hours=2),
                                 venue="Café", **fields)


def _api(member, method: str, url: str, **data):
    secret = api_tokens.api_token_create(member=member, name="t", permissions=["read", "events"]).secret
    access = api_tokens.api_access_token_issue(secret=secret)[0]
    return getattr(Client(), method)(url, data, content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {access}")


def test_the_host_takes_a_seat_so_a_two_seat_event_has_room_for_one_guest(django_capture_on_commit_callbacks, settings):
    settings.CELERY_TASK_ALWAYS_EAGER = True  # the counts are refreshed by a task after commit
    host, ana, ben = make_member("host"), make_member("ana"), make_member("ben")
    with django_capture_on_commit_callbacks(execute=True):
        party = make_event(host, capacity=2)
    assert RSVP.objects.get(event=party, member=host).status == RSVP.Status.GOING
    assert selectors.event_seats_taken(event=party) == 1
    with django_capture_on_commit_callbacks(execute=True):
        assert services.rsvp_set(event=party, member=ana, status="going").status == RSVP.Status.GOING
        assert services.rsvp_set(event=party, member=ben, status="going").status == RSVP.Status.WAITLISTED
    party.refresh_from_db()
    assert party.going_count == 2  # the host and Ana, as the cards show
    page = Client().get(f"/events/{party.pk}/").content.decode()
    assert "Going (2)" in page
    # The host leads the list, marked Host.
    going = page.split("Going (2)")[1].split("</ul>")[0]
    assert going.index("Host") < going.index("Ana")
    assert 'id="host-badge"' in going
    body = _api(ben, "get", f"/api/events/{party.pk}/").json()
    assert body["seats_taken"] == 2


def test_series_occurrences_each_count_their_host():
    host = make_member("host")
    start = timezone.now() + timedelta(days=2)
    first = series.series_create(host=host, kind="weekly", starts_at=start, ends_at=start + timedelta(hours=1),
                                 title="Run club", venue="Park", count=3)
    occurrences = Event.objects.filter(series=first.series)
    assert occurrences.count() == 3
    for occurrence in occurrences:
        assert occurrence.going_count == 1
        assert RSVP.objects.get(event=occurrence, member=host).status == RSVP.Status.GOING


def test_the_hosts_panel_shows_their_tools_not_the_question():
    host, cohost, ana = make_member("host"), make_member("cohost"), make_member("ana")
    party = make_event(host)
    EventCohost.objects.create(event=party, member=cohost)
    client = Client()
    client.force_login(host)
    page = client.get(f"/events/{party.pk}/").content.decode()
    assert "Are you going?" not in page and f'action="/events/{party.pk}/rsvp/"' not in page
    assert "You're hosting" in page and 'id="manage-actions"' in page
    # A co-host still answers for themselves, and a guest is asked.
    for person in (cohost, ana):
        client.force_login(person)
        assert "Are you going?" in client.get(f"/events/{party.pk}/").content.decode()


@pytest.mark.parametrize("status", ["not_going", "maybe"])
def test_the_host_cannot_answer_otherwise_on_the_page_or_the_api(status):
    host = make_member("host")
    party = make_event(host)
    client = Client()
    client.force_login(host)
    response = client.post(f"/events/{party.pk}/rsvp/", {"status": status}, follow=True)
    assert "You host this event." in response.content.decode()
    response = _api(host, "post", f"/api/events/{party.pk}/rsvp/", status=status)
    assert response.status_code == 403 and "You host this event." in response.content.decode()
    with pytest.raises(NotAllowedError):
        services.rsvp_set(event=party, member=host, status=status)
    assert RSVP.objects.get(event=party, member=host).status == RSVP.Status.GOING
    party.refresh_from_db()
    assert party.going_count == 1


def test_the_hosts_seat_is_silent_but_the_reminder_comes(mail_server, django_capture_on_commit_callbacks):
    host, ana = mail_member("hostess"), mail_member("ana")
    with django_capture_on_commit_callbacks(execute=True):
        party = mail_event(host)
        services.rsvp_set(event=party, member=ana, status="going")
    drain()
    assert [m.subject for m in mail_server.to("ana@example.org")] == ["Going: Lakeside ride"]
    assert mail_server.to("hostess@example.org") == []
    # No record of the host's answer is written: the event's record already names its host.
    assert RSVP.objects.get(event=party, member=host).publish_state == ""
    assert Mail.objects.filter(member=host, event=party, kind=Mail.Kind.REMINDER).count() == 1
    assert not Mail.objects.filter(member=host, event=party, kind=Mail.Kind.RSVP).exists()


def test_member_home_lists_a_hosted_event_once():
    from pages.home import member_home_lists

    host = make_member("host")
    make_event(host)
    plans = member_home_lists(member=host)["plans"]
    assert [(p["title"], p["status"]) for p in plans] == [("Board games", "Hosting")]
