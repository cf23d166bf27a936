"""The event page's part that every viewer sees alike is cached (elonara.event_page), and every
change that shows there shows at once: saves and deletes (signals), `update()` (the models'
querysets), people and communities renamed, and a copy built from rows read before a commit."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.cache import cache
from django.test import Client
from django.utils import timezone

from core.page_cache import page_part_key, page_version_key
from elonara import services
from elonara.models import RSVP, Event, EventConversation, ExternalRSVP
from members.models import Member

pytestmark = pytest.mark.django_db


@pytest.fixture
def event():
    ann = Member.objects.create_user(username="ann", password="pw-long-enough-123", display_name="Ann")
    club = services.community_create(creator=ann, name="Board club", description="")
    start = timezone.now() + timedelta(days=3)
    return services.event_create(host=ann, title="Board games", starts_at=start, ends_at=start + timedelta(hours=2),
                                 venue="Café", community=club)


def _page(client: Client, event) -> str:
    response = client.get(event.get_absolute_url())
    assert response.status_code == 200
    return response.content.decode()


def test_a_warm_event_page_reads_nothing_but_the_viewer(event, django_assert_num_queries, settings):
    settings.SESSION_ENGINE = "django.contrib.sessions.backends.db"  # the same count with or without Redis
    visitor = Client()
    _page(visitor, event)
    with django_assert_num_queries(0):
        assert "Board games" in _page(visitor, event)
    bob = Member.objects.create_user(username="bob", password="pw-long-enough-123", display_name="Bob")
    services.rsvp_set(event=event, member=bob, status="maybe")
    member = Client()
    member.force_login(bob)
    _page(member, event)
    with django_assert_num_queries(1):  # the session: the page as they saw it last (their answer in it)
        page = _page(member, event)
    assert 'id="my-rsvp"' in page and "<strong>Maybe</strong>" in page


def test_every_change_shows_at_once(event, django_capture_on_commit_callbacks):
    visitor, bob_client = Client(), Client()
    bob = Member.objects.create_user(username="bob", password="pw-long-enough-123", display_name="Bob")
    bob_client.force_login(bob)
    _page(visitor, event), _page(bob_client, event)

    services.rsvp_set(event=event, member=bob, status="going")  # a save
    assert 'class="person-name">Bob</span>' in _page(visitor, event).split('id="attendees"')[1]
    rsvp = RSVP.objects.get(event=event, member=bob)
    RSVP.objects.filter(pk=rsvp.pk).update(publish_state="published")  # an update(), as the pipeline does
    assert "(published on Bluesky)" in _page(bob_client, event)

    bob.display_name = "Bobby"
    bob.save()
    assert 'class="person-name">Bobby</span>' in _page(visitor, event)
    bob.save(update_fields=["last_login"])  # every login: shown nowhere, renews nothing
    assert cache.get(page_part_key("event", event.pk)) is not None

    services.community_update(community=event.community, editor=event.host, name="Dice club")
    assert ">Dice club</a>" in _page(visitor, event)
    services.event_update(event=event, editor=event.host, title="Dice games")
    assert "<h1>Dice games</h1>" in _page(visitor, event)
    cleo = Member.objects.create_user(username="cleo", password="pw-long-enough-123", display_name="Cleo")
    services.event_cohost_add(event=event, actor=event.host, member=cleo)
    assert 'class="person-name">Cleo</span>' in _page(visitor, event).split('class="facts event-facts"')[1]

    outside = ExternalRSVP.objects.create(event=event, did="did:plc:outsider", handle="", status="going",
                                          uri="at://did:plc:outsider/community.lexicon.calendar.rsvp/1", cid="x")
    assert "did:plc:outsider" in _page(visitor, event)
    ExternalRSVP.objects.filter(did=outside.did).update(handle="outsider.test")  # the handle lookup task
    assert "@outsider.test" in _page(visitor, event)
    outside.delete()
    assert "outsider" not in _page(visitor, event)

    EventConversation.objects.create(event=event, post_uri="at://did:plc:ann/app.bsky.feed.post/3k",
                                     fetched_at=timezone.now())
    EventConversation.objects.filter(event=event).update(
        replies=[{"did": "did:plc:x", "handle": "x.test", "display_name": "", "text": "Count me in", "depth": 1}],
        reply_count=1)
    assert "Count me in" in _page(visitor, event)

    services.event_cancel(event=event, actor=event.host)
    assert 'id="cancelled-notice"' in _page(visitor, event)


def test_a_copy_built_before_a_commit_is_never_served_after_it(event, django_capture_on_commit_callbacks):
    """A viewer read the rows while the change was still uncommitted and stores its copy after the
    commit: the version renewed at commit makes that copy unused."""
    from elonara.event_page import event_page_get

    visitor = Client()
    stale = event_page_get(event_id=event.pk)
    bob = Member.objects.create_user(username="bob", password="pw-long-enough-123", display_name="Bob")
    with django_capture_on_commit_callbacks(execute=True):
        services.rsvp_set(event=event, member=bob, status="going")
        seen_during_the_transaction = cache.get(page_version_key("event", event.pk))
    cache.set(page_part_key("event", event.pk), (seen_during_the_transaction, stale))  # the late store
    assert 'class="person-name">Bob</span>' in _page(visitor, event)


def test_a_deleted_event_is_gone(event):
    visitor = Client()
    _page(visitor, event)
    pk = event.pk
    RSVP.objects.filter(event_id=pk).delete()
    event.delete()
    assert visitor.get(f"/events/{pk}/").status_code == 404


def _community_page(client: Client, community) -> str:
    response = client.get(community.get_absolute_url())
    assert response.status_code == 200
    return response.content.decode()


def test_a_warm_community_page_reads_nothing_but_the_viewer(event, django_assert_num_queries, settings):
    settings.SESSION_ENGINE = "django.contrib.sessions.backends.db"
    community = event.community
    visitor, ann = Client(), Client()
    ann.force_login(event.host)
    _community_page(visitor, community), _community_page(ann, community)
    with django_assert_num_queries(0):
        assert "Board games" in _community_page(visitor, community)
    with django_assert_num_queries(1):  # the session: the page as she saw it last (her role in it)
        assert 'id="organizer-tools"' in _community_page(ann, community)


def test_every_change_shows_on_the_community_page(event):
    community, visitor = event.community, Client()
    _community_page(visitor, community)
    bob = Member.objects.create_user(username="bob", password="pw-long-enough-123", display_name="Bob")
    services.community_join(community=community, member=bob)
    page = _community_page(visitor, community)
    assert "2 members" in page and 'class="person-name">Bob</span>' in page
    services.community_organizer_set(community=community, actor=event.host, member=bob, organizer=True)
    organizers = _community_page(visitor, community).split('id="organizers"')[1].split("</p>")[0]
    assert 'class="person-name">Bob</span>' in organizers
    bob.display_name = "Bobby"
    bob.save()
    assert 'class="person-name">Bobby</span>' in _community_page(visitor, community)
    services.community_update(community=community, editor=event.host, description="Dice on Thursdays.")
    assert "Dice on Thursdays." in _community_page(visitor, community)

    services.rsvp_set(event=event, member=bob, status="going")
    services.event_recount(event_id=event.pk)  # the worker's update() of the counts
    assert "2 going" in _community_page(visitor, community)  # the host and Bob
    start = timezone.now() + timedelta(days=5)
    picnic = services.event_create(host=event.host, title="Picnic", starts_at=start, ends_at=start + timedelta(hours=2),
                                   venue="Park", community=community)
    assert "Picnic" in _community_page(visitor, community)
    services.event_update(event=picnic, editor=event.host, community=None)  # moved out of the community
    assert "Picnic" not in _community_page(visitor, community)
    services.community_leave(community=community, member=bob)
    assert 'class="person-name">Bobby</span>' not in _community_page(visitor, community)


def test_the_community_page_is_kept_no_longer_than_its_first_event_lasts(event):
    from elonara.community_page import _community_page_build

    services.event_update(event=event, editor=event.host, starts_at=timezone.now() - timedelta(hours=1),
                          ends_at=timezone.now() + timedelta(seconds=30))
    page, seconds = _community_page_build(community_id=event.community_id)
    assert page is not None and "Board games" in page.body_html
    assert 0 < seconds <= 31


def test_the_community_feed_is_built_once_per_change(event, django_assert_num_queries):
    community, app = event.community, Client()
    url = f"/communities/{community.slug}/calendar.ics"
    first = app.get(url)
    assert first.status_code == 200 and b"SUMMARY:Board games" in first.content
    with django_assert_num_queries(0):
        assert app.get(url, HTTP_IF_NONE_MATCH=first["ETag"]).status_code == 304
        assert app.get(url).content == first.content
    start = timezone.now() + timedelta(days=6)
    services.event_create(host=event.host, title="Picnic", starts_at=start, ends_at=start + timedelta(hours=2),
                          venue="Park", community=community)
    changed = app.get(url, HTTP_IF_NONE_MATCH=first["ETag"])
    assert changed.status_code == 200 and b"SUMMARY:Picnic" in changed.content and changed["ETag"] != first["ETag"]
    services.community_update(community=community, editor=event.host, name="Dice club")
    assert b"Dice club" in app.get(url).content


def test_the_api_event_lists_are_built_once_per_change(event, django_assert_num_queries, settings):
    settings.SESSION_ENGINE = "django.contrib.sessions.backends.db"
    api = Client()
    api.force_login(event.host)
    for url in ("/api/events/", "/api/v1/events/?limit=5"):
        assert "Board games" in api.get(url).content.decode()
        with django_assert_num_queries(1):  # the session (the member's row is kept: members.middleware)
            assert "Board games" in api.get(url).content.decode()
    Event.objects.filter(pk=event.pk).update(title="Dice games")  # any change to an event renews the lists
    assert "Dice games" in api.get("/api/events/").content.decode()
    assert "Dice games" in api.get("/api/v1/events/?limit=5").content.decode()
    start = timezone.now() + timedelta(days=6)
    services.event_create(host=event.host, title="Picnic", starts_at=start, ends_at=start + timedelta(hours=2),
                          venue="Park")
    assert "Picnic" in api.get("/api/v1/events/?limit=5").content.decode()
    event.delete()
    assert "Dice games" not in api.get("/api/events/").content.decode()


def test_a_deleted_community_leaves_its_events_pages(event):
    visitor = Client()
    assert ">Board club</a>" in _page(visitor, event)
    event.community.delete()  # the admin's delete: the events stay, without a community
    assert "Board club" not in _page(visitor, event)


def test_the_cached_parts_hold_no_password_hash_or_address(event):
    """The cache (Redis in production) holds what the pages show of people, nothing more."""
    import pickle

    from elonara.community_page import community_page_get
    from elonara.event_page import event_page_get

    people = []
    for name in ("bob", "cleo"):
        person = Member.objects.create_user(username=name, password="pw-long-enough-123", email=f"{name}@example.org")
        services.community_join(community=event.community, member=person)
        services.rsvp_set(event=event, member=person, status="going")
        people.append(person)
    services.event_cohost_add(event=event, actor=event.host, member=people[1])
    event.host.email = "ann@example.org"
    event.host.save()
    event_part, community_part = event_page_get(event_id=event.pk), community_page_get(slug=event.community.slug)
    assert event_part is not None and community_part is not None
    assert "Bob" in event_part.about_html or "bob" in event_part.about_html
    stored = pickle.dumps(event_part) + pickle.dumps(community_part)
    for person in [event.host, *people]:
        person.refresh_from_db()
        assert person.password.encode() not in stored and person.email.encode() not in stored


def test_the_member_feed_is_built_once_per_change(event, django_assert_num_queries):
    from network import services as network_services
    from network.models import NetworkEvent

    bob = Member.objects.create_user(username="bob", password="pw-long-enough-123", display_name="Bob")
    _feed, token = services.calendar_feed_issue(member=bob)
    app, url = Client(), f"/calendar/feed/{token}.ics"

    def feed(**headers) -> str:
        response = app.get(url, **headers)
        assert response.status_code in (200, 304)
        return response.content.decode()

    assert "Board games" not in feed()
    services.rsvp_set(event=event, member=bob, status="going")  # an answer
    assert "SUMMARY:Board games" in feed()
    first = app.get(url)
    with django_assert_num_queries(0):  # whose token it is and the calendar: both kept
        assert app.get(url, HTTP_IF_NONE_MATCH=first["ETag"]).status_code == 304
    Event.objects.filter(pk=event.pk).update(title="Dice games")  # update(): the answerers' feeds too
    assert "SUMMARY:Dice games" in feed(HTTP_IF_NONE_MATCH=first["ETag"])
    services.event_update(event=event, editor=event.host, venue="Library")  # a save
    assert "LOCATION:Library" in feed()
    bob.display_name = "Bobby"
    bob.save()
    assert "Bobby" in feed()  # the feed is named after them

    start = timezone.now() + timedelta(days=4)
    record = {"$type": "community.lexicon.calendar.event", "name": "Go night", "description": "",
              "createdAt": "2026-11-26T10:00:00.000Z", "startsAt": start.isoformat(),
              "endsAt": (start + timedelta(hours=2)).isoformat()}
    outside = network_services.network_event_store(did="did:plc:maker", rkey="3lnet00000001", cid="bafyrei" + "a" * 52,
                                                   record=record, seq=1)
    assert outside is not None
    network_services.network_rsvp_set(event=outside, member=bob, status="going")  # an answer in another app's event
    assert "SUMMARY:Go night" in feed()
    NetworkEvent.objects.filter(pk=outside.pk).update(name="Go marathon")  # a new version from the firehose
    assert "SUMMARY:Go marathon" in feed()
    services.rsvp_set(event=event, member=bob, status="not_going")
    assert "Dice games" not in feed()
