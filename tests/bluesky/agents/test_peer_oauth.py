"""The OAuth agent against the official PDS, with a session connected through the OAuth services
(BlueskyOAuthService.start -> the PDS's sign-in and consent -> BlueskyOAuthService.complete)."""

import pytest
from django.urls import reverse

from bluesky import services
from bluesky.agents.factory import BlueskyAgentFactory
from bluesky.agents.oauth import OAuthBlueskyAgent
from bluesky.errors import Reason
from bluesky.models import WritesModeChange
from bluesky.selectors import oauth_posting_identity_count
from tests.bluesky.agents.conftest import attr, mention_post, read_back

pytestmark = [pytest.mark.peer, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def connect(peer_settings, app_host, peer_consent):
    def _connect(member, account, *, scope=None):
        authorize_url = services.BlueskyOAuthService.start(member=member, login_input=attr(account, "handle"),
                                                           browser_secret="test-browser")
        answer = peer_consent(authorize_url, account, scope) if scope else peer_consent(authorize_url, account)
        done = services.BlueskyOAuthService.complete(member=member, params=answer, browser_secret="test-browser")
        return done.identity

    return _connect


@pytest.fixture
def member(django_user_model):
    return django_user_model.objects.create_user(username="oauth-host", password="pw-123456")


def test_oauth_agent_posts_mention_in_members_repo(connect, peer, accounts, member, wire):
    alice, bob = accounts["alice"], accounts["bob"]
    connect(member, alice)
    agent = OAuthBlueskyAgent()
    record = mention_post(attr(bob, "handle"), attr(bob, "did"))
    result = agent.create_post_for_member(member, record)
    assert result.success, result
    assert result.agent == "oauth" and result.repo_did == attr(alice, "did")
    assert read_back(wire.http, peer, result.uri)["value"] == record
    assert oauth_posting_identity_count() == 1


def test_narrow_grant_asks_to_reauthorize(connect, accounts, member):
    alice, bob = accounts["alice"], accounts["bob"]
    connect(member, alice, scope="atproto")
    result = OAuthBlueskyAgent().create_post_for_member(
        member, mention_post(attr(bob, "handle"), attr(bob, "did"))
    )
    assert not result.success and result.reason == Reason.SCOPE_MISSING and not result.retryable
    assert "reauthorize" in result.error.lower()
    assert oauth_posting_identity_count() == 0


def test_admin_flip_to_oauth_sends_next_post_through_oauth(
    client,
    connect,
    peer,
    accounts,
    member,
    peer_settings,
    wire,
    django_user_model,
):
    alice, bob = accounts["alice"], accounts["bob"]
    carol = accounts["carol"]
    peer_settings.BLUESKY_WRITES_MODE = "legacy"
    peer_settings.BLUESKY_RELAY_IDENTIFIER = attr(carol, "handle")
    peer_settings.BLUESKY_RELAY_APP_PASSWORD = attr(carol, "app_password")
    peer_settings.STORAGES = {
        **peer_settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    connect(member, alice)
    record = mention_post(attr(bob, "handle"), attr(bob, "did"))
    before = BlueskyAgentFactory.make().create_post_for_member(member, record)
    assert before.success and before.agent == "legacy" and before.repo_did == attr(carol, "did")

    staff = django_user_model.objects.create_superuser(username="admin", email="a@x.org", password="pw-123456")
    client.force_login(staff)
    url = reverse("admin:bluesky_writesmodesetting_change", args=[1])
    assert client.post(url, {"mode": "oauth", "_save": "Save"}).status_code == 302

    after = BlueskyAgentFactory.make().create_post_for_member(member, record)
    assert after.success and after.agent == "oauth" and after.repo_did == attr(alice, "did")
    assert read_back(wire.http, peer, after.uri)["value"] == record
    assert WritesModeChange.objects.filter(changed_by=staff, from_mode="legacy", to_mode="oauth").exists()
