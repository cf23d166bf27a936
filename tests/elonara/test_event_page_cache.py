"""The event page's part that every viewer sees alike is cached (elonara.event_page), and every
change that shows there shows at once: saves and deletes (signals), `update()` (the models'
querysets), people and communities renamed, and a copy built from rows read before a commit."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.cache import cache
from django.test import Client
from django.utils import timezone

from elonara import services
from elonara.models import RSVP, EventConversation, ExternalRSVP
from elonara.page_cache import event_page_key, event_page_version_key
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
    with django_assert_num_queries(2):  # the session and the member: their answer is in the cached part
        page = _page(member, event)
    assert 'id="my-rsvp"' in page and "<strong>Maybe</strong>" in page


def test_every_change_shows_at_once(event, django_capture_on_commit_callbacks):
    visitor, bob_client = Client(), Client()
    bob = Member.objects.create_user(username="bob", password="pw-long-enough-123", display_name="Bob")
    bob_client.force_login(bob)
    _page(visitor, event), _page(bob_client, event)

    services.rsvp_set(event=event, member=bob, status="going")  # a save
    assert "<li>Bob</li>" in _page(visitor, event).split('id="attendees"')[1]
    rsvp = RSVP.objects.get(event=event, member=bob)
    RSVP.objects.filter(pk=rsvp.pk).update(publish_state="published")  # an update(), as the pipeline does
    assert "(published on Bluesky)" in _page(bob_client, event)

    bob.display_name = "Bobby"
    bob.save()
    assert "<li>Bobby</li>" in _page(visitor, event)
    bob.save(update_fields=["last_login"])  # every login: shown nowhere, renews nothing
    assert cache.get(event_page_key(event.pk)) is not None

    services.community_update(community=event.community, editor=event.host, name="Dice club")
    assert ">Dice club</a>" in _page(visitor, event)
    services.event_update(event=event, editor=event.host, title="Dice games")
    assert "<h1>Dice games</h1>" in _page(visitor, event)
    cleo = Member.objects.create_user(username="cleo", password="pw-long-enough-123", display_name="Cleo")
    services.event_cohost_add(event=event, actor=event.host, member=cleo)
    assert ">Cleo</a>" in _page(visitor, event).split('class="facts event-facts"')[1]

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
        seen_during_the_transaction = cache.get(event_page_version_key(event.pk))
    cache.set(event_page_key(event.pk), (seen_during_the_transaction, stale))  # the late store
    assert "<li>Bob</li>" in _page(visitor, event)


def test_a_deleted_event_is_gone(event):
    visitor = Client()
    _page(visitor, event)
    pk = event.pk
    RSVP.objects.filter(event_id=pk).delete()
    event.delete()
    assert visitor.get(f"/events/{pk}/").status_code == 404
