"""What mail a member wants, whether their address is proven, and every mail we owe or sent.

`Mail` is an outbox: a row is written in the same transaction as the change it reports (or when
the answer is committed), keyed so the same notice is never queued twice, and sent by a worker
that moves it PENDING -> SENDING -> SENT under a claim. A retried or duplicated task finds the row
already SENDING or SENT and sends nothing.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from core.page_cache import PageRowsQuerySet


class MailSettings(models.Model):
    """One per member, made on first need (a member without a row has the defaults)."""

    member = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, primary_key=True,
                                  related_name="mail_settings")
    # The address a confirmation link proved; notification mail goes to member.email only while
    # it equals this (changing the address makes it unconfirmed until the new one is proven).
    confirmed_email = models.EmailField(blank=True)
    confirmed_at = models.DateTimeField(null=True, blank=True)
    # An address a mail server refused permanently (5xx): nothing more goes to it.
    refused_email = models.EmailField(blank=True)
    refused_at = models.DateTimeField(null=True, blank=True)
    refused_reason = models.CharField(max_length=200, blank=True)
    rsvp_confirmations = models.BooleanField("confirmations of my answers", default=True)
    event_changes = models.BooleanField("changes and cancellations", default=True)
    reminders = models.BooleanField("reminders the day before", default=True)
    place_changes = models.BooleanField("news about my place (waiting list, requests)", default=True)
    host_messages = models.BooleanField("messages from the hosts of my events", default=True)

    objects = PageRowsQuerySet.as_manager()

    class Meta:
        verbose_name_plural = "mail settings"

    def __str__(self) -> str:
        return f"mail settings of {self.member_id}"

    def is_confirmed(self, email: str) -> bool:
        return bool(email) and email.lower() == self.confirmed_email.lower()

    def is_refused(self, email: str) -> bool:
        return bool(email) and email.lower() == self.refused_email.lower()


class Mail(models.Model):
    class Kind(models.TextChoices):
        CONFIRM_ADDRESS = "confirm_address", "Address confirmation"
        PASSWORD_RESET = "password_reset", "Password reset"
        RSVP = "rsvp", "Answer confirmation"
        CHANGED = "changed", "Time or place changed"
        CANCELLED = "cancelled", "Event cancelled"
        REMINDER = "reminder", "Reminder"
        # The member's place changed without them answering: put on the waiting list, promoted,
        # request approved or declined (details["change"]).
        PLACE = "place", "Place changed"
        # A message the host wrote to chosen guests (details["message"]: the HostMessage id).
        HOST_MESSAGE = "host_message", "Message from the host"
        # The host asks someone who answered in another app to answer the event's questions here.
        QUESTIONS = "questions", "Questions to answer"

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        SENDING = "sending", "Sending"
        SENT = "sent", "Sent"
        SKIPPED = "skipped", "Not sent"
        FAILED = "failed", "Failed"

    # Names the notice itself (kind, event, member and what makes it new): a second queueing of
    # the same notice hits this unique key and is dropped.
    key = models.CharField(max_length=200, unique=True)
    kind = models.CharField(max_length=20, choices=Kind.choices)
    member = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    event = models.ForeignKey("elonara.Event", on_delete=models.CASCADE, null=True, blank=True, related_name="+")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    # PENDING: when to send. Claimed (PENDING/SENDING with a claim): when the claim lapses.
    due_at = models.DateTimeField(null=True, blank=True)
    claim = models.CharField(max_length=32, blank=True, editable=False)
    attempts = models.PositiveSmallIntegerField(default=0)
    # Facts the mail reports that the event no longer holds (the old time and place); never secrets.
    details = models.JSONField(default=dict, blank=True)
    to_address = models.EmailField(blank=True)
    note = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["status", "due_at"], name="mail_status_due"),
                   models.Index(fields=["event", "kind", "status"], name="mail_event_kind")]

    def __str__(self) -> str:
        return f"{self.kind} to member {self.member_id} ({self.status})"


# The preference each notification kind obeys (account mail has none: it is asked for).
TOPIC_OF_KIND: dict[str, str] = {
    Mail.Kind.RSVP: "rsvp_confirmations", Mail.Kind.CHANGED: "event_changes", Mail.Kind.CANCELLED: "event_changes",
    Mail.Kind.REMINDER: "reminders", Mail.Kind.PLACE: "place_changes",
    Mail.Kind.HOST_MESSAGE: "host_messages", Mail.Kind.QUESTIONS: "host_messages",
}
# How a one-click unsubscribe link and its page name each topic.
# Lazy: rendered in the language of the page or of the mail that names them.
TOPIC_LABELS: dict[str, str | Promise] = {
    "rsvp_confirmations": _("confirmations of your answers"), "event_changes": _("changes and cancellations"),
    "reminders": _("reminders"), "place_changes": _("news about your place (waiting list and requests)"),
    "host_messages": _("messages from the hosts of your events"),
}
