"""Issue 12's rules without a peer: what the relay may say, caps, opt-outs, due times, createSession.

The peer tests (test_peer_rules.py) prove the same rules end to end against the official PDS."""

from __future__ import annotations

import json
import time
from datetime import timedelta

import httpx
import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from bluesky.agents.legacy import LegacyBlueskyAgent
from bluesky.atproto.http import SafeHttpClient
from bluesky.budget import BudgetConfig, WriteBudget, budget_cache, create_session_guard
from bluesky.models import AppPasswordSession, MemberAppPassword
from bluesky.sessions import relay_credentials_get
from core.ratelimit import RateLimitedError
from invitations import answers, limits, services
from invitations.models import Invitation, InvitationDecline, InvitationOptOut
from tests.invitations.conftest import link_identity, make_event, make_member, profile

S = Invitation.Status
HOST_TEXT = "Free crypto at scam.example, click fast"


@pytest.fixture
def relay(settings):
    settings.BLUESKY_RELAY_IDENTIFIER = "relay.test"
    settings.BLUESKY_RELAY_APP_PASSWORD = "aaaa-bbbb-cccc-dddd"


@pytest.fixture
def old_host(host):
    # Joined long ago: the ordinary daily cap applies.
    type(host).objects.filter(pk=host.pk).update(date_joined=timezone.now() - timedelta(days=365))
    host.refresh_from_db()
    return host


def _enqueue(host, target, profiles, message=""):
    return services.invitations_enqueue(host=host, target=target, profiles=profiles, message_template=message)


@pytest.mark.django_db
def test_relay_posts_only_elonaras_wording(relay, old_host, event):
    agent = LegacyBlueskyAgent()
    preview = services.invitation_preview(host=old_host, target=event, message_template=HOST_TEXT + " {link}",
                                          recipient_did=profile("bob.test").did, recipient_handle="bob.test",
                                          agent=agent)
    assert preview.account.kind == "relay" and preview.account.handle == "relay.test"
    assert "scam" not in preview.post.text and "@alice.test invites you to Board games night" in preview.post.text
    assert "Sent for them by Elonara" in preview.post.text and preview.post.embed is not None
    invitation = _enqueue(old_host, event, [profile("bob.test")], message=HOST_TEXT).created[0]
    post = services.invitation_compose(invitation=invitation, posting_kind="relay")
    assert "scam" not in post.text and post.text.startswith("@bob.test ")


@pytest.mark.django_db
def test_host_app_password_posts_the_hosts_words(relay, old_host, event):
    MemberAppPassword.objects.create(member=old_host, identifier="alice.test", handle="alice.test",
                                     app_password="x")
    preview = services.invitation_preview(host=old_host, target=event, message_template="{mention} " + HOST_TEXT,
                                          recipient_did=profile("bob.test").did, recipient_handle="bob.test",
                                          agent=LegacyBlueskyAgent())
    assert preview.account.kind == "member" and HOST_TEXT in preview.post.text


@pytest.mark.django_db
def test_preview_api_names_the_posting_account(client, relay, old_host, event):
    client.force_login(old_host)
    data = client.post(f"/api/invitations/event/{event.pk}/preview/",
                       {"message": HOST_TEXT, "did": profile("b.test").did, "handle": "b.test"},
                       content_type="application/json").json()
    assert data["account"] == {"kind": "relay", "handle": "relay.test"} and not data["uses_your_message"]
    assert "scam" not in data["text"]


@pytest.mark.django_db
def test_recipient_weekly_cap_holds_across_hosts(settings, old_host, event):
    settings.INVITATIONS_WEEKLY_CAP_PER_RECIPIENT = 2
    bob = profile("bob.test")
    hosts = [old_host] + [make_member(f"host{i}") for i in range(2)]
    results = [_enqueue(h, make_event(host=h, title=f"Night {i}"), [bob]) for i, h in enumerate(hosts)]
    assert [r.created_count for r in results] == [1, 1, 0]
    assert results[2].skipped == {bob.did: "recipient_weekly_cap"}
    marks = limits.picker_marks(host=hosts[2], profiles=[bob])
    assert marks == {bob.did: "recipient_weekly_cap"}


@pytest.mark.django_db
def test_new_hosts_get_the_smaller_daily_cap(settings, host, event):
    settings.INVITATIONS_DAILY_CAP_NEW_HOST = 2
    assert limits.host_daily_cap(host=host) == 2  # joined just now
    result = _enqueue(host, event, [profile(f"p{i}.test") for i in range(4)])
    assert result.created_count == 2 and list(result.skipped.values()) == ["daily_cap", "daily_cap"]
    assert limits.invitation_daily_remaining(host=host) == 0


@pytest.mark.django_db
def test_opted_out_dids_are_skipped_before_queueing_and_marked(old_host, event):
    everyone, this_host, fine = profile("a.test"), profile("b.test"), profile("c.test")
    InvitationOptOut.objects.create(recipient_did=everyone.did)
    InvitationDecline.objects.create(host=old_host, recipient_did=this_host.did)
    result = _enqueue(old_host, event, [everyone, this_host, fine])
    assert result.skipped == {everyone.did: "opted_out", this_host.did: "declined"}
    assert result.created_count == 1
    assert limits.picker_marks(host=old_host, profiles=[everyone, this_host, fine]) == {
        everyone.did: "opted_out", this_host.did: "declined"}
    # Bulk create skips them before reading the graph (no connected session needed for them).
    bulk = services.invitation_bulk_create(host=old_host, target=event, recipient_dids=[everyone.did])
    assert bulk.skipped == {everyone.did: "opted_out"} and bulk.batch is None


@pytest.mark.django_db
def test_opting_out_after_queueing_stops_the_post_and_says_so(relay, old_host, event):
    bob = profile("bob.test")
    invitation = _enqueue(old_host, event, [bob]).created[0]
    InvitationOptOut.objects.create(recipient_did=bob.did)
    outcome = services.invitation_send(invitation_id=invitation.pk, agent=LegacyBlueskyAgent())
    invitation.refresh_from_db()
    assert outcome.status == S.FAILED and invitation.failure_code == "opted_out"
    assert "will not be sent" in invitation.failure_reason and "retried" not in invitation.failure_reason


@pytest.mark.django_db
def test_a_permanent_failure_never_says_it_will_be_retried(old_host, event):
    invitation = _enqueue(old_host, event, [profile("bob.test")]).created[0]
    services._fail(invitation, code="request_rejected", reason="Bluesky refused the request (400).",
                   retryable=False)
    invitation.refresh_from_db()
    assert "retried" not in invitation.failure_reason and "will not be sent" in invitation.failure_reason


@pytest.mark.django_db
def test_a_long_wait_is_kept_in_the_database_not_in_the_broker(settings, relay, old_host, event):
    settings.INVITATIONS_DISPATCH_HORIZON_SECONDS = 5
    invitation = _enqueue(old_host, event, [profile("bob.test")]).created[0]
    # Somebody already holds the relay's next hour of slots.
    budget = WriteBudget(account="relay:relay.test")
    far = time.time() + 3600
    budget_cache().set(budget._tat_key, far, 3600)
    outcome = services.invitation_send(invitation_id=invitation.pk, agent=LegacyBlueskyAgent())
    invitation.refresh_from_db()
    assert outcome.retry_in is None and outcome.scheduled
    assert abs(invitation.slot_at.timestamp() - far) < 1 and abs(invitation.due_at.timestamp() - far) < 1
    assert invitation.attempts == 0 and invitation.status == S.QUEUED
    # The dispatcher leaves it alone until it is due within the horizon.
    assert services.invitations_claim_due() == []
    Invitation.objects.filter(pk=invitation.pk).update(due_at=timezone.now() + timedelta(seconds=3))
    [claimed] = services.invitations_claim_due()
    assert claimed.args == [invitation.pk] and 0 < claimed.countdown <= 3 and abs(claimed.kwargs["slot_at"] - far) < 1


def test_relay_budget_is_its_own_and_never_above_bluesky(settings):
    settings.INVITATIONS_RELAY_POSTS_PER_HOUR = 10_000
    settings.INVITATIONS_RELAY_POSTS_PER_DAY = 50
    relay = BudgetConfig.for_account("relay:relay.test")
    assert relay.points_per_hour == settings.BLUESKY_WRITE_POINTS_PER_HOUR  # capped at Bluesky's
    assert relay.points_per_day == 50 * settings.BLUESKY_WRITE_POINTS_PER_POST
    assert BudgetConfig.for_account("member:1").points_per_day == settings.BLUESKY_WRITE_POINTS_PER_DAY


def test_create_session_stays_within_its_limit(settings):
    settings.BLUESKY_CREATE_SESSION_PER_5_MIN = 3
    for _ in range(3):
        create_session_guard(account_key="relay:guard.test")
    with pytest.raises(RateLimitedError):
        create_session_guard(account_key="relay:guard.test")
    create_session_guard(account_key="member:other")  # per account


@pytest.mark.django_db
def test_share_on_bluesky_opens_the_compose_intent(client, old_host, event):
    client.force_login(old_host)
    page = client.get(event.get_absolute_url()).content.decode()
    assert 'id="share-on-bluesky" href="https://bsky.app/intent/compose?text=Board+games+night' in page
    assert "invitation" not in page.split('id="share-on-bluesky"')[1].split('"')[1]


@pytest.mark.django_db
def test_landing_page_offers_stop_invitations(client, old_host, event):
    invitation = _enqueue(old_host, event, [profile("bob.test")]).created[0]
    page = client.get(f"{event.get_absolute_url()}?invitation={invitation.token}").content.decode()
    assert "Stop invitations" in page and reverse("invitations:stop", args=[invitation.token]) in page
    # Without a proven DID nothing is stored.
    response = client.get(reverse("invitations:stop_done", args=[invitation.token]))
    assert response.status_code == 302 and not InvitationOptOut.objects.exists()


@pytest.mark.django_db
def test_admin_report_shows_sends_opt_outs_and_caps(admin_client, old_host, event):
    invitation = _enqueue(old_host, event, [profile("bob.test")]).created[0]
    Invitation.objects.filter(pk=invitation.pk).update(status=S.SENT, sent_at=timezone.now(), posted_by="relay")
    InvitationOptOut.objects.create(recipient_did=profile("x.test").did)
    page = admin_client.get(reverse("admin:invitations_invitationreport_changelist")).content.decode()
    assert "Sent by the relay" in page and "<td>1</td>" in page and old_host.username in page


@pytest.mark.django_db
def test_graph_api_says_why_someone_cannot_be_invited(client, old_host, event):
    from django.core.cache import cache

    from bluesky.graph import _cache_key

    mutual, one_way = profile("m.test"), profile("o.test")
    link_identity(member=make_member("zed"), did=random_did_(), handle="zed.test")
    key = _cache_key(member_id=old_host.pk, kind="follows", cursor=None, limit=100)
    cache.set(key, {"profiles": [{**mutual.as_dict(), "follows_you": True},
                                 {**one_way.as_dict(), "follows_you": False}], "cursor": None}, 60)
    client.force_login(old_host)
    data = client.get(f"/api/invitations/event/{event.pk}/graph/follows/").json()
    by_did = {p["did"]: p for p in data["profiles"]}
    assert by_did[mutual.did]["invitable"] and by_did[mutual.did]["reason"] == ""
    assert not by_did[one_way.did]["invitable"] and by_did[one_way.did]["reason"] == "not_mutual"
    assert "don't follow you back" in by_did[one_way.did]["reason_text"]
    assert data["remaining_today"] == limits.invitation_daily_remaining(host=old_host)


def random_did_():
    from tests.invitations.conftest import random_did

    return random_did()


@pytest.mark.django_db
def test_opting_out_from_one_host_leaves_other_hosts(old_host, event):
    bob = profile("bob.test")
    invitation = _enqueue(old_host, event, [bob]).created[0]
    Invitation.objects.filter(pk=invitation.pk).update(status=S.SENT)
    answers.invitation_opt_out(did=bob.did, token=invitation.token, scope="host")
    invitation.refresh_from_db()
    assert invitation.status == S.DECLINED and not InvitationOptOut.objects.exists()
    assert _enqueue(old_host, make_event(host=old_host, title="Again"), [bob]).skipped == {bob.did: "declined"}
    other = make_member("other")
    assert _enqueue(other, make_event(host=other, title="Other"), [bob]).created_count == 1
    with pytest.raises(services.InvitationError):
        answers.invitation_opt_out(did=bob.did, token=invitation.token, scope="everyone-please")


def _relay_agent(*, on_create) -> LegacyBlueskyAgent:
    """An agent posting through the relay, whose session is fresh, so an attempt goes straight to
    createRecord: answered here (`on_create` sees each record written), the network not under test."""
    account = relay_credentials_get()
    did = "did:plc:" + "r" * 24
    AppPasswordSession.objects.create(
        account_key=account.account_key, identifier=account.identifier, credential_fingerprint=account.fingerprint,
        did=did, handle="relay.test", pds_url="https://pds.example.com", access_jwt="access", refresh_jwt="refresh",
        access_expires_at=timezone.now() + timedelta(hours=1))

    def pds(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("com.atproto.repo.createRecord"):
            body = json.loads(request.content)
            on_create(body)
            return httpx.Response(200, json={"uri": f"at://{did}/app.bsky.feed.post/{body['rkey']}",
                                              "cid": "bafyreie5737gdxlw5i64vzichcalba3z2v5n6icifvx5xytvske7mr3hpm"})
        return httpx.Response(400, json={"error": "RecordNotFound", "message": "no such record"})

    return LegacyBlueskyAgent(http=SafeHttpClient(transport=httpx.MockTransport(pds)))


@pytest.mark.django_db
def test_one_send_attempt_looks_the_posting_account_up_once(relay, old_host, event):
    # The relay's session is fresh, so the attempt goes straight to createRecord (answered here:
    # the count of lookups, not the network, is under test).
    written = []
    agent = _relay_agent(on_create=written.append)
    invitation = _enqueue(old_host, event, [profile("bob.test")]).created[0]
    with CaptureQueriesContext(connection) as queries:
        outcome = services.invitation_send(invitation_id=invitation.pk, agent=agent)
    invitation.refresh_from_db()
    assert outcome.status == S.SENT and len(written) == 1, invitation.failure_reason
    relay_reads = [q["sql"] for q in queries.captured_queries
                   if q["sql"].lstrip().upper().startswith("SELECT") and "bluesky_relayaccount" in q["sql"]]
    assert len(relay_reads) == 1


@pytest.mark.django_db
def test_a_copy_of_the_message_delivered_while_the_post_is_written_takes_no_second_slot(relay, old_host, event):
    # The broker redelivers an invitation's message (a worker slow past the visibility timeout)
    # while the first copy is writing the post: the copy must not reserve, and so charge the
    # day's budget, a second time: six relay posts a day would become five.
    invitation = _enqueue(old_host, event, [profile("bob.test")]).created[0]
    copies = []
    # The second copy arrives while the post is written, as the message first published (no slot in it).
    agent = _relay_agent(on_create=lambda _body: copies.append(
        services.invitation_send(invitation_id=invitation.pk, agent=agent)))
    budget = WriteBudget(account=services._budget_account(old_host, agent.posting_account(old_host)))
    outcome = services.invitation_send(invitation_id=invitation.pk, agent=agent)
    invitation.refresh_from_db()
    assert outcome.status == S.SENT and invitation.status == S.SENT and invitation.attempts == 1
    [copy] = copies
    assert copy.retry_in is not None or copy.scheduled  # it waits; when it runs again the post is sent
    # One post charged to the day, not two.
    charged = budget_cache().get(budget._day_key(time.time()))
    assert charged == budget.config.points_per_post, charged
