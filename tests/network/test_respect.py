"""Respect on "Upcoming" and other apps' event pages: Bluesky's hiding labels (the record's
self-labels, the creator's profile labels), members' reports with the staff queue, the member's own
blocks and mutes, and the "answer this event" link. The App View's part (blocks, mutes, profile
labels) is read from the real peer in tests/network/test_respect_peer.py."""

from __future__ import annotations

from html import unescape

import pytest
from django.contrib.admin.sites import site
from django.test import Client, RequestFactory

from network import selectors, services
from network.admin import review_hide, review_keep
from network.models import Creator, FollowedAccount, FollowSync, NetworkEvent, NetworkEventReport
from network.records import event_fields, hiding_label, profile_label_values
from tests.invitations.conftest import link_identity, random_did
from tests.network.frames import directory  # noqa: F401 - the fixture
from tests.network.test_network_events import (
    _store,
    event_record,
    quiet_network,  # noqa: F401 - the fixture
)

HIDE = {"$type": "com.atproto.label.defs#selfLabels", "values": [{"val": "!hide"}]}


@pytest.fixture
def bob(django_user_model):
    member = django_user_model.objects.create_user(username="bob", password="pw-123456")
    FollowSync.objects.create(member=member)
    return member


def _followed(member, name: str, **extra) -> NetworkEvent:
    did = random_did()
    FollowedAccount.objects.create(member=member, did=did)
    return _store(name, did=did, **extra)


def _names(member, **kwargs) -> list[str]:
    return [item.event.title for item in selectors.upcoming_list(
        member=member, filters=selectors.UpcomingFilters(), **kwargs)]


def test_labels_that_hide_and_labels_that_do_not():
    assert event_fields(event_record(labels=HIDE)).hidden_label == "!hide"
    assert event_fields(event_record(labels={"$type": "com.atproto.label.defs#selfLabels",
                                             "values": [{"val": "!warn"}, {"val": "porn"}]})).hidden_label == "porn"
    assert event_fields(event_record(labels={"$type": "com.atproto.label.defs#selfLabels",
                                             "values": [{"val": "!warn"}]})).hidden_label == ""
    assert event_fields(event_record()).hidden_label == ""
    # Profile labels: a negation withdraws a label; junk is skipped.
    assert hiding_label(profile_label_values([{"val": "!hide", "neg": True}, "junk", {"val": 3}])) == ""
    assert hiding_label(profile_label_values([{"src": "did:plc:x", "val": "graphic-media"}])) == "graphic-media"


@pytest.mark.django_db
def test_a_self_labelled_event_and_a_labelled_creator_are_hidden_and_their_pages_say_why(bob):
    shown = _followed(bob, "Chess", days=2)
    labelled = _followed(bob, "Labelled", days=3, labels=HIDE)
    by_labelled_creator = _followed(bob, "By a labelled account", days=4)
    assert _names(bob) == ["Chess", "By a labelled account"]
    Creator.objects.filter(pk=by_labelled_creator.creator_id).update(hidden_label="porn")
    assert labelled.hidden_label == "!hide"
    assert _names(bob) == ["Chess"]
    client = Client()
    client.force_login(bob)
    page = client.get(labelled.get_absolute_url())
    assert page.status_code == 200 and "This event is hidden: it is labelled to be hidden." in page.content.decode()
    assert "Bring a board" not in page.content.decode()  # nothing of the event itself
    creator_page = unescape(client.get(by_labelled_creator.get_absolute_url()).content.decode())
    assert "its creator's Bluesky account is labelled as adult content (porn)" in creator_page
    assert "Answers we know of" not in creator_page
    # Visitors too.
    assert "This event is hidden" in Client().get(labelled.get_absolute_url()).content.decode()
    assert "Answers we know of" in client.get(shown.get_absolute_url()).content.decode()


@pytest.mark.django_db
def test_our_events_by_a_host_whose_profile_carries_a_hiding_label_are_left_out(bob, django_user_model):
    from datetime import timedelta

    from django.utils import timezone

    from elonara import services as elonara_services

    host = django_user_model.objects.create_user(username="hal", password="pw-123456")
    host_did = random_did()
    link_identity(member=host, did=host_did, handle="hal.test")
    start = timezone.now() + timedelta(days=2)
    elonara_services.event_create(host=host, title="Hal's picnic", starts_at=start, ends_at=start + timedelta(hours=2),
                                  venue="Park")
    assert _names(bob) == ["Hal's picnic"]
    # His events in other apps are kept here, so his profile is read: it carries a hiding label.
    creator = Creator.objects.create(did=host_did, handle="hal.test", hidden_label="!hide")
    assert _names(bob) == []
    # Staff blocking his account as a creator concerns other apps' events (test_network_events).
    Creator.objects.filter(pk=creator.pk).update(hidden_label="", blocked=True)
    assert _names(bob) == ["Hal's picnic"]


@pytest.mark.django_db
def test_events_by_accounts_the_member_blocks_or_mutes_are_left_out(bob):
    _followed(bob, "Chess", days=2)
    blocked = _followed(bob, "By someone blocked", days=3)
    muted = _followed(bob, "By someone muted", days=4)
    hidden = {blocked.creator.did: "block", muted.creator.did: "mute"}
    assert _names(bob) == ["Chess", "By someone blocked", "By someone muted"]
    assert _names(bob, hidden_dids=hidden) == ["Chess"]
    assert selectors.network_event_hidden_reason(event=blocked, hidden_dids=hidden) == (
        "This event is hidden: you block its creator on Bluesky.")
    assert selectors.network_event_hidden_reason(event=muted, hidden_dids=hidden) == (
        "This event is hidden: you muted its creator on Bluesky.")
    assert selectors.network_event_hidden_reason(event=muted, hidden_dids={}) == ""


@pytest.mark.django_db
def test_answers_of_accounts_the_member_blocks_are_not_listed(bob, django_user_model):
    event = _followed(bob, "Chess", days=2)
    carl = django_user_model.objects.create_user(username="carl", password="pw-123456")
    carl_did = random_did()
    link_identity(member=carl, did=carl_did, handle="carl.test")
    dee = django_user_model.objects.create_user(username="dee", password="pw-123456")
    for member in (carl, dee):
        services.network_rsvp_set(event=event, member=member, status="going")
    everyone = selectors.network_member_answers(event=event)
    assert {r.member for r in everyone["going"]} == {carl, dee}
    for_bob = selectors.network_member_answers(event=event, blocked_dids=[carl_did])
    assert [r.member for r in for_bob["going"]] == [dee]


@pytest.mark.django_db
def test_reports_hide_after_n_distinct_members_until_staff_review(settings, bob, django_user_model):
    settings.NETWORK_REPORTS_TO_HIDE = 3
    event = _followed(bob, "Too good to be true", days=2)
    reporters = [django_user_model.objects.create_user(username=f"r{i}", password="pw-123456") for i in range(3)]
    client = Client()
    client.force_login(reporters[0])
    answer = client.post(f"{event.get_absolute_url()}report/", {"reason": "spam", "note": "a scam"})
    assert answer.status_code == 302
    client.post(f"{event.get_absolute_url()}report/", {"reason": "misleading"})  # the same member again
    services.network_event_report(event=event, member=reporters[1], reason="spam")
    event.refresh_from_db()
    assert NetworkEventReport.objects.filter(event=event).count() == 2 and event.review == ""
    assert _names(bob) == ["Too good to be true"]
    services.network_event_report(event=event, member=reporters[2], reason="abuse")
    event.refresh_from_db()
    assert event.review == NetworkEvent.Review.PENDING
    assert _names(bob) == []
    assert "members reported it" in client.get(event.get_absolute_url()).content.decode()

    # Staff keep it: shown again, and the same reports do not hide it again.
    admin = site._registry[NetworkEvent]
    request = RequestFactory().post("/admin/")
    review_keep(admin, request, NetworkEvent.objects.filter(pk=event.pk))
    services.network_event_report(event=event, member=bob, reason="spam")
    assert _names(bob) == ["Too good to be true"]
    review_hide(admin, request, NetworkEvent.objects.filter(pk=event.pk))
    assert _names(bob) == [] and client.get(event.get_absolute_url()).status_code == 404


@pytest.mark.django_db
def test_a_report_needs_a_reason_and_a_signed_in_member(bob):
    event = _followed(bob, "Chess", days=2)
    assert Client().post(f"{event.get_absolute_url()}report/", {"reason": "spam"}).status_code == 302
    client = Client()
    client.force_login(bob)
    client.post(f"{event.get_absolute_url()}report/", {"reason": "because"})
    assert not NetworkEventReport.objects.exists()
    assert 'id="report-form"' in client.get(event.get_absolute_url()).content.decode()


@pytest.mark.django_db
def test_the_answer_link_explains_what_it_cannot_read(bob):
    client = Client()
    assert client.get("/network/answer/").status_code == 200
    bad = client.get("/network/answer/", {"uri": "https://example.com/x"})
    assert bad.status_code == 400 and "at:// address" in bad.content.decode()
    wrong = client.get("/network/answer/", {"uri": "at://did:plc:abc/app.bsky.feed.post/3l"})
    assert wrong.status_code == 400 and "does not name a calendar event" in wrong.content.decode()
