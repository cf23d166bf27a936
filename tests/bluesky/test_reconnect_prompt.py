"""Members who connected before the default scope grew (deleting posts, who blocks whom, blocks and
mutes) hold the older grant: the profile's Bluesky card, the picker and the delete page's
announcement box ask them to reconnect, with a button starting the OAuth flow again, before
anything fails. A member holding today's grant is not asked."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from bluesky.models import BlueskyIdentity
from bluesky.selectors import identity_grant_gaps
from elonara.models import Event
from tests.invitations.conftest import link_identity, make_event, make_member, random_did

pytestmark = pytest.mark.django_db

# The default scope before issue 37: posts created only, followers and follows, calendar records.
OLD_SCOPE = ("atproto repo:app.bsky.feed.post?action=create blob:image/* rpc:app.bsky.graph.getFollowers?aud=* "
             "rpc:app.bsky.graph.getFollows?aud=* repo:community.lexicon.calendar.event "
             "repo:community.lexicon.calendar.rsvp")
PROMPT = "Reconnect Bluesky to allow"
BOX = 'id="id_delete_announcement" aria-describedby="id_delete_announcement_helptext"'


@pytest.fixture(autouse=True)
def _keys_and_cache(settings):
    if not settings.FIELD_ENCRYPTION_KEYS:
        settings.FIELD_ENCRYPTION_KEYS = ["aW52aXRhdGlvbnMtdGVzdHMtb25seS1rZXktMDEyMzQ="]
    if settings.CACHES["default"]["BACKEND"].endswith("DatabaseCache"):
        settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache",
                                       "LOCATION": "reconnect-tests"}}


@pytest.fixture
def host(db):
    member = make_member("alice")
    link_identity(member=member, did=random_did(), handle="alice.test")
    BlueskyIdentity.objects.filter(member=member).update(scope=OLD_SCOPE)
    return member


def _renew(member, scope: str) -> None:
    # A save, as the callback leaves it after reconnecting (it renews the member's kept pages).
    identity = BlueskyIdentity.objects.get(member=member)
    identity.scope = scope
    identity.save()


def _page(member, url: str) -> str:
    client = Client()
    client.force_login(member)
    response = client.get(url)
    assert response.status_code == 200
    return response.content.decode()


def _reconnect_form(page: str, next_path: str) -> bool:
    return (f'action="{reverse("bluesky:reauthorize")}" id="reconnect-form"' in page
            and f'name="next" value="{next_path}"' in page and 'form="reconnect-form"' in page)


def test_the_old_grant_lacks_deleting_posts_and_the_blocks(host, settings):
    gaps = identity_grant_gaps(member=host, features=("delete_posts", "blocked_by", "blocks_mutes", "followers"))
    assert gaps == ("deleting the announcement posts Elonara wrote",
                    "leaving out of your invitations people who block you",
                    "hiding events by people you block or mute")
    _renew(host, settings.BLUESKY_OAUTH_SCOPE)
    assert identity_grant_gaps(member=host, features=("delete_posts", "blocked_by", "blocks_mutes")) == ()
    # An expired connection is asked to reconnect by the card anyway; nothing is said per feature.
    BlueskyIdentity.objects.filter(member=host).update(scope=OLD_SCOPE,
                                                       status=BlueskyIdentity.Status.NEEDS_RECONNECTION)
    assert identity_grant_gaps(member=host, features=("delete_posts",)) == ()


def test_the_profile_card_asks_to_reconnect(host, settings):
    url = reverse("members:profile", args=[host.username])
    page = _page(host, url)
    assert PROMPT in page and "deleting the announcement posts Elonara wrote" in page
    assert "hiding events by people you block or mute" in page and 'id="reconnect-button"' in page
    _renew(host, settings.BLUESKY_OAUTH_SCOPE)
    page = _page(host, url)
    assert PROMPT not in page and 'id="reconnect-button"' not in page and "Reauthorize" in page


def test_the_picker_asks_to_reconnect_before_inviting_fails(host, settings):
    event = make_event(host=host)
    url = reverse("invitations:picker", args=["event", event.pk])
    page = _page(host, url)
    assert PROMPT in page and "leaving out of your invitations people who block you" in page
    assert _reconnect_form(page, url)
    _renew(host, settings.BLUESKY_OAUTH_SCOPE)
    page = _page(host, url)
    assert PROMPT not in page and 'id="reconnect-form"' not in page


def test_the_delete_page_asks_to_reconnect_before_deleting_the_post(host, settings):
    event = make_event(host=host)
    url = reverse("event-delete", args=[event.pk])
    assert PROMPT not in _page(host, url)  # no announcement post: nothing to delete on Bluesky
    Event.objects.filter(pk=event.pk).update(announce_rkey="3kabcdefghijk", announce_state="published")
    page = _page(host, url)
    assert PROMPT in page and "deleting the announcement posts Elonara wrote" in page
    assert _reconnect_form(page, url) and f"{BOX} disabled" in page
    _renew(host, settings.BLUESKY_OAUTH_SCOPE)
    page = _page(host, url)
    assert PROMPT not in page and f"{BOX}>" in page
