"""The feed generator's endpoints, in-process: the personal feed lists the announcement posts of
upcoming events hosted by the accounts the token's sender follows (soonest first, a page at a time),
a community's feed its own, and a token that is not for us is refused. DID documents come from a
PLC directory on loopback (`directory`); the full path through the App View is in
test_feeds_peer.py."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.cache import cache
from django.test import Client
from django.utils import timezone

from bluesky.models import BlueskyIdentity
from elonara.models import EventConversation
from feeds.models import CommunityFeed, FeedRecord
from network.models import FollowedAccount, FollowSync
from tests.elonara.records_helpers import new_event
from tests.feeds.jwt_helpers import service_jwt
from tests.invitations.conftest import random_did
from tests.network.frames import SigningKey, did_document, directory  # noqa: F401 - the fixture

pytestmark = pytest.mark.django_db
US = "did:plc:elonarafeeds000000000000"
SKELETON = "/xrpc/app.bsky.feed.getFeedSkeleton"
PUBLISHER = "did:plc:publisher0000000000000000"
FOLLOWS_FEED = f"at://{PUBLISHER}/app.bsky.feed.generator/upcoming-follows"


def _member(django_user_model, name: str, did: str):
    member = django_user_model.objects.create_user(username=name, password="pw-123456")
    BlueskyIdentity.objects.create(member=member, did=did, handle=f"{name}.test", pds_url="https://pds.invalid",
                                   issuer="https://pds.invalid", scope="atproto", access_token="unused",
                                   dpop_private_jwk="{}", connected_at=timezone.now())
    return member


def _announced(host, days: float, **extra):
    start = timezone.now() + timedelta(days=days)
    event = new_event(host, starts_at=start, ends_at=start + timedelta(hours=2), **extra)
    did = host.bluesky_identity.did
    EventConversation.objects.create(event=event, post_uri=f"at://{did}/app.bsky.feed.post/3k{event.pk:011d}")
    return event


@pytest.fixture
def feeds_world(settings, directory, django_user_model):  # noqa: F811 - the fixture
    settings.FEEDS_SERVICE_DID = US
    cache.clear()
    alice = _member(django_user_model, "alice", random_did())
    dave = _member(django_user_model, "dave", random_did())
    bob_did = random_did()
    bob = _member(django_user_model, "bob", bob_did)
    FollowedAccount.objects.create(member=bob, did=alice.bluesky_identity.did)
    FollowSync.objects.create(member=bob, synced_at=timezone.now(), count=1)
    bob_key = SigningKey()
    directory.documents[bob_did] = did_document(bob_did, bob_key)
    return {"alice": alice, "dave": dave, "bob": bob, "bob_key": bob_key, "bob_did": bob_did}


def _get(feed: str, token: str | None, **params):
    headers = {"HTTP_AUTHORIZATION": f"Bearer {token}"} if token else {}
    return Client().get(SKELETON, {"feed": feed, **params}, **headers)


def test_the_personal_feed_lists_followed_hosts_posts_soonest_first_a_page_at_a_time(feeds_world):
    alice, dave = feeds_world["alice"], feeds_world["dave"]
    later = _announced(alice, 9, title="Later")
    sooner = _announced(alice, 2, title="Sooner")
    third = _announced(alice, 5, title="Third")
    _announced(dave, 1, title="Not followed")
    new_event(alice, title="No post yet")  # nothing to show in Bluesky
    cancelled = _announced(alice, 3, title="Cancelled")
    cancelled.status = cancelled.Status.CANCELLED
    cancelled.save()
    token = service_jwt(feeds_world["bob_key"], iss=feeds_world["bob_did"], aud=US)

    first = _get(FOLLOWS_FEED, token, limit=2).json()
    uris = [item["post"] for item in first["feed"]]
    assert uris == [sooner.conversation.post_uri, third.conversation.post_uri]
    rest = _get(FOLLOWS_FEED, token, limit=2, cursor=first["cursor"]).json()
    assert [item["post"] for item in rest["feed"]] == [later.conversation.post_uri]
    assert "cursor" not in rest


def test_someone_who_follows_nobody_here_gets_an_empty_feed(feeds_world, directory):  # noqa: F811
    _announced(feeds_world["alice"], 2)
    carol_did, carol_key = random_did(), SigningKey("p256")
    # carol is no member: her follows come from the App View, cached.
    directory.documents[carol_did] = did_document(carol_did, carol_key)
    cache.set(f"feeds:follows:{carol_did}", "", 60)  # the App View said she follows nobody
    response = _get(FOLLOWS_FEED, service_jwt(carol_key, iss=carol_did, aud=US))
    assert response.status_code == 200 and response.json() == {"feed": []}


@pytest.mark.parametrize("how", ["none", "wrong aud", "expired", "wrong method", "other key"])
def test_tokens_not_for_us_are_refused(feeds_world, how):
    _announced(feeds_world["alice"], 2)
    key, did = feeds_world["bob_key"], feeds_world["bob_did"]
    token = {
        "none": None,
        "wrong aud": service_jwt(key, iss=did, aud="did:web:feeds.other.example"),
        "expired": service_jwt(key, iss=did, aud=US, exp=timezone.now().timestamp() - 300),
        "wrong method": service_jwt(key, iss=did, aud=US, lxm="app.bsky.feed.getTimeline"),
        "other key": service_jwt(SigningKey(), iss=did, aud=US),
    }[how]
    response = _get(FOLLOWS_FEED, token)
    assert response.status_code == 401
    assert response.json()["error"] in {"AuthMissing", "BadJwtAudience", "JwtExpired", "BadJwtLexiconMethod",
                                        "BadJwtSignature"}
    assert "feed" not in response.json()


def test_a_community_feed_is_public_and_lists_its_events(feeds_world, django_user_model):
    from elonara import services as es

    alice = feeds_world["alice"]
    community = es.community_create(creator=alice, name="Go players")
    CommunityFeed.objects.create(community=community)
    ours = _announced(alice, 4, community=community)
    _announced(alice, 3)
    body = _get(f"at://{PUBLISHER}/app.bsky.feed.generator/community-{community.pk}", None).json()
    assert body["feed"] == [{"post": ours.conversation.post_uri}]
    CommunityFeed.objects.all().delete()
    gone = _get(f"at://{PUBLISHER}/app.bsky.feed.generator/community-{community.pk}", None)
    assert gone.status_code == 400 and gone.json()["error"] == "UnknownFeed"


def test_unknown_feeds_and_bad_cursors(feeds_world):
    assert _get(f"at://{PUBLISHER}/app.bsky.feed.generator/nope", None).json()["error"] == "UnknownFeed"
    assert _get("https://example.com/", None).status_code == 400
    token = service_jwt(feeds_world["bob_key"], iss=feeds_world["bob_did"], aud=US)
    assert _get(FOLLOWS_FEED, token, cursor="garbage!").json() == {"feed": []}


def test_describe_lists_published_feeds_and_did_web_document(settings, db):
    settings.FEEDS_SERVICE_DID = ""
    settings.ELONARA_PUBLIC_URL = "https://events.example.org"
    FeedRecord.objects.create(rkey="upcoming-follows", uri=FOLLOWS_FEED)
    body = Client().get("/xrpc/app.bsky.feed.describeFeedGenerator").json()
    assert body == {"did": "did:web:events.example.org", "feeds": [{"uri": FOLLOWS_FEED}]}
    document = Client().get("/.well-known/did.json").json()
    assert document["id"] == "did:web:events.example.org"
    assert document["service"] == [{"id": "#bsky_fg", "type": "BskyFeedGenerator",
                                    "serviceEndpoint": "https://events.example.org"}]
    settings.FEEDS_SERVICE_DID = US
    assert Client().get("/.well-known/did.json").status_code == 404


def test_a_skeleton_costs_two_queries_whatever_the_data(feeds_world, django_assert_num_queries):
    alice = feeds_world["alice"]
    token = service_jwt(feeds_world["bob_key"], iss=feeds_world["bob_did"], aud=US)
    _announced(alice, 2)
    _get(FOLLOWS_FEED, token)  # warm: the DID document cached
    for grow in (1, 20):
        for day in range(grow):
            _announced(alice, 3 + day)
            FollowedAccount.objects.create(member=feeds_world["bob"], did=random_did())
        with django_assert_num_queries(2):  # whose copied follows, then the page
            body = _get(FOLLOWS_FEED, token).json()
        assert len(body["feed"]) == 1 + (1 if grow == 1 else 21)


def test_forged_tokens_do_not_make_us_fetch_a_document_per_request(feeds_world, directory):  # noqa: F811
    _announced(feeds_world["alice"], 2)
    forged = service_jwt(SigningKey(), iss=feeds_world["bob_did"], aud=US)
    for _ in range(5):
        assert _get(FOLLOWS_FEED, forged).status_code == 401
    assert directory.hits.count(feeds_world["bob_did"]) == 1
    # The sender's real key still works, from the kept copy.
    good = service_jwt(feeds_world["bob_key"], iss=feeds_world["bob_did"], aud=US)
    assert _get(FOLLOWS_FEED, good).status_code == 200


def test_organizers_turn_their_community_feed_on_and_off(feeds_world, django_user_model, settings,
                                                          django_capture_on_commit_callbacks):
    from elonara import services as es
    from feeds import services
    from feeds.errors import FeedError

    alice = feeds_world["alice"]
    community = es.community_create(creator=alice, name="Go players")
    settings.FEEDS_PUBLISHER_IDENTIFIER, settings.FEEDS_PUBLISHER_APP_PASSWORD = "", ""
    with pytest.raises(FeedError):
        services.community_feed_set(community=community, actor=feeds_world["dave"], wanted=True)
    assert not CommunityFeed.objects.exists()
    with django_capture_on_commit_callbacks() as queued:
        services.community_feed_set(community=community, actor=alice, wanted=True)
    assert queued == []  # no publishing account: nothing to publish to
    uri = f"at://{PUBLISHER}/app.bsky.feed.generator/community-{community.pk}"
    assert _get(uri, None).status_code == 200
    services.community_feed_set(community=community, actor=alice, wanted=False)
    assert _get(uri, None).json()["error"] == "UnknownFeed"


def test_a_non_member_gets_the_posts_of_hosts_the_app_view_says_they_follow(feeds_world, directory):  # noqa: F811
    alice, dave = feeds_world["alice"], feeds_world["dave"]
    ours = _announced(alice, 2)
    _announced(dave, 1)
    erin_did, erin_key = random_did(), SigningKey("p256")
    directory.documents[erin_did] = did_document(erin_did, erin_key)
    follows = sorted([alice.bluesky_identity.did, *(random_did() for _ in range(300))])
    cache.set(f"feeds:follows:{erin_did}", ",".join(follows), 60)  # as services keeps the App View's answer
    body = _get(FOLLOWS_FEED, service_jwt(erin_key, iss=erin_did, aud=US)).json()
    assert body == {"feed": [{"post": ours.conversation.post_uri}]}


def test_the_organizers_page_turns_the_feed_on_and_shows_its_address(feeds_world, settings):
    from elonara import services as es

    settings.FEEDS_PUBLISHER_IDENTIFIER, settings.FEEDS_PUBLISHER_APP_PASSWORD = "", ""
    alice, dave = feeds_world["alice"], feeds_world["dave"]
    community = es.community_create(creator=alice, name="Go players")
    organizer, other = Client(), Client()
    organizer.force_login(alice)
    other.force_login(dave)
    url = f"/feeds/communities/{community.slug}/"
    assert 'href="/feeds/communities/' in organizer.get(community.get_absolute_url()).content.decode()
    assert "The feed is off" in organizer.get(url).content.decode()
    assert other.get(url).status_code == 403
    assert other.post(url, {"wanted": "1"}).status_code == 403 and not CommunityFeed.objects.exists()
    response = organizer.post(url, {"wanted": "1"}, follow=True)
    page = response.content.decode()
    assert "The feed is on" in page and "once Elonara has published it" in page
    FeedRecord.objects.create(rkey=f"community-{community.pk}",
                              uri=f"at://{PUBLISHER}/app.bsky.feed.generator/community-{community.pk}")
    assert (f"https://bsky.app/profile/{PUBLISHER}/feed/community-{community.pk}"
            in organizer.get(url).content.decode())
    organizer.post(url, {"wanted": "0"})
    assert not CommunityFeed.objects.exists()


def test_a_host_whose_profile_carries_a_hiding_label_is_in_no_feed(feeds_world):
    from elonara import services as es
    from network.models import Creator

    alice, dave = feeds_world["alice"], feeds_world["dave"]
    community = es.community_create(creator=alice, name="Go players")
    CommunityFeed.objects.create(community=community)
    in_community = _announced(alice, 4, community=community)
    alone = _announced(alice, 2)
    daves = _announced(dave, 3)
    FollowedAccount.objects.create(member=feeds_world["bob"], did=dave.bluesky_identity.did)
    community_feed = f"at://{PUBLISHER}/app.bsky.feed.generator/community-{community.pk}"
    token = service_jwt(feeds_world["bob_key"], iss=feeds_world["bob_did"], aud=US)
    assert _get(community_feed, None).json()["feed"] == [{"post": in_community.conversation.post_uri}]
    assert [i["post"] for i in _get(FOLLOWS_FEED, token).json()["feed"]] == [
        alone.conversation.post_uri, daves.conversation.post_uri, in_community.conversation.post_uri]
    # Alice's profile carries a hiding label (as last read: her events in other apps are kept
    # here); Dave's profile was read too, and is clean.
    Creator.objects.create(did=alice.bluesky_identity.did, handle="alice.test", hidden_label="!hide")
    Creator.objects.create(did=dave.bluesky_identity.did, handle="dave.test")
    assert _get(community_feed, None).json()["feed"] == []
    assert _get(FOLLOWS_FEED, token).json()["feed"] == [{"post": daves.conversation.post_uri}]
