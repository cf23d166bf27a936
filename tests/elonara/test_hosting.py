"""Capacity and waiting list, co-hosts, "ask to join": the rules in the services, and what the
host, co-hosts and members see on the pages."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from elonara import selectors, services
from elonara.errors import InvalidInputError, NotAllowedError
from elonara.models import RSVP, Event, ExternalRSVP
from members.models import Member

pytestmark = pytest.mark.django_db


def make_member(username: str) -> Member:
    return Member.objects.create_user(username=username, password="pw-long-enough-123")


def make_event(host: Member, **overrides) -> Event:
    start = timezone.now() + timedelta(days=3)
    values = {"title": "Workshop", "starts_at": start, "ends_at": start + timedelta(hours=2), "venue": "Lab"}
    values.update(overrides)
    return services.event_create(host=host, **values)


def status_of(event: Event, member: Member) -> str:
    return RSVP.objects.get(event=event, member=member).status


@pytest.fixture
def people():
    return [make_member(f"p{i}") for i in range(6)]


def test_going_beyond_the_limit_waits_in_order_and_a_freed_seat_goes_to_the_first(people):
    host = make_member("host")
    event = make_event(host, capacity=3)  # the host's seat and two more
    for member in people[:5]:
        services.rsvp_set(event=event, member=member, status="going")
    assert [status_of(event, m) for m in people[:5]] == ["going", "going", "waitlisted", "waitlisted", "waitlisted"]
    assert [r.member for r in selectors.event_waitlist(event=event)] == people[2:5]
    assert selectors.rsvp_waitlist_position(rsvp=RSVP.objects.get(event=event, member=people[3])) == 2
    # "Maybe" takes no seat; "going" again from the line keeps its place.
    services.rsvp_set(event=event, member=people[5], status="maybe")
    services.rsvp_set(event=event, member=people[2], status="going")
    assert selectors.rsvp_waitlist_position(rsvp=RSVP.objects.get(event=event, member=people[2])) == 1

    services.rsvp_set(event=event, member=people[0], status="not_going")
    promoted = RSVP.objects.get(event=event, member=people[2])
    assert promoted.status == "going" and promoted.promoted_at is not None
    assert [r.member for r in selectors.event_waitlist(event=event)] == people[3:5]
    assert selectors.event_seats_taken(event=event) == 3


def test_leaving_the_line_lets_the_next_move_up(people):
    event = make_event(make_member("host"), capacity=2)  # the host's seat and one more
    for member in people[:3]:
        services.rsvp_set(event=event, member=member, status="going")
    services.rsvp_set(event=event, member=people[1], status="not_going")
    assert selectors.rsvp_waitlist_position(rsvp=RSVP.objects.get(event=event, member=people[2])) == 1
    assert selectors.event_seats_taken(event=event) == 2


def test_raising_or_removing_the_limit_promotes_at_once(people):
    host = make_member("host")
    event = make_event(host, capacity=2)  # the host's seat and one more
    for member in people[:4]:
        services.rsvp_set(event=event, member=member, status="going")
    services.event_update(event=event, editor=host, capacity=3)
    assert [status_of(event, m) for m in people[:4]] == ["going", "going", "waitlisted", "waitlisted"]
    services.event_update(event=event, editor=host, capacity=None)
    assert {status_of(event, m) for m in people[:4]} == {"going"}
    with pytest.raises(InvalidInputError):
        services.event_update(event=event, editor=host, capacity=0)


def test_outside_answers_take_seats_only_when_the_host_allows(people):
    event = make_event(make_member("host"), capacity=2)  # the host's seat and one more
    ExternalRSVP.objects.create(event=event, did="did:plc:outsider", status="going", uri="at://x/y/z", cid="c")
    services.rsvp_set(event=event, member=people[0], status="going")
    assert status_of(event, people[0]) == "going"

    counted = make_event(make_member("host2"), capacity=2, capacity_counts_outside=True)
    outside = ExternalRSVP.objects.create(event=counted, did="did:plc:outsider", status="going", uri="at://x/y/w",
                                          cid="c")
    services.rsvp_set(event=counted, member=people[1], status="going")
    assert status_of(counted, people[1]) == "waitlisted"
    # The outside answer changes (read from the firehose): the recount gives the seat away.
    ExternalRSVP.objects.filter(pk=outside.pk).update(status="not_going")
    services.event_recount(event_id=counted.pk)
    assert status_of(counted, people[1]) == "going"


def test_promotion_sends_the_mail_hook(people, django_capture_on_commit_callbacks):
    event = make_event(make_member("host"), capacity=2)  # the host's seat and one more
    services.rsvp_set(event=event, member=people[0], status="going")
    services.rsvp_set(event=event, member=people[1], status="going")
    heard = []

    def listener(sender, rsvp, change, **kwargs):
        if change == "promoted":
            heard.append(rsvp.member)

    services.rsvp_changed.connect(listener)
    try:
        with django_capture_on_commit_callbacks(execute=True):
            services.rsvp_set(event=event, member=people[0], status="not_going")
    finally:
        services.rsvp_changed.disconnect(listener)
    assert heard == [people[1]]


def test_ask_to_join_waits_for_approval_and_approved_members_answer_freely(people):
    host, cohost = make_member("host"), make_member("co")
    event = make_event(host, requires_approval=True, capacity=2)  # the host's seat and one more
    services.event_cohost_add(event=event, actor=host, member=cohost)
    first = services.rsvp_set(event=event, member=people[0], status="going")
    second = services.rsvp_set(event=event, member=people[1], status="maybe")
    assert (first.status, first.wanted_status) == ("requested", "going")
    assert [r.member for r in selectors.event_requests(event=event)] == people[:2]
    with pytest.raises(NotAllowedError):
        services.rsvp_approve(event=event, actor=people[2], rsvp_id=first.pk)

    assert services.rsvp_approve(event=event, actor=cohost, rsvp_id=first.pk).status == "going"
    assert services.rsvp_decline(event=event, actor=host, rsvp_id=second.pk).status == "declined"
    with pytest.raises(InvalidInputError):
        services.rsvp_approve(event=event, actor=host, rsvp_id=second.pk)
    with pytest.raises(NotAllowedError):
        services.rsvp_set(event=event, member=people[1], status="going")
    # Approved once: a changed answer needs no new approval. Hosts never wait.
    assert services.rsvp_set(event=event, member=people[0], status="maybe").status == "maybe"
    assert services.rsvp_set(event=event, member=cohost, status="maybe").status == "maybe"
    # Approved when the seats are taken: the waiting list.
    third = services.rsvp_set(event=event, member=people[2], status="going")
    services.rsvp_set(event=event, member=host, status="going")  # the host holds a seat already: no change
    assert status_of(event, host) == "going"
    services.rsvp_set(event=event, member=cohost, status="going")  # a co-host takes a seat by choice
    assert services.rsvp_approve(event=event, actor=host, rsvp_id=third.pk).status == "waitlisted"


def test_cohosts_edit_and_invite_but_only_the_host_cancels_deletes_and_adds_cohosts(people):
    from invitations import targets

    host, cohost = make_member("host"), make_member("co")
    event = make_event(host)
    services.event_cohost_add(event=event, actor=host, member=cohost)
    services.event_cohost_add(event=event, actor=host, member=cohost)  # idempotent
    assert selectors.event_cohosts(event=event) == [cohost]
    services.event_update(event=event, editor=cohost, title="Workshop, part 2")
    assert Event.objects.get(pk=event.pk).title == "Workshop, part 2"
    assert targets.target_is_hosted_by(event, member=cohost)
    assert not targets.target_is_hosted_by(event, member=people[0])
    with pytest.raises(NotAllowedError):
        services.event_update(event=event, editor=people[0], title="Mine")
    with pytest.raises(NotAllowedError):
        services.event_cohost_add(event=event, actor=cohost, member=people[0])
    with pytest.raises(NotAllowedError):
        services.event_cancel(event=event, actor=cohost)
    with pytest.raises(NotAllowedError):
        services.event_delete(event=event, actor=cohost)
    services.event_cohost_remove(event=event, actor=cohost, member=cohost)  # steps down
    assert not selectors.event_can_manage(event=event, member=cohost)


# --- pages ---------------------------------------------------------------------------------------

def test_event_page_tells_the_waiting_position_and_the_promotion(client, people):
    event = make_event(make_member("host"), capacity=2)  # the host's seat and one more
    services.rsvp_set(event=event, member=people[0], status="going")
    client.force_login(people[1])
    response = client.post(reverse("event-rsvp", args=[event.pk]), {"status": "going"}, follow=True)
    assert "you are on the waiting list" in response.content.decode()
    page = client.get(event.get_absolute_url()).content.decode()
    assert 'id="waitlist-notice"' in page and "number 1</strong> on the waiting list" in page
    assert "2 of 2 taken" in page
    services.rsvp_set(event=event, member=people[0], status="not_going")
    page = client.get(event.get_absolute_url()).content.decode()
    assert 'id="promoted-notice"' in page


def test_requested_shows_on_the_page_and_the_host_approves_from_the_queue(client, people):
    host = make_member("host")
    event = make_event(host, requires_approval=True)
    client.force_login(people[0])
    client.post(reverse("event-rsvp", args=[event.pk]), {"status": "going"})
    assert 'id="requested-notice"' in client.get(event.get_absolute_url()).content.decode()
    assert client.get(reverse("event-people", args=[event.pk])).status_code == 403

    client.force_login(host)
    queue = client.get(reverse("event-people", args=[event.pk])).content.decode()
    assert "p0" in queue and "asks: going" in queue
    rsvp = RSVP.objects.get(event=event, member=people[0])
    client.post(reverse("event-people", args=[event.pk]), {"action": "approve", "rsvp": rsvp.pk})
    assert status_of(event, people[0]) == "going"


def test_cohost_is_shown_edits_and_exports_but_cannot_delete(client, people):
    host, cohost = make_member("host"), make_member("co")
    cohost.display_name = "Co Host"
    cohost.save()
    event = make_event(host, capacity=2)  # the host's seat and one more
    client.force_login(host)
    client.post(reverse("event-people", args=[event.pk]), {"action": "cohost_add", "username": "@co"})
    assert "Co Host" in client.get(event.get_absolute_url()).content.decode()
    people[0].display_name = "=HYPERLINK(1)"
    people[0].save()
    services.rsvp_set(event=event, member=people[0], status="going")
    services.rsvp_set(event=event, member=people[1], status="going")

    client.force_login(cohost)
    assert client.get(reverse("event-edit", args=[event.pk])).status_code == 200
    assert client.get(reverse("event-delete", args=[event.pk])).status_code == 403
    export = client.get(reverse("event-attendees-csv", args=[event.pk]))
    assert export["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(export.content.decode())))
    assert rows[0][:4] == ["name", "username", "bluesky_handle", "status"]
    assert rows[1][1:4] == ["host", "", "going"]  # the host holds a seat at their own event
    assert rows[2][0] == "'=HYPERLINK(1)" and rows[2][3] == "going"  # no formula reaches a spreadsheet
    assert rows[3][1:5] == ["p1", "", "waitlisted", "1"]

    client.force_login(people[2])
    assert client.get(reverse("event-attendees-csv", args=[event.pk])).status_code == 403


# --- API -----------------------------------------------------------------------------------------

def _bearer(member: Member, permissions: list[str]) -> dict:
    from members import api_tokens

    secret = api_tokens.api_token_create(member=member, name="t", permissions=permissions).secret
    access = api_tokens.api_access_token_issue(secret=secret)[0]
    return {"HTTP_AUTHORIZATION": f"Bearer {access}"}


def test_api_answers_with_the_waiting_position_and_hosts_manage_with_the_right_permissions(client, people):
    host, cohost = make_member("host"), make_member("co")
    event = make_event(host, capacity=1, requires_approval=True)
    services.rsvp_set(event=event, member=host, status="going")
    answer = client.post(f"/api/events/{event.pk}/rsvp/", {"status": "going"}, content_type="application/json",
                         **_bearer(people[0], ["events"]))
    assert answer.json() == {"event": event.pk, "status": "requested", "waitlist_position": None, "answers": {}}

    host_read, host_write = _bearer(host, ["read"]), _bearer(host, ["events"])
    assert client.post(f"/api/events/{event.pk}/cohosts/", {"username": "co"}, content_type="application/json",
                       **host_read).status_code == 403  # a read token changes nothing
    assert client.post(f"/api/events/{event.pk}/cohosts/", {"username": "co"}, content_type="application/json",
                       **host_write).status_code == 201
    assert client.post(f"/api/events/{event.pk}/cohosts/", {"username": "p1"}, content_type="application/json",
                       **_bearer(cohost, ["events"])).status_code == 403  # only the host adds co-hosts
    requests = client.get(f"/api/events/{event.pk}/requests/", **_bearer(cohost, ["read"])).json()["requests"]
    assert [r["member"]["username"] for r in requests] == ["p0"]
    assert client.get(f"/api/events/{event.pk}/requests/", **_bearer(people[1], ["read"])).status_code == 403
    approved = client.post(f"/api/events/{event.pk}/requests/{requests[0]['id']}/approve/",
                           **_bearer(cohost, ["events"])).json()
    assert approved == {"id": requests[0]["id"], "status": "waitlisted", "waitlist_position": 1}

    waitlist = client.get(f"/api/events/{event.pk}/waitlist/", **host_read).json()
    assert (waitlist["capacity"], waitlist["seats_taken"]) == (1, 1)
    assert [r["member"]["username"] for r in waitlist["waitlist"]] == ["p0"]
    detail = client.get(f"/api/events/{event.pk}/", **_bearer(people[0], ["read"])).json()
    assert detail["cohosts"] == [{"username": "co", "name": "co"}]
    assert detail["my_answer"] == {"status": "waitlisted", "waitlist_position": 1, "wanted_status": None,
                                   "answers": {}, "questions_missing": False}
    assert client.delete(f"/api/events/{event.pk}/cohosts/co/", **host_write).status_code == 204
    assert selectors.event_cohosts(event=event) == []
