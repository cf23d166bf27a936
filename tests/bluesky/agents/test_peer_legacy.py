"""The legacy agent against the official PDS: real createSession/refreshSession/createRecord."""

from datetime import timedelta

import httpx
import pytest
from django.urls import reverse
from django.utils import timezone

from bluesky import services
from bluesky.agents.factory import BlueskyAgentFactory
from bluesky.agents.legacy import LegacyBlueskyAgent
from bluesky.atproto import PdsClient, XrpcError
from bluesky.errors import AppPasswordSessionError, Reason
from bluesky.models import AppPasswordSession, MemberAppPassword, WritesModeChange
from bluesky.sessions import relay_credentials_get
from tests.bluesky.agents.conftest import (
    WireCounter,
    attr,
    http_client_with_transport,
    mention_post,
    new_tid_like_rkey,
    read_back,
)

pytestmark = [pytest.mark.peer, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def member(django_user_model):
    return django_user_model.objects.create_user(username="host", password="pw-123456")


def test_member_app_password_posts_reuse_one_session_and_survive_expiry(peer, accounts, member, wire):
    alice, bob = accounts["alice"], accounts["bob"]
    saved = services.member_app_password_set(
        member=member, identifier=attr(alice, "handle"), app_password=attr(alice, "app_password"), http=wire.http
    )
    assert saved.did == attr(alice, "did")
    agent = LegacyBlueskyAgent(http=wire.http)

    sent = []
    for n in range(5):
        record = mention_post(attr(bob, "handle"), attr(bob, "did"), n)
        result = agent.create_post_for_member(member, record)
        assert result.success, result
        assert result.agent == "legacy" and result.repo_did == attr(alice, "did")
        assert result.uri.startswith(f"at://{attr(alice, 'did')}/app.bsky.feed.post/") and result.cid
        sent.append((result, record))
    for result, record in sent:
        stored = read_back(wire.http, peer, result.uri)
        assert stored["value"] == record
        assert stored["cid"] == result.cid
    assert wire.calls["com.atproto.server.createSession"] == 1
    assert wire.calls["com.atproto.repo.createRecord"] == 5

    # Another process (fresh manager, fresh HTTP client) reuses the stored session: no sign-in.
    other_wire = WireCounter(httpx.HTTPTransport())
    other = LegacyBlueskyAgent(http=http_client_with_transport(other_wire))
    assert other.create_post_for_member(member, mention_post(attr(bob, "handle"), attr(bob, "did"), 9)).success
    assert other_wire.calls["com.atproto.server.createSession"] == 0

    # The stored expiry has passed: refreshed with refreshSession, not a new sign-in.
    AppPasswordSession.objects.filter(account_key=f"member:{member.pk}").update(
        access_expires_at=timezone.now() - timedelta(minutes=5)
    )
    result = agent.create_post_for_member(member, mention_post(attr(bob, "handle"), attr(bob, "did"), 10))
    assert result.success, result
    assert wire.calls["com.atproto.server.refreshSession"] == 1
    assert wire.calls["com.atproto.server.createSession"] == 1

    # The stored access token is refused by the PDS (looks valid to us): refresh once and retry.
    row = AppPasswordSession.objects.get(account_key=f"member:{member.pk}")
    row.access_jwt = "eyJhbGciOiJIUzI1NiJ9.eyJleHAiOjQxMDI0NDQ4MDB9.not-a-valid-signature"
    row.access_expires_at = timezone.now() + timedelta(hours=1)
    row.save()
    record = mention_post(attr(bob, "handle"), attr(bob, "did"), 11)
    result = agent.create_post_for_member(member, record)
    assert result.success, result
    assert read_back(wire.http, peer, result.uri)["value"] == record
    assert wire.calls["com.atproto.server.refreshSession"] == 2
    assert wire.calls["com.atproto.server.createSession"] == 1

    # Both tokens dead: refresh fails, so (and only then) a new session is created.
    row = AppPasswordSession.objects.get(account_key=f"member:{member.pk}")
    row.access_jwt = "garbage-access"
    row.refresh_jwt = "garbage-refresh"
    row.access_expires_at = timezone.now() - timedelta(minutes=1)
    row.save()
    result = agent.create_post_for_member(member, mention_post(attr(bob, "handle"), attr(bob, "did"), 12))
    assert result.success, result
    assert wire.calls["com.atproto.server.createSession"] == 2
    row = AppPasswordSession.objects.get(account_key=f"member:{member.pk}")
    assert (row.create_count, row.refresh_count) == (2, 2)


def test_relay_account_posts_when_member_has_no_app_password(peer, accounts, member, wire, peer_settings):
    carol, bob = accounts["carol"], accounts["bob"]
    peer_settings.BLUESKY_RELAY_IDENTIFIER = attr(carol, "handle")
    peer_settings.BLUESKY_RELAY_APP_PASSWORD = attr(carol, "app_password")
    agent = LegacyBlueskyAgent(http=wire.http)
    record = mention_post(attr(bob, "handle"), attr(bob, "did"))
    result = agent.create_post_for_member(member, record)
    assert result.success, result
    assert result.repo_did == attr(carol, "did")
    assert read_back(wire.http, peer, result.uri)["value"] == record

    # Staff set another relay account in the admin: it wins over settings.
    services.relay_account_set(identifier=attr(bob, "handle"), app_password=attr(bob, "app_password"))
    assert relay_credentials_get().identifier == attr(bob, "handle")
    result = agent.create_post_for_member(member, mention_post(attr(carol, "handle"), attr(carol, "did")))
    assert result.success and result.repo_did == attr(bob, "did")


def test_fixed_rkey_never_creates_a_second_post(peer, accounts, member, wire, peer_settings):
    alice, bob = accounts["alice"], accounts["bob"]
    peer_settings.BLUESKY_RELAY_IDENTIFIER = attr(alice, "did")  # a DID works as identifier too
    peer_settings.BLUESKY_RELAY_APP_PASSWORD = attr(alice, "app_password")
    agent = LegacyBlueskyAgent(http=wire.http)
    rkey = new_tid_like_rkey()
    record = mention_post(attr(bob, "handle"), attr(bob, "did"))
    first = agent.create_post_for_member(member, record, rkey=rkey)
    assert first.success and not first.already_existed and first.rkey == rkey
    again = agent.create_post_for_member(member, record, rkey=rkey)  # a redelivered task
    assert again.success and again.already_existed
    assert (again.uri, again.cid) == (first.uri, first.cid)
    other = agent.create_post_for_member(member, mention_post(attr(bob, "handle"), attr(bob, "did"), 2), rkey=rkey)
    assert not other.success and other.reason == Reason.RKEY_CONFLICT and not other.retryable
    assert read_back(wire.http, peer, first.uri)["value"] == record


def test_wrong_app_password_is_refused_and_nothing_stored(accounts, member, wire):
    with pytest.raises(AppPasswordSessionError) as info:
        services.member_app_password_set(
            member=member,
            identifier=attr(accounts["alice"], "handle"),
            app_password="aaaa-bbbb-cccc-dddd",
            http=wire.http,
        )
    assert info.value.code == Reason.AUTH_FAILED
    assert "aaaa-bbbb" not in info.value.message
    assert not MemberAppPassword.objects.exists()
    assert not AppPasswordSession.objects.filter(did__gt="").exists()


def test_member_adds_app_password_through_the_page(client, accounts, member, peer_settings):
    alice = accounts["alice"]
    client.force_login(member)
    response = client.post(
        reverse("bluesky:app_password_add"),
        {"identifier": "@" + attr(alice, "handle").upper(), "app_password": attr(alice, "app_password")},
        follow=True,
    )
    assert response.status_code == 200
    assert f"@{attr(alice, 'handle')}".encode() in response.content
    assert attr(alice, "app_password").encode() not in response.content
    assert MemberAppPassword.objects.get(member=member).did == attr(alice, "did")


def test_admin_flip_sends_the_next_post_through_the_other_agent(
    client, peer, accounts, member, peer_settings, django_user_model
):
    """Starts in OAuth mode (settings default) with a member who has no OAuth identity, so the
    factory's agent cannot post; staff flips to legacy in the admin; the next post is written by
    the legacy agent with the member's app password."""
    alice, bob = accounts["alice"], accounts["bob"]
    peer_settings.BLUESKY_WRITES_MODE = "oauth"
    peer_settings.STORAGES = {
        **peer_settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    services.member_app_password_set(
        member=member, identifier=attr(alice, "handle"), app_password=attr(alice, "app_password")
    )
    record = mention_post(attr(bob, "handle"), attr(bob, "did"))
    before = BlueskyAgentFactory.make().create_post_for_member(member, record)
    assert before.agent == "oauth" and not before.success and before.reason == Reason.NOT_CONNECTED

    staff = django_user_model.objects.create_superuser(username="admin", email="a@x.org", password="pw-123456")
    client.force_login(staff)
    url = reverse("admin:bluesky_writesmodesetting_change", args=[1])
    assert client.post(url, {"mode": "legacy", "_save": "Save"}).status_code == 302

    after = BlueskyAgentFactory.make().create_post_for_member(member, record)
    assert after.success and after.agent == "legacy" and after.repo_did == attr(alice, "did")
    change = WritesModeChange.objects.get()
    assert (change.changed_by, change.from_mode, change.to_mode) == (staff, "oauth", "legacy")


def test_admin_check_relay_really_signs_in(client, accounts, peer_settings, django_user_model):
    carol = accounts["carol"]
    peer_settings.BLUESKY_RELAY_IDENTIFIER = attr(carol, "handle")
    peer_settings.BLUESKY_RELAY_APP_PASSWORD = attr(carol, "app_password")
    peer_settings.STORAGES = {
        **peer_settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    staff = django_user_model.objects.create_superuser(username="admin2", email="b@x.org", password="pw-123456")
    client.force_login(staff)
    page = client.post(reverse("admin:bluesky_check_relay"), follow=True)
    assert b"Relay session works" in page.content
    assert attr(carol, "did").encode() in page.content
    assert attr(carol, "app_password").encode() not in page.content
    row = AppPasswordSession.objects.get(account_key=f"relay:{attr(carol, 'handle')}")
    assert row.did == attr(carol, "did") and row.create_count == 1

    peer_settings.BLUESKY_RELAY_APP_PASSWORD = "wxyz-wxyz-wxyz-wxyz"
    page = client.post(reverse("admin:bluesky_check_relay"), follow=True)
    assert b"refused the app password" in page.content


def test_removing_app_password_ends_the_session_at_the_pds(peer, accounts, member, wire):
    alice = accounts["alice"]
    services.member_app_password_set(
        member=member, identifier=attr(alice, "handle"), app_password=attr(alice, "app_password"), http=wire.http
    )
    row = AppPasswordSession.objects.get(account_key=f"member:{member.pk}")
    refresh_jwt, pds_url = row.refresh_jwt, row.pds_url
    assert services.member_app_password_remove(member=member, http=wire.http) is True
    assert wire.calls["com.atproto.server.deleteSession"] == 1
    assert not MemberAppPassword.objects.exists() and not AppPasswordSession.objects.exists()
    # The PDS no longer honours the refresh token we held.
    client = PdsClient(http=wire.http, pds_url=pds_url, access_token=refresh_jwt)
    with pytest.raises(XrpcError) as info:
        client.post("com.atproto.server.refreshSession")
    assert info.value.status in (400, 401)
    # And the member can no longer post through their own account (no relay configured).
    result = LegacyBlueskyAgent(http=wire.http).create_post_for_member(
        member, mention_post(attr(alice, "handle"), attr(alice, "did"))
    )
    assert not result.success and result.reason == Reason.NOT_CONNECTED
