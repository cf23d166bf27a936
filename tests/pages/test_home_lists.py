"""The member home's lists (pages.home.member_home_lists): what they host and what they answered in
one query, other apps' events asked for only when the member answered any, and in order."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from elonara import atrecords, services
from members.models import Member
from network import services as network_services
from pages.home import member_home_lists

pytestmark = pytest.mark.django_db


def _member(name: str) -> Member:
    return Member.objects.create_user(username=name, password="pw-long-enough-123", display_name=name.title())


def test_plans_cost_three_queries_until_the_member_answers_in_another_app(django_assert_num_queries, settings):
    settings.BLUESKY_APPVIEW_URL = "http://127.0.0.1:9"  # profile reads (queued on commit) go nowhere
    settings.CELERY_TASK_ALWAYS_EAGER = False
    ann, bob = _member("ann"), _member("bob")
    start = timezone.now() + timedelta(days=3)
    services.event_create(host=bob, title="Bob's picnic", starts_at=start + timedelta(hours=1),
                          ends_at=start + timedelta(hours=3), venue="Park")
    answered = services.event_create(host=ann, title="Board games", starts_at=start,
                                     ends_at=start + timedelta(hours=2), venue="Café")
    services.rsvp_set(event=answered, member=bob, status="maybe")
    with django_assert_num_queries(3):  # ours (hosted and answered), communities, invitations
        plans = member_home_lists(member=bob)["plans"]
    assert [(p["title"], p["status"], p["hosting"]) for p in plans] == [
        ("Board games", "Maybe", False), ("Bob's picnic", "Hosting", True)]

    record = {"$type": atrecords.EVENT_NSID, "name": "Go night", "createdAt": atrecords.at_datetime(timezone.now()),
              "startsAt": atrecords.at_datetime(start + timedelta(minutes=30)),
              "endsAt": atrecords.at_datetime(start + timedelta(hours=2))}
    outside = network_services.network_event_store(did="did:plc:maker", rkey="3lnet00000001",
                                                   cid="bafyrei" + "a" * 52, record=record, seq=1)
    assert outside is not None
    network_services.network_rsvp_set(event=outside, member=bob, status="going")
    with django_assert_num_queries(4):
        plans = member_home_lists(member=bob)["plans"]
    assert [(p["title"], p["other_app"]) for p in plans] == [
        ("Board games", False), ("Go night", True), ("Bob's picnic", False)]
    client = Client()
    client.force_login(bob)
    assert "Go night" in client.get("/").content.decode().split('id="my-rsvps"')[1]


def test_a_member_with_no_plans_here_still_sees_their_answers_in_other_apps(settings):
    settings.BLUESKY_APPVIEW_URL = "http://127.0.0.1:9"
    settings.CELERY_TASK_ALWAYS_EAGER = False
    bob = _member("bob")
    start = timezone.now() + timedelta(days=3)
    record = {"$type": atrecords.EVENT_NSID, "name": "Go night", "createdAt": atrecords.at_datetime(timezone.now()),
              "startsAt": atrecords.at_datetime(start), "endsAt": atrecords.at_datetime(start + timedelta(hours=2))}
    outside = network_services.network_event_store(did="did:plc:maker", rkey="3lnet00000001",
                                                   cid="bafyrei" + "a" * 52, record=record, seq=1)
    assert outside is not None
    network_services.network_rsvp_set(event=outside, member=bob, status="going")
    assert [p["title"] for p in member_home_lists(member=bob)["plans"]] == ["Go night"]
