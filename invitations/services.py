"""Invitation business logic: create (anti-spam checks), send (idempotent), accept, decline, retry.

Status moves forward only, enforced by conditional UPDATEs (`_transition`), so two workers holding
the same invitation cannot both move it, and a redelivered task finds it already done:

    pending -> queued -> sending -> sent -> accepted | declined
                                 -> failed -> queued (only by "Retry failed", when retryable)
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import IntegrityError, connection, transaction
from django.db.models import F, Value
from django.db.models.functions import Coalesce
from django.utils import timezone, translation
from django.utils.translation import gettext

from bluesky import pipeline
from bluesky.agents.base import BlueskyAgentInterface, PostingAccount
from bluesky.agents.factory import BlueskyAgentFactory
from bluesky.agents.results import BlueskyResult
from bluesky.errors import Reason
from bluesky.graph import BlueskyGraphService, GraphError, GraphProfile
from bluesky.models import MemberAppPassword
from bluesky.pipeline import Claimed, Outcome
from bluesky.records import BlobUpload, tid_now
from bluesky.services import BlueskyOAuthService
from core import metrics
from core.i18n import language_tag, member_language, supported_language
from core.page_cache import rows_inserted
from elonara.cards import LinkCard, link_card_for
from elonara.models import Community, Event
from invitations import targets
from invitations.composer import (
    DEFAULT_COMMUNITY_TEMPLATE,
    DEFAULT_TEMPLATE,
    RELAY_COMMUNITY_TEMPLATE,
    RELAY_TEMPLATE,
    ComposedPost,
    ComposeError,
    compose_invitation,
)
from invitations.errors import InvitationError
from invitations.limits import invitation_daily_remaining, opted_out_dids, recipients_week_counts
from invitations.models import Invitation, InvitationBatch, InvitationDecline, InvitationOptOut, _new_token
from invitations.states import invitation_transition
from invitations.targets import Target
from members.models import Member

logger = logging.getLogger(__name__)
S = Invitation.Status


@dataclass
class BulkCreateResult:
    batch: InvitationBatch | None
    created_count: int = 0
    # DID -> reason code (not_connected, not_mutual, already_invited, declined, opted_out,
    # already_member, recipient_weekly_cap, daily_cap, blocked_by, blocking).
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
    # Waiting longer than the dispatch horizon: the due time is stored, the dispatcher publishes it.
    scheduled: bool = False


def default_template_for(target: Target) -> str:
    """The default message, in the active language (the post's, where a post is composed)."""
    wording = DEFAULT_TEMPLATE if targets.target_kind(target) == "event" else DEFAULT_COMMUNITY_TEMPLATE
    return gettext(wording)


def relay_template_for(target: Target) -> str:
    """Elonara's own wording for posts from the relay account: names the host ({host}, filled in by
    the composer as a mention, see `host_mention`) and the target. Never the host's free text: the
    relay speaks for every host at once."""
    wording = RELAY_TEMPLATE if targets.target_kind(target) == "event" else RELAY_COMMUNITY_TEMPLATE
    return gettext(wording)


def host_mention(*, host: Member) -> tuple[str, str]:
    """(handle, DID) naming the host in a post: their connected identity, else their app
    password's account. Without a DID the first is plain text (`host_label`) and the DID is ""."""
    identity = BlueskyOAuthService.get_identity_for_member(member=host)
    row = (identity.handle, identity.did) if identity is not None else None
    if not row or not row[0]:
        row = MemberAppPassword.objects.filter(member=host).values_list("handle", "did").first()
    if row and row[0] and row[1]:
        return row[0], row[1]
    return host_label(host=host), ""


def host_label(*, host: Member) -> str:
    """The host as the relay names them: "@handle" when connected, else their Elonara username."""
    identity = BlueskyOAuthService.get_identity_for_member(member=host)
    if identity is not None and identity.handle:
        return "@" + identity.handle
    handle = MemberAppPassword.objects.filter(member=host).values_list("handle", flat=True).first()
    # Placeholders in a username would be filled in: strip the braces.
    return "@" + handle if handle else host.username.replace("{", "").replace("}", "")


def _template_for(*, invitation_host: Member, target: Target, message_template: str, posting_kind: str) -> str:
    # str(): the wordings may be marked for translation; they are read in the active language.
    if posting_kind == "relay":
        return str(relay_template_for(target))
    return message_template or str(default_template_for(target))


def invitation_language(*, host: Member, language: str = "") -> str:
    """The language of an invitation's post: the host's choice in the picker, else their own."""
    return supported_language(language) or member_language(host)


def _batch_language(batch: InvitationBatch) -> str:
    # The batch keeps the post's `langs` as written (BCP-47); its first names the wording's language.
    first = batch.langs.split(",")[0] if batch.langs else ""
    return supported_language(first) or settings.LANGUAGE_CODE


def invitation_compose(*, invitation: Invitation, message_template: str | None = None,
                       posting_kind: str = "", card: LinkCard | None = None) -> ComposedPost:
    """The exact post for this invitation (also what the preview shows). From the relay account
    (`posting_kind` "relay") it is Elonara's wording, whatever the batch's message says.
    `card`: the target's link card when the caller already has it. Written in the batch's language
    (the default wording, the date), marked with it in `langs`."""
    batch = invitation.batch
    with translation.override(_batch_language(batch)):
        return _invitation_compose(invitation=invitation, batch=batch, message_template=message_template,
                                   posting_kind=posting_kind, card=card)


def _invitation_compose(*, invitation: Invitation, batch: InvitationBatch, message_template: str | None,
                        posting_kind: str, card: LinkCard | None) -> ComposedPost:
    template = message_template if message_template is not None else batch.message_template
    target = invitation.target
    card = card or link_card_for(target, with_image_bytes=False)
    host_named = host_mention(host=invitation.host)
    return compose_invitation(
        template=_template_for(invitation_host=invitation.host, target=target, message_template=template,
                               posting_kind=posting_kind),
        recipient_handle=invitation.recipient_handle,
        recipient_did=invitation.recipient_did,
        name=targets.target_name(target),
        date=targets.target_date_text(target),
        url=targets.target_public_url(target, token=invitation.token),
        langs=[lang for lang in batch.langs.split(",") if lang] if batch.langs else [],
        card_title=card.title,
        card_description=card.description,
        host_handle=host_named[0],
        host_did=host_named[1],
    )


def _thumb_of(card: LinkCard) -> BlobUpload | None:
    """The link card's image to upload, if the event or community has one."""
    image = card.image
    return BlobUpload(data=image.data, mime_type=image.mime_type) if image is not None and image.data else None


@dataclass(frozen=True)
class Preview:
    post: ComposedPost
    # Whose account posts it: kind "member" / "oauth" (the host's own) or "relay" (Elonara's), and
    # its handle; None when the host has no account to post with in the current writes mode.
    account: PostingAccount | None


def invitation_posting_account(*, host: Member, agent: BlueskyAgentInterface | None = None) -> PostingAccount | None:
    return (agent or BlueskyAgentFactory.make()).posting_account(host)


def invitation_preview(*, host: Member, target: Target, message_template: str, recipient_did: str,
                       recipient_handle: str, agent: BlueskyAgentInterface | None = None,
                       language: str = "") -> Preview:
    """The post exactly as it will be sent to this recipient, and from which account (the token in
    the link is a placeholder), in the language chosen (`invitation_language`)."""
    language = invitation_language(host=host, language=language)
    with translation.override(language):
        return _invitation_preview(host=host, target=target, message_template=message_template,
                                   recipient_did=recipient_did, recipient_handle=recipient_handle, agent=agent,
                                   langs=[language_tag(language)])


def _invitation_preview(*, host: Member, target: Target, message_template: str, recipient_did: str,
                        recipient_handle: str, agent: BlueskyAgentInterface | None, langs: list[str]) -> Preview:
    account = invitation_posting_account(host=host, agent=agent)
    card = link_card_for(target, with_image_bytes=False)
    host_named = host_mention(host=host)
    post = compose_invitation(
        template=_template_for(invitation_host=host, target=target, message_template=message_template,
                               posting_kind=account.kind if account else ""),
        recipient_handle=recipient_handle,
        recipient_did=recipient_did,
        name=targets.target_name(target),
        date=targets.target_date_text(target),
        url=targets.target_public_url(target, token="PREVIEW"),
        langs=langs,
        card_title=card.title,
        card_description=card.description,
        host_handle=host_named[0],
        host_did=host_named[1],
    )
    return Preview(post=post, account=account)


def _lock_recipients(dids: list[str]) -> None:
    """Serialise writers inviting the same people, so two hosts at once cannot both pass the
    per-recipient cap. PostgreSQL: transaction-scoped advisory locks, taken in one sorted order
    (no deadlock). SQLite: the IMMEDIATE transaction already holds the database's write lock."""
    if connection.vendor != "postgresql" or not dids:
        return
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_advisory_xact_lock(k) FROM (SELECT DISTINCT hashtextextended(d, 12) AS k "
            "FROM unnest(%s::text[]) AS d ORDER BY k) AS keys", [sorted(set(dids))])


def invitation_bulk_create(
    *,
    host: Member,
    target: Target,
    recipient_dids: list[str],
    message_template: str = "",
    graph_service: BlueskyGraphService | None = None,
    language: str = "",
) -> BulkCreateResult:
    """Invite accounts connected to the host. The client's list is only a wish: each DID is checked
    against the host's real followers/follows (App View, through their PDS), the daily cap,
    declines, existing invitations and existing members/attendees, before anything is written.
    `language`: the posts' (`invitation_language`), kept on the batch."""
    if not targets.target_is_hosted_by(target, member=host):
        raise InvitationError(code="not_host", message=gettext("Only the host can invite people here."))
    wanted = list(dict.fromkeys(d for d in recipient_dids if isinstance(d, str) and d.startswith("did:")))
    if not wanted:
        raise InvitationError(code="no_recipients", message=gettext("Pick at least one person to invite."))
    try:
        compose_invitation(
            template=message_template or default_template_for(target), recipient_handle="handle.invalid",
            recipient_did="did:plc:aaaaaaaaaaaaaaaaaaaaaaaa", name="", date="",
            url=targets.target_public_url(target, token="x" * 16),
        )
    except ComposeError as exc:
        raise InvitationError(code="message_too_long", message=gettext("This message cannot fit in a post.")) from exc

    result = BulkCreateResult(batch=None)
    # Opted out (from everyone, or from this host): skipped before even reading the graph.
    result.skipped.update(opted_out_dids(host=host, dids=wanted))
    wanted = [d for d in wanted if d not in result.skipped]
    graph_service = graph_service or BlueskyGraphService()
    invitable = graph_service.find_invitable(member=host, dids=set(wanted))
    result.skipped.update({did: invitable.refused[did] for did in wanted if did in invitable.refused})
    # Asked for everyone wanted, not only followers: the App View leaves blocked accounts out of
    # follower lists, and "blocks you" is the truer reason to give than "not connected".
    blocks = invitation_respect_refusals(host=host, dids=wanted, graph_service=graph_service)
    result.skipped.update(blocks)
    wanted = [d for d in wanted if d in invitable.profiles and d not in blocks]
    return invitations_enqueue(
        host=host, target=target, profiles=[invitable.profiles[d] for d in wanted if d in invitable.profiles],
        message_template=message_template, result=result, language=language,
    )


def invitation_respect_refusals(*, host: Member, dids: list[str],
                                graph_service: BlueskyGraphService | None = None,
                                strict: bool = True) -> dict[str, str]:
    """DID -> "blocked_by" (they block the host) or "blocking" (the host blocks them): people an
    invitation must never mention. The one check, made when invitations are queued and again just
    before each is posted (a block may come in between).

    It reads the App View's viewer state through the host's own session, since only the host's
    token makes the App View say who blocks them. `strict` (when queueing): a failed read refuses
    the request (GraphError); at send time a read that cannot be made (the host's session gone,
    the App View down) leaves the check made at queueing standing, and the post goes ahead."""
    if not dids:
        return {}
    graph_service = graph_service or BlueskyGraphService()
    try:
        states = graph_service.viewer_states(member=host, dids=dids)
    except GraphError as exc:
        if strict:
            raise
        logger.info("blocks not checked before sending", extra={"code": exc.code})
        return {}
    refused: dict[str, str] = {}
    for did, state in states.items():
        if state.blocked_by:
            refused[did] = "blocked_by"
        elif state.blocking:
            refused[did] = "blocking"
    return refused


def invitations_enqueue(
    *, host: Member, target: Target, profiles: list[GraphProfile], message_template: str,
    result: BulkCreateResult | None = None, language: str = ""
) -> BulkCreateResult:
    """Write the invitations for already-verified profiles and queue their sending after commit.

    `profiles` must come from the host's graph (see `invitation_bulk_create`); this is the part the
    benchmark measures for 10,000 recipients.
    """
    result = result or BulkCreateResult(batch=None)
    candidates = _enqueue_candidates(host=host, target=target, profiles=profiles, result=result)
    with transaction.atomic():
        # Lock the host row so two concurrent "Send" clicks cannot both pass the daily cap, and the
        # recipients so two hosts at once cannot both pass the weekly cap per recipient.
        get_user_model().objects.select_for_update().filter(pk=host.pk).first()
        _lock_recipients([p.did for p in candidates])
        fresh = _within_caps(host=host, candidates=candidates, result=result)
        if not fresh:
            return result
        result.batch = _batch_write(host=host, target=target, profiles=fresh, message_template=message_template,
                                    language=invitation_language(host=host, language=language))
        result.created_count = len(fresh)
        queued = len(fresh)
        # Written by COPY: the host's picker (how many they may still send today) and the batch's
        # progress are renewed as for a bulk_create of them.
        rows_inserted(Invitation, [Invitation(host=host, batch=result.batch)])

        def after_commit() -> None:
            _dispatch_due_soon()
            metrics.invitation_queued(queued)

        transaction.on_commit(after_commit)
    return result


def _enqueue_candidates(*, host: Member, target: Target, profiles: list[GraphProfile],
                        result: BulkCreateResult) -> list[GraphProfile]:
    """The profiles not already invited to the target, not opted out and not already members
    (the others land in `result.skipped` with their reason); read before any lock is taken."""
    dids = [p.did for p in profiles]
    already = set(
        Invitation.objects.filter(**targets.target_filter(target), recipient_did__in=dids)
        .values_list("recipient_did", flat=True)
    )
    opted_out = opted_out_dids(host=host, dids=dids)
    members = targets.target_member_dids(target, dids=dids)
    candidates = []
    for profile in profiles:
        reason = (
            "already_invited" if profile.did in already
            else opted_out.get(profile.did)
            or ("already_member" if profile.did in members else None)
        )
        if reason:
            result.skipped[profile.did] = reason
        else:
            candidates.append(profile)
    return candidates


def _within_caps(*, host: Member, candidates: list[GraphProfile], result: BulkCreateResult) -> list[GraphProfile]:
    """The candidates under the weekly cap per recipient and the host's daily cap (the rest go to
    `result.skipped`); called under the host's and the recipients' locks."""
    week = recipients_week_counts(dids=[p.did for p in candidates])
    fresh = []
    for profile in candidates:
        if week.get(profile.did, 0) >= settings.INVITATIONS_WEEKLY_CAP_PER_RECIPIENT:
            result.skipped[profile.did] = "recipient_weekly_cap"
        else:
            fresh.append(profile)
    remaining = invitation_daily_remaining(host=host)
    for profile in fresh[remaining:]:
        result.skipped[profile.did] = "daily_cap"
    return fresh[:remaining]


def _batch_write(*, host: Member, target: Target, profiles: list[GraphProfile],
                 message_template: str, language: str) -> InvitationBatch:
    fields = targets.target_fields(target)
    batch = InvitationBatch.objects.create(
        host=host, message_template=message_template or "", langs=language_tag(language), **fields
    )
    try:
        with transaction.atomic():
            _insert_invitations(batch=batch, host=host, profiles=profiles, **fields)
    except IntegrityError as exc:
        # A concurrent request invited one of them first: refuse politely, write nothing.
        raise InvitationError(code="already_invited",
                              message=gettext("Some of these people were just invited.")) from exc
    return batch


_INSERT_COLUMNS = (
    "batch_id", "host_id", "event_id", "community_id", "recipient_did", "recipient_handle",
    "recipient_display_name", "recipient_avatar_url", "status", "token", "rkey", "attempts", "failure_reason",
    "failure_code", "retryable", "post_uri", "post_cid", "created_at", "updated_at", "posted_by", "due_at",
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
            (p.avatar_url or "")[:2048], S.QUEUED, _new_token(), tid_now(now_us=now_us + i), 0, "", "", False, "",
            "", now, now, "", now,
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


def _dispatch_due_soon() -> None:
    """Ask for a dispatch round now instead of at the next beat (new invitations start at once)."""
    pipeline.dispatch_soon()


SEND_TASK = "invitations.send_invitation"


def invitations_claim_due(*, limit: int | None = None, horizon: float | None = None) -> list[Claimed]:
    """Claim up to `limit` invitations due within `horizon` seconds: each is leased (its due time
    moves the pipeline's lease ahead, so the next round skips it) and returned with the countdown
    to its due time. Rows another dispatcher holds are skipped (PostgreSQL SKIP LOCKED; SQLite's
    IMMEDIATE transaction serialises dispatchers). A duplicate message is harmless (conditional
    claim, fixed rkey)."""
    limit = limit or settings.INVITATIONS_DISPATCH_BATCH
    horizon = pipeline.dispatch_horizon() if horizon is None else horizon
    now = timezone.now()
    with transaction.atomic():
        rows = list(
            Invitation.objects.select_for_update(skip_locked=True)
            .filter(status__in=[S.QUEUED, S.SENDING], due_at__lte=now + timedelta(seconds=horizon))
            .order_by("due_at").values_list("pk", "due_at", "slot_at")[:limit]
        )
        if not rows:
            return []
        Invitation.objects.filter(pk__in=[r[0] for r in rows]).update(due_at=now + pipeline.claim_lease())
    return [Claimed(task=SEND_TASK, args=[pk], kwargs={"slot_at": slot.timestamp() if slot else None},
                    countdown=max((due - now).total_seconds(), 0.0) if due else 0.0) for pk, due, slot in rows]


def _schedule(invitation_id: int, *, delay: float, slot_at: float | None = None) -> None:
    """The next attempt, `delay` seconds from now, kept in the database (the dispatcher publishes it
    when it falls within the horizon). `slot_at`: the budget slot already reserved for it."""
    now = timezone.now()
    Invitation.objects.filter(pk=invitation_id, status__in=[S.QUEUED, S.SENDING]).update(
        due_at=now + timedelta(seconds=max(delay, 0.0)),
        slot_at=datetime.fromtimestamp(slot_at, tz=UTC) if slot_at is not None else None,
        updated_at=now)


def _budget_account(host: Member, account: PostingAccount | None) -> str:
    """The write budget this post spends: the agent's posting account (stable across attempts)."""
    # No account: the post attempt will report it; the host's own key keeps it out of others' budgets.
    return account.key if account is not None else f"member:{host.pk}"


def _later(invitation_id: int, *, status: str, wait: Outcome) -> SendOutcome:
    """Not now: keep the next attempt's time in the database. A wait within the dispatch horizon is
    returned as `retry_in` (the task publishes it with that countdown, shorter than the broker's
    visibility timeout); a longer one is left to the dispatcher."""
    delay = wait.retry_in or 0.0
    _schedule(invitation_id, delay=delay, slot_at=wait.slot_at)
    if delay <= pipeline.dispatch_horizon():
        # Leased like a claim, so the dispatcher does not publish it a second time meanwhile.
        Invitation.objects.filter(pk=invitation_id).update(due_at=timezone.now() + pipeline.claim_lease())
        return SendOutcome(status=status, retry_in=delay, slot_at=wait.slot_at)
    return SendOutcome(status=status, retry_in=None, slot_at=wait.slot_at, scheduled=True)


def _fail(invitation: Invitation, *, code: str, reason: str, retryable: bool) -> SendOutcome:
    # A failure is final until someone presses "Retry failed": say so, never "will be retried".
    reason = (reason or "Bluesky refused the post.").rstrip()
    suffix = (" Sending stopped after several attempts; use “Retry failed” to try again." if retryable
              else "" if "will not be sent" in reason else " This invitation will not be sent.")
    if invitation_transition(invitation_id=invitation.pk, to=S.FAILED, failure_code=code[:40],
                             failure_reason=(reason + suffix)[:300], retryable=retryable, due_at=None, slot_at=None):
        metrics.invitation_failed(code)
    logger.info("invitation failed", extra={"invitation": invitation.pk, "code": code})
    return SendOutcome(status=S.FAILED)


def invitation_send(*, invitation_id: int, slot_at: float | None = None,
                    agent: BlueskyAgentInterface | None = None,
                    graph_service: BlueskyGraphService | None = None) -> SendOutcome:
    """One attempt to post one invitation. Safe to run any number of times for the same id."""
    invitation = Invitation.objects.select_related("batch", "host", "event", "community").filter(
        pk=invitation_id
    ).first()
    if invitation is None or invitation.status not in (S.QUEUED, S.SENDING):
        return SendOutcome(status=invitation.status if invitation else "missing")
    host = invitation.host
    agent = agent or BlueskyAgentFactory.make()
    account = agent.posting_account(host)

    refused = _refused_since_queued(invitation, graph_service=graph_service)
    if refused is not None:
        return refused

    waiting = _pace(invitation, account_key=_budget_account(host, account), slot_at=slot_at)
    if waiting is not None:
        return waiting

    lost = _send_claim(invitation)
    if lost is not None:
        return lost
    attempt = invitation.attempts

    posting_kind = account.kind if account is not None else ""
    try:
        # One card for the text and the thumbnail (with the image's bytes, read once from storage),
        # its words in the post's language.
        with translation.override(_batch_language(invitation.batch)):
            card = link_card_for(invitation.target, with_image_bytes=True)
        post = invitation_compose(invitation=invitation, posting_kind=posting_kind, card=card)
    except ComposeError:
        return _fail(invitation, code="invalid_record", reason="The message does not fit in a post.", retryable=False)
    record = post.as_record(created_at=invitation.record_created_at)

    result = agent.create_post_for_member(host, record, rkey=invitation.rkey, thumb=_thumb_of(card),
                                          account=account)
    if result.success:
        return _sent(invitation, result=result, posting_kind=posting_kind)
    return _send_failed(invitation, result=result, attempt=attempt, account_key=_budget_account(host, account))


def _pace(invitation: Invitation, *, account_key: str, slot_at: float | None) -> SendOutcome | None:
    """Take this invitation's turn in its account's budget; None: post now, else when to try again.

    The slot an invitation reserved stays in its row until the post is written or a retry needs a
    fresh one, and the row is locked while the turn is taken: a second copy of the same message (a
    redelivery, before or while the first copy posts) finds that slot instead of reserving, and so
    charging the day's budget, a second time. The row's slot is the newest; a message may carry an
    older one."""
    with transaction.atomic():
        held = Invitation.objects.select_for_update().filter(pk=invitation.pk).values_list("slot_at", flat=True)
        row_slot = next(iter(held), None)
        if row_slot is not None:
            slot_at = row_slot.timestamp()
        waiting = pipeline.pace(account_key=account_key, slot_at=slot_at)
        if waiting is None:
            if slot_at is None:
                # A slot reserved and due at once: the row keeps it as this write's, like any other.
                Invitation.objects.filter(pk=invitation.pk).update(slot_at=timezone.now())
            return None
        return _later(invitation.pk, status=invitation.status, wait=waiting)


def _refused_since_queued(invitation: Invitation, *,
                          graph_service: BlueskyGraphService | None) -> SendOutcome | None:
    """The failure of an invitation whose invitee opted out or that a block forbids since it was
    queued (never posted, never retried); None when it may still be sent."""
    host = invitation.host
    if InvitationOptOut.objects.filter(recipient_did=invitation.recipient_did).exists() or \
            InvitationDecline.objects.filter(host=host, recipient_did=invitation.recipient_did).exists():
        # Opted out after it was queued: it is never posted.
        return _fail(invitation, code="opted_out", retryable=False,
                     reason="The invitee asked not to be invited; this invitation will not be sent.")
    if invitation.status == S.QUEUED and invitation_respect_refusals(
            host=host, dids=[invitation.recipient_did], graph_service=graph_service, strict=False):
        # A block between the host and the invitee (either way) came after it was queued.
        return _fail(invitation, code="blocked", retryable=False,
                     reason="One of you blocks the other on Bluesky; this invitation will not be sent.")
    return None


def _send_claim(invitation: Invitation) -> SendOutcome | None:
    """Claim the attempt (the row refreshed); the outcome to return when another run has it."""
    # Claim in one statement: queued -> sending (or sending -> sending on redelivery), count the
    # attempt, and freeze createdAt the first time so every attempt writes the identical record.
    if not invitation_transition(invitation_id=invitation.pk, to=S.SENDING, attempts=F("attempts") + 1,
                                 record_created_at=Coalesce("record_created_at", Value(timezone.now())),
                                 due_at=timezone.now() + pipeline.claim_lease()):
        return SendOutcome(status=Invitation.objects.get(pk=invitation.pk).status)
    invitation.refresh_from_db(fields=["status", "attempts", "record_created_at"])
    return None


def _sent(invitation: Invitation, *, result: BlueskyResult, posting_kind: str) -> SendOutcome:
    sent_at = timezone.now()
    if invitation_transition(invitation_id=invitation.pk, to=S.SENT, post_uri=result.uri, post_cid=result.cid,
                             sent_at=sent_at, failure_code="", failure_reason="", retryable=False, due_at=None,
                             slot_at=None, posted_by=posting_kind):
        metrics.invitation_sent()
        metrics.publish_lag((sent_at - invitation.created_at).total_seconds())
    return SendOutcome(status=S.SENT)


def _send_failed(invitation: Invitation, *, result: BlueskyResult, attempt: int, account_key: str) -> SendOutcome:
    outcome = pipeline.after_failure(result, attempt=attempt, account_key=account_key)
    if outcome.kind == "failed":
        return _fail(invitation, code=outcome.reason, reason=result.error or "Bluesky refused the post.",
                     retryable=outcome.retryable)
    if outcome.reason != Reason.RATE_LIMITED:
        # (After a 429 it goes back into the queue for a fresh slot after the reset, silently.)
        Invitation.objects.filter(pk=invitation.pk).update(
            failure_code=outcome.reason[:40],
            failure_reason=f"{result.error} It will be retried automatically."[:300])
    return _later(invitation.pk, status=S.SENDING, wait=outcome)


def invitation_fail_exhausted(*, invitation_id: int, reason: str) -> None:
    """Called when the task itself gives up (e.g. unexpected error repeated): never leave it in limbo."""
    if invitation_transition(invitation_id=invitation_id, to=S.FAILED, failure_code="gave_up",
                             failure_reason=reason[:300], retryable=True, due_at=None, slot_at=None):
        metrics.invitation_failed("gave_up")


def invitation_retry_failed(*, host: Member, batch: InvitationBatch) -> int:
    """Re-queue this batch's retryable failures ("Retry failed" on the progress page)."""
    if batch.host_id != host.pk:
        raise InvitationError(code="not_host", message=gettext("Only the host can retry these invitations."))
    ids = list(batch.invitations.filter(status=S.FAILED, retryable=True).values_list("pk", flat=True))
    if not ids:
        return 0
    with transaction.atomic():
        moved = Invitation.objects.filter(pk__in=ids, status=S.FAILED).update(
            status=S.QUEUED, attempts=0, failure_code="", failure_reason="", retryable=False,
            updated_at=timezone.now(), due_at=timezone.now(), slot_at=None,
        )

        def publish() -> None:
            _dispatch_due_soon()
            metrics.invitation_queued(moved)

        transaction.on_commit(publish)
    return moved


