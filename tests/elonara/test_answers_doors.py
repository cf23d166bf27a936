"""Every answer follows the event's rules, whichever door it comes through (issue 32).

The four doors: the event page (a form post), the API (a bearer token), a member's own rsvp
record written in another app (the firehose's apply service, given the operation the consumer
reads: `test_answers_peer.py` drives the real consumer against the official PDS), and the outside
answers adopted when their author joins. Each rule is asked through each door; before one service
decided (elonara/answers.py), the last two doors skipped every rule.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client
from django.utils import timezone

from bluesky.atproto.firehose import RecordOp
from bluesky.models import BlueskySignIn
from elonara import atrecords, outside_answers, selectors, services
from elonara.errors import NotAllowedError
from elonara.models import RSVP, Event, ExternalRSVP
from members.models import Member
from network import firehose

pytestmark = pytest.mark.django_db
NSID = atrecords.RSVP_NSID
_seq = iter(range(1000, 10**6))


def make_member(username: str) -> Member:
    return Member.objects.create_user(username=username, password="pw-long-enough-123")


def make_event(host: Member, **overrides) -> Event:
    start = timezone.now() + timedelta(days=3)
    fields = {"title": "Board games", "starts_at": start, "ends_at": start + timedelta(hours=2), "venue": "Café"}
    fields.update(overrides)
    event = services.event_create(host=host, **fields)
    # As if published: records written elsewhere name it by this URI.
    Event.objects.filter(pk=event.pk).update(at_uri=f"at://did:plc:host{event.pk}/{atrecords.EVENT_NSID}/e{event.pk}",
                                             at_cid="bafyevent")
    return Event.objects.get(pk=event.pk)


def did_of(member: Member) -> str:
    return "did:plc:" + "".join("abcdefghij"[int(c)] for c in f"{member.pk:08d}") + "x" * 16


def _record(event: Event, status: str) -> dict:
    token = {"going": "going", "maybe": "interested", "not_going": "notgoing"}[status]
    return {"$type": NSID, "subject": {"uri": event.at_uri, "cid": event.at_cid},
            "status": f"{NSID}#{token}", "createdAt": "2026-12-01T10:00:00.000Z"}


def _op(member: Member, event: Event, status: str) -> RecordOp:
    return RecordOp(seq=next(_seq), repo=did_of(member), action="create", collection=NSID,
                    rkey=f"3l{next(_seq):011d}", cid=f"bafy{next(_seq)}", record=_record(event, status))


# --- the doors -----------------------------------------------------------------------------------

def by_page(event: Event, member: Member, status: str) -> None:
    client = Client()
    client.force_login(member)
    client.post(f"/events/{event.pk}/rsvp/", {"status": status})


def by_api(event: Event, member: Member, status: str) -> None:
    from members import api_tokens

    secret = api_tokens.api_token_create(member=member, name="t", permissions=["events"]).secret
    access = api_tokens.api_access_token_issue(secret=secret)[0]
    Client().post(f"/api/events/{event.pk}/rsvp/", {"status": status}, content_type="application/json",
                  HTTP_AUTHORIZATION=f"Bearer {access}")


def by_record(event: Event, member: Member, status: str) -> None:
    """The member's own record, written in another app, as the consumer hands it over."""
    BlueskySignIn.objects.get_or_create(member=member, defaults={"did": did_of(member)})
    firehose.firehose_ops_apply(source="test", seq=next(_seq), ops=[_op(member, event, status)])


def by_adoption(event: Event, member: Member, status: str) -> None:
    """An outside answer written before its author joined, adopted at join."""
    firehose.firehose_ops_apply(source="test", seq=next(_seq), ops=[_op(member, event, status)])
    assert ExternalRSVP.objects.filter(did=did_of(member), event=event).exists()
    outside_answers.outside_answers_adopt(did=did_of(member), member_id=member.pk)


DOORS: dict[str, Callable[[Event, Member, str], None]] = {
    "page": by_page, "api": by_api, "record": by_record, "adoption": by_adoption}


def status_of(event: Event, member: Member) -> str:
    return RSVP.objects.filter(event=event, member=member).values_list("status", flat=True).first() or ""


@pytest.fixture(autouse=True)
def _quiet(settings):
    settings.ATPROTO_ALLOW_INSECURE_HOSTS = True
    settings.ATPROTO_PLC_URL = "http://127.0.0.1:9"
    settings.ATPROTO_HANDLE_RESOLVER_URL = "http://127.0.0.1:9"


# --- each rule through each door ------------------------------------------------------------------

@pytest.mark.parametrize("door", DOORS)
def test_ask_to_join_makes_going_a_request(door):
    host, member = make_member("host"), make_member("ann")
    event = make_event(host, requires_approval=True)
    DOORS[door](event, member, "going")
    rsvp = RSVP.objects.get(event=event, member=member)
    assert (rsvp.status, rsvp.wanted_status) == ("requested", "going")
    assert [r.member for r in selectors.event_requests(event=event)] == [member]


@pytest.mark.parametrize("door", DOORS)
def test_declined_stays_declined(door):
    host, member = make_member("host"), make_member("ann")
    event = make_event(host, requires_approval=True)
    asked = services.rsvp_set(event=event, member=member, status="going")
    services.rsvp_decline(event=event, actor=host, rsvp_id=asked.pk)
    # Not going then going again must not put a fresh request before the host.
    DOORS[door](event, member, "not_going")
    DOORS[door](event, member, "going")
    assert status_of(event, member) == "declined"
    assert not selectors.event_requests(event=event).exists()


@pytest.mark.parametrize("door", DOORS)
def test_seat_limit_puts_going_on_the_waiting_list(door):
    host, first, member = make_member("host"), make_member("first"), make_member("ann")
    event = make_event(host, capacity=2)  # the host's seat and one more
    services.rsvp_set(event=event, member=first, status="going")
    DOORS[door](event, member, "going")
    assert status_of(event, member) == "waitlisted"
    assert selectors.event_seats_taken(event=event) == 2


@pytest.mark.parametrize("door", DOORS)
def test_waiting_list_keeps_arrival_order_and_promotes_the_first(door):
    host, first = make_member("host"), make_member("first")
    event = make_event(host, capacity=2)  # the host's seat and one more
    services.rsvp_set(event=event, member=first, status="going")
    early = make_member("early")
    services.rsvp_set(event=event, member=early, status="going")
    late = make_member("late")
    DOORS[door](event, late, "going")
    assert [r.member for r in selectors.event_waitlist(event=event)] == [early, late]
    # The seat holder leaves through the same door: the first in line gets it, not the latest.
    DOORS[door](event, first, "not_going") if door in ("page", "api", "record") else \
        services.rsvp_set(event=event, member=first, status="not_going")
    assert (status_of(event, early), status_of(event, late)) == ("going", "waitlisted")


@pytest.mark.parametrize("door", ["record", "adoption"])
def test_a_record_asking_more_than_the_rules_give_is_shown_as_our_truth(door):
    host, member = make_member("host"), make_member("ann")
    event = make_event(host, requires_approval=True)
    DOORS[door](event, member, "going")
    rsvp = RSVP.objects.get(event=event, member=member)
    assert (rsvp.status, rsvp.network_status) == ("requested", "going")
    client = Client()
    client.force_login(member)
    page = client.get(event.get_absolute_url()).content.decode()
    assert "You answered Going in another app" in page and "the host approves requests" in page


def test_records_for_a_cancelled_event_or_a_blocked_member_change_nothing():
    host, member, blocked = make_member("host"), make_member("ann"), make_member("bob")
    community = services.community_create(creator=host, name="Go club")
    event = make_event(host, community=community)
    services.community_join(community=community, member=blocked)
    services.community_member_remove(community=community, actor=host, member=blocked, block=True)
    by_record(event, blocked, "going")
    assert status_of(event, blocked) == ""
    with pytest.raises(NotAllowedError):
        services.rsvp_set(event=event, member=blocked, status="going")
    services.event_cancel(event=event, actor=host)
    by_record(event, member, "going")
    assert status_of(event, member) == ""


# --- no door may forget the rules ---------------------------------------------------------------

WRITES = {"update", "create", "update_or_create", "get_or_create", "bulk_create", "bulk_update"}
DECIDING_MODULE = "elonara/answers.py"


def rsvp_status_writes(root: Path) -> list[str]:
    """Every place in our code that writes an RSVP's status (an assignment to `<rsvp>.status`, or
    a queryset write on RSVP naming `status`), outside the one deciding module."""
    found: list[str] = []
    for path in sorted(root.rglob("*.py")):
        rel = path.relative_to(root).as_posix()
        if rel == DECIDING_MODULE or rel.split("/")[0] in {"tests", ".venv", "bench", "node_modules"} \
                or "/migrations/" in rel or rel.startswith("network/"):  # network: NetworkRSVP, no rules
            continue
        source = path.read_text()
        if "RSVP" not in source and "rsvp" not in source:
            continue
        for node in ast.walk(ast.parse(source)):
            targets = node.targets if isinstance(node, ast.Assign) else []
            for target in targets:
                for item in (target.elts if isinstance(target, ast.Tuple) else [target]):
                    if isinstance(item, ast.Attribute) and item.attr == "status" \
                            and re.search(r"rsvp|own|answer", ast.unparse(item.value), re.I):
                        found.append(f"{rel}:{node.lineno}")
            if isinstance(node, ast.Call):
                func = ast.unparse(node.func)
                names = {k.arg for k in node.keywords} | {
                    key.value for k in node.keywords if k.arg == "defaults" and isinstance(k.value, ast.Dict)
                    for key in k.value.keys if isinstance(key, ast.Constant)}
                writes = isinstance(node.func, ast.Attribute) and node.func.attr in WRITES or func == "RSVP"
                if writes and "status" in names and re.search(r"(?:^|[^\w.])RSVP(?:\.objects|$)|\.rsvps\.", func):
                    found.append(f"{rel}:{node.lineno}")
    return sorted(found, key=lambda place: (place.split(':')[0], int(place.split(':')[1])))


def test_only_the_deciding_module_writes_an_answer():
    assert rsvp_status_writes(Path(settings.BASE_DIR)) == []


def test_the_scan_finds_a_door_that_writes_directly(tmp_path):
    # What the firehose did before: the scan must see it.
    (tmp_path / "elonara").mkdir()
    (tmp_path / "elonara" / "firehose.py").write_text(
        "def f(own, status):\n"
        "    RSVP.objects.filter(pk=own.pk).update(status=status)\n"
        "    RSVP.objects.create(event=e, member_id=1, status=status)\n"
        "    rsvp.status = status\n")
    assert rsvp_status_writes(tmp_path) == ["elonara/firehose.py:2", "elonara/firehose.py:3",
                                            "elonara/firehose.py:4"]


# --- cancelled events: one rule in every list ---------------------------------------------------

def test_a_cancelled_event_is_listed_and_marked_everywhere(client):
    host, member = make_member("host"), make_member("ann")
    kept, cancelled = make_event(host, title="Kept night"), make_event(host, title="Called-off night")
    services.rsvp_set(event=kept, member=member, status="going")
    services.rsvp_set(event=cancelled, member=member, status="going")
    services.event_cancel(event=cancelled, actor=host)
    badge = '<span class="badge cancelled">Cancelled</span> '
    client.force_login(member)
    home = client.get("/").content.decode()
    plans = home[home.index('id="my-rsvps"'):]
    assert f'{badge}<a href="{cancelled.get_absolute_url()}">Called-off night</a>' in plans
    kept_link = f'<a href="{kept.get_absolute_url()}">Kept night</a>'
    assert kept_link in plans and f"{badge}{kept_link}" not in plans
    upcoming = client.get("/upcoming/").content.decode()
    assert badge in upcoming and "Called-off night" in upcoming and "Kept night" in upcoming
    anonymous_home = Client().get("/").content.decode()
    assert "Called-off night" in anonymous_home and badge in anonymous_home
    from members import api_tokens

    secret = api_tokens.api_token_create(member=member, name="t", permissions=["read"]).secret
    access = api_tokens.api_access_token_issue(secret=secret)[0]
    listed = client.get("/api/v1/events/", HTTP_AUTHORIZATION=f"Bearer {access}").json()
    rows = listed["results"] if isinstance(listed, dict) else listed
    assert {(r["title"], r["status"]) for r in rows} >= {("Kept night", "scheduled"), ("Called-off night", "cancelled")}


@pytest.mark.parametrize("door", DOORS)
def test_removed_by_the_host_cannot_come_back_and_frees_the_seat(door):
    host, ann, bob = make_member("host"), make_member("ann"), make_member("bob")
    event = make_event(host, capacity=2)  # the host's seat and one more
    services.rsvp_set(event=event, member=ann, status="going")
    services.rsvp_set(event=event, member=bob, status="going")
    client = Client()
    client.force_login(host)
    page = client.get(f"/events/{event.pk}/people/").content.decode()
    assert 'id="going"' in page and "ann" in page[page.index('id="going"'):page.index('id="waitlist"')]
    seat = RSVP.objects.get(event=event, member=ann)
    assert client.post(f"/events/{event.pk}/people/", {"action": "remove", "rsvp": seat.pk}).status_code == 302
    assert (status_of(event, ann), status_of(event, bob)) == ("declined", "going")
    DOORS[door](event, ann, "going")
    assert status_of(event, ann) == "declined" and selectors.event_seats_taken(event=event) == 2
    # Someone else cannot remove anybody.
    client.force_login(bob)
    assert client.post(f"/events/{event.pk}/people/", {"action": "remove", "rsvp": seat.pk}).status_code in (403, 404)
