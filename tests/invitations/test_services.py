"""Invitation rules that need no peer: anti-spam, caps, forward-only status, accept, decline, retry."""

from __future__ import annotations

import pytest
from django.test import override_settings

from bluesky.atproto.syntax import is_valid_tid
from invitations import answers, limits, selectors, services, states
from invitations.models import Invitation, InvitationDecline
from tests.invitations.conftest import join, link_identity, make_community, make_member, profile, random_did, rsvp

S = Invitation.Status


def _enqueue(host, target, profiles, message=""):
    return services.invitations_enqueue(host=host, target=target, profiles=profiles, message_template=message)


@pytest.mark.django_db
def test_enqueue_fixes_rkey_and_token_and_queues_after_commit(host, event, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as callbacks:
        result = _enqueue(host, event, [profile("bob.test"), profile("carol.test")])
    assert len(result.created) == 2 and not result.skipped
    # One dispatch after commit, never before (the other callback renews the host's kept pages).
    assert [getattr(c, "__name__", "") for c in callbacks].count("after_commit") == 1
    rows = list(Invitation.objects.filter(batch=result.batch))
    assert all(is_valid_tid(r.rkey) for r in rows)
    assert len({r.rkey for r in rows}) == 2 and len({r.token for r in rows}) == 2
    # Written queued and due now: the dispatcher (beat, or the after-commit kick) publishes them.
    assert {r.status for r in rows} == {S.QUEUED} and all(r.due_at is not None for r in rows)
    claimed = services.invitations_claim_due()
    assert sorted(c.args[0] for c in claimed) == sorted(r.pk for r in rows)
    # Claimed rows are leased: the next round does not publish them again.
    assert services.invitations_claim_due() == []


@pytest.mark.django_db
def test_inviting_twice_is_refused_politely(host, event):
    bob = profile("bob.test")
    _enqueue(host, event, [bob])
    again = _enqueue(host, event, [bob, profile("carol.test")])
    assert again.skipped == {bob.did: "already_invited"}
    assert len(again.created) == 1
    assert Invitation.objects.filter(event=event, recipient_did=bob.did).count() == 1


@pytest.mark.django_db
@override_settings(INVITATIONS_DAILY_CAP_PER_HOST=3)
def test_daily_cap_per_host(host, event):
    people = [profile(f"p{i}.test") for i in range(5)]
    result = _enqueue(host, event, people)
    assert len(result.created) == 3
    assert [d for d, r in result.skipped.items() if r == "daily_cap"] == [p.did for p in people[3:]]
    later = _enqueue(host, event, [profile("late.test")])
    assert later.created == [] and list(later.skipped.values()) == ["daily_cap"]
    assert limits.invitation_daily_remaining(host=host) == 0


@pytest.mark.django_db
def test_declined_and_members_are_never_invited(host, event):
    declined = profile("no.test")
    InvitationDecline.objects.create(host=host, recipient_did=declined.did)
    attendee = make_member("dave")
    attendee_did = random_did()
    link_identity(member=attendee, did=attendee_did, handle="dave.test")
    rsvp(member=attendee, event=event)
    result = _enqueue(host, event, [declined, profile("dave.test", did=attendee_did), profile("ok.test")])
    assert result.skipped == {declined.did: "declined", attendee_did: "already_member"}
    assert [i.recipient_handle for i in result.created] == ["ok.test"]


@pytest.mark.django_db
def test_community_members_are_not_invited(host):
    community = make_community(host=host)
    member = make_member("erin")
    did = random_did()
    link_identity(member=member, did=did, handle="erin.test")
    join(member=member, community=community)
    result = _enqueue(host, community, [profile("erin.test", did=did)])
    assert result.skipped == {did: "already_member"}


@pytest.mark.django_db
def test_only_the_host_may_invite(host, event):
    other = make_member("mallory")
    with pytest.raises(services.InvitationError) as info:
        services.invitation_bulk_create(host=other, target=event, recipient_dids=[random_did()])
    assert info.value.code == "not_host"


@pytest.mark.django_db
def test_status_moves_forward_only(host, event):
    inv = _enqueue(host, event, [profile("bob.test")]).created[0]
    Invitation.objects.filter(pk=inv.pk).update(status=S.PENDING)
    assert not states.invitation_transition(invitation_id=inv.pk, to=S.SENT)  # pending cannot jump to sent
    assert states.invitation_transition(invitation_id=inv.pk, to=S.QUEUED)
    assert states.invitation_transition(invitation_id=inv.pk, to=S.SENDING)
    assert states.invitation_transition(invitation_id=inv.pk, to=S.SENT)
    for backwards in (S.PENDING, S.QUEUED, S.SENDING, S.FAILED):
        assert not states.invitation_transition(invitation_id=inv.pk, to=backwards)
    assert states.invitation_transition(invitation_id=inv.pk, to=S.ACCEPTED)
    assert not states.invitation_transition(invitation_id=inv.pk, to=S.SENT)
    inv.refresh_from_db()
    assert inv.status == S.ACCEPTED


@pytest.mark.django_db
def test_send_skips_finished_invitations_without_posting(host, event):
    inv = _enqueue(host, event, [profile("bob.test")]).created[0]
    Invitation.objects.filter(pk=inv.pk).update(status=S.SENT)

    class NeverCalled:
        def create_post_for_member(self, *args, **kwargs):  # the test fails if a post is attempted
            raise AssertionError("posted an invitation that was already sent")

    outcome = services.invitation_send(invitation_id=inv.pk, agent=NeverCalled())
    assert outcome.status == S.SENT and outcome.retry_in is None


@pytest.mark.django_db
def test_rsvp_marks_the_invitation_accepted(host, event, django_capture_on_commit_callbacks):
    bob = make_member("bob")
    did = random_did()
    inv = _enqueue(host, event, [profile("bob.test", did=did)]).created[0]
    Invitation.objects.filter(pk=inv.pk).update(status=S.SENT)
    link_identity(member=bob, did=did, handle="bob.test")
    with django_capture_on_commit_callbacks(execute=True):
        rsvp(member=bob, event=event)
    inv.refresh_from_db()
    assert inv.status == S.ACCEPTED and inv.accepted_by == bob


@pytest.mark.django_db
def test_connecting_bluesky_after_rsvp_accepts(host, event, django_capture_on_commit_callbacks):
    bob = make_member("bob")
    did = random_did()
    inv = _enqueue(host, event, [profile("bob.test", did=did)]).created[0]
    Invitation.objects.filter(pk=inv.pk).update(status=S.SENT)
    with django_capture_on_commit_callbacks(execute=True):
        rsvp(member=bob, event=event)
        link_identity(member=bob, did=did, handle="bob.test")
    inv.refresh_from_db()
    assert inv.status == S.ACCEPTED
    assert [i.pk for i in selectors.invitations_for_member(member=bob)] == [inv.pk]


@pytest.mark.django_db
def test_only_the_invitee_can_decline(host, event):
    did = random_did()
    inv = _enqueue(host, event, [profile("bob.test", did=did)]).created[0]
    Invitation.objects.filter(pk=inv.pk).update(status=S.SENT)
    stranger = make_member("stranger")
    with pytest.raises(services.InvitationError):
        answers.invitation_decline(member=stranger, token=inv.token)
    bob = make_member("bob")
    link_identity(member=bob, did=did, handle="bob.test")
    answers.invitation_decline(member=bob, token=inv.token)
    inv.refresh_from_db()
    assert inv.status == S.DECLINED
    assert _enqueue(host, make_community(host=host), [profile("bob.test", did=did)]).skipped == {did: "declined"}


@pytest.mark.django_db
def test_retry_failed_requeues_only_retryable(host, event, django_capture_on_commit_callbacks):
    created = _enqueue(host, event, [profile("a.test"), profile("b.test")]).created
    Invitation.objects.filter(pk=created[0].pk).update(status=S.FAILED, retryable=True, failure_reason="5xx")
    Invitation.objects.filter(pk=created[1].pk).update(status=S.FAILED, retryable=False, failure_reason="bad")
    with django_capture_on_commit_callbacks() as callbacks:
        moved = services.invitation_retry_failed(host=host, batch=created[0].batch)
    # One publishing kick (the other callback renews the batch's kept progress).
    assert moved == 1 and [getattr(c, "__name__", "") for c in callbacks].count("publish") == 1
    statuses = dict(Invitation.objects.filter(batch=created[0].batch).values_list("pk", "status"))
    assert statuses == {created[0].pk: S.QUEUED, created[1].pk: S.FAILED}
    progress = selectors.batch_progress(batch=created[0].batch)
    assert (progress["waiting"], progress["failed"]) == (1, 1)
    assert progress["failures"][0]["reason"] == "bad"


@pytest.mark.django_db
def test_joining_the_community_accepts_and_post_names_it(host, django_capture_on_commit_callbacks):
    community = make_community(host=host, name="Go players")
    did = random_did()
    inv = _enqueue(host, community, [profile("erin.test", did=did)]).created[0]
    post = services.invitation_compose(invitation=inv)
    assert post.text.startswith("@erin.test you're invited to join Go players.")
    assert post.text.endswith(f"{community.get_absolute_url()}?invitation={inv.token}")
    Invitation.objects.filter(pk=inv.pk).update(status=S.SENT)
    erin = make_member("erin")
    link_identity(member=erin, did=did, handle="erin.test")
    with django_capture_on_commit_callbacks(execute=True):
        join(member=erin, community=community)
    inv.refresh_from_db()
    assert inv.status == S.ACCEPTED and inv.accepted_by == erin


@pytest.mark.django_db
def test_not_going_does_not_accept(host, event, django_capture_on_commit_callbacks):
    did = random_did()
    inv = _enqueue(host, event, [profile("bob.test", did=did)]).created[0]
    Invitation.objects.filter(pk=inv.pk).update(status=S.SENT)
    bob = make_member("bob")
    link_identity(member=bob, did=did, handle="bob.test")
    with django_capture_on_commit_callbacks(execute=True):
        rsvp(member=bob, event=event, status="not_going")
    inv.refresh_from_db()
    assert inv.status == S.SENT


@pytest.mark.django_db
def test_bulk_insert_maps_a_concurrent_duplicate_to_integrity_error(host, event):
    from django.db import IntegrityError, transaction

    bob = profile("bob.test")
    batch = _enqueue(host, event, [bob]).batch
    # What a concurrent request that passed the "already invited" check would hit.
    with pytest.raises(IntegrityError), transaction.atomic():
        services._insert_invitations(batch=batch, host=host, profiles=[bob], event=event, community=None)


@pytest.mark.django_db
def test_rows_left_waiting_without_a_due_time_become_due_by_migration(host, event):
    """What the older versions left (queued with no due time, pending) is made due once, by the data
    migration; the dispatcher then publishes it like any other."""
    import importlib
    from datetime import timedelta

    from django.apps import apps
    from django.utils import timezone

    migration = importlib.import_module("invitations.migrations.0003_waiting_rows_due")
    created = _enqueue(host, event, [profile("a.test"), profile("b.test"), profile("c.test")]).created
    old = timezone.now() - timedelta(hours=2)
    Invitation.objects.filter(pk=created[0].pk).update(updated_at=old, due_at=None)
    Invitation.objects.filter(pk=created[1].pk).update(status=S.SENT, updated_at=old, due_at=None)  # done
    Invitation.objects.filter(pk=created[2].pk).update(status=S.PENDING, updated_at=old, due_at=None)
    migration.waiting_rows_due(apps, None)
    assert Invitation.objects.get(pk=created[0].pk).due_at is not None
    assert Invitation.objects.get(pk=created[1].pk).due_at is None
    third = Invitation.objects.get(pk=created[2].pk)
    assert third.status == S.QUEUED and third.due_at is not None
    assert sorted(c.args[0] for c in services.invitations_claim_due()) == [created[0].pk, created[2].pk]
