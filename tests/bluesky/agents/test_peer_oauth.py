"""The OAuth agent against the official PDS, with a session connected through BlueskyOAuthService.

Needs the Connect-Bluesky code (bluesky.services) and the peer's `peer_consent` / `app_host`
fixtures; skipped until both exist. The connect step follows issue 5's design
(start_authorization -> the PDS's sign-in and consent -> handle_callback); adjust `connect` if
the final signatures differ.
"""

import pytest
from django.contrib.sessions.middleware import SessionMiddleware
from django.test import RequestFactory
from django.urls import reverse

from bluesky.agents.factory import BlueskyAgentFactory
from bluesky.agents.models import WritesModeChange
from bluesky.agents.oauth import OAuthBlueskyAgent
from bluesky.agents.results import Reason
from bluesky.agents.selectors import oauth_posting_identity_count
from tests.bluesky.agents.conftest import attr, mention_post, read_back

oauth_services = pytest.importorskip("bluesky.services", reason="BlueskyOAuthService (issue 5) not in the tree yet")

pytestmark = [pytest.mark.peer, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def connect(request, peer_settings, app_host):
    peer_consent = request.getfixturevalue("peer_consent")

    def _connect(member, account, *, scope=None):
        service = oauth_services.BlueskyOAuthService()
        authorize_url = service.start_authorization(member, attr(account, "handle"))
        if not isinstance(authorize_url, str):  # a redirect response or a result object
            authorize_url = getattr(authorize_url, "url", None) or authorize_url["Location"]
        answer = peer_consent(authorize_url, account, scope) if scope else peer_consent(authorize_url, account)
        # consent() returns the callback's query parameters (code, state, iss); a URL also works.
        callback = (
            RequestFactory().get(answer)
            if isinstance(answer, str)
            else RequestFactory().get("/bluesky/callback/", answer)
        )
        SessionMiddleware(lambda r: None).process_request(callback)
        callback.user = member
        service.handle_callback(callback)
        return service

    return _connect


@pytest.fixture
def member(django_user_model):
    return django_user_model.objects.create_user(username="oauth-host", password="pw-123456")


def test_oauth_agent_posts_mention_in_members_repo(connect, peer, accounts, member, wire):
    alice, bob = accounts["alice"], accounts["bob"]
    service = connect(member, alice)
    agent = OAuthBlueskyAgent(oauth_service=service)
    record = mention_post(attr(bob, "handle"), attr(bob, "did"))
    result = agent.create_post_for_member(member, record)
    assert result.success, result
    assert result.agent == "oauth" and result.repo_did == attr(alice, "did")
    assert read_back(wire.http, peer, result.uri)["value"] == record
    assert oauth_posting_identity_count() == 1


def test_narrow_grant_asks_to_reauthorize(connect, accounts, member):
    alice, bob = accounts["alice"], accounts["bob"]
    service = connect(member, alice, scope="atproto")
    result = OAuthBlueskyAgent(oauth_service=service).create_post_for_member(
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
    url = reverse("admin:bluesky_agents_writesmodesetting_change", args=[1])
    assert client.post(url, {"mode": "oauth", "_save": "Save"}).status_code == 302

    after = BlueskyAgentFactory.make().create_post_for_member(member, record)
    assert after.success and after.agent == "oauth" and after.repo_did == attr(alice, "did")
    assert read_back(wire.http, peer, after.uri)["value"] == record
    assert WritesModeChange.objects.filter(changed_by=staff, from_mode="legacy", to_mode="oauth").exists()
