"""Issue 24 against the official PDS: a deactivated member is refused at the Bluesky callback, and
a DID that becomes a member (sign-up, sign-in, connect) turns its outside answers into member answers."""

from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from bluesky.atproto.firehose import RecordOp
from bluesky.models import BlueskyIdentity
from elonara import services
from elonara.models import RSVP, Event, ExternalRSVP
from members.models import Member
from network.firehose import firehose_ops_apply

pytestmark = [pytest.mark.peer, pytest.mark.django_db(transaction=True)]


def _start(client: Client, handle: str) -> str:
    response = client.post(reverse("bluesky:sign_in"), {"identifier": handle})
    assert response.status_code == 302, response.content[:500]
    return response.url


def _outside_answer(event: Event, did: str, rkey: str, status: str, seq: int) -> None:
    """What the firehose consumer stores for an answer given in another app."""
    record = {"$type": "community.lexicon.calendar.rsvp", "status": f"community.lexicon.calendar.rsvp#{status}",
              "subject": {"uri": event.at_uri, "cid": event.at_cid},
              "createdAt": timezone.now().isoformat().replace("+00:00", "Z")}
    firehose_ops_apply(source="http://127.0.0.1:9", seq=seq, ops=[RecordOp(
        seq=seq, repo=did, action="create", collection="community.lexicon.calendar.rsvp", rkey=rkey,
        cid="bafyreie5737gdxlw5i64vzichcalba3z2v5n6icifvx5xytvske7mr3hpm", record=record)])


def _published_event(host: Member, title: str) -> Event:
    start = timezone.now() + timedelta(days=4)
    event = services.event_create(host=host, title=title, starts_at=start, ends_at=start + timedelta(hours=2),
                                  venue="Park")
    Event.objects.filter(pk=event.pk).update(
        at_uri=f"at://did:plc:hostofevent{event.pk:010d}/community.lexicon.calendar.event/3kevent{event.pk}",
        at_cid="bafyreidfcwfnr3sxbzc2ptrysdwaw7v3tbbf4rk5gk6ystkzwndc2k3yiy")
    return Event.objects.get(pk=event.pk)


def test_outside_answers_become_member_answers_when_the_did_signs_up(loopback_app, accounts, peer_consent,
                                                                       settings):
    settings.CELERY_TASK_ALWAYS_EAGER = True
    bob = accounts["bob"]
    host = Member.objects.create_user(username="host", password="pw-long-enough-123")
    picnic, quiz = _published_event(host, "Picnic"), _published_event(host, "Quiz")
    _outside_answer(picnic, bob.did, "3kaaaaaaaaaa2", "going", 10)
    _outside_answer(quiz, bob.did, "3kaaaaaaaaab2", "interested", 11)
    page = Client().get(reverse("event-detail", args=[picnic.pk])).content.decode()
    assert 'id="outside-rsvps"' in page

    browser = Client()
    landed = browser.get(reverse("bluesky:callback"), peer_consent(_start(browser, bob.handle), bob))
    assert landed.status_code == 302
    member = BlueskyIdentity.objects.get(did=bob.did).member
    assert not ExternalRSVP.objects.exists()
    answers = {r.event_id: r for r in RSVP.objects.filter(member=member)}
    assert answers[picnic.pk].status == RSVP.Status.GOING and answers[quiz.pk].status == RSVP.Status.MAYBE
    # Their record in their repository is the one we know (not written a second time).
    assert answers[picnic.pk].at_uri == f"at://{bob.did}/community.lexicon.calendar.rsvp/3kaaaaaaaaaa2"
    assert Event.objects.get(pk=picnic.pk).going_count == 2  # the host and bob
    page = Client().get(reverse("event-detail", args=[picnic.pk])).content.decode()
    assert 'id="outside-rsvps"' not in page and member.name in page


def test_outside_answers_of_a_connecting_member_become_theirs(loopback_app, accounts, peer_consent, settings):
    settings.CELERY_TASK_ALWAYS_EAGER = True
    alice = accounts["alice"]
    host = Member.objects.create_user(username="host", password="pw-long-enough-123")
    ann = Member.objects.create_user(username="ann", password="pw-long-enough-123")
    picnic = _published_event(host, "Picnic")
    _outside_answer(picnic, alice.did, "3kaaaaaaaaac2", "notgoing", 12)
    assert ExternalRSVP.objects.count() == 1
    owner = Client()
    owner.force_login(ann)
    response = owner.post(reverse("bluesky:connect"), {"identifier": alice.handle})
    owner.get(reverse("bluesky:callback"), peer_consent(response.url, alice))
    assert not ExternalRSVP.objects.exists()
    assert RSVP.objects.get(member=ann, event=picnic).status == RSVP.Status.NOT_GOING


def test_a_deactivated_member_is_refused_at_the_callback(loopback_app, accounts, peer_consent):
    carol = accounts["carol"]
    first = Client()
    first.get(reverse("bluesky:callback"), peer_consent(_start(first, carol.handle), carol))
    member = Member.objects.get()
    stored = BlueskyIdentity.objects.get().access_token
    Member.objects.filter(pk=member.pk).update(is_active=False)

    browser = Client()
    refused = browser.get(reverse("bluesky:callback"), peer_consent(_start(browser, carol.handle), carol))
    assert refused.status_code == 400 and "deactivated" in refused.content.decode()
    assert "_auth_user_id" not in browser.session
    assert BlueskyIdentity.objects.get().access_token == stored  # nothing of the refused sign-in kept
