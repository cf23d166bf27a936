"""Invitations: a host invites one Bluesky account to an event or a community, by a post.

Status only moves forward (see `invitations.services.TRANSITIONS`); the record key is fixed when
the invitation is created, before any attempt, so a retried or redelivered send can never create
a second post.
"""

from __future__ import annotations

import secrets

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from core.page_cache import PageRowsQuerySet

ONE_TARGET = Q(event__isnull=False, community__isnull=True) | Q(event__isnull=True, community__isnull=False)


def _new_token() -> str:
    return secrets.token_urlsafe(12)


# An invitation batch's progress, as its page and the API show it (core.page_cache).
BATCH_PROGRESS = "batch-progress"
# Which account posts invitations, as far as the site decides it (the writes mode, the relay
# accounts): one version for every picker, under this one id.
POSTING_ACCOUNTS = "posting-accounts"
POSTING_ACCOUNTS_ID = 1


class InvitationBatch(models.Model):
    """One "Send" from the picker: the host's message, shared by its invitations (progress page)."""

    host = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="invitation_batches")
    event = models.ForeignKey("elonara.Event", null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    community = models.ForeignKey(
        "elonara.Community", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    message_template = models.TextField(blank=True)
    langs = models.CharField(max_length=64, blank=True, default="en")
    created_at = models.DateTimeField(auto_now_add=True)
    objects = PageRowsQuerySet.as_manager()

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=ONE_TARGET,
                name="invitation_batch_one_target",
            )
        ]

    def __str__(self) -> str:
        return f"batch {self.pk} by {self.host_id}"

    @property
    def target(self):
        return self.event or self.community


class Invitation(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", _("Pending")
        QUEUED = "queued", _("Queued")
        SENDING = "sending", _("Sending")
        SENT = "sent", _("Sent")
        FAILED = "failed", _("Failed")
        ACCEPTED = "accepted", _("Accepted")
        DECLINED = "declined", _("Declined")

    # Indexes are chosen for the queries we run (a 10,000-row batch pays for each one on insert):
    # the composite indexes in Meta cover batch, host, event and community lookups.
    batch = models.ForeignKey(InvitationBatch, on_delete=models.CASCADE, related_name="invitations", db_index=False)
    host = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="invitations_sent", db_index=False
    )
    event = models.ForeignKey(
        "elonara.Event", null=True, blank=True, on_delete=models.CASCADE, related_name="bluesky_invitations",
        db_index=False,
    )
    community = models.ForeignKey(
        "elonara.Community", null=True, blank=True, on_delete=models.CASCADE, related_name="bluesky_invitations",
        db_index=False,
    )
    recipient_did = models.CharField(max_length=2048)
    recipient_handle = models.CharField(max_length=253)
    recipient_display_name = models.CharField(max_length=640, blank=True)
    recipient_avatar_url = models.URLField(max_length=2048, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    # Shown on the landing page to recognise the invitation; grants nothing by itself.
    token = models.CharField(max_length=32, unique=True, default=_new_token)
    # Fixed before the first attempt; the write uses it, so "already exists" means "sent".
    rkey = models.CharField(max_length=13)
    record_created_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    failure_reason = models.CharField(max_length=300, blank=True)
    failure_code = models.CharField(max_length=40, blank=True)
    retryable = models.BooleanField(default=False)
    post_uri = models.CharField(max_length=2048, blank=True)
    # Which kind of account posted it ("member", "relay" or "oauth"; bluesky.agents.PostingAccount).
    posted_by = models.CharField(max_length=16, blank=True)
    # When the next attempt is due. The broker only ever holds work due within the dispatch horizon:
    # `bluesky.dispatch_due` (beat) claims due rows and publishes them; a wait for a pacing slot
    # or a rate-limit reset is stored here instead of in a countdown message (Redis redelivers a
    # countdown that outlives the visibility timeout). NULL: nothing scheduled (final, or pending).
    due_at = models.DateTimeField(null=True, blank=True)
    # The write-budget slot already reserved for the next attempt (it posts without reserving again).
    slot_at = models.DateTimeField(null=True, blank=True)
    post_cid = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    accepted_at = models.DateTimeField(null=True, blank=True)
    # The first time a browser opened the landing page (the host's figures); link previews do not count.
    opened_at = models.DateTimeField(null=True, blank=True)
    accepted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", db_index=False
    )

    # Statuses move by update(): the batch's progress (page and API) is renewed with them.
    objects = PageRowsQuerySet.as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["event", "recipient_did"], condition=Q(event__isnull=False), name="invitation_once_per_event"
            ),
            models.UniqueConstraint(
                fields=["community", "recipient_did"],
                condition=Q(community__isnull=False),
                name="invitation_once_per_community",
            ),
            models.CheckConstraint(
                condition=ONE_TARGET,
                name="invitation_one_target",
            ),
        ]
        indexes = [
            models.Index(fields=["batch", "status"], name="invitation_batch_status"),
            models.Index(fields=["recipient_did", "status"], name="invitation_recipient_status"),
            models.Index(fields=["host", "created_at"], name="invitation_host_created"),
            models.Index(fields=["due_at"], condition=Q(due_at__isnull=False), name="invitation_due"),
        ]

    def __str__(self) -> str:
        return f"{self.recipient_handle} -> {self.target} ({self.status})"

    @property
    def target(self):
        return self.event or self.community


class InvitationDecline(models.Model):
    """An invitee said "no more invitations from this host": never invite that DID from them again."""

    host = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    recipient_did = models.CharField(max_length=2048)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["host", "recipient_did"], name="invitation_decline_once")]

    def __str__(self) -> str:
        return f"{self.recipient_did} declined {self.host}"


class InvitationOptOut(models.Model):
    """An invitee proved their DID (a Bluesky sign-in asking only `atproto`) and asked for no more
    invitations from anyone on Elonara. Nothing else about them is kept: no member, no tokens.
    ("From this host only" is an `InvitationDecline`.)"""

    recipient_did = models.CharField(max_length=2048, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"{self.recipient_did} opted out of all invitations"


class InvitationReport(Invitation):
    """Admin only: the invitations dashboard (per-day sends by relay and hosts, opt-outs, caps)."""

    class Meta:
        proxy = True
        verbose_name = "invitations report"
        verbose_name_plural = "invitations report"
