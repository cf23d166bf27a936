"""Faults against the official PDS: every invitation ends sent or failed, one post per sent invitation.

- A real worker killed (SIGKILL) mid-batch and a new one started; every send task also published
  twice (the same task delivered twice).
- In process, with httpx.MockTransport in front of the real PDS injecting what a healthy peer never
  does: 5xx, timeouts before and after the PDS committed the post, a 429 with RateLimit-Reset, and a
  permanent 400.
"""

from __future__ import annotations

import os
import signal
import time
from datetime import datetime

import httpx
import pytest

from bluesky import services as bluesky_services
from bluesky.agents.legacy import LegacyBlueskyAgent
from bluesky.atproto import SafeHttpClient
from bluesky.models import WritesMode
from invitations import services
from invitations.models import Invitation
from invitations.tasks import send_invitation
from tests.celery_worker import wait_for
from tests.invitations.conftest import make_event, make_member, profile
from tests.invitations.peer_helpers import (
    celery_worker,
    configure_for_peer,
    posts_in_repo,
    purge_queue,
    wait_until_final,
    worker_env,
)

pytestmark = [pytest.mark.peer, pytest.mark.django_db(transaction=True)]
S = Invitation.Status


@pytest.fixture(autouse=True)
def _peer_settings(settings, peer):
    configure_for_peer(settings, peer)


@pytest.fixture
def alice_host(accounts):
    bluesky_services.writes_mode_set(mode=WritesMode.LEGACY)
    host = make_member("alice")
    alice = accounts["alice"]
    bluesky_services.member_app_password_set(member=host, identifier=alice.handle, app_password=alice.app_password)
    return host


def _posts_by_token(peer, did: str, invitations: list[Invitation]) -> dict[str, int]:
    """How many posts in the repo link to each invitation (a duplicate under another key would show)."""
    counts = {inv.token: 0 for inv in invitations}
    for record in posts_in_repo(peer, did).values():
        for facet in record.get("facets", []):
            uri = facet["features"][0].get("uri", "")
            token = uri.rsplit("invitation=", 1)[-1] if "invitation=" in uri else None
            if token in counts:
                counts[token] += 1
    return counts


@pytest.mark.services
@pytest.mark.skipif(not os.environ.get("REDIS_URL"), reason="needs Redis (make test starts one)")
def test_worker_killed_mid_batch_and_duplicate_deliveries(peer, accounts, alice_host, tmp_path):
    event = make_event(host=alice_host, title="Kill -9 party")
    purge_queue()
    result = services.invitations_enqueue(
        host=alice_host, target=event, profiles=[profile(f"guest{i}.test") for i in range(24)], message_template=""
    )  # committed: the dispatch message is already in Redis
    ids = [inv.pk for inv in result.created]
    for pk in ids:  # the same task delivered twice
        send_invitation.delay(pk)
    # Paced to one post per 0.5 s so the kill lands mid-batch.
    env = worker_env(peer, INVITATIONS_PACING_ENABLED="true", BLUESKY_WRITE_POINTS_PER_HOUR=str(3 * 3600 * 2))
    with celery_worker(concurrency=2, extra_env=env, log_path=tmp_path / "worker1.log") as worker:
        assert wait_for(lambda: Invitation.objects.filter(pk__in=ids, status=S.SENT).count() >= 5, timeout=90), (
            tmp_path / "worker1.log").read_text()[-3000:]
        os.killpg(worker.pid, signal.SIGKILL)
        worker.wait()
    sent_before_restart = Invitation.objects.filter(pk__in=ids, status=S.SENT).count()
    assert sent_before_restart < len(ids)  # it really died mid-batch
    with celery_worker(concurrency=2, extra_env=env, log_path=tmp_path / "worker2.log"):
        rows = wait_until_final(result.batch.pk, timeout=180)
    log = (tmp_path / "worker2.log").read_text()[-3000:]
    assert all(r.status in (S.SENT, S.FAILED) for r in rows), ([r.status for r in rows], log)
    posts = posts_in_repo(peer, accounts["alice"].did)
    per_token = _posts_by_token(peer, accounts["alice"].did, rows)
    for row in rows:
        if row.status == S.SENT:
            assert row.rkey in posts and per_token[row.token] == 1, row
        else:
            assert row.rkey not in posts and per_token[row.token] == 0, row
    assert sum(r.status == S.SENT for r in rows) == len(rows), [r.failure_reason for r in rows if r.failure_reason]
    # The pace held through the kill: the messages the dead worker held came back with their slots
    # long past, and none of them was spent beside another write (the posts' own creation times,
    # stamped just before each write; 0.1 s allowed for the time between the turn and the stamp).
    created = sorted(datetime.fromisoformat(posts[r.rkey]["createdAt"].replace("Z", "+00:00")).timestamp()
                     for r in rows)
    gaps = [b - a for a, b in zip(created, created[1:], strict=False)]
    print(f"{len(created)} posts, smallest gap {min(gaps):.3f} s (pace 0.5 s), "
          f"most in any 10 s: {max(sum(1 for t in created if s <= t < s + 10) for s in created)}")
    assert min(gaps) >= 0.4, gaps
    assert max(sum(1 for t in created if s <= t < s + 10) for s in created) <= 21


class FaultyPds(httpx.BaseTransport):
    """Passes requests to the real PDS, except createRecord attempts listed in `script` (by order)."""

    def __init__(self, script: dict[int, str]) -> None:
        self.inner = httpx.HTTPTransport()
        self.script = script
        self.create_calls = 0

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if not request.url.path.endswith("/com.atproto.repo.createRecord"):
            return self.inner.handle_request(request)
        self.create_calls += 1
        fault = self.script.get(self.create_calls)
        if fault == "503":
            return httpx.Response(503, json={"error": "ServiceUnavailable", "message": "try later"})
        if fault == "timeout-before":
            raise httpx.ReadTimeout("injected", request=request)
        if fault == "timeout-after":
            self.inner.handle_request(request).read()  # the PDS has committed the post...
            raise httpx.ReadTimeout("injected", request=request)  # ...but the answer is lost
        if fault == "429":
            reset = int(time.time()) + 1
            return httpx.Response(429, headers={"RateLimit-Reset": str(reset)},
                                  json={"error": "RateLimitExceeded", "message": "slow down"})
        if fault == "400":
            return httpx.Response(400, json={"error": "InvalidRequest", "message": "Record/text is bad"})
        return self.inner.handle_request(request)


def test_transient_faults_end_sent_permanent_ends_failed(settings, peer, accounts, alice_host):
    settings.INVITATIONS_PACING_ENABLED = False
    event = make_event(host=alice_host, title="Flaky network night")
    result = services.invitations_enqueue(
        host=alice_host, target=event, profiles=[profile(f"f{i}.test") for i in range(6)], message_template=""
    )
    # createRecord calls in order: invitation 1 meets 503, a timeout, then a timeout after the PDS
    # committed; invitation 2 goes through; invitation 3 meets a 429; invitation 4 a permanent 400.
    transport = FaultyPds({1: "503", 2: "timeout-before", 3: "timeout-after", 5: "429", 7: "400"})
    agent = LegacyBlueskyAgent(http=SafeHttpClient(allow_insecure=True, transport=transport))

    rows = list(result.batch.invitations.order_by("pk"))
    for row in rows:
        # What the task does, without the waiting: attempt again while the service asks for a retry.
        for _ in range(12):
            outcome = services.invitation_send(invitation_id=row.pk, agent=agent)
            if outcome.retry_in is None:
                break
            assert outcome.retry_in < 400  # bounded backoff, or the 429's reset
    rows = list(result.batch.invitations.order_by("pk"))
    assert all(r.status in (S.SENT, S.FAILED) for r in rows), [(r.status, r.failure_reason) for r in rows]
    posts = posts_in_repo(peer, accounts["alice"].did)
    per_token = _posts_by_token(peer, accounts["alice"].did, rows)
    for row in rows:
        if row.status == S.SENT:
            assert row.rkey in posts and per_token[row.token] == 1, row
        else:
            assert per_token[row.token] == 0
    failed = [r for r in rows if r.status == S.FAILED]
    # The first invitations lived through 503, timeouts (one after commit: read back, not reposted) and
    # a 429; one met the permanent 400 and failed with the server's reason, not retryable.
    assert rows[0].status == S.SENT and rows[0].attempts >= 3
    assert len(failed) == 1 and not failed[0].retryable and "Record/text is bad" in failed[0].failure_reason
