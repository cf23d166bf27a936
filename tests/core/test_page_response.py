"""Whole pages kept per viewer (core.page_cache.page_response) and the signed-in member's row kept
for their sessions (members.middleware): each is served only while nothing it shows changed, a
kept page carries the CSRF token of the session asking, and a kept row never outlives a password
change, a deactivation or a deletion."""

from __future__ import annotations

import pickle
import re
from datetime import timedelta

import pytest
from django.core.cache import cache, caches
from django.test import Client
from django.utils import timezone

from bluesky import services as bluesky_services
from bluesky.models import BlueskyIdentity
from core.page_cache import MEMBER_CALENDAR, page_key, page_version_key
from elonara import services
from invitations import services as invitation_services
from invitations.models import Invitation
from members import api_tokens
from members.models import Member
from tests.invitations.conftest import link_identity, profile

pytestmark = pytest.mark.django_db

CSRF_INPUT = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')


@pytest.fixture(autouse=True)
def _keys(settings):
    if not settings.FIELD_ENCRYPTION_KEYS:  # identities and app passwords hold encrypted columns
        settings.FIELD_ENCRYPTION_KEYS = ["aW52aXRhdGlvbnMtdGVzdHMtb25seS1rZXktMDEyMzQ="]


@pytest.fixture
def ann():
    return Member.objects.create_user(username="ann", password="pw-long-enough-123", display_name="Ann")


@pytest.fixture
def event(ann):
    club = services.community_create(creator=ann, name="Board club", description="")
    start = timezone.now() + timedelta(days=3)
    return services.event_create(host=ann, title="Board games", starts_at=start, ends_at=start + timedelta(hours=2),
                                 venue="Café", community=club)


def _signed_in(member: Member, *, csrf_checks: bool = False) -> Client:
    client = Client(enforce_csrf_checks=csrf_checks)
    client.force_login(member)
    return client


def _get(client: Client, url: str) -> str:
    response = client.get(url)
    assert response.status_code == 200, (url, response.status_code)
    return response.content.decode()


def test_a_kept_page_is_the_viewers_own_with_the_csrf_token_of_the_session_asking(ann, event):
    first, second = _signed_in(ann, csrf_checks=True), _signed_in(ann, csrf_checks=True)
    url = event.get_absolute_url()
    assert 'id="manage-actions"' in _get(first, url)
    kept = second.get(url)
    assert kept.templates == []  # served as kept, not rendered
    page = kept.content.decode()
    # Each session's page holds a token for that session's own secret (the kept copy holds none).
    first_token, second_token = CSRF_INPUT.findall(_get(first, url))[0], CSRF_INPUT.findall(page)[0]
    assert "csrf-" not in page and 'id="manage-actions"' in page
    assert second.post(f"/events/{event.pk}/rsvp/", {"status": "maybe", "csrfmiddlewaretoken": first_token}
                       ).status_code == 403
    assert second.post(f"/events/{event.pk}/rsvp/", {"status": "maybe", "csrfmiddlewaretoken": second_token}
                       ).status_code == 302
    # Another member gets their own page: no host tools, their own name in the header.
    bob = Member.objects.create_user(username="bob", password="pw-long-enough-123", display_name="Bob")
    page = _get(_signed_in(bob), url)
    assert 'id="manage-actions"' not in page and ">Bob</a>" in page and ">Ann</a></li>" not in page


def test_a_page_with_messages_or_a_query_string_is_shown_as_rendered_not_kept(ann, event):
    host = _signed_in(ann)
    batch = invitation_services.invitations_enqueue(host=ann, target=event, message_template="",
                                                    profiles=[profile("p1.test")]).batch
    progress = f"/invitations/batches/{batch.pk}/"
    _get(host, progress)
    assert host.get(progress).templates == []  # kept
    host.post(f"/invitations/batches/{batch.pk}/retry/")  # nothing to retry: only a message
    assert "0 invitations queued again." in _get(host, progress)
    assert "queued again" not in _get(host, progress)  # shown once

    picker = f"/invitations/event/{event.pk}/invite/"
    assert 'data-page-size="7"' in _get(host, picker + "?page_size=7")
    assert 'data-page-size="100"' in _get(host, picker)
    assert 'data-page-size="7"' in _get(host, picker + "?page_size=7")


def test_the_viewers_own_state_shows_at_once_on_their_pages(ann, event):
    me, profile_url = _signed_in(ann), "/members/ann/"
    _get(me, profile_url), _get(me, event.get_absolute_url())

    created = api_tokens.api_token_create(member=ann, name="Calendar sync", permissions=["read"])
    assert "Calendar sync" in _get(me, profile_url)  # a save
    api_tokens.api_token_revoke(member=ann, token_id=created.token.pk)  # an update()
    assert "Calendar sync" not in _get(me, profile_url)

    services.calendar_feed_issue(member=ann)
    assert "Your feed is on since" in _get(me, profile_url)
    services.calendar_feed_revoke(member=ann)
    assert "You have no calendar feed." in _get(me, profile_url)

    link_identity(member=ann, did="did:plc:annannannannannannannann", handle="ann.test")
    assert "Connected</strong> as <strong>@ann.test" in _get(me, profile_url)
    # A session that ends is stored by update() (bluesky.sessions): her profile says so at once.
    BlueskyIdentity.objects.filter(member=ann).update(status=BlueskyIdentity.Status.NEEDS_RECONNECTION)
    assert "has expired or was revoked" in _get(me, profile_url)
    assert _get(me, "/api/bluesky/identity/").count('"connected":false') == 1

    services.community_update(community=event.community, editor=ann, name="Dice club", description="")
    assert "Dice club</a>" in _get(me, profile_url)
    ann.display_name = "Annie"
    ann.save()
    assert ">Annie</a></li>" in _get(me, event.get_absolute_url())  # the header of every page


def test_the_picker_names_the_account_the_site_posts_with(ann, event, settings):
    settings.BLUESKY_WRITES_MODE = "legacy"
    link_identity(member=ann, did="did:plc:annannannannannannannann", handle="ann.test")
    bluesky_services.relay_account_set(identifier="relay.test", app_password="abcd-efgh-ijkl-mnop")
    host, picker = _signed_in(ann), f"/invitations/event/{event.pk}/invite/"
    assert "from Elonara's account (@relay.test)" in _get(host, picker)
    bluesky_services.writes_mode_set(mode="oauth")  # what an admin does in the Django admin
    page = _get(host, picker)
    assert "from your Bluesky account" in page and "relay.test" not in page
    left = int(re.search(r"You can invite (\d+) more today", page).group(1))
    invitation_services.invitations_enqueue(host=ann, target=event, message_template="",
                                            profiles=[profile("p1.test"), profile("p2.test")])  # no signals
    assert f"You can invite {left - 2} more today" in _get(host, picker)


def test_progress_and_its_api_follow_every_invitation(ann, event):
    host = _signed_in(ann)
    batch = invitation_services.invitations_enqueue(host=ann, target=event, message_template="",
                                                    profiles=[profile("p1.test"), profile("p2.test")]).batch
    page_url, api_url = f"/invitations/batches/{batch.pk}/", f"/api/invitations/batches/{batch.pk}/"
    assert 'id="count-waiting">2<' in _get(host, page_url) and host.get(api_url).json()["waiting"] == 2
    first = batch.invitations.order_by("pk").first()
    Invitation.objects.filter(pk=first.pk).update(status=Invitation.Status.SENT)  # as the sender does
    assert 'id="count-sent">1<' in _get(host, page_url)
    assert (host.get(api_url).json()["sent"], host.get(api_url).json()["waiting"]) == (1, 1)
    services.event_update(event=event, editor=ann, title="Dice games")  # what it invites to
    assert "Dice games</a>" in _get(host, page_url)
    # Another member: neither the page nor the API.
    bob = _signed_in(Member.objects.create_user(username="bob", password="pw-long-enough-123"))
    assert bob.get(page_url).status_code == 404 and bob.get(api_url).status_code == 404
    assert Client().get(page_url).status_code == 302  # a visitor is sent to log in


def test_a_kept_member_row_never_outlives_a_password_change_deactivation_or_deletion(ann):
    first, second = _signed_in(ann), _signed_in(ann)
    assert ">Ann</a></li>" in _get(first, "/communities/") and ">Ann</a></li>" in _get(second, "/communities/")
    kept = cache.get(page_key("member", ann.pk))
    assert kept is not None and ann.password.encode() not in pickle.dumps(kept)  # no password hash cached
    assert _get(second, "/api/bluesky/identity/") == '{"connected":false}'  # the API reads it too

    ann.set_password("another-long-password-456")
    ann.save()  # elsewhere: every other session ends
    assert "Log in</a>" in _get(first, "/communities/")
    assert second.get("/api/bluesky/identity/").status_code == 401

    third = _signed_in(ann)
    assert ">Ann</a></li>" in _get(third, "/communities/")
    Member.objects.filter(pk=ann.pk).update(is_active=False)  # an update(), as a script would
    assert "Log in</a>" in _get(third, "/communities/")

    bob = Member.objects.create_user(username="bob", password="pw-long-enough-123", display_name="Bob")
    fourth = _signed_in(bob)
    assert ">Bob</a></li>" in _get(fourth, "/communities/")
    bob.delete()
    assert "Log in</a>" in _get(fourth, "/communities/")


def test_a_kept_member_row_says_whether_its_password_is_usable_without_reading_it(ann):
    # The own profile asks ("Change password" or "Set a password") when built with the kept row.
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from members.middleware import member_without_password

    bluesky_only = Member.objects.create_user(username="sky", password=None)
    for member, usable in ((ann, True), (bluesky_only, False)):
        kept = pickle.loads(pickle.dumps(member_without_password(Member.objects.get(pk=member.pk))))
        with CaptureQueriesContext(connection) as queries:
            assert kept.has_usable_password() is usable
        assert len(queries) == 0 and "password" not in kept.__dict__
        kept.set_password("a-new-long-password-789")  # a hash of its own again: Django's answer
        assert kept.has_usable_password() is True
    assert "Set a password" in _get(_signed_in(bluesky_only), "/members/sky/")


def test_a_kept_feed_token_stops_at_once_when_revoked_replaced_or_its_member_leaves(ann, event):
    services.rsvp_set(event=event, member=ann, status="going")
    _feed, token = services.calendar_feed_issue(member=ann)
    app = Client()
    assert app.get(f"/calendar/feed/{token}.ics").status_code == 200
    assert app.get(f"/calendar/feed/{token}.ics").status_code == 200  # the token kept
    _feed, new_token = services.calendar_feed_issue(member=ann)  # "Make a new address"
    assert app.get(f"/calendar/feed/{token}.ics").status_code == 404
    assert app.get(f"/calendar/feed/{new_token}.ics").status_code == 200
    Member.objects.filter(pk=ann.pk).update(is_active=False)
    assert app.get(f"/calendar/feed/{new_token}.ics").status_code == 404
    Member.objects.filter(pk=ann.pk).update(is_active=True)
    assert app.get(f"/calendar/feed/{new_token}.ics").status_code == 200
    services.calendar_feed_revoke(member=ann)
    assert app.get(f"/calendar/feed/{new_token}.ics").status_code == 404


def test_a_feed_revoked_while_its_token_is_being_kept_is_not_kept(ann, event):
    """The token is read from the database, then its member's calendar version: a revocation
    committed in between renews the version before it is read, so the database is asked again.
    (The revocation is made to land there by the cache itself, as the version is asked for.)"""
    _feed, token = services.calendar_feed_issue(member=ann)
    backend = caches["default"]
    version_key = page_version_key(MEMBER_CALENDAR, ann.pk)

    def revoked_meanwhile(keys, *args, **kwargs):
        if version_key in keys:
            del backend.get_many  # the class's own again
            services.calendar_feed_revoke(member=ann)
        return type(backend).get_many(backend, keys, *args, **kwargs)

    backend.get_many = revoked_meanwhile
    try:
        app = Client()
        assert app.get(f"/calendar/feed/{token}.ics").status_code == 200  # asked before the revocation
        assert app.get(f"/calendar/feed/{token}.ics").status_code == 404
    finally:
        backend.__dict__.pop("get_many", None)


def test_a_members_kept_home_names_a_renamed_community_in_its_upcoming_events(
        ann, event, django_capture_on_commit_callbacks):
    """Bob is not in the community: only the upcoming list (its event's card names the community)
    ties his kept home page to it."""
    bob = _signed_in(Member.objects.create_user(username="bob", password="pw-long-enough-123"))
    assert "Board club" in _get(bob, "/") and bob.get("/").templates == []  # kept
    with django_capture_on_commit_callbacks(execute=True):
        services.community_update(community=event.community, editor=ann, name="Dice club", description="")
    page = _get(bob, "/")
    assert "Dice club" in page and "Board club" not in page
