"""The one write pipeline without a network: the after-failure policy, the pacing wait, and record
writes kept as due times in the database (run once per message, whatever the broker delivers)."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest
from django.core.cache import cache
from django.test import override_settings
from django.utils import timezone

from bluesky import pipeline
from bluesky.agents.factory import BlueskyAgentFactory
from bluesky.agents.results import BlueskyResult
from bluesky.budget import WriteBudget, budget_cache
from bluesky.errors import Reason
from bluesky.models import RecordWrite
from elonara.models import Event, PublishState
from tests.elonara.test_publishing import make_event
from tests.invitations.conftest import link_identity, make_member, random_did

LOCMEM = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "pipeline-tests"}}


@pytest.fixture(autouse=True)
def _cache(settings):
    if not settings.FIELD_ENCRYPTION_KEYS:
        settings.FIELD_ENCRYPTION_KEYS = ["aW52aXRhdGlvbnMtdGVzdHMtb25seS1rZXktMDEyMzQ="]
    settings.INVITATIONS_PACING_ENABLED = True
    settings.INVITATIONS_DISPATCH_HORIZON_SECONDS = 5
    with override_settings(CACHES=LOCMEM):
        cache.clear()
        yield
        cache.clear()


def _failure(reason: str, *, retryable: bool, retry_after: datetime | None = None) -> BlueskyResult:
    return BlueskyResult.failure(reason=reason, error="words", retryable=retryable, retry_after=retry_after)


def test_after_failure_backs_off_then_gives_up_retryable():
    wait = pipeline.after_failure(_failure(Reason.SERVER_ERROR, retryable=True), attempt=1, account_key="a")
    assert wait.kind == "wait" and 0.9 <= wait.retry_in <= 3.1 and wait.reason == Reason.SERVER_ERROR
    later = pipeline.after_failure(_failure(Reason.TRANSPORT, retryable=True), attempt=5, account_key="a")
    assert later.kind == "wait" and 15 <= later.retry_in <= 49
    final = pipeline.after_failure(_failure(Reason.TRANSPORT, retryable=True),
                                   attempt=pipeline.MAX_TRANSIENT_ATTEMPTS, account_key="a")
    assert (final.kind, final.retryable, final.reason) == ("failed", True, Reason.TRANSPORT)


def test_after_failure_waits_for_a_429_reset_and_pushes_the_budget_back():
    reset = datetime.now(UTC) + timedelta(minutes=30)
    wait = pipeline.after_failure(_failure(Reason.RATE_LIMITED, retryable=True, retry_after=reset), attempt=3,
                                  account_key="member:1")
    assert wait.kind == "wait" and reset.timestamp() + 0.4 <= wait.until <= reset.timestamp() + 3.1
    # Nobody writes for that account before the reset: the next slot is after it.
    assert WriteBudget(account="member:1").reserve() >= reset.timestamp() - 0.01
    over = pipeline.after_failure(_failure(Reason.RATE_LIMITED, retryable=True, retry_after=reset),
                                  attempt=pipeline.MAX_RATE_LIMITED_ATTEMPTS + 1, account_key="member:1")
    assert over.kind == "failed" and over.retryable


@pytest.mark.parametrize("reason", [Reason.NEEDS_REAUTHORIZATION, Reason.INVALID_RECORD, Reason.SCOPE_MISSING])
def test_a_rejected_token_or_a_permanent_refusal_stops_at_once(reason):
    # (A rejected token arrives after the session renewed once and was refused again.)
    outcome = pipeline.after_failure(_failure(reason, retryable=reason == Reason.NEEDS_REAUTHORIZATION),
                                     attempt=1, account_key="a")
    assert (outcome.kind, outcome.retryable, outcome.reason) == ("failed", False, reason)


def test_pace_reserves_once_and_honours_a_reserved_slot():
    assert pipeline.pace(account_key="a", slot_at=None) is None  # the first slot is now
    wait = pipeline.pace(account_key="a", slot_at=None)
    assert wait is not None and wait.kind == "wait" and wait.slot_at == wait.until > time.time()
    # The same write again (a redelivered message): its slot, never a second one.
    again = pipeline.pace(account_key="a", slot_at=wait.slot_at)
    assert again.until == wait.slot_at
    # A slot found in the past right after a write (a message redelivered late) is not spent at
    # once: it is re-paced to a fresh slot a whole gap after that write.
    late = pipeline.pace(account_key="a", slot_at=time.time() - 1)
    assert late is not None and late.kind == "wait" and late.slot_at > time.time()


@pytest.mark.django_db
def test_a_wait_beyond_the_horizon_is_a_due_time_not_a_message(django_capture_on_commit_callbacks):
    host = make_member("host")
    link_identity(member=host, did=random_did(), handle="host.test")
    _, account = BlueskyAgentFactory.make_for_records(host)
    far = time.time() + 3600
    budget_cache().set(WriteBudget(account=account.key)._tat_key, far, 3600)
    with django_capture_on_commit_callbacks(execute=False) as queued:
        event = make_event(host)
    job = RecordWrite.objects.get(kind="event", object_id=event.pk)
    [token] = [job.token]
    assert token and len(queued) >= 1

    with django_capture_on_commit_callbacks(execute=False) as published:
        assert pipeline.record_write_run(token=token) == PublishState.PENDING
    job.refresh_from_db()
    # Waiting an hour for its slot: kept in the database with its slot, no message published.
    assert published == [] and job.token == "" and not job.running
    assert abs(job.due_at.timestamp() - far) < 1 and abs(job.slot_at.timestamp() - far) < 1
    assert Event.objects.get(pk=event.pk).publish_attempts == 0  # a wait is not an attempt
    # A second delivery of the same message does nothing.
    assert pipeline.record_write_run(token=token) == "duplicate"

    # The dispatcher leaves it alone until it is due within the horizon, then publishes it once.
    assert pipeline.record_writes_claim_due() == []
    RecordWrite.objects.filter(pk=job.pk).update(due_at=timezone.now() + timedelta(seconds=3))
    [claimed] = pipeline.record_writes_claim_due()
    assert claimed.task == pipeline.RUN_TASK and 0 < claimed.countdown <= 3
    assert pipeline.record_writes_claim_due() == []  # leased
    # Early (the countdown cut short): it waits for its reserved slot again, without reserving another.
    assert pipeline.record_write_run(token=claimed.args[0]) == PublishState.PENDING
    job.refresh_from_db()
    assert abs(job.slot_at.timestamp() - far) < 1 and pipeline.record_write_run(token=claimed.args[0]) == "duplicate"


@pytest.mark.django_db
def test_an_edit_while_waiting_keeps_one_row_and_its_slot():
    host = make_member("host")
    link_identity(member=host, did=random_did(), handle="host.test")
    _, account = BlueskyAgentFactory.make_for_records(host)
    budget_cache().set(WriteBudget(account=account.key)._tat_key, time.time() + 600, 3600)
    event = make_event(host)
    job = RecordWrite.objects.get(kind="event", object_id=event.pk)
    pipeline.record_write_run(token=job.token)
    slot = RecordWrite.objects.get(pk=job.pk).slot_at
    from elonara import services

    services.event_update(event=Event.objects.get(pk=event.pk), editor=host, title="Renamed")
    [row] = RecordWrite.objects.filter(kind="event", object_id=event.pk)
    assert row.slot_at == slot and row.token and row.version == 1
    assert pipeline.record_write_run(token=row.token) == PublishState.PENDING  # still waiting for that slot
    assert RecordWrite.objects.get(pk=row.pk).slot_at == slot


@pytest.mark.django_db
def test_a_final_failure_is_the_rows_state_and_the_job_goes():
    host = make_member("host")
    # The grant lacks the calendar collections: refused before any request.
    link_identity(member=host, did=random_did(), handle="host.test")
    event = make_event(host)
    job = RecordWrite.objects.get(kind="event", object_id=event.pk)
    assert pipeline.record_write_run(token=job.token) == PublishState.FAILED
    assert Event.objects.get(pk=event.pk).publish_state == PublishState.FAILED
    assert not RecordWrite.objects.filter(pk=job.pk).exists()


@pytest.mark.django_db
def test_the_oauth_service_answers_for_a_members_identity():
    from bluesky.services import BlueskyOAuthService

    member, other = make_member("ann"), make_member("bo")
    link_identity(member=member, did=random_did(), handle="ann.test")
    assert BlueskyOAuthService.is_connected(member=member) and not BlueskyOAuthService.is_connected(member=other)
    assert BlueskyOAuthService.get_identity_for_member(member=member).handle == "ann.test"
    assert BlueskyOAuthService.get_identity_for_member(member=other) is None
    assert not BlueskyOAuthService.disconnect(member=other)  # nothing to disconnect


@pytest.mark.django_db
def test_a_dispatch_round_publishes_one_batch_of_writes_due_now(settings):
    # Issue 34: a first round publishing every write due now (200 invitations took 14.6 s to
    # drain) made the paced messages queued behind them late. A round stops after one batch of
    # writes due now; the next beat continues.
    from bluesky.tasks import dispatch_due

    settings.INVITATIONS_DISPATCH_BATCH = 10
    host = make_member("host")
    now = timezone.now()
    RecordWrite.objects.bulk_create([RecordWrite(kind="delete", member=host, collection="c", rkey=f"r{i}",
                                                 due_at=now, token="") for i in range(35)])
    assert dispatch_due() == 10
    assert dispatch_due() == 10
    assert RecordWrite.objects.filter(due_at__lte=timezone.now()).count() == 15
