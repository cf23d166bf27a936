"""BlueskyGraphService: followers/follows through the member's PDS, proxied to the official App View."""

from __future__ import annotations

import pytest
from django.core.cache import cache
from django.test import Client

from bluesky.graph import BlueskyGraphService, GraphError, _profile_from
from bluesky.models import BlueskyIdentity
from tests.invitations.conftest import make_member
from tests.invitations.peer_helpers import configure_for_peer, connect_bluesky


def test_untrusted_profiles_are_sanitised():
    assert _profile_from({"did": "not-a-did", "handle": "x"}) is None
    assert _profile_from(["junk"]) is None
    p = _profile_from({"did": "did:plc:abc", "handle": "bob.test", "displayName": 7,
                       "avatar": "javascript:alert(1)"})
    assert (p.display_name, p.avatar_url) == ("", "")
    p = _profile_from({"did": "did:plc:abc", "handle": "bob.test", "displayName": "Bob",
                       "avatar": "https://cdn.example/avatar.jpg"})
    assert (p.display_name, p.avatar_url) == ("Bob", "https://cdn.example/avatar.jpg")


@pytest.fixture
def locmem_cache(settings):
    if settings.CACHES["default"]["BACKEND"].endswith("DatabaseCache"):
        settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache",
                                       "LOCATION": "graph-tests"}}
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def alice_member(settings, peer, accounts, peer_consent, locmem_cache):
    configure_for_peer(settings, peer)
    member = make_member("alice")
    client = Client()
    client.force_login(member)
    connect_bluesky(client, peer_consent, accounts["alice"])
    return member


@pytest.mark.peer
@pytest.mark.django_db(transaction=True)
def test_followers_and_follows_from_the_app_view(alice_member, accounts):
    graph = BlueskyGraphService()
    followers = graph.get_followers(alice_member)
    assert {p.did: p.handle for p in followers.profiles} == {
        accounts["bob"].did: accounts["bob"].handle, accounts["carol"].did: accounts["carol"].handle}
    assert followers.cursor is None
    follows = graph.get_follows(alice_member)
    assert [p.did for p in follows.profiles] == [accounts["bob"].did]


@pytest.mark.peer
@pytest.mark.django_db(transaction=True)
def test_paging_with_real_cursors_and_cache(alice_member, accounts):
    graph = BlueskyGraphService()
    first = graph.get_page(member=alice_member, kind="followers", limit=1)
    assert len(first.profiles) == 1 and first.cursor
    second = graph.get_page(member=alice_member, kind="followers", cursor=first.cursor, limit=1)
    assert {first.profiles[0].did, second.profiles[0].did} == {accounts["bob"].did, accounts["carol"].did}
    # Paging back is served from the cache: it works even with the session gone.
    BlueskyIdentity.objects.filter(member=alice_member).update(status=BlueskyIdentity.Status.NEEDS_RECONNECTION)
    assert graph.get_page(member=alice_member, kind="followers", limit=1) == first
    with pytest.raises(GraphError) as info:
        graph.get_page(member=alice_member, kind="follows", limit=1)
    assert info.value.code == "not_connected"


@pytest.mark.peer
@pytest.mark.django_db(transaction=True)
def test_find_invitable_takes_followers_only(alice_member, accounts):
    stranger = "did:plc:" + "b" * 24
    found = BlueskyGraphService().find_invitable(
        member=alice_member, dids={accounts["bob"].did, accounts["carol"].did, stranger}, limit=1)
    # bob and carol follow alice (alice follows bob back); the stranger is neither.
    assert set(found.profiles) == {accounts["bob"].did, accounts["carol"].did}
    assert found.refused == {stranger: "not_connected"}


@pytest.mark.peer
@pytest.mark.django_db(transaction=True)
def test_narrow_grant_is_a_clear_missing_scope(settings, peer, accounts, peer_consent, locmem_cache):
    configure_for_peer(settings, peer)
    member = make_member("alice")
    client = Client()
    client.force_login(member)
    response = client.post("/bluesky/connect/", {"identifier": accounts["alice"].handle})
    answer = peer_consent(response["Location"], accounts["alice"], "atproto repo:app.bsky.feed.post?action=create")
    client.get("/bluesky/callback/", answer)
    with pytest.raises(GraphError) as info:
        BlueskyGraphService().get_followers(member)
    assert info.value.code == "missing_scope"


def test_not_connected_member(db, locmem_cache):
    with pytest.raises(GraphError) as info:
        BlueskyGraphService().get_followers(make_member("nobody"))
    assert info.value.code == "not_connected"


@pytest.mark.django_db
def test_a_grant_without_the_profiles_rpc_is_refused_before_any_request(settings, locmem_cache):
    from bluesky.atproto.scopes import scope_allows_rpc
    from tests.invitations.conftest import link_identity, random_did

    settings.FIELD_ENCRYPTION_KEYS = settings.FIELD_ENCRYPTION_KEYS or [
        "aW52aXRhdGlvbnMtdGVzdHMtb25seS1rZXktMDEyMzQ="]
    assert scope_allows_rpc("atproto rpc:app.bsky.actor.getProfiles?aud=*", "app.bsky.actor.getProfiles")
    assert scope_allows_rpc("atproto transition:generic", "app.bsky.graph.getBlocks")
    assert not scope_allows_rpc("atproto rpc:app.bsky.actor.getProfile?aud=*", "app.bsky.actor.getProfiles")
    assert not scope_allows_rpc("rpc:*", "app.bsky.graph.getMutes")  # no atproto: nothing
    member = make_member("grace")
    # Its server is a closed port: had a request been made, the error would be "upstream".
    link_identity(member=member, did=random_did(), handle="grace.test")
    with pytest.raises(GraphError) as refused:
        BlueskyGraphService().viewer_states(member=member, dids=[random_did()])
    assert refused.value.code == "missing_scope"
    # Blocks and mutes: nothing known, nothing hidden, and the page does not fail.
    assert BlueskyGraphService().hidden_accounts(member=member) == {}
