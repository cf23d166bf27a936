"""Invitation business logic: create (anti-spam checks), send (idempotent), accept, decline, retry.

Status moves forward only, enforced by conditional UPDATEs (`_transition`), so two workers holding
the same invitation cannot both move it, and a redelivered task finds it already done:

    pending -> queued -> sending -> sent -> accepted | declined
                                 -> failed -> queued (only by "Retry failed", when retryable)
"""

from __future__ import annotations

import logging
import random
import time
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import IntegrityError, connection, transaction
from django.db.models import F, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from bluesky.agents.base import BlueskyAgentInterface
from bluesky.agents.factory import BlueskyAgentFactory
from bluesky.graph import BlueskyGraphService, GraphProfile
from bluesky.records import BlobUpload
from bluesky.selectors import member_did_get
from elonara import metrics
from elonara.cards import link_card_for
from elonara.models import Community, Event
from invitations import targets
from invitations.composer import (
    DEFAULT_COMMUNITY_TEMPLATE,
    DEFAULT_TEMPLATE,
    ComposedPost,
    ComposeError,
    compose_invitation,
    tid_new,
)
from invitations.models import Invitation, InvitationBatch, InvitationDecline, _new_token
from invitations.pacing import PacingBusy, WriteBudget, pacing_enabled
from invitations.targets import Target
from members.models import Member

logger = logging.getLogger(__name__)
S = Invitation.Status

TRANSITIONS: dict[str, set[str]] = {
    S.PENDING: {S.QUEUED, S.FAILED},
    S.QUEUED: {S.SENDING, S.FAILED},
    S.SENDING: {S.SENDING, S.SENT, S.FAILED},
    S.SENT: {S.ACCEPTED, S.DECLINED},
    S.FAILED: {S.QUEUED, S.ACCEPTED},
    S.ACCEPTED: set(),
    S.DECLINED: set(),
}

MAX_TRANSIENT_ATTEMPTS = 6
MAX_RATE_LIMITED_ATTEMPTS = 20
BACKOFF_BASE_SECONDS = 2.0
BACKOFF_CAP_SECONDS = 300.0


class InvitationError(Exception):
    """A request about invitations that cannot be honoured; `code` is stable, the message safe to show."""

    def __init__(self, *, code: str, message: str, **fields: Any) -> None:
        self.code = code
        self.fields = fields
        super().__init__(message)


@dataclass
class BulkCreateResult:
    batch: InvitationBatch | None
    created_count: int = 0
    # DID -> reason code (not_connected, already_invited, declined, already_member, daily_cap).
    skipped: dict[str, str] = field(default_factory=dict)

    @property
    def created(self) -> list[Invitation]:
        return list(self.batch.invitations.order_by("pk")) if self.batch else []


@dataclass(frozen=True)
class SendOutcome:
    """What a send attempt decided. `retry_in` set: run again after that many seconds."""

    status: str
    retry_in: float | None = None
    slot_at: float | None = None


def _transition(*, invitation_id: int, to: str, **fields: Any) -> bool:
    """Move one invitation to `to` if its current status allows it; atomic, race-free."""
    allowed_from = [src for src, targets_ in TRANSITIONS.items() if to in targets_]
    updated = Invitation.objects.filter(pk=invitation_id, status__in=allowed_from).update(
        status=to, updated_at=timezone.now(), **fields
    )
    return updated == 1


def default_template_for(target: Target) -> str:
    return DEFAULT_TEMPLATE if targets.target_kind(target) == "event" else DEFAULT_COMMUNITY_TEMPLATE


def invitation_compose(*, invitation: Invitation, message_template: str | None = None) -> ComposedPost:
    """The exact post for this invitation (also what the preview shows)."""
    batch = invitation.batch
    template = message_template if message_template is not None else batch.message_template
    target = invitation.target
    card = link_card_for(target, with_image_bytes=False)
    return compose_invitation(
        template=template or default_template_for(target),
        recipient_handle=invitation.recipient_handle,
        recipient_did=invitation.recipient_did,
        name=targets.target_name(target),
        date=targets.target_date_text(target),
        url=targets.target_public_url(target, token=invitation.token),
        langs=[lang for lang in batch.langs.split(",") if lang] if batch.langs else [],
        card_title=card.title,
        card_description=card.description,
    )


def invitation_thumb(*, target: Target) -> BlobUpload | None:
    """The link card's image, if the event or community has one (read from storage)."""
    image = link_card_for(target, with_image_bytes=True).image
    return BlobUpload(data=image.data, mime_type=image.mime_type) if image is not None and image.data else None


def invitation_preview(*, host: Member, target: Target, message_template: str, recipient_did: str,
                       recipient_handle: str) -> ComposedPost:
    """The post as it will be sent to this recipient (the token shown is a placeholder)."""
    card = link_card_for(target, with_image_bytes=False)
    return compose_invitation(
        template=message_template or default_template_for(target),
        recipient_handle=recipient_handle,
        recipient_did=recipient_did,
        name=targets.target_name(target),
        date=targets.target_date_text(target),
        url=targets.target_public_url(target, token="PREVIEW"),
        langs=["en"],
        card_title=card.title,
        card_description=card.description,
    )


def invitation_daily_remaining(*, host: Member) -> int:
    since = timezone.now() - timedelta(days=1)
    used = Invitation.objects.filter(host=host, created_at__gte=since).count()
    return max(settings.INVITATIONS_DAILY_CAP_PER_HOST - used, 0)


def invitation_bulk_create(
    *,
    host: Member,
    target: Target,
    recipient_dids: list[str],
    message_template: str = "",
    graph_service: BlueskyGraphService | None = None,
) -> BulkCreateResult:
    """Invite accounts connected to the host. The client's list is only a wish: each DID is checked
    against the host's real followers/follows (App View, through their PDS), the daily cap,
    declines, existing invitations and existing members/attendees, before anything is written."""
    if not targets.target_is_hosted_by(target, member=host):
        raise InvitationError(code="not_host", message="Only the host can invite people here.")
    wanted = list(dict.fromkeys(d for d in recipient_dids if isinstance(d, str) and d.startswith("did:")))
    if not wanted:
        raise InvitationError(code="no_recipients", message="Pick at least one person to invite.")
    try:
        compose_invitation(
            template=message_template or default_template_for(target), recipient_handle="handle.invalid",
            recipient_did="did:plc:aaaaaaaaaaaaaaaaaaaaaaaa", name="", date="",
            url=targets.target_public_url(target, token="x" * 16),
        )
    except ComposeError as exc:
        raise InvitationError(code="message_too_long", message="This message cannot fit in a post.") from exc

    graph_service = graph_service or BlueskyGraphService()
    connected = graph_service.find_connected(member=host, dids=set(wanted))
    result = BulkCreateResult(batch=None)
    for did in wanted:
        if did not in connected:
            result.skipped[did] = "not_connected"
    return invitations_enqueue(
        host=host, target=target, profiles=[connected[d] for d in wanted if d in connected],
        message_template=message_template, result=result,
    )


def invitations_enqueue(
    *, host: Member, target: Target, profiles: list[GraphProfile], message_template: str,
    result: BulkCreateResult | None = None
) -> BulkCreateResult:
    """Write the invitations for already-verified profiles and queue their sending after commit.

    `profiles` must come from the host's graph (see `invitation_bulk_create`); this is the part the
    benchmark measures for 10,000 recipients.
    """
    result = result or BulkCreateResult(batch=None)
    dids = [p.did for p in profiles]
    already = set(
        Invitation.objects.filter(**targets.target_filter(target), recipient_did__in=dids)
        .values_list("recipient_did", flat=True)
    )
    declined = set(
        InvitationDecline.objects.filter(host=host, recipient_did__in=dids).values_list("recipient_did", flat=True)
    )
    members = targets.target_member_dids(target, dids=dids)
    fresh = []
    for profile in profiles:
        reason = (
            "already_invited" if profile.did in already
            else "declined" if profile.did in declined
            else "already_member" if profile.did in members
            else None
        )
        if reason:
            result.skipped[profile.did] = reason
        else:
            fresh.append(profile)

    with transaction.atomic():
        # Lock the host row so two concurrent "Send" clicks cannot both pass the daily cap.
        get_user_model().objects.select_for_update().filter(pk=host.pk).first()
        remaining = invitation_daily_remaining(host=host)
        for profile in fresh[remaining:]:
            result.skipped[profile.did] = "daily_cap"
        fresh = fresh[:remaining]
        if not fresh:
            return result
        fields = targets.target_fields(target)
        batch = InvitationBatch.objects.create(
            host=host, message_template=message_template or "", langs="en", **fields
        )
        try:
            with transaction.atomic():
                _insert_invitations(batch=batch, host=host, profiles=fresh, **fields)
        except IntegrityError as exc:
            # A concurrent request invited one of them first: refuse politely, write nothing.
            raise InvitationError(code="already_invited", message="Some of these people were just invited.") from exc
        result.batch = batch
        result.created_count = len(fresh)
        queued = len(fresh)

        def after_commit() -> None:
            _dispatch_after_commit(batch.pk)
            metrics.invitation_queued(queued)

        transaction.on_commit(after_commit)
    return result


_INSERT_COLUMNS = (
    "batch_id", "host_id", "event_id", "community_id", "recipient_did", "recipient_handle",
    "recipient_display_name", "recipient_avatar_url", "status", "token", "rkey", "attempts", "failure_reason",
    "failure_code", "retryable", "post_uri", "post_cid", "created_at", "updated_at",
)


def _insert_invitations(*, batch: InvitationBatch, host: Member, profiles: list[GraphProfile], event: Event | None,
                        community: Community | None) -> None:
    """The insert path for large batches: the ORM's per-field preparation of 10,000 model instances
    costs more than the database does (PostgreSQL: COPY; others: executemany with parameters)."""
    now = timezone.now()
    now_us = time.time_ns() // 1000
    event_id = event.pk if event is not None else None
    community_id = community.pk if community is not None else None
    params = [
        (
            batch.pk, host.pk, event_id, community_id, p.did, p.handle[:253], (p.display_name or "")[:640],
            (p.avatar_url or "")[:2048], S.PENDING, _new_token(), tid_new(now_us=now_us + i), 0, "", "", False, "",
            "", now, now,
        )
        for i, p in enumerate(profiles)
    ]
    table = connection.ops.quote_name(Invitation._meta.db_table)
    columns = ", ".join(connection.ops.quote_name(c) for c in _INSERT_COLUMNS)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # COPY: values travel as data, never as SQL text. The raw cursor's errors are mapped to
            # Django's (IntegrityError on a concurrent duplicate) like any ORM call's.
            with connection.wrap_database_errors, cursor.cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
                for values in params:
                    copy.write_row(values)
        else:
            row = "(" + ", ".join(["%s"] * len(_INSERT_COLUMNS)) + ")"
            cursor.executemany(f"INSERT INTO {table} ({columns}) VALUES {row}", params)  # noqa: S608


def _dispatch_after_commit(batch_id: int) -> None:
    from invitations.tasks import dispatch_batch

    dispatch_batch.delay(batch_id)


def invitation_batch_dispatch(*, batch_id: int) -> list[int]:
    """pending -> queued for the batch; returns the ids to publish one send task each."""
    ids = list(Invitation.objects.filter(batch_id=batch_id, status=S.PENDING).values_list("pk", flat=True))
    Invitation.objects.filter(pk__in=ids, status=S.PENDING).update(status=S.QUEUED, updated_at=timezone.now())
    # Redelivered dispatch: also republish those still queued (sending is idempotent).
    return list(Invitation.objects.filter(batch_id=batch_id, status=S.QUEUED).values_list("pk", flat=True))


def _budget_account(host: Member, agent: BlueskyAgentInterface) -> str:
    """The write budget this post spends: the agent's posting account (stable across attempts)."""
    account = agent.posting_account(host)
    # No account: the post attempt will report it; the host's own key keeps it out of others' budgets.
    return account.key if account is not None else f"member:{host.pk}"


def _backoff(attempt: int) -> float:
    base = min(BACKOFF_CAP_SECONDS, BACKOFF_BASE_SECONDS * (2 ** max(attempt - 1, 0)))
    return base * random.uniform(0.5, 1.5)


def _fail(invitation: Invitation, *, code: str, reason: str, retryable: bool) -> SendOutcome:
    if _transition(invitation_id=invitation.pk, to=S.FAILED, failure_code=code[:40], failure_reason=reason[:300],
                   retryable=retryable):
        metrics.invitation_failed(code)
    logger.info("invitation failed", extra={"invitation": invitation.pk, "code": code})
    return SendOutcome(status=S.FAILED)


def invitation_send(*, invitation_id: int, slot_at: float | None = None,
                    agent: BlueskyAgentInterface | None = None) -> SendOutcome:
    """One attempt to post one invitation. Safe to run any number of times for the same id."""
    invitation = Invitation.objects.select_related("batch", "host", "event", "community").filter(
        pk=invitation_id
    ).first()
    if invitation is None or invitation.status not in (S.QUEUED, S.SENDING):
        return SendOutcome(status=invitation.status if invitation else "missing")
    host = invitation.host
    agent = agent or BlueskyAgentFactory.make()

    if pacing_enabled() and slot_at is None:
        try:
            slot = WriteBudget(account=_budget_account(host, agent)).reserve()
        except PacingBusy:
            return SendOutcome(status=invitation.status, retry_in=random.uniform(0.2, 1.0))
        wait = slot - time.time()
        if wait > 0.05:
            return SendOutcome(status=invitation.status, retry_in=wait, slot_at=slot)

    # Claim in one statement: queued -> sending (or sending -> sending on redelivery), count the
    # attempt, and freeze createdAt the first time so every attempt writes the identical record.
    if not _transition(invitation_id=invitation.pk, to=S.SENDING, attempts=F("attempts") + 1,
                       record_created_at=Coalesce("record_created_at", Value(timezone.now()))):
        return SendOutcome(status=Invitation.objects.get(pk=invitation.pk).status)
    invitation.refresh_from_db(fields=["status", "attempts", "record_created_at"])
    attempt = invitation.attempts

    try:
        post = invitation_compose(invitation=invitation)
    except ComposeError:
        return _fail(invitation, code="invalid_record", reason="The message does not fit in a post.", retryable=False)
    record = post.as_record(created_at=invitation.record_created_at)

    result = agent.create_post_for_member(host, record, rkey=invitation.rkey,
                                          thumb=invitation_thumb(target=invitation.target))

    if result.success:
        sent_at = timezone.now()
        if _transition(invitation_id=invitation.pk, to=S.SENT, post_uri=result.uri, post_cid=result.cid,
                       sent_at=sent_at, failure_code="", failure_reason="", retryable=False):
            metrics.invitation_sent()
            metrics.publish_lag((sent_at - invitation.created_at).total_seconds())
        return SendOutcome(status=S.SENT)

    code = result.reason or "error"
    if result.retryable:
        if code == "rate_limited":
            if attempt > MAX_RATE_LIMITED_ATTEMPTS:
                return _fail(invitation, code=code, reason=result.error, retryable=True)
            reset = result.retry_after.timestamp() if result.retry_after else time.time() + _backoff(attempt)
            if pacing_enabled():
                WriteBudget(account=_budget_account(host, agent)).push_back(until=reset)
            # Back into the queue for a fresh slot after the reset (a bit of jitter spreads them).
            return SendOutcome(status=S.SENDING, retry_in=max(reset - time.time(), 0) + random.uniform(0.5, 3.0))
        if attempt >= MAX_TRANSIENT_ATTEMPTS:
            return _fail(invitation, code=code, reason=result.error, retryable=True)
        delay = _backoff(attempt)
        if result.retry_after is not None:
            delay = max(delay, result.retry_after.timestamp() - time.time())
        Invitation.objects.filter(pk=invitation.pk).update(failure_code=code[:40], failure_reason=result.error[:300])
        return SendOutcome(status=S.SENDING, retry_in=delay)
    return _fail(invitation, code=code, reason=result.error or "Bluesky refused the post.", retryable=False)


def invitations_requeue_stale(*, older_than: timedelta = timedelta(minutes=30)) -> int:
    """Publish the send task again for invitations left waiting (a broker that lost its message).

    Safe at any time: a still-live message and the new one converge (conditional claim, fixed rkey).
    """
    cutoff = timezone.now() - older_than
    ids = list(
        Invitation.objects.filter(status__in=[S.QUEUED, S.SENDING], updated_at__lt=cutoff).values_list("pk", flat=True)
    )
    pending_batches = set(
        Invitation.objects.filter(status=S.PENDING, created_at__lt=cutoff).values_list("batch_id", flat=True)
    )

    def publish() -> None:
        from invitations.tasks import dispatch_batch, send_invitation

        for pk in ids:
            send_invitation.delay(pk)
        for batch_id in pending_batches:
            dispatch_batch.delay(batch_id)

    transaction.on_commit(publish)
    return len(ids) + len(pending_batches)


def invitation_fail_exhausted(*, invitation_id: int, reason: str) -> None:
    """Called when the task itself gives up (e.g. unexpected error repeated): never leave it in limbo."""
    if _transition(invitation_id=invitation_id, to=S.FAILED, failure_code="gave_up", failure_reason=reason[:300],
                   retryable=True):
        metrics.invitation_failed("gave_up")


def invitation_retry_failed(*, host: Member, batch: InvitationBatch) -> int:
    """Re-queue this batch's retryable failures ("Retry failed" on the progress page)."""
    if batch.host_id != host.pk:
        raise InvitationError(code="not_host", message="Only the host can retry these invitations.")
    ids = list(batch.invitations.filter(status=S.FAILED, retryable=True).values_list("pk", flat=True))
    if not ids:
        return 0
    with transaction.atomic():
        moved = Invitation.objects.filter(pk__in=ids, status=S.FAILED).update(
            status=S.QUEUED, attempts=0, failure_code="", failure_reason="", retryable=False,
            updated_at=timezone.now(),
        )

        def publish() -> None:
            from invitations.tasks import send_invitation

            for pk in ids:
                send_invitation.delay(pk)
            metrics.invitation_queued(moved)

        transaction.on_commit(publish)
    return moved


def invitation_accept_for_member(*, member: Member, target: Target) -> int:
    """The member RSVPed or joined: their invitations to this target (by their Bluesky DID) are accepted."""
    did = member_did_get(member=member)
    if not did:
        return 0
    return Invitation.objects.filter(
        **targets.target_filter(target), recipient_did=did, status__in=[S.SENT, S.FAILED]
    ).update(status=S.ACCEPTED, accepted_at=timezone.now(), accepted_by=member, updated_at=timezone.now())


def invitations_accept_existing(*, member: Member) -> int:
    """After connecting Bluesky: accept invitations to targets the member already RSVPed/joined."""
    did = member_did_get(member=member)
    if not did:
        return 0
    accepted = 0
    for invitation in Invitation.objects.filter(recipient_did=did, status__in=[S.SENT, S.FAILED]).select_related(
        "event", "community"
    ):
        if targets.member_is_in(invitation.target, member=member):
            accepted += invitation_accept_for_member(member=member, target=invitation.target)
    return accepted


def invitation_decline(*, member: Member, token: str) -> Invitation:
    """The invitee declines: this invitation is declined and their DID is never invited by this host again.

    Only the invitee can decline (their connected Bluesky DID must be the recipient's): the link is in
    a public post, so holding the token proves nothing.
    """
    invitation = Invitation.objects.filter(token=token).first()
    if invitation is None:
        raise InvitationError(code="not_found", message="This invitation does not exist.")
    if member_did_get(member=member) != invitation.recipient_did:
        raise InvitationError(code="not_recipient", message="Only the invited person can decline this invitation.")
    with transaction.atomic():
        _transition(invitation_id=invitation.pk, to=S.DECLINED)
        InvitationDecline.objects.get_or_create(host=invitation.host, recipient_did=invitation.recipient_did)
    invitation.refresh_from_db()
    return invitation
