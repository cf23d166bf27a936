"""Every page and API endpoint runs a fixed number of queries, whatever the amount of data.

Each case is measured twice: on a small world, then after the world grew (more events, members,
RSVPs, communities, invitations around the same objects). Both must equal the case's number, so
an N+1 (a query per row) fails here, and so does any new query, on purpose: update the number
only after checking the new query is needed.

Not covered here (they call Bluesky): the graph page and bulk-create APIs, connect and callback;
their peer tests cover behaviour.
"""

from __future__ import annotations

import itertools
from datetime import timedelta

import pytest
from django.contrib.auth.tokens import default_token_generator
from django.core.cache import cache
from django.test import Client
from django.utils import timezone
from django.utils.http import urlsafe_base64_encode

from core.page_cache import viewers_changed
from elonara import services as elonara_services
from invitations import answers as invitation_answers
from invitations import services as invitation_services
from invitations.models import Invitation
from network import services as network_services
from network.models import FollowedAccount, NetworkAnswer
from notifications.tokens import confirmation_token, unsubscribe_token
from tests.invitations.conftest import link_identity, make_member, profile, random_did

_seq = itertools.count()


class World:
    """Ann hosts a community and an event; Bob is a member who was invited to it."""

    def __init__(self) -> None:
        self.ann = make_member("ann")
        self.ann_did = random_did()
        link_identity(member=self.ann, did=self.ann_did, handle="ann.test")
        self.bob = make_member("bob")
        self.bob.email = "bob@example.org"
        self.bob.save(update_fields=["email"])
        self.bob_did = random_did()
        link_identity(member=self.bob, did=self.bob_did, handle="bob.test")
        self.community = elonara_services.community_create(creator=self.ann, name="Go players",
                                                           description="Weekly games.")
        self.event = self._event(host=self.ann, community=self.community, title="Board games")
        result = invitation_services.invitations_enqueue(
            host=self.ann, target=self.event, message_template="",
            profiles=[profile("bob.test", did=self.bob_did)])
        self.batch = result.batch
        self.invitation = self.batch.invitations.get()
        Invitation.objects.filter(pk=self.invitation.pk).update(status=Invitation.Status.SENT)
        elonara_services.community_join(community=self.community, member=self.bob)
        elonara_services.rsvp_set(event=self.event, member=self.bob, status="going")
        elonara_services.rsvp_set(event=self.event, member=self.ann, status="going")
        from elonara import series as series_services

        start = timezone.now() + timedelta(days=2)
        self.series = series_services.series_create(host=self.ann, kind="weekly", starts_at=start,
                                                    ends_at=start + timedelta(hours=2), title="Weekly Go",
                                                    venue="Club").series
        self.network_event = self._network_event(did=self.bob_did)
        network_services.network_rsvp_set(event=self.network_event, member=self.ann, status="going")
        self.grow()

    @staticmethod
    def _network_event(*, did: str):
        """An event made in another app, as the firehose consumer keeps it."""
        start = timezone.now() + timedelta(days=2, hours=next(_seq))
        record = {"$type": "community.lexicon.calendar.event", "name": "Go night", "description": "Bring a board",
                  "createdAt": "2026-11-26T10:00:00.000Z", "startsAt": start.isoformat(),
                  "endsAt": (start + timedelta(hours=2)).isoformat()}
        return network_services.network_event_store(did=did, rkey=f"3lnet{next(_seq):08d}", cid="bafyrei" + "a" * 52,
                                                     record=record, seq=next(_seq))

    @staticmethod
    def _event(*, host, community=None, title="Meetup"):
        start = timezone.now() + timedelta(days=3, hours=next(_seq))
        return elonara_services.event_create(host=host, title=title, starts_at=start,
                                             ends_at=start + timedelta(hours=2), description="", venue="Café",
                                             community=community)

    def grow(self, n: int = 2) -> None:
        """More of everything around the same objects: rows a page might query once per item."""
        for _ in range(n):
            i = next(_seq)
            other = make_member(f"m{i}")
            link_identity(member=other, did=random_did(), handle=f"m{i}.test")
            community = elonara_services.community_create(creator=other, name=f"Club {i}", description="")
            elonara_services.community_join(community=community, member=self.ann)
            elonara_services.community_join(community=community, member=self.bob)
            elonara_services.community_join(community=self.community, member=other)
            elonara_services.rsvp_set(event=self.event, member=other, status="maybe")
            event = self._event(host=other, community=community, title=f"Event {i}")
            sent = invitation_services.invitations_enqueue(host=other, target=event, message_template="",
                                                           profiles=[profile("bob.test", did=self.bob_did)])
            sent.batch.invitations.update(status=Invitation.Status.SENT)
            elonara_services.rsvp_set(event=event, member=self.ann, status="going")
            elonara_services.rsvp_set(event=event, member=self.bob, status="maybe")
            # Network events: by members, by strangers, followed, answered.
            stranger = random_did()
            FollowedAccount.objects.create(member=self.bob, did=stranger)
            for did in (stranger, self.ann_did, random_did()):
                network_event = self._network_event(did=did)
                NetworkAnswer.objects.create(event=network_event, did=stranger, uri=f"at://{stranger}/x/{i}{did[-4:]}",
                                             cid="b", status="going")
            network_services.network_rsvp_set(event=network_event, member=self.bob, status="maybe")
            NetworkAnswer.objects.create(event=self.network_event, did=stranger, uri=f"at://{stranger}/y/{i}",
                                         cid="b", status="interested")
            # Invitations: more in Ann's batch, and more for Bob from other hosts.
            invitation_services.invitations_enqueue(host=self.ann, target=self.event, message_template="",
                                                    profiles=[profile(f"x{i}.test")])
            Invitation.objects.filter(event=self.event).exclude(pk=self.invitation.pk).update(
                batch=self.batch, status=Invitation.Status.FAILED, failure_code="rate_limited", retryable=True)


@pytest.fixture
def world(db, settings, django_capture_on_commit_callbacks):
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    # Bob is invited by every host the grown world adds: above the per-recipient weekly cap.
    settings.INVITATIONS_WEEKLY_CAP_PER_RECIPIENT = 1000
    if not settings.FIELD_ENCRYPTION_KEYS:
        settings.FIELD_ENCRYPTION_KEYS = ["aW52aXRhdGlvbnMtdGVzdHMtb25seS1rZXktMDEyMzQ="]
    # Nothing is published to the broker: on-commit callbacks are collected, not run.
    with django_capture_on_commit_callbacks(execute=False):
        yield World()


def _urls(w: World) -> dict[str, str]:
    return {
        "event": f"/events/{w.event.pk}/", "event_edit": f"/events/{w.event.pk}/edit/",
        "community": f"/communities/{w.community.slug}/",
        "picker": f"/invitations/event/{w.event.pk}/invite/", "progress": f"/invitations/batches/{w.batch.pk}/",
        "batch_api": f"/api/invitations/batches/{w.batch.pk}/",
        "landing": f"/events/{w.event.pk}/?invitation={w.invitation.token}",
        "series": f"/series/{w.series.pk}/", "series_api": f"/api/series/{w.series.pk}/",
        "series_ics": f"/series/{w.series.pk}/calendar.ics",
        "people": f"/events/{w.event.pk}/people/", "checkin": f"/events/{w.event.pk}/checkin/",
        "checkin_counts": f"/events/{w.event.pk}/checkin/counts/", "ticket": f"/events/{w.event.pk}/ticket/",
        "message": f"/events/{w.event.pk}/message/",
        "attendees_csv": f"/events/{w.event.pk}/attendees.csv",
        "event_api": f"/api/events/{w.event.pk}/", "waitlist_api": f"/api/events/{w.event.pk}/waitlist/",
        "requests_api": f"/api/events/{w.event.pk}/requests/", "cohosts_api": f"/api/events/{w.event.pk}/cohosts/",
        "reset_link": f"/members/password-reset/{urlsafe_base64_encode(str(w.bob.pk).encode())}/"
                      f"{default_token_generator.make_token(w.bob)}/",
        "confirm": f"/notifications/confirm/{confirmation_token(member_id=w.bob.pk, email=w.bob.email)}/",
        "unsubscribe": f"/notifications/unsubscribe/{unsubscribe_token(member_id=w.bob.pk, topic='reminders')}/",
        "network_event": w.network_event.get_absolute_url(),
        "network_rsvp": w.network_event.get_absolute_url() + "rsvp/",
        "upcoming_search": "/upcoming/?q=go&when=month&mode=inperson",
    }


# (who, method, url or key of _urls, expected queries, expected status)
CASES = [
    ("anonymous", "get", "/", 1, 200),
    ("anonymous", "get", "/communities/", 1, 200),
    ("anonymous", "get", "community", 3, 200),  # the community, its members (also the card's count), its events
    # + RSVPs from other AT Protocol apps, co-hosts, the host's questions and messages
    # The event (with whether it has co-hosts, questions, messages, outside answers: none here) and its answers.
    ("anonymous", "get", "event", 2, 200),
    ("anonymous", "get", "landing", 4, 200),
    ("anonymous", "get", "/members/signup/", 0, 200),
    ("anonymous", "get", "/members/login/", 0, 200),
    ("anonymous", "get", "/members/ann/", 2, 200),
    ("anonymous", "get", "/healthz", 0, 200),
    ("anonymous", "get", "/members/password-reset/", 0, 200),
    ("anonymous", "post", "/members/password-reset/", 2, 302),  # the member + queueing the mail
    ("anonymous", "get", "reset_link", 5, 302),  # session, member; the token moves into the session (3)
    ("anonymous", "get", "confirm", 0, 200),
    ("anonymous", "post", "confirm", 5, 200),  # member, settings (locked), save, in a transaction
    ("anonymous", "get", "unsubscribe", 0, 200),
    ("anonymous", "post", "unsubscribe", 5, 200),  # member, settings (locked), save, in a transaction
    ("anonymous", "get", "/upcoming/", 2, 200),
    ("anonymous", "get", "network_event", 2, 200),
    ("anonymous", "get", "/network/answer/", 0, 200),
    ("ann", "get", "/", 7, 200),  # + answers to events of other apps, events she hosts or answered ("Your plans")
    # + follows copied when? (queue a refresh), our events, network events; + her Bluesky session, to read
    # whom she blocks or mutes (then kept a few minutes)
    ("ann", "get", "/upcoming/", 6, 200),
    ("ann", "get", "upcoming_search", 6, 200),
    ("ann", "get", "/upcoming/?follows=1", 6, 200),
    ("ann", "get", "network_event", 7, 200),  # + her Bluesky session (blocks and mutes)
    ("ann", "get", "/communities/", 3, 200),
    ("ann", "get", "/communities/new/", 2, 200),
    ("ann", "get", "community", 5, 200),  # + session, member (their membership is among the members)
    # + whether the host can announce (writes mode, their app password, their OAuth identity) and
    # their last choice (4).
    ("ann", "get", "/events/new/", 7, 200),
    ("ann", "get", "/events/new/?title=Tea&start=2031-05-02T19:00&place=Porto", 7, 200),  # a link's fields: no query
    ("ann", "get", "event", 5, 200),  # the viewer's own answer is read from the attendees
    # + her Bluesky session, when others answered with an account (her blocks: then kept a few minutes)
    ("ann", "get", "event_edit", 5, 200),
    ("ann", "get", "/members/me/", 2, 302),
    ("ann", "get", "/members/me/edit/", 2, 200),
    ("ann", "get", "/members/ann/", 8, 200),  # + API tokens, app-password card, mail settings; not her row again
    ("ann", "post", "/notifications/settings/", 6, 302),
    ("ann", "get", "/bluesky/app-password/", 3, 200),
    ("ann", "get", "picker", 8, 200),  # + the posting account: writes mode, app password, relay
    ("ann", "get", "progress", 6, 200),  # + what the batch invites to (kept beside its progress once read)
    ("ann", "get", "batch_api", 5, 200),
    ("ann", "get", "/api/bluesky/identity/", 3, 200),
    ("ann", "get", "/api/v1/events/", 3, 200),  # a page of events, only the columns shown
    ("ann", "get", "/api/events/", 3, 200),  # the unversioned address: the first 100, unpaginated
    ("anonymous", "get", "/api/schema/", 0, 200),
    ("anonymous", "get", "/api/docs/", 0, 200),
    ("ann", "post", "/api/invitations/event/{event}/preview/", 7, 200),  # + the posting account (3), the host's mention
    ("bob", "get", "/", 7, 200),
    ("bob", "get", "/upcoming/", 6, 200),  # + no Bluesky session (then kept a few minutes)
    ("bob", "post", "network_rsvp", 7, 302),  # the event (locked), the answer, recount, the publishing account
    ("bob", "get", "event", 5, 200),  # the same
    ("bob", "get", "landing", 8, 200),  # the same
    # + the event locked + publishing the RSVP record (6) + its due time in the write pipeline (1; 2 the first time)
    # + which event pages the publishing state changes (1: an update() sends no signal)
    # + the event's questions (elonara.questions, asked under the lock)
    ("bob", "post", "/events/{event}/rsvp/", 12, 302),  # the same answer again: nothing to write (elonara.answers)
    ("bob", "post", "/communities/{community}/join/", 7, 302),  # + blocked from it?
    ("ann", "get", "/communities/{community}/members/", 6, 200),
    ("anonymous", "get", "series", 2, 200),  # the series (with its host), its dates
    ("anonymous", "get", "series_ics", 2, 200),
    ("ann", "get", "series_api", 4, 200),
    # requests, going, waiting list, co-hosts, seats, questions, answers; figures: invitations,
    # invitees' accounts (2) and answers, answers by where they came from, answers from other apps
    ("ann", "get", "people", 16, 200),
    ("ann", "get", "checkin", 5, 200),  # + co-host?, the guests found, the counts
    ("ann", "get", "checkin_counts", 4, 200),
    ("ann", "get", "ticket", 4, 200),  # the event, her answer with its check-in
    # session, member, the event, whether it has a Bluesky thread (with one, + her own account: writes
    # mode, app password, OAuth identity), the messages sent with their authors
    ("ann", "get", "message", 5, 200),
    ("ann", "get", "attendees_csv", 4, 200),
    ("ann", "get", "event_api", 7, 200),  # + the questions
    ("ann", "get", "waitlist_api", 5, 200),
    ("ann", "get", "requests_api", 4, 200),
    ("bob", "get", "cohosts_api", 4, 200),
    ("anonymous", "get", "/xrpc/app.bsky.feed.describeFeedGenerator", 2, 200),  # feed records, communities' feeds
    ("ann", "get", "/feeds/communities/{community}/", 5, 200),  # session, member, community, organizer?, feed on?
]


def _request(client: Client, w: World, method: str, url: str):
    url = _urls(w).get(url, url).format(event=w.event.pk, community=w.community.slug)
    if method == "get":
        return client.get(url)
    if url.endswith("/preview/"):
        return client.post(url, {"message": "", "did": w.bob_did, "handle": "bob.test"},
                           content_type="application/json")
    if url.endswith("/rsvp/"):
        return client.post(url, {"status": "going"})
    if url.endswith("/password-reset/"):
        return client.post(url, {"email": w.bob.email})
    if url.endswith("/notifications/settings/"):
        return client.post(url, {"rsvp_confirmations": "on", "reminders": "on"})
        return client.post(url, {"status": "going" if "/network/" not in url else "not_going"})
    return client.post(url)


@pytest.mark.parametrize(("who", "method", "url", "queries", "status"), CASES,
                         ids=[f"{c[0]}-{c[1]}-{c[2]}" for c in CASES])
def test_query_count_is_fixed(world, who, method, url, queries, status, django_assert_num_queries):
    client = Client()
    if who != "anonymous":
        client.force_login(getattr(world, who))
    _request(client, world, method, url)  # warm-up: per-process caches (content types, keys) filled
    cache.clear()  # cold: cached fragments (the home page's events) are rendered, their queries counted
    with django_assert_num_queries(queries):
        response = _request(client, world, method, url)
    assert response.status_code == status
    world.grow(3)
    cache.clear()
    with django_assert_num_queries(queries):
        response = _request(client, world, method, url)
    assert response.status_code == status


def test_home_page_events_come_from_the_cache_until_an_event_changes(world, django_assert_num_queries,
                                                                     django_capture_on_commit_callbacks):
    from elonara.models import RSVP

    anonymous = Client()
    anonymous.get("/")
    with django_assert_num_queries(0):
        assert b"Board games" in anonymous.get("/").content
    # A new event, then a recount (what the worker does after an RSVP), show at once after commit.
    with django_capture_on_commit_callbacks(execute=True):
        new = World._event(host=world.ann, title="Fresh picnic")
    assert b"Fresh picnic" in anonymous.get("/").content
    RSVP.objects.create(event=new, member=world.bob, status=RSVP.Status.GOING)
    with django_capture_on_commit_callbacks(execute=True):
        elonara_services.event_recount(event_id=new.pk)
    page = anonymous.get("/").content.decode()
    card = page[page.index("Fresh picnic"):]
    assert "2 going" in card[:600]  # Ann, who hosts it, and Bob


def test_member_home_lists_come_from_the_cache_until_the_member_answers_joins_or_they_change(
        world, settings, django_assert_num_queries, django_capture_on_commit_callbacks):
    """Warm, the member home costs the session (database sessions here): the whole page is kept
    for them (core.page_cache.page_response), and each change that shows there (an answer, a join,
    an edit, an invitation declined or accepted) renews it after commit."""
    settings.SESSION_ENGINE = "django.contrib.sessions.backends.db"  # the same count with or without Redis
    bob = Client()
    bob.force_login(world.bob)
    bob.get("/")
    with django_assert_num_queries(1):
        bob.get("/")
    new = World._event(host=world.ann, title="Fresh picnic")
    assert b"Fresh picnic" not in bob.get("/").content.split(b'id="my-rsvps"')[1]
    with django_capture_on_commit_callbacks(execute=True):
        elonara_services.rsvp_set(event=new, member=world.bob, status="maybe")
    assert b'Fresh picnic</a> <span class="badge">Maybe</span>' in bob.get("/").content
    # Its host has it in her plans from the start (hosting is a plan, with no answer of her own).
    ann = Client()
    ann.force_login(world.ann)
    assert b'Fresh picnic</a> <span class="badge success">Hosting</span>' in ann.get("/").content.split(
        b'id="my-rsvps"')[1]
    with django_capture_on_commit_callbacks(execute=True):
        elonara_services.event_update(event=new, editor=world.ann, title="Fresh picnic by the lake")
    assert b"Fresh picnic by the lake</a>" in bob.get("/").content
    club = elonara_services.community_create(creator=world.ann, name="Lake swimmers", description="")
    assert b"Lake swimmers" not in bob.get("/").content
    with django_capture_on_commit_callbacks(execute=True):
        elonara_services.community_join(community=club, member=world.bob)
    assert b"Lake swimmers</a>" in bob.get("/").content
    with django_capture_on_commit_callbacks(execute=True):
        elonara_services.community_update(community=club, editor=world.ann, name="Lake divers", description="")
    page = bob.get("/").content
    assert b"Lake divers</a>" in page and b"Lake swimmers" not in page

    # Invitations: Bob declines his from Ann (gone from his list), answers another (accepted).
    assert f"invitation={world.invitation.token}".encode() in page
    with django_capture_on_commit_callbacks(execute=True):
        invitation_answers.invitation_decline(member=world.bob, token=world.invitation.token)
    assert f"invitation={world.invitation.token}".encode() not in bob.get("/").content
    other = Invitation.objects.filter(recipient_did=world.bob_did, status=Invitation.Status.SENT,
                                      event__isnull=False).select_related("event").first()
    marker = f'invitation={other.token}">{other.event.title}</a>'.encode()
    assert marker in bob.get("/").content and b"Accepted" not in bob.get("/").content.split(marker)[1][:200]
    with django_capture_on_commit_callbacks(execute=True):
        elonara_services.rsvp_set(event=other.event, member=world.bob, status="going")
    assert b"Accepted" in bob.get("/").content.split(marker)[1][:200]


@pytest.mark.parametrize("publish_state", ["", "failed"])
def test_host_event_page_asks_once_whether_the_host_can_publish(world, settings, publish_state,
                                                                django_assert_num_queries):
    """An unpublished event shows the host "Publish on Bluesky" when they have an account to write
    with: one query (the agents looked the account up three times: writes mode, app password, identity)."""
    from elonara.models import Event

    Event.objects.filter(pk=world.event.pk).update(publish_state=publish_state)
    settings.SESSION_ENGINE = "django.contrib.sessions.backends.db"  # the same count with or without Redis
    ann = Client()
    ann.force_login(world.ann)
    ann.get(f"/events/{world.event.pk}/")
    viewers_changed([world.ann.pk])  # the page kept whole for her is built again (its part is kept)
    with django_assert_num_queries(3):  # session, member, the account
        response = ann.get(f"/events/{world.event.pk}/")
    assert response.context["can_publish"] is True
    with django_assert_num_queries(1):  # the session: the page as she saw it last, not even her row
        kept = ann.get(f"/events/{world.event.pk}/")
    assert b'id="publish-form"' in kept.content and kept.context is None
