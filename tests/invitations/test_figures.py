"""The host's figures (issue 38): invitations by batch (invited, delivered, landing page opened,
answered) and answers by where they came from, matching the rows; the landing page counts as
opened once, by a browser, not by a link preview or the host; the chart and its table on the
people page."""

from __future__ import annotations

import pytest
from django.test import Client

from elonara.models import RSVP
from invitations import services
from invitations.figures import DoorRow, Funnel, event_figures
from invitations.models import Invitation
from tests.invitations.conftest import link_identity, make_event, make_member, profile, rsvp

pytestmark = pytest.mark.django_db

NAVIGATION = {"HTTP_SEC_FETCH_DEST": "document"}


def signed_in(member) -> Client:
    client = Client()
    client.force_login(member)
    return client


@pytest.fixture
def invited(django_capture_on_commit_callbacks):
    host = make_member("host")
    event = make_event(host=host)
    people = [profile(f"{name}.test") for name in ("ana", "ben", "cleo", "dan")]
    with django_capture_on_commit_callbacks(execute=False):
        first = services.invitations_enqueue(host=host, target=event, profiles=people[:3], message_template="")
        second = services.invitations_enqueue(host=host, target=event, profiles=people[3:], message_template="")
    # Delivered: what the sender leaves on a posted invitation (ana, ben, dan); cleo's failed.
    Invitation.objects.filter(recipient_handle__in=["ana.test", "ben.test", "dan.test"]).update(
        status=Invitation.Status.SENT)
    Invitation.objects.filter(recipient_handle="cleo.test").update(status=Invitation.Status.FAILED)
    members = {}
    for person in people:
        members[person.handle] = make_member(person.handle.split(".")[0])
        link_identity(member=members[person.handle], did=person.did, handle=person.handle)
    return host, event, members, (first.batch, second.batch)


def _landing(event, handle: str) -> str:
    token = Invitation.objects.get(event=event, recipient_handle=handle).token
    return f"/events/{event.pk}/?invitation={token}"


def test_the_figures_match_the_rows(invited, django_capture_on_commit_callbacks):
    host, event, members, (first, second) = invited
    ana, ben, dan = members["ana.test"], members["ben.test"], members["dan.test"]
    # Ana opens her landing twice (once counted), then answers Going from its buttons.
    for _ in range(2):
        signed_in(ana).get(_landing(event, "ana.test"), **NAVIGATION)
    with django_capture_on_commit_callbacks(execute=True):
        signed_in(ana).post(f"/events/{event.pk}/rsvp/", {"status": "going", "via": "invitation"})
    # A link preview fetches Ben's link (no navigation header), the host checks Dan's: not opened.
    Client().get(_landing(event, "ben.test"))
    signed_in(host).get(_landing(event, "dan.test"), **NAVIGATION)
    # Dan answers Maybe from a feed; Ben Not going through the API door; someone else by a shared link.
    with django_capture_on_commit_callbacks(execute=True):
        signed_in(dan).post(f"/events/{event.pk}/rsvp/", {"status": "maybe", "via": "feed"})
        rsvp(member=ben, event=event, status="not_going")
        signed_in(make_member("eve")).post(f"/events/{event.pk}/rsvp/", {"status": "going", "via": "bogus"})

    figures = event_figures(event=event)
    assert figures.batches == [
        Funnel(label=figures.batches[0].label, invited=3, delivered=2, opened=1, going=1, maybe=0, not_going=1),
        Funnel(label=figures.batches[1].label, invited=1, delivered=1, opened=0, going=0, maybe=1, not_going=0),
    ]
    assert figures.total == Funnel(label="All invitations", invited=4, delivered=3, opened=1, going=1, maybe=1,
                                   not_going=1)
    # The same numbers straight from the rows.
    rows = Invitation.objects.filter(event=event)
    assert rows.count() == 4 and rows.filter(opened_at__isnull=False).count() == 1
    assert figures.doors == [
        DoorRow(label="Bluesky invitation", going=1, maybe=0, not_going=0),
        DoorRow(label="Shared link", going=1, maybe=0, not_going=1),
        DoorRow(label="Bluesky feed", going=0, maybe=1, not_going=0),
        DoorRow(label="Host", going=1, maybe=0, not_going=0),
    ]
    assert sum(d.total for d in figures.doors) == RSVP.objects.filter(event=event).count()

    page = signed_in(host).get(f"/events/{event.pk}/people/").content.decode()
    chart = page.split('id="funnel-chart"')[1].split("</svg>")[0]
    assert 'role="img"' in page.split('id="funnel-chart"')[0][-300:]
    assert "<desc" in chart
    assert "Invited: 4; Delivered: 3; Opened the page: 1; Going: 1; Maybe: 1; Not going: 1." in chart
    table = page.split('id="funnel-table"')[1].split("</table>")[0]
    assert '<td data-label="Invited">4</td>' in table  # the total row (two batches)
    assert "Bluesky feed" in page.split('id="doors-table"')[1]


def test_no_invitations_says_so_and_guests_see_no_figures():
    host, guest = make_member("host"), make_member("guest")
    event = make_event(host=host)
    assert event_figures(event=event).total is None
    page = signed_in(host).get(f"/events/{event.pk}/people/").content.decode()
    assert 'id="no-invitations"' in page and 'id="funnel-chart"' not in page
    assert signed_in(guest).get(f"/events/{event.pk}/people/").status_code == 403
