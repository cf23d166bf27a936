"""Connect Bluesky end to end through Django against the official PDS."""

import pytest
from django.urls import reverse

from bluesky import clients
from bluesky.atproto import DpopKey, InvalidTokenError, OAuthTokenError, PdsClient
from bluesky.models import BlueskyIdentity, OAuthAuthorizationRequest
from bluesky.sessions import OAuthPdsSession, identity_refresh, tokens_of
from members.models import Member

pytestmark = [pytest.mark.peer, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def member():
    return Member.objects.create_user(username="ann", password="pw-long-enough-123")


def connect(client, identifier, account, peer_consent, scope=None):
    response = client.post(reverse("bluesky:connect"), {"identifier": identifier})
    assert response.status_code == 302, response.content[:500]
    params = peer_consent(response.url, account, scope)
    return client.get(reverse("bluesky:callback"), params)


def pds_for(identity):
    return PdsClient(http=clients.safe_http_client(), pds_url=identity.pds_url, access_token=identity.access_token,
                     dpop_key=DpopKey.from_private_jwk(identity.dpop_private_jwk))


def test_connect_refresh_disconnect_reconnect(client, member, confidential_app, accounts, peer_consent):
    alice = accounts["alice"]
    client.force_login(member)
    response = connect(client, alice.handle, alice, peer_consent)
    assert response.status_code == 302
    assert confidential_app.fetched("/bluesky/client-metadata.json") >= 1  # the PDS really fetched it

    card = client.get(reverse("members:profile", args=[member.username])).content.decode()
    assert "Connected" in card and alice.did in card and "Create posts" in card
    identity = BlueskyIdentity.objects.get(member=member)
    assert identity.did == alice.did and identity.handle == alice.handle and identity.client_kid
    assert not OAuthAuthorizationRequest.objects.exists()

    old_access = identity.access_token
    refreshed = identity_refresh(identity_id=identity.pk, force=True)
    assert refreshed.access_token != old_access
    stale = pds_for(identity)
    with pytest.raises(InvalidTokenError):
        stale.get("com.atproto.server.getSession")
    session = OAuthPdsSession.for_member(member)
    assert session.get("com.atproto.server.getSession")["did"] == alice.did

    final_tokens = tokens_of(refreshed)
    client.post(reverse("bluesky:disconnect"))
    assert not BlueskyIdentity.objects.filter(member=member).exists()
    with pytest.raises(OAuthTokenError) as excinfo:
        clients.oauth_client().refresh(final_tokens, dpop_key=DpopKey.from_private_jwk(refreshed.dpop_private_jwk))
    assert excinfo.value.error == "invalid_grant"

    connect(client, alice.handle, alice, peer_consent)
    assert BlueskyIdentity.objects.filter(member=member, status="connected").exists()


def test_connect_by_did_and_by_server_url(client, member, loopback_app, peer, accounts, peer_consent):
    bob = accounts["bob"]
    client.force_login(member)
    connect(client, bob.did, bob, peer_consent)
    assert BlueskyIdentity.objects.get(member=member).did == bob.did
    # Reauthorize by server URL overwrites the same identity.
    connect(client, peer.pds_url, bob, peer_consent)
    assert BlueskyIdentity.objects.filter(member=member).count() == 1


def test_narrower_grant_shows_and_offers_reauthorization(client, member, loopback_app, accounts, peer_consent):
    carol = accounts["carol"]
    client.force_login(member)
    connect(client, carol.handle, carol, peer_consent, scope="atproto")
    identity = BlueskyIdentity.objects.get(member=member)
    assert identity.scope == "atproto"
    page = client.get(reverse("members:profile", args=[member.username])).content.decode()
    assert "Reconnect Bluesky to allow" in page and "Some features need more permissions" in page
    api = client.get("/api/bluesky/identity/").json()
    assert api["scope"] == "atproto" and api["can_post"] is False


def test_denied_consent_changes_nothing(client, member, loopback_app, accounts, peer_consent):
    client.force_login(member)
    response = client.post(reverse("bluesky:connect"), {"identifier": accounts["alice"].handle})
    params = peer_consent.deny(response.url)
    page = client.get(reverse("bluesky:callback"), params)
    assert page.status_code == 400 and "declined" in page.content.decode()
    assert not BlueskyIdentity.objects.exists()


def test_another_account_than_asked_is_refused(client, member, loopback_app, accounts, peer_consent):
    client.force_login(member)
    response = client.post(reverse("bluesky:connect"), {"identifier": accounts["alice"].handle})
    params = peer_consent(response.url, accounts["bob"])  # bob signs in on alice's request
    page = client.get(reverse("bluesky:callback"), params)
    assert page.status_code == 400
    assert not BlueskyIdentity.objects.exists()


def test_callback_of_another_member_and_replay_are_refused(client, member, loopback_app, accounts, peer_consent):
    client.force_login(member)
    response = client.post(reverse("bluesky:connect"), {"identifier": accounts["alice"].handle})
    params = peer_consent(response.url, accounts["alice"])
    intruder = Member.objects.create_user(username="eve", password="pw-long-enough-123")
    client.force_login(intruder)
    assert client.get(reverse("bluesky:callback"), params).status_code == 400
    client.force_login(member)
    # The state was consumed by the refused attempt: single use.
    assert client.get(reverse("bluesky:callback"), params).status_code == 400
    assert not BlueskyIdentity.objects.exists()


def test_unknown_handle_gives_a_clear_message(client, member, loopback_app):
    client.force_login(member)
    response = client.post(reverse("bluesky:connect"), {"identifier": "nobody-here.test"}, follow=True)
    assert "No Bluesky account was found" in response.content.decode()
    assert not OAuthAuthorizationRequest.objects.exists()


def test_reconnecting_from_a_page_widens_the_grant_and_comes_back(client, member, loopback_app, accounts,
                                                                  peer_consent, settings):
    carol = accounts["carol"]
    client.force_login(member)
    old = "atproto repo:app.bsky.feed.post?action=create"  # an older, narrower grant
    connect(client, carol.handle, carol, peer_consent, scope=old)
    page = client.get(reverse("members:profile", args=[member.username])).content.decode()
    assert "Reconnect Bluesky to allow" in page and "deleting the announcement posts Elonara wrote" in page
    # The picker's (or the delete page's) button: the consent, then back to that page.
    back = "/events/new/"
    response = client.post(reverse("bluesky:reauthorize"), {"next": back})
    assert response.status_code == 302
    params = peer_consent(response.url, carol, None)
    done = client.get(reverse("bluesky:callback"), params)
    assert done.status_code == 302 and done.url == back
    assert BlueskyIdentity.objects.get(member=member).scope.split() == settings.BLUESKY_OAUTH_SCOPE.split()
    page = client.get(reverse("members:profile", args=[member.username])).content.decode()
    assert "Reconnect Bluesky to allow" not in page
    # An address off the site is never followed.
    response = client.post(reverse("bluesky:reauthorize"), {"next": "https://evil.example/"})
    done = client.get(reverse("bluesky:callback"), peer_consent(response.url, carol, None))
    assert done.url == reverse("members:profile", args=[member.username])
